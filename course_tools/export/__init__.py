"""``course export``: the course's assignments and grades for the engines instructors already use.

``course grade`` stays the embedded default. These exports, built from the same grading
references, carry an assignment to nbgrader (``nbgrader``: its source format), to Gradescope
(``gradescope``: an autograder zip that runs the course's own grader; ``autograder`` is its
side in the container) and a gradebook to Canvas or Moodle (``lms``: their import CSV).
docs/grading_engines.md has the commands an instructor types for each.
"""

import importlib

ENGINES = ("nbgrader", "gradescope", "lms")


def add_cli(subparsers):
    """Register ``course export nbgrader|gradescope|lms``."""
    parser = subparsers.add_parser(
        "export", help="an assignment for nbgrader or Gradescope, a gradebook for an LMS"
    )
    engines = parser.add_subparsers(dest="engine", required=True)
    for name in ENGINES:
        importlib.import_module(f"course_tools.export.{name}").add_cli(engines)
