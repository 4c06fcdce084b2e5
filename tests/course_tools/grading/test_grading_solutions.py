"""Every topic in solutions/: the solution scores full marks, its assignment zero.

Parametrised over the folder, so the test grows as topics land. References are built (or reused)
in _build/grading, as ``course grade`` does.
"""

import shutil

import pytest
from grading_fixtures import helpers

from course_tools import notebooks
from course_tools.grading import gradebook, reference

# Until the first topic lands, the self-test stands in for solutions/.
SOLUTIONS = notebooks.notebook_paths("solutions") or [helpers.SELFTEST]


@pytest.mark.slow
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda path: path.stem)
def test_every_solution_scores_full_marks_and_its_assignment_zero(solution, tmp_path):
    """For each topic in solutions/: the solution gets every point, the assignment none."""
    _, manifest = reference.load(solution)
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    shutil.copy(solution, submissions / "solution.ipynb")
    notebooks.write(
        notebooks.build_assignment(notebooks.read(solution)), submissions / "stub.ipynb"
    )
    rows = {row.student: row for row in gradebook.grade(solution, submissions, tmp_path / "out")}
    maximum = {
        int(n): e["check_points"] + e["hidden_points"] for n, e in manifest["exercises"].items()
    }
    assert rows["solution"].points == maximum, rows["solution"]
    assert not rows["solution"].errors
    assert set(rows["stub"].points.values()) == {0}, rows["stub"]
