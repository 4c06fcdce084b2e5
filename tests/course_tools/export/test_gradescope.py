"""``course export gradescope``: the zip, results.json, and a simulated Gradescope container.

The end-to-end tests unpack the zip into a root laid out like Gradescope's (``source/``,
``run_autograder``, ``submission/``, ``results/``), run ``setup.sh`` there with this
environment's Python (``COURSE_PYTHON``: nothing is downloaded) and ``run_autograder`` once per
submission, and validate results.json against the fields of Gradescope's autograder
specification. The root is under ``_build/``, not /tmp: the grader's sandbox gives the kernel an
empty /tmp, and the container's Python must stay visible to it.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import uuid
import zipfile

import pytest

from course_tools import notebooks
from course_tools.export import autograder, gradescope
from course_tools.grading import gradebook, reference

ASSIGNMENT = "01_conv2d_padding_stride"
# Gradescope's autograder specification: the fields of results.json and of each test.
SPEC_RESULT_FIELDS = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
}
SPEC_TEST_FIELDS = {
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
}
SPEC_VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
SPEC_STATUSES = {"passed", "failed"}


def validate(results, maximum):
    """Assert results.json follows the specification and the course's visibility rules."""
    assert set(results) <= SPEC_RESULT_FIELDS, set(results) - SPEC_RESULT_FIELDS
    assert isinstance(results["score"], int | float)
    assert results["stdout_visibility"] in SPEC_VISIBILITIES
    for test in results["tests"]:
        assert set(test) <= SPEC_TEST_FIELDS, set(test) - SPEC_TEST_FIELDS
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert test["visibility"] in SPEC_VISIBILITIES and test["status"] in SPEC_STATUSES
        assert 0 <= test["score"] <= test["max_score"]
        assert (test["status"] == "passed") == (test["score"] == test["max_score"])
        hidden = test["name"].endswith("hidden tests")
        assert test["visibility"] == ("after_due_date" if hidden else "visible")
        if not hidden:  # a visible output must not give a hidden test's outcome away
            assert "Hidden" not in test["output"] and not re.match(r"Exercise \d+:", test["output"])
    assert results["score"] == sum(test["score"] for test in results["tests"])
    assert sum(test["max_score"] for test in results["tests"]) == maximum


def _manifest():
    """The exported assignment's manifest (its reference is built if missing)."""
    return reference.load(ASSIGNMENT)[1]


def _maximum(manifest):
    """The assignment's total points."""
    return sum(e["check_points"] + e["hidden_points"] for e in manifest["exercises"].values())


def test_zip_follows_the_specification(tmp_path):
    """setup.sh and run_autograder at the root, executable; code, solution, fresh reference."""
    path = gradescope.export(ASSIGNMENT, tmp_path / "autograder.zip")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        requirements = archive.read("requirements.txt").decode()
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & stat.S_IXUSR, script
        with zipfile.ZipFile(path) as archive:
            (tmp_path / script).write_bytes(archive.read(script))
        syntax = subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True)
        assert syntax.returncode == 0, syntax.stderr  # branches the tests do not run included
    assert f"course/solutions/{ASSIGNMENT}.ipynb" in names
    built = f"course/_build/grading/{ASSIGNMENT}"
    assert {f"{built}/reference.ipynb", f"{built}/manifest.json"} <= names
    assert "course/course_tools/export/autograder.py" in names
    assert "course/course_utils/checks/conv2d_padding_stride.py" in names
    assert not any("__pycache__" in name for name in names)
    assert "-e ." not in requirements and "tensorflow==" in requirements


def _row(points, feedback, flags=(), errors=()):
    """A gradebook row of the exported assignment."""
    return gradebook.Row("submission", points, list(flags), list(errors), feedback)


def test_points_split_into_check_and_hidden_tests():
    """Unique sums split by arithmetic; equal parts are told apart by the feedback."""
    entry = {"check_points": 2, "hidden_points": 1}
    assert autograder.split_points(3, entry, "") == (2, 1)
    assert autograder.split_points(1, entry, "") == (0, 1)
    tied = {"check_points": 2, "hidden_points": 2}
    assert autograder.split_points(2, tied, "Exercise 1: 2/4 points. The check passed.") == (2, 0)
    assert autograder.split_points(2, tied, "Exercise 1: 2/4 points. The check failed: x.") == (
        0,
        2,
    )


def test_points_split_by_the_grader_win_over_the_guess():
    """A row that carries its parts is reported as graded, even where a guess would differ."""
    tied = {"check_points": 2, "hidden_points": 2}
    graded = {"check": 0, "hidden": 2}
    line = "Exercise 1: 2/4 points. The check passed."  # the guess would say (2, 0)
    assert autograder.split_points(2, tied, line, graded) == (0, 2)


