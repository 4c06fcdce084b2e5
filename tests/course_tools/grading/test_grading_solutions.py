"""Every topic in solutions/: the solution scores full marks, its assignment zero.

Parametrised over the folder, so the test grows as topics land. References are built (or reused)
in _build/grading, as ``course grade`` does. ``course grade`` grades the solution itself first
and stops unless it scores full marks, so grading the assignment shows both.
"""

import pytest
from grading_fixtures import helpers

from course_tools import notebooks
from course_tools.grading import pipeline

# Until the first topic lands, the self-test stands in for solutions/.
SOLUTIONS = notebooks.notebook_paths("solutions") or [helpers.SELFTEST]


@pytest.mark.slow
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda path: path.stem)
def test_every_solution_scores_full_marks_and_its_assignment_zero(solution, tmp_path):
    """For each topic in solutions/: the solution gets every point (or grading stops with
    pipeline.SelfTestFailed), the assignment none."""
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    notebooks.write(
        notebooks.build_assignment(notebooks.read(solution)), submissions / "stub.ipynb"
    )
    (row,) = pipeline.grade(solution, submissions, tmp_path / "out", progress=False)
    assert set(row.points.values()) == {0}, row
    assert not row.errors, row
