"""The grader: answers by id from raw JSON, the screen, assembly, references, gradebook, CLI.

End to end: the self-test's solution scores full marks and its assignment zero, the same with
one job and with several, through the API and the CLI (every topic in solutions/ is graded the
same way in test_grading_solutions.py).
"""

import copy
import json
import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest
from grading_fixtures import helpers

from course_tools import cli, notebooks
from course_tools.grading import assemble, bench, gradebook, inputs, reference, sandbox, screen
from course_utils.checks import recording

MANIFEST = {"exercises": {"1": {}, "2": {}}, "modules": {"np": "numpy"}}


def _read(tmp_path, document):
    """Read a raw submission document with the self-test's exercises."""
    path = tmp_path / "student.ipynb"
    path.write_text(json.dumps(document))
    found = inputs.Submission(student="student", path=path, notebook=path)
    return inputs.read(found, MANIFEST)


def _document(cells):
    """A minimal notebook document around raw cells."""
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _answer(number, source, cell_id=None):
    """A raw answer cell."""
    return {
        "cell_type": "code",
        "id": cell_id or f"ex{number}-answer",
        "metadata": {"course": {"role": "answer", "exercise": number}},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def test_answers_are_taken_by_id_from_raw_json(tmp_path):
    """Sources by id; a list of lines is joined; nbformat would have renamed the duplicate."""
    document = _document([_answer(1, ["x = 1\n", "y = 2\n"]), _answer(2, "a"), _answer(2, "b")])
    found = _read(tmp_path, document)
    assert found.answers == {1: "x = 1\ny = 2\n", 2: None}
    assert any("ex2-answer appears 2 times" in flag for flag in found.flags)
    with pytest.warns(nbformat.warnings.DuplicateCellId):
        repaired = nbformat.reads(json.dumps(document), as_version=4)
    assert len({cell.id for cell in repaired.cells}) == 3  # what reading with nbformat hides


def test_missing_and_malformed_answer_cells(tmp_path):
    """Missing, markdown or non-text answers score zero and are flagged."""
    markdown = {**_answer(2, "text"), "cell_type": "markdown"}
    found = _read(tmp_path, _document([markdown, _answer(3, {"not": "text"})]))
    assert found.answers == {1: None, 2: None}
    assert any("ex1-answer missing" in flag for flag in found.flags)
    assert any("ex2-answer is not a code cell" in flag for flag in found.flags)


@pytest.mark.parametrize(
    ("source", "flag"),
    [
        ("get_ipython().events.register('pre_run_cell', print)", "get_ipython"),
        ("import sys\nsys.modules['numpy'] = None", "sys.modules"),
        ("import builtins\nbuiltins.print = len", "imports builtins"),
        ("__builtins__.print = len", "builtins"),
        ("x = __import__('os')", "__import__"),
        ("f = open('/work/solutions/01.ipynb')", "open() of a path outside"),
        ("import os\nos.environ['X'] = '1'", "os.environ"),
        ("import ctypes", "imports ctypes"),
        ("import signal", "imports signal"),
        ("import gc\ngc.get_objects()", "imports gc"),
        ("np.allclose = lambda *a, **k: True", "assigns np.allclose (monkeypatching)"),
        ("selftest.check_normalize = print", "assigns selftest.check_normalize"),
        ("def f():\n    return f.__globals__", "accesses __globals__"),
        ("class A:\n    def __eq__(self, other):\n        return True", "defines __eq__"),
        ("eval('1 + 1')", "eval"),
        ("# NBVAL_SKIP\nx = 1", "NBVAL marker"),
        ("%time x = 1", "IPython magic or shell command"),
        ("print('Exercise 3 passed: yes')", "passed"),
        ("import sys\nsys._getframe(1).f_back", "frames"),
        ("from course_utils import arith\nf = arith.conv_output_size", "course code that computes"),
        ("from course_utils import numpy_conv", "imports course_utils.numpy_conv (course code"),
    ],
)
def test_screen_flags_suspicious_code(source, flag):
    """What grading-aware code needs is flagged for a human."""
    modules = {"selftest": "selftest", "np": "numpy"}
    found = screen.flags(source, modules, local_modules=["selftest"])
    assert any(flag in item for item in found), (flag, found)


SHORTCUTS = {
    "the check module's imports": (
        "def f(n, k):\n    return checks.conv2d_padding_stride.arith.conv_output_size(n, k)",
        "checks.conv2d_padding_stride",
    ),
    "a topic module": ("from course_utils import yolo\nf = yolo.encode_yolo_targets", "yolo"),
    "a course module through a tool": ("f = getattr(config, 'detection').iou", "config.detection"),
    "frames through another module": (
        "import dataclasses\nframe = dataclasses.inspect.currentframe().f_back",
        "frames",
    ),
    "code run from text by timeit": (
        "import timeit, base64\ntimeit.timeit(base64.b64decode(b'eA==').decode(), number=1, "
        "globals={})",
        "imports timeit",
    ),
    "a trusted file name": (
        "import json\ncode = json.__loader__.source_to_code('x = 1', '/usr/lib/python3/x.py')",
        "compiles code",
    ),
    "a computed getattr": ("import numpy\nf = getattr(numpy, 'o' + 's')", "computed name"),
    "the solution's own check module": (
        "def output_size(*args):\n    return selftest._output_size(*args)",
        "selftest._output_size",
    ),
    "the kernel's shell": ("import sys\nshell = sys.displayhook.shell.run_cell", "run_cell"),
    "a check module's dict": ("d = vars(selftest)", "vars()"),
}


@pytest.mark.parametrize("name", sorted(SHORTCUTS))
def test_screen_finds_shortcuts_to_the_answer(name):
    """Course answers reached any way, and code the screen cannot read, score 0 (flagged)."""
    source, fragment = SHORTCUTS[name]
    modules = {
        "checks": "course_utils.checks",
        "config": "course_utils.config",
        "selftest": "selftest",
        "np": "numpy",
    }
    found = screen.screen(source, modules, local_modules=["selftest"])
    assert any(fragment in item.label and item.shortcut for item in found), found


def test_screen_leaves_ordinary_answers_alone():
    """Correct, ordinary answers raise no flag, course tools included."""
    assert screen.flags(helpers.CORRECT_1) == []
    assert screen.flags(helpers.CORRECT_2 + "print(normalize(np.ones(3)))\n") == []
    tools = {"config": "course_utils.config", "plots": "course_utils.plots"}
    assert screen.flags("size = config.pick(fast=8, default=32)", tools) == []
    detection = {"detection": "course_utils.detection"}
    source = "def nms(boxes):\n    return detection.iou(boxes[0], boxes[1])"
    assert screen.flags(source, detection, allowed=["detection.iou"]) == []
    assert screen.course_code(source, detection) == ["detection.iou"]
    assert screen.flags(source, detection) != []
    own = "def f(detections):\n    for detection in detections:\n        yield detection.score"
    assert screen.flags(own, detection) == []
    assert screen.flags("x = np.stack([a, b])\ny = keras.layers.Conv2D(3, 3)") == []


def test_concurrent_screenings_agree():
    """Screens from many threads at once, in a fresh interpreter, give identical results."""
    script = (
        "import concurrent.futures\n"
        "from course_tools.grading import screen\n"
        "source = 'import os\\ndef f(x):\\n    return os.environ, getattr(x, \"__dict__\")'\n"
        "with concurrent.futures.ThreadPoolExecutor(16) as pool:\n"
        "    found = list(pool.map(lambda _: tuple(screen.flags(source)), range(64)))\n"
        "assert len(set(found)) == 1 and found[0], found\n"
        "print(found[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "os.environ" in done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The self-test's reference, built once for this module."""
    build_root = tmp_path_factory.mktemp("build")
    return build_root, *helpers.build(build_root)


def test_reference_and_manifest(built):
    """The reference keeps hidden tests; the manifest has ids, roles, points, recorded checks."""
    build_root, executed, manifest = built
    assert manifest["exercises"]["1"] == {
        "check_points": 2,
        "hidden_points": 1,
        "check_path": "selftest:check_output_size",
        "hidden_path": "selftest:check_output_size_hidden",
        "course_code": [],
    }
    roles = {cell["id"]: cell["role"] for cell in manifest["cells"] if cell["role"]}
    assert roles["ex2-hidden"] == "hidden" and roles["ex1-check"] == "check"
    assert all(len(cell["sha256"]) == 64 for cell in manifest["cells"])
    hidden = next(cell for cell in executed.cells if cell.id == "ex1-hidden")
    assert "check_output_size_hidden" in hidden.source
    assert "selftest" in manifest["modules"]
    folder = reference.reference_dir(helpers.SELFTEST, build_root)
    assert folder.stat().st_mode & 0o077 == 0 and build_root.stat().st_mode & 0o077 == 0


def test_reference_rebuilt_when_solution_changes(built, tmp_path):
    """References are keyed by the solution's hash: an edited solution is stale."""
    build_root, _, manifest = built
    copy = helpers.copy_selftest(tmp_path)
    assert reference.source_key(copy) == manifest["key"]
    notebook = notebooks.read(copy)
    notebook.cells[0].source += "\n\nEdited."
    notebooks.write(notebook, copy)
    assert reference.source_key(copy) != manifest["key"]


def test_reference_key_covers_the_code_it_runs(tmp_path):
    """The key hashes the checks, config, imported course modules and the notebook's own
    python_path modules; not the grader or slides."""
    files = reference._course_files(notebooks.read(helpers.SELFTEST))
    names = {path.relative_to(reference.PACKAGE).as_posix() for path in files}
    assert {"checks/__init__.py", "config.py"} <= names
    assert not any("grading" in name or "slides" in name for name in names)
    copy = helpers.copy_selftest(tmp_path)
    key = reference.source_key(copy)
    (tmp_path / "selftest.py").write_text("# edited\n", encoding="utf-8")
    assert reference.source_key(copy) != key


def test_assembly_takes_only_answers_from_the_submission(built):
    """Setup, checks and hidden tests are the instructor's; recorded checks are not compared."""
    _, executed, manifest = built
    assembled = assemble.assemble(executed, {1: "ANSWER = 1\n", 2: None})
    cells = {cell.id: cell for cell in assembled.cells}
    assert cells["ex1-answer"].source == "ANSWER = 1\n"
    assert "raise NotImplementedError" in cells["ex2-answer"].source
    assert cells["ex1-check"].source == "selftest.check_output_size(output_size)"
    assert "check_normalize_hidden" in cells["ex2-hidden"].source
    assert all(not cell.outputs for cell in assembled.cells if cell.cell_type == "code")


@pytest.mark.parametrize("records", [0, 2])
def test_a_check_cell_must_record_one_check(built, records):
    """A solution's check cell that records no check (a printed verdict) or two stops the build."""
    _, executed, _ = built
    cell = next(cell for cell in executed.cells if cell.id == "ex1-check")
    cell = copy.deepcopy(cell)
    record = next(o for o in cell.outputs if recording.RECORD_MIME in o.get("data", {}))
    printed = {"output_type": "stream", "name": "stdout", "text": helpers.PASS_1}
    cell.outputs = [printed] + [record] * records
    with pytest.raises(reference.BuildError, match=f"showed {records} check records"):
        reference.check_of(cell)
    cell.outputs = [printed, record]
    assert reference.check_of(cell) == "selftest:check_output_size"


def test_guard_knows_each_cell_by_ipykernel_file_name(built):
    """The guard's cell names are the file names ipykernel gives cells."""
    from ipykernel import compiler

    _, executed, manifest = built
    answers = {1: helpers.CORRECT_1, 2: helpers.CORRECT_2}
    assembled = assemble.assemble(executed, answers)
    expected = assemble.guard_cells(assembled)
    code = [cell for cell in assembled.cells if cell.cell_type == "code"]
    names = {pathlib.Path(compiler.get_file_name(cell.source)).name for cell in code}
    assert names == set(expected)
    roles = sorted(info["role"] for info in expected.values())
    assert roles.count("answer") == 2 and roles.count("check") == 2
    assert all(info["sha256"] for info in expected.values() if info["role"] != "answer")


def test_build_all_references(tmp_path):
    """``course references`` builds what is stale, and only that."""
    helpers.copy_selftest(tmp_path)
    build_root = tmp_path / "build"
    assert reference.stale(build_root, tmp_path) == [helpers.SELFTEST.stem]
    assert reference.build_all(build_root, tmp_path) == [helpers.SELFTEST.stem]
    assert reference.stale(build_root, tmp_path) == []
    assert reference.build_all(build_root, tmp_path) == []


def test_gradebook_csv_is_sorted_and_stable(tmp_path):
    """Rows by student, points, total, max, flags and errors; no timestamps."""
    manifest = {"name": "x", "exercises": {"1": {"check_points": 2, "hidden_points": 1}}}
    rows = [
        gradebook.Row("zoe", {1: 3}, ["ex1: get_ipython"], [], ["Exercise 1: 3/3 points."]),
        gradebook.Row("al", {1: 0}, [], ["empty file"], ["empty file"]),
    ]
    rows.sort(key=lambda row: row.student)
    gradebook.write_gradebook(rows, manifest, tmp_path / "a.csv")
    gradebook.write_feedback(rows, manifest, tmp_path / "feedback")
    assert (tmp_path / "a.csv").read_text().splitlines() == [
        "student,ex1,total,max,flags,errors",
        "al,0,0,3,,empty file",
        "zoe,3,3,3,ex1: get_ipython,",
    ]
    feedback = (tmp_path / "feedback" / "zoe.md").read_text()
    assert "Total: 3/3 points." in feedback and "get_ipython" not in feedback


def test_gradebook_never_holds_a_formula(tmp_path):
    """A file named like a spreadsheet formula is text in the CSV, and its feedback file too."""
    manifest = {"name": "x", "exercises": {"1": {"check_points": 1, "hidden_points": 0}}}
    name = '=HYPERLINK("http://example.com/x","y")'
    rows = [gradebook.Row(name, {1: 0}, ["-1+1"], ["@SUM(A1)"], [])]
    gradebook.write_gradebook(rows, manifest, tmp_path / "a.csv")
    gradebook.write_feedback(rows, manifest, tmp_path / "feedback")
    line = (tmp_path / "a.csv").read_text().splitlines()[1]
    assert line.startswith("\"'=HYPERLINK(") and ",'-1+1,'@SUM(A1)" in line
    (written,) = (tmp_path / "feedback").iterdir()
    assert written.name == rows[0].feedback_file and "/" not in written.name


def test_feedback_file_names_are_safe_and_distinct():
    """Long, odd and colliding names become distinct files of at most 100 bytes."""
    students = ["a" * 300, "a" * 301, "grace.ipynb", "grace.txt", "../etc", "Zoe", "zoe", "café"]
    names = gradebook.file_names(students)
    assert len({name.lower() for name in names}) == len(students)
    assert all(len(name.encode()) <= 100 and "/" not in name for name in names)
    assert names[2:4] == ["grace.ipynb", "grace.txt"] and names[-1] == "café"


@pytest.mark.slow
def test_grading_twice_gives_the_same_gradebook(built, tmp_path, monkeypatch):
    """nbgrader's collected layout; solution: full marks; assignment: zero; the CLI with one
    job and the API with three write identical gradebooks and feedback."""
    build_root = built[0]
    submissions = tmp_path / "submitted"
    folders = {name: submissions / name / "00_grader_selftest" for name in ("solution", "half")}
    folders["assignment"] = submissions / "assignment" / "ps0"
    for folder in folders.values():
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text("2025-01-01 00:00:00\n")
    shutil.copy(helpers.SELFTEST, folders["solution"] / "00_grader_selftest.ipynb")
    notebooks.write(helpers.assignment(), folders["assignment"] / "00_grader_selftest.ipynb")
    helpers.write_submission(folders["half"], "00_grader_selftest", {2: helpers.CORRECT_2})
    # Another assignment collected for the same student: not this one's.
    (submissions / "half" / "ps9").mkdir()
    helpers.write_submission(submissions / "half" / "ps9", "other", {1: helpers.CORRECT_1})
    monkeypatch.setattr(reference, "BUILD_ROOT", build_root)
    arguments = ["grade", str(helpers.SELFTEST), str(submissions), "--out", str(tmp_path / "a")]
    options = ["--cell-timeout", "45", "--memory", "1.5", "--jobs", "1"]
    assert cli.main([*arguments, *options]) == 0
    rows = helpers.grade(submissions, tmp_path / "b", build_root, jobs=3)
    assert rows["solution"].points == helpers.FULL_MARKS
    assert rows["assignment"].points == helpers.ZERO
    assert rows["half"].points == {1: 0, 2: 3}
    # Each exercise's points by part, as the engines' exports report them.
    assert rows["half"].parts[1] == {"check": 0, "hidden": 0}
    assert sum(rows["half"].parts[2].values()) == 3
    assert all(part["check"] > 0 for part in rows["solution"].parts.values())
    first, second = (tmp_path / "a" / "gradebook.csv"), (tmp_path / "b" / "gradebook.csv")
    assert first.read_bytes() == second.read_bytes()
    for name in ("solution", "assignment", "half"):
        path = pathlib.Path("feedback") / f"{name}.md"
        assert (tmp_path / "a" / path).read_text() == (tmp_path / "b" / path).read_text()
    assert "Hidden tests: failed." in (tmp_path / "a" / "feedback" / "half.md").read_text()


@pytest.mark.slow
def test_benchmark_reports_submissions_per_minute(built, capsys):
    """``grading.benchmark`` grades generated submissions and prints the throughput."""
    result = bench.benchmark(
        helpers.SELFTEST, count=2, jobs=2, build_root=built[0], limits=helpers.TEST_LIMITS
    )
    assert result["submissions"] == 2 and result["per_minute"] > 0 and result["errors"] == 0
    assert "submissions/minute" in capsys.readouterr().out


def test_a_path_the_kernel_cannot_read_is_named(tmp_path):
    """The sandbox names a folder its user cannot enter, with its mode."""
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    folder.chmod(0o700)
    assert sandbox.unreadable([str(folder)], 65534, 65534) == f"{folder} (mode 0700)"
    folder.chmod(0o755)
    assert sandbox.unreadable([str(folder)], 65534, 65534) is None


@pytest.mark.slow
def test_grading_stops_when_the_solution_fails_in_the_sandbox(built, tmp_path, monkeypatch, capsys):
    """A kernel that cannot start (a memory limit far too small): one line naming the sandbox's
    own error and the fix, exit status 1, and no student graded."""
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    helpers.write_submission(submissions, "student", {1: helpers.CORRECT_1, 2: helpers.CORRECT_2})
    monkeypatch.setattr(reference, "BUILD_ROOT", built[0])
    arguments = ["grade", str(helpers.SELFTEST), str(submissions), "--out", str(tmp_path / "out")]
    assert cli.main([*arguments, "--memory", "0.1", "--jobs", "1"]) == 1
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("error")]
    assert "solution scores 0/6 in the sandbox, so no submission was graded" in line
    assert "memory" in line.split("Fix:")[0].lower() and "Fix: raise --memory" in line
    assert not (tmp_path / "out").exists()
