"""Bad submissions: each is recorded in the gradebook with its reason, and every other is graded.

One ``course grade`` run over a folder of broken files and misbehaving notebooks (the self-test
assignment: two exercises, 3 points each).
"""

import json

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
    rows = helpers.grade(submissions, out, build_root)
    return rows, out


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
        ("output_flood", {1: 3, 2: 0}, "output over 3 MB"),
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
    """Every other submission is graded in full, a folder export included."""
    rows, out = graded
    assert rows["good"].points == helpers.FULL_MARKS and not rows["good"].errors
    assert rows["folder_export"].points == helpers.FULL_MARKS
    assert len(helpers.gradebook_rows(out)) == len(rows) == 15
    assert sorted(path.stem for path in (out / "feedback").iterdir()) == sorted(rows)
