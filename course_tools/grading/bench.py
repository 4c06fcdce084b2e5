"""Grading throughput: ``course grade-bench`` grades generated submissions and times it.

The submissions mix solved and unsolved exercises (exercise N solved where bit N-1 of the
student's number is set), so every run exercises passing and failing checks alike.
"""

import json
import pathlib
import tempfile
import time

import nbformat

from course_tools import notebooks
from course_tools.grading import pipeline, reference, sandbox


def generate_submissions(assignment, folder, count, build_root=None):
    """Write ``count`` submissions mixing solved and unsolved exercises."""
    reference_notebook, manifest = reference.load(assignment, build_root)
    solved = {int(n): None for n in manifest["exercises"]}
    for cell in reference_notebook.cells:
        meta = notebooks.course_meta(cell)
        if meta.get("role") == "answer":
            solved[meta["exercise"]] = cell.source
    student = notebooks.build_assignment(
        nbformat.from_dict(json.loads(json.dumps(reference_notebook)))
    )
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        notebook = nbformat.from_dict(json.loads(json.dumps(student)))
        for cell in notebook.cells:
            meta = notebooks.course_meta(cell)
            bit = (index >> (meta.get("exercise", 1) - 1)) & 1
            if meta.get("role") == "answer" and bit:
                cell.source = solved[meta["exercise"]]
        notebooks.write(notebook, folder / f"student-{index:03d}.ipynb")


def benchmark(assignment, count=100, jobs=None, build_root=None, limits=None):
    """Grade ``count`` generated submissions of ``assignment``; print and return the throughput.

    The self-test (the solution graded first) is part of every ``course grade`` and is timed
    with the rest.
    """
    reference.load(assignment, build_root)
    jobs = jobs or pipeline.default_jobs()
    with tempfile.TemporaryDirectory(prefix="course-grade-bench-") as folder:
        submissions = pathlib.Path(folder) / "submissions"
        generate_submissions(assignment, submissions, count, build_root)
        started = time.monotonic()
        rows = pipeline.grade(
            assignment,
            submissions,
            pathlib.Path(folder) / "out",
            jobs=jobs,
            build_root=build_root,
            limits=limits,
            progress=False,
        )
        seconds = time.monotonic() - started
    result = {
        "assignment": reference.solution_path(assignment).stem,
        "submissions": len(rows),
        "seconds": round(seconds, 1),
        "per_minute": round(60 * len(rows) / seconds, 1),
        "jobs": jobs,
        "isolation": sandbox.isolation(),
        "errors": sum(bool(row.errors) for row in rows),
    }
    print(
        f"graded {result['submissions']} submissions of {result['assignment']} in "
        f"{result['seconds']} s with {jobs} jobs: {result['per_minute']} submissions/minute "
        f"({result['errors']} with errors, isolation: {result['isolation']})"
    )
    return result