def test_results_hide_hidden_tests_until_the_due_date():
    """Visible checks carry the hint; hidden tests only pass/fail, shown after the due date."""
    manifest = _manifest()
    feedback = [
        f"Exercise {n}: 2/3 points. The check passed. Hidden tests: failed."
        if n == "1"
        else f"Exercise {n}: 0/3 points. The check failed: sizes are off by one. "
        "Hidden tests: failed."
        for n in manifest["exercises"]
    ]
    points = {int(n): 0 for n in manifest["exercises"]}
    points[1] = manifest["exercises"]["1"]["check_points"]
    results = autograder.results_for(_row(points, feedback, flags=["ex2: flagged"]), manifest)
    validate(results, _maximum(manifest))
    first, second = results["tests"][0], results["tests"][1]
    assert first["output"] == "The check passed." and first["score"] == points[1]
    assert second["visibility"] == "after_due_date" and second["score"] == 0
    assert "sizes are off by one" in results["tests"][2]["output"]
    assert "ex2: flagged" in results["output"]


def test_the_submitted_notebook_is_found_or_the_student_told(tmp_path):
    """The assignment's notebook wins; one notebook of another name is taken; else a reason."""
    assert autograder.pick_notebook(tmp_path, ASSIGNMENT)[0] is None
    (tmp_path / "mine.ipynb").write_text("{}")
    assert autograder.pick_notebook(tmp_path, ASSIGNMENT)[0].name == "mine.ipynb"
    (tmp_path / "other.ipynb").write_text("{}")
    path, reason = autograder.pick_notebook(tmp_path, ASSIGNMENT)
    assert path is None and "Several notebooks" in reason
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / f"{ASSIGNMENT}.ipynb").write_text("{}")
    assert autograder.pick_notebook(tmp_path, ASSIGNMENT)[0].parent.name == "sub"


@pytest.fixture(scope="module")
def container():
    """A Gradescope-like root with the zip unpacked in source/ and setup.sh run."""
    base = notebooks.ROOT / "_build" / "engines-tests" / uuid.uuid4().hex[:12]
    root = base / "autograder"
    source = root / "source"
    source.mkdir(parents=True)
    try:
        zipped = gradescope.export(ASSIGNMENT, base / "autograder.zip")
        with zipfile.ZipFile(zipped) as archive:
            archive.extractall(source)
        for script in ("setup.sh", "run_autograder"):
            (source / script).chmod(0o755)  # what Gradescope's harness does
        shutil.copy(source / "run_autograder", root / "run_autograder")
        environment = {**os.environ, "COURSE_PYTHON": sys.executable}
        done = subprocess.run(
            ["bash", str(source / "setup.sh")],
            cwd=source,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert f"course code in {source / 'course'}" in done.stdout
        yield root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_autograder(root, notebook=None):
    """Submit ``notebook`` (or nothing), run run_autograder; return results.json."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    if notebook is not None:
        notebooks.write(notebook, root / "submission" / f"{ASSIGNMENT}.ipynb")
    done = subprocess.run(
        [str(root / "run_autograder")],
        cwd=root,
        env={"PATH": os.environ["PATH"], "AUTOGRADER_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def _hostile(root, manifest):
    """The assignment with answers that patch the checks and forge results.json."""
    student = notebooks.build_assignment(notebooks.read(reference.solution_path(ASSIGNMENT)))
    forged = root / "results" / "results.json"
    answers = {
        "ex1-answer": (
            "def conv_output_size(input_size, kernel_size, strides=1, padding='valid', "
            "dilation=1):\n    return 0\n\n\n"
            "checks.conv2d_padding_stride.check_conv_output_size = "
            "lambda function: print('Exercise 1 passed.')\n"
        ),
        "ex2-answer": (
            "def conv2d(x, kernel, strides=1, padding='valid'):\n"
            f"    with open({str(forged)!r}, 'w') as handle:\n"
            '        handle.write(\'{"score": 100, "tests": []}\')\n'
            "    return x\n"
        ),
    }
    for cell in student.cells:
        cell.source = answers.get(cell.get("id"), cell.source)
    return student


@pytest.mark.slow
def test_solution_gets_full_marks(container):
    """The course's solution, submitted: every test passes."""
    manifest = _manifest()
    results = run_autograder(container, notebooks.read(reference.solution_path(ASSIGNMENT)))
    validate(results, _maximum(manifest))
    assert results["score"] == _maximum(manifest), results


@pytest.mark.slow
def test_assignment_gets_zero(container):
    """The unsolved student version: nothing passes."""
    student = notebooks.build_assignment(notebooks.read(reference.solution_path(ASSIGNMENT)))
    results = run_autograder(container, student)
    validate(results, _maximum(_manifest()))
    assert results["score"] == 0, results
    assert "not answered yet" in results["tests"][0]["output"]


@pytest.mark.slow
def test_hostile_submission_gets_zero_and_is_told_why(container):
    """Patching a check and forging results.json score nothing; the output says why."""
    manifest = _manifest()
    results = run_autograder(container, _hostile(container, manifest))
    validate(results, _maximum(manifest))
    assert results["score"] == 0, results
    assert "Flagged for your instructor" in results["output"]
    assert "monkeypatching" in results["output"], results["output"]
    # Rebinding the check from the answer cell is a shortcut: exercise 1 scores 0 and says so.
    assert "the grader cannot accept as yours" in results["tests"][0]["output"]


@pytest.mark.slow
def test_no_notebook_gets_zero_and_is_told_why(container):
    """An upload without a notebook: every test at zero and the reason."""
    results = run_autograder(container)
    validate(results, _maximum(_manifest()))
    assert results["score"] == 0 and "No notebook was submitted" in results["output"]
