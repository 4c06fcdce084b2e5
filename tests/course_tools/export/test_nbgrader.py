"""``course export nbgrader``: nbgrader's metadata, and the real nbgrader grading the export.

The end-to-end test runs nbgrader from PyPI, offline, in a temporary course directory:
generate_assignment, autograde of the solution (full marks), the unsolved assignment (zero) and
a partly solved one (exactly the solved exercises' points), then generate_feedback.
"""

import os
import pathlib
import subprocess
import sys

import pytest
from nbgrader import api as nbgrader_api
from nbgrader import nbgraderformat

from course_tools import notebooks
from course_tools.export import nbgrader
from course_tools.grading import reference

ASSIGNMENT = "01_conv2d_padding_stride"
SOLVED = (1, 3)  # the partly solved submission answers these exercises


@pytest.fixture(scope="module")
def built():
    """The grading reference (notebook, manifest) of the exported assignment."""
    return reference.load(ASSIGNMENT)


def test_cells_carry_nbgrader_metadata(built):
    """Answers are solution cells, checks and hidden tests are worth the course's points."""
    reference_notebook, manifest = built
    source = nbgrader.source_notebook(reference_notebook)
    nbgraderformat.MetadataValidator().validate_nb(source)
    by_id = {cell.id: cell.metadata["nbgrader"] for cell in source.cells}
    for number, entry in manifest["exercises"].items():
        answer, check = by_id[f"ex{number}-answer"], by_id[f"ex{number}-check"]
        assert answer["solution"] and not answer["grade"] and not answer["locked"]
        assert check["grade"] and check["locked"] and not check["solution"]
        assert check["points"] == entry["check_points"]
        assert by_id[f"ex{number}-hidden"]["points"] == entry["hidden_points"]
    others = [meta for key, meta in by_id.items() if not key.startswith("ex")]
    assert others and all(meta["locked"] and not meta["grade"] for meta in others)
    assert all(meta["grade_id"] == key for key, meta in by_id.items())
    assert not any(cell.get("outputs") for cell in source.cells)


def test_configuration_is_written_raised_and_never_overwritten(tmp_path):
    """Ours is updated to the larger timeout; an instructor's own file is left alone."""
    assert "wrote" in nbgrader.write_config(tmp_path, {"slowest_cell_seconds": 30})
    assert nbgrader._configured_timeout((tmp_path / nbgrader.CONFIG_NAME).read_text()) == 100
    assert "kept" in nbgrader.write_config(tmp_path, {"slowest_cell_seconds": 1})
    nbgrader.write_config(tmp_path, {"slowest_cell_seconds": 50})
    assert nbgrader._configured_timeout((tmp_path / nbgrader.CONFIG_NAME).read_text()) == 160
    (tmp_path / nbgrader.CONFIG_NAME).write_text("c = get_config()\n")
    assert "kept your" in nbgrader.write_config(tmp_path, {"slowest_cell_seconds": 1})
    assert (tmp_path / nbgrader.CONFIG_NAME).read_text() == "c = get_config()\n"


def _nbgrader(course_dir, *arguments):
    """Run an nbgrader command in the course directory; fail with its log."""
    environment = {
        **os.environ,
        "PATH": f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    done = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "nbgrader"), *arguments],
        cwd=course_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _submit(course_dir, student, notebook):
    """Put a notebook where nbgrader collects it: submitted/<student>/<assignment>/."""
    folder = course_dir / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    notebooks.write(notebook, folder / f"{ASSIGNMENT}.ipynb")


def _partly_solved(source, release):
    """The released notebook with the answers of SOLVED copied from the source."""
    answers = {cell.id: cell.source for cell in source.cells}
    for cell in release.cells:
        meta = notebooks.course_meta(cell)
        if meta.get("role") == "answer" and meta["exercise"] in SOLVED:
            cell.source = answers[cell.id]
    return release


def _grades(course_dir, student):
    """Points per grade cell of one autograded student, from nbgrader's gradebook."""
    with nbgrader_api.Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {grade.name: grade.score for grade in notebook.grades}


@pytest.mark.slow
def test_real_nbgrader_grades_the_export(built, tmp_path):
    """Solution: full marks; assignment: zero; partly solved: exactly its exercises' points."""
    _, manifest = built
    course_dir = tmp_path / "course"
    path, _ = nbgrader.export(ASSIGNMENT, course_dir)
    _nbgrader(course_dir, "generate_assignment", ASSIGNMENT, "--create")
    release = course_dir / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert "BEGIN HIDDEN TESTS" not in release.read_text()
    source, released = notebooks.read(path), notebooks.read(release)
    _submit(course_dir, "solution", source)
    _submit(course_dir, "unsolved", released)
    _submit(course_dir, "partly", _partly_solved(source, notebooks.read(release)))
    _nbgrader(course_dir, "autograde", ASSIGNMENT, "--create")
    expected = {}
    for number, entry in manifest["exercises"].items():
        expected[f"ex{number}-check"] = entry["check_points"]
        expected[f"ex{number}-hidden"] = entry["hidden_points"]
    assert _grades(course_dir, "solution") == expected
    assert set(_grades(course_dir, "unsolved").values()) == {0}
    partly = {
        grade_id: points if int(grade_id[2:].split("-")[0]) in SOLVED else 0
        for grade_id, points in expected.items()
    }
    assert _grades(course_dir, "partly") == partly
    _nbgrader(course_dir, "generate_feedback", ASSIGNMENT)
    for student in ("solution", "unsolved", "partly"):
        feedback = course_dir / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert feedback.exists(), sorted(course_dir.rglob("*.html"))
