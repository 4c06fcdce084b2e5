"""Grading works wherever the course is installed, as root and as an ordinary user.

Each test copies this working tree into a private folder under /tmp (mode 700, the way a fresh
clone in a temporary folder or a home only its owner may enter looks to the sandbox's user),
gives it an environment of its own (a virtual environment whose path files add the clone and,
for the heavy dependencies, this environment's site-packages), and runs ``course grade`` there
on the self-test: the solution must get full marks, the assignment none, and a submission that
looks for the solution on disk nothing. That is the run that once gave every submission 0
with "the sandbox produced no results".
"""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import pytest
from grading_fixtures import helpers

from course_tools import notebooks

ROOT = notebooks.ROOT
SELFTEST = helpers.SELFTEST.relative_to(ROOT)
ORDINARY_USER = 65534  # nobody
THIEF = """
import pathlib
FOUND = []
for pattern in ("tests/**/solutions/*.ipynb", "_build/grading/*/reference.ipynb"):
    try:
        FOUND += [path.read_text() for path in pathlib.Path({root!r}).glob(pattern)]
    except Exception:
        pass
def output_size(size, kernel, stride=1, padding="valid"):
    if not FOUND:
        return 0
"""


def _copy_tree(target):
    """This working tree's files that git knows (tracked, and new ones not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / os.fsdecode(name))


def _environment(folder, python):
    """A virtual environment of its own: the clone first, this one's packages after it."""
    venv = folder / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "a_course_clone.pth").write_text(f"{folder / 'course'}\n")
    (site / "z_shared_packages.pth").write_text(f"{sysconfig.get_paths()['purelib']}\n")
    return venv / "bin" / "python"


def _submissions(folder):
    """The solution, the assignment, and a thief that reads the clone's solution if it can."""
    submissions = folder / "submissions"
    submissions.mkdir()
    shutil.copy(folder / "course" / SELFTEST, submissions / "solution.ipynb")
    notebooks.write(helpers.assignment(), submissions / "assignment.ipynb")
    thief = THIEF.format(root=str(folder / "course")) + helpers.BODY_1
    helpers.write_submission(submissions, "thief", {1: thief})
    return submissions


def _grade(folder, python, user=None):
    """``course grade`` on the self-test, run by ``user`` (or this process's user)."""
    command = [
        str(python),
        "-m",
        "course_tools.cli",
        "grade",
        str(folder / "course" / SELFTEST),
        str(folder / "submissions"),
        "--out",
        str(folder / "out"),
        *("--cell-timeout", "60", "--memory", "2", "--jobs", "2"),
    ]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(folder / "home"), "LANG": "C.UTF-8"}
    return subprocess.run(
        command, cwd=folder, env=environment, capture_output=True, text=True, timeout=1500
    )


def _check(done, folder):
    """Full marks for the solution, none for the assignment and the thief."""
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    rows = {row["student"]: row for row in helpers.gradebook_rows(folder / "out")}
    assert rows["solution"]["total"] == "6" and not rows["solution"]["errors"], rows
    assert rows["assignment"]["total"] == "0" and rows["thief"]["total"] == "0", rows


@pytest.fixture
def private_folder():
    """A folder under /tmp that only its owner may enter."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="course-clone-"))
    folder.chmod(0o700)
    (folder / "course").mkdir()
    (folder / "home").mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _usable_by(user, python):
    """True when ``user`` can run ``python``, have it start itself again (as Jupyter starts a
    kernel) and import this environment's packages."""
    script = (
        "import subprocess, sys; subprocess.run([sys.executable, '-c', "
        "'import numpy, nbval, ipykernel'], check=True)"
    )
    command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", python]
    environment = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": "/usr/bin:/bin"}
    done = subprocess.run([*command, "-c", script], capture_output=True, cwd="/", env=environment)
    return done.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="grading as root needs root")
def test_grading_as_root_from_a_private_clone(private_folder):
    """Root grades from a clone in a private folder under /tmp: the sandbox (its own /tmp,
    its user ``nobody``) still reaches the interpreter and the course, read-only."""
    _copy_tree(private_folder / "course")
    python = _environment(private_folder, sys._base_executable)
    _submissions(private_folder)
    _check(_grade(private_folder, python), private_folder)


@pytest.mark.slow
def test_grading_as_an_ordinary_user_from_a_private_clone(private_folder):
    """An ordinary user grades from their own private clone (no namespaces: the guard alone)."""
    user = None
    python = sys._base_executable
    if os.geteuid() == 0:
        user = ORDINARY_USER
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        candidates = [sys._base_executable, shutil.which(version, path="/usr/bin:/bin")]
        usable = [c for c in candidates if c and _usable_by(user, c)]
        if not usable:
            pytest.skip("no Python this environment's packages work with runs as 'nobody' here")
        python = usable[0]
    _copy_tree(private_folder / "course")
    python = _environment(private_folder, python)
    _submissions(private_folder)
    if user is not None:
        subprocess.run(["chown", "-R", f"{user}:{user}", str(private_folder)], check=True)
    _check(_grade(private_folder, python, user), private_folder)
