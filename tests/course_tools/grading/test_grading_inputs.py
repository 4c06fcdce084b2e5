"""Bad submissions: each is recorded in the gradebook with its reason, and every other is graded.

One ``course grade`` run over a folder of broken files, odd names and misbehaving notebooks (the
self-test assignment: two exercises, 3 points each). The run keeps going: every entry of the
folder gets exactly one row and one feedback file.
"""

import json
import os

import nbformat
import pytest
from grading_fixtures import helpers

from course_tools import notebooks


def _without(cell_id):
    """An edit deleting one cell."""

    def edit(notebook):
        notebook.cells = [cell for cell in notebook.cells if cell.get("id") != cell_id]

    return edit


def _doubled(cell_id):
    """An edit copying one cell, id included."""

    def edit(notebook):
        index = next(i for i, cell in enumerate(notebook.cells) if cell.get("id") == cell_id)
        notebook.cells.insert(index, notebook.cells[index].copy())

    return edit


def _old_format(folder):
    """A notebook saved by a Jupyter without cell ids (nbformat 4.4), answers filled in."""
    notebook = helpers.assignment()
    for cell in notebook.cells:
        meta = notebooks.course_meta(cell)
        if meta.get("role") == "answer":
            cell.source = {1: helpers.CORRECT_1, 2: helpers.CORRECT_2}[meta["exercise"]]
    document = json.loads(json.dumps(notebook))
    document["nbformat_minor"] = 4
    for cell in document["cells"]:
        cell.pop("id", None)
    (folder / "old_format.ipynb").write_text(json.dumps(document))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every bad input, and good ones around them, graded in one run."""
    folder = tmp_path_factory.mktemp("inputs")
    build_root, submissions, out = folder / "build", folder / "submissions", folder / "out"
    submissions.mkdir()
    helpers.build(build_root)
    good = {1: helpers.CORRECT_1, 2: helpers.CORRECT_2}
    write, raw = helpers.write_submission, helpers.write_raw
    write(submissions, "good", good)
    raw(submissions, "malformed.ipynb", '{"cells": [{"cell_type": "code", "source": ')
    raw(submissions, "notes.txt", "my answers are in my head\n")
    raw(submissions, "picture.ipynb", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    raw(submissions, "not_a_notebook.ipynb", "[1, 2, 3]")
    raw(submissions, "empty_file.ipynb", "")
    empty = nbformat.v4.new_notebook()
    raw(submissions, "empty_notebook.ipynb", json.dumps(empty))
    loop = (
        'def output_size(size, kernel, stride=1, padding="valid"):\n    while True:\n        pass\n'
    )
    write(submissions, "infinite_loop", {1: loop, 2: helpers.CORRECT_2})
    hog = helpers.CORRECT_1 + "HOG = bytearray(64 * 2**30)\n"
    grow = "def normalize(image):\n    blocks = []\n    while True:\n"
    grow += "        blocks.append(bytearray(10**8))\n"
    write(submissions, "memory_hog", {1: hog, 2: grow})
    write(submissions, "kernel_dies", {1: helpers.CORRECT_1, 2: "import os\nos._exit(1)\n"})
    flood = helpers.CORRECT_2 + 'print("x" * 5_000_000)\n'
    write(submissions, "output_flood", {1: helpers.CORRECT_1, 2: flood})
    write(submissions, "duplicated_answer", good, edit=_doubled("ex1-answer"))
    write(submissions, "missing_answer", good, edit=_without("ex2-answer"))
    _old_format(submissions)
    (submissions / "folder_export").mkdir()
    write(submissions / "folder_export", "whatever_name", good)
    _odd_names(submissions, good)
    rows = helpers.grade(submissions, out, build_root)
    return rows, out


LONG_NAME = "a" * 249  # with ".ipynb", the longest name a Linux file system allows
FORMULA = '=HYPERLINK("evil","y")'


def _odd_names(folder, good):
    """Entries that once hung, crashed or fooled the run, each beside the good ones."""
    os.mkfifo(folder / "x.ipynb")
    write = helpers.write_submission
    path = write(folder, "cafe", good)
    os.rename(path, os.path.join(os.fsencode(folder), b"caf\xe9.ipynb"))
    helpers.write_raw(folder, "caf\u00e9-notes.txt", "notes")
    write(folder, LONG_NAME, good)
    (folder / "linked.ipynb").symlink_to(helpers.SELFTEST)
    write(folder, "_underscore", good)
    write(folder, ".hidden", good)
    helpers.write_raw(folder, ".DS_Store", b"\x00\x00\x00\x01Bud1")
    write(folder, "grace", good)
    helpers.write_raw(folder, "grace.txt", "I'll send it tomorrow")
    write(folder, FORMULA, good)
    version_3 = {
        "metadata": {"name": ""},
        "nbformat": 3,
        "nbformat_minor": 0,
        "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "outputs": []}]}],
    }
    helpers.write_raw(folder, "ipython2.ipynb", json.dumps(version_3))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("student", "reason"),
    [
        ("malformed", "malformed JSON"),
        ("notes", "not a notebook: a .txt file"),
        ("picture", "not a notebook: not UTF-8"),
        ("not_a_notebook", "not a notebook: JSON without a list of cells"),
        ("empty_file", "empty file"),
        ("empty_notebook", "empty notebook"),
    ],
)
def test_unreadable_files_are_recorded(graded, student, reason):
    """Files that are not notebooks score zero with their reason in the gradebook."""
    rows, out = graded
    assert rows[student].points == helpers.ZERO
    recorded = {row["student"]: row for row in helpers.gradebook_rows(out)}[student]
    assert reason in recorded["errors"], recorded


@pytest.mark.slow
@pytest.mark.parametrize(
    ("student", "points", "reason"),
    [
        ("infinite_loop", {1: 0, 2: 3}, "timed out"),
        ("memory_hog", {1: 3, 2: 0}, "out of memory in cell ex1-answer"),
        ("kernel_dies", {1: 3, 2: 0}, "the kernel died"),
        ("output_flood", {1: 3, 2: 0}, "output over the per-cell limit"),
    ],
)
def test_misbehaving_notebooks_are_recorded(graded, student, points, reason):
    """Loops, memory hogs, dying kernels and floods cost only what they break."""
    rows, _ = graded
    assert rows[student].points == points, rows[student]
    assert any(reason in error for error in rows[student].errors), rows[student].errors


@pytest.mark.slow
@pytest.mark.parametrize(
    ("student", "points", "flag"),
    [
        ("duplicated_answer", {1: 0, 2: 3}, "ex1: answer cell ex1-answer appears 2 times"),
        ("missing_answer", {1: 3, 2: 0}, "ex2: answer cell ex2-answer missing"),
        ("old_format", helpers.FULL_MARKS, "no cell ids"),
    ],
)
def test_answer_cells_found_by_id(graded, student, points, flag):
    """A missing or duplicated answer cell scores zero for its exercise and is flagged."""
    rows, _ = graded
    assert rows[student].points == points, rows[student]
    assert any(flag in item for item in rows[student].flags), rows[student].flags


@pytest.mark.slow
def test_good_submissions_graded_among_bad_ones(graded):
    """Every other submission is graded in full; every entry has one row and one file."""
    rows, out = graded
    for student in ("good", "folder_export", "café", LONG_NAME, "_underscore", "grace.ipynb"):
        assert rows[student].points == helpers.FULL_MARKS, rows[student]
        assert not rows[student].errors
    assert len(helpers.gradebook_rows(out)) == len(rows) == 27
    files = sorted(path.name for path in (out / "feedback").iterdir())
    assert files == sorted(row.feedback_file for row in rows.values())
    assert all(len(name.encode()) <= 104 for name in files)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("student", "reason"),
    [
        ("x", "a FIFO"),
        ("linked", "a symbolic link (links are never followed"),
        (".hidden", "a hidden file"),
        (".DS_Store", "a hidden file"),
        ("grace.txt", "not a notebook: a .txt file"),
        ("café-notes", "not a notebook"),
        ("ipython2", "an nbformat 3 notebook"),
    ],
)
def test_odd_entries_get_a_row_with_their_reason(graded, student, reason):
    """A FIFO, a link to the solutions, dotfiles, a second file of one name: rows, not
    silence, a hang or a solution's marks."""
    rows, out = graded
    assert rows[student].points == helpers.ZERO, rows[student]
    assert any(reason in error for error in rows[student].errors), rows[student].errors
    feedback = (out / "feedback" / rows[student].feedback_file).read_text()
    assert reason in feedback


@pytest.mark.slow
def test_an_old_notebook_says_what_to_do(graded):
    """nbformat 3 is named, with the fix."""
    rows, _ = graded
    assert "save it (that converts it to nbformat 4)" in rows["ipython2"].errors[0]


@pytest.mark.slow
def test_a_formula_name_is_text_in_the_gradebook(graded):
    """A file named like a spreadsheet formula is graded, and stays text in the CSV."""
    rows, out = graded
    assert rows[FORMULA].points == helpers.FULL_MARKS
    lines = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    (line,) = [line for line in lines if "HYPERLINK" in line]
    assert line.startswith("\"'=HYPERLINK(")
