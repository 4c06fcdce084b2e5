"""``course export nbgrader``: an assignment in nbgrader's source format, for an nbgrader course.

The notebook is the grading reference of ``course grade`` (the executed solution), stripped of
its outputs, with nbgrader's cell metadata (schema 3) added beside the course's own: answer
cells are nbgrader solution cells, check and hidden cells are autograder test cells worth the
course's points, every other cell is locked, and each ``grade_id`` is the course's cell id.
The course already writes nbgrader's markers (``### BEGIN SOLUTION``, ``### BEGIN HIDDEN
TESTS``), so ``nbgrader generate_assignment`` makes the student version and ``nbgrader
autograde`` scores a check cell when it runs without an error: the course's checks raise
``CheckFailed``, an AssertionError, when an answer is wrong.
"""

import math
import pathlib

from course_tools import notebooks

SCHEMA_VERSION = 3
CONFIG_NAME = "nbgrader_config.py"
# The first line of a configuration this module wrote, and so may update.
CONFIG_MARKER = "# Written by `course export nbgrader`"
CONFIG_TEMPLATE = """{marker}: edit freely, or delete this line to keep your edits.
import os

from course_utils import config

c = get_config()  # noqa: F821 - nbgrader defines get_config
# Autograding runs the course's checks at their fast-mode sizes, as `course grade` does.
_wanted = config.environment("fast")
for _name in set(os.environ) - set(_wanted):
    del os.environ[_name]
os.environ.update(_wanted)
# Seconds per cell: three times the slowest cell of the grading reference, at least 30.
c.Execute.timeout = {timeout}
"""


def cell_metadata(cell):
    """nbgrader's metadata for one cell of the course's reference notebook."""
    meta = notebooks.course_meta(cell)
    role = meta.get("role")
    if role == "answer":
        flags = {"grade": False, "solution": True, "locked": False}
    elif role in ("check", "hidden"):
        flags = {"grade": True, "solution": False, "locked": True}
        flags["points"] = meta.get("points", 0)
    else:
        # Everything that is not an answer comes from the instructor, as in `course grade`.
        flags = {"grade": False, "solution": False, "locked": True}
    return {"schema_version": SCHEMA_VERSION, "grade_id": cell.id, **flags}


def source_notebook(reference_notebook):
    """The nbgrader source version of a reference notebook: no outputs, nbgrader metadata."""
    notebook = notebooks.tidy(reference_notebook)
    for cell in notebook.cells:
        cell.metadata["nbgrader"] = cell_metadata(cell)
        if notebooks.course_meta(cell).get("role") == "hidden":
            # nbgrader empties the cell in the student version: say what will run there.
            cell.source = f"{notebooks.HIDDEN_PLACEHOLDER}\n{cell.source}"
    return notebook


def cell_timeout(manifest):
    """Seconds per cell for nbgrader's autograder, scaled from the reference run."""
    return max(30, math.ceil(3 * manifest.get("slowest_cell_seconds", 0) + 10))


def write_config(course_dir, manifest):
    """Write or update ``nbgrader_config.py``; return what was done, in a line."""
    path = pathlib.Path(course_dir) / CONFIG_NAME
    timeout = cell_timeout(manifest)
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if not text.startswith(CONFIG_MARKER):
            return (
                f"kept your {path}: make sure it sets c.Execute.timeout >= {timeout} and runs "
                "the kernel in fast mode (COURSE_FAST=1), as docs/grading_engines.md shows"
            )
        current = _configured_timeout(text)
        if current is not None and current >= timeout:
            return f"kept {path} (cell timeout {current} s)"
        timeout = max(timeout, current or 0)
    path.write_text(CONFIG_TEMPLATE.format(marker=CONFIG_MARKER, timeout=timeout))
    return f"wrote {path} (cell timeout {timeout} s, fast mode)"


def _configured_timeout(text):
    """The ``c.Execute.timeout`` a configuration of ours sets, or None."""
    for line in text.splitlines():
        if line.startswith("c.Execute.timeout = "):
            value = line.split("=", 1)[1].strip()
            return int(value) if value.isdigit() else None
    return None


def export(assignment, course_dir, build_root=None):
    """Write ``course_dir/source/<name>/<name>.ipynb`` and the configuration; return the path."""
    from course_tools.grading import reference

    reference_notebook, manifest = reference.load(assignment, build_root)
    name = manifest["name"]
    folder = pathlib.Path(course_dir) / "source" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    notebooks.write(source_notebook(reference_notebook), path)
    return path, write_config(course_dir, manifest)


def add_cli(subparsers):
    """Register ``course export nbgrader ASSIGNMENT DIR``."""
    parser = subparsers.add_parser(
        "nbgrader", help="an assignment in nbgrader's source format (source/<assignment>/)"
    )
    parser.add_argument("assignment", help="e.g. 01_conv2d_padding_stride, or a path")
    parser.add_argument("course_dir", help="the nbgrader course directory")
    parser.set_defaults(handler=_cli)


def _cli(arguments):
    """``course export nbgrader ASSIGNMENT DIR``."""
    from course_tools.grading import reference

    try:
        path, configured = export(arguments.assignment, arguments.course_dir)
    except (FileNotFoundError, reference.BuildError) as error:
        print(f"error: {error}")
        return 1
    name = path.parent.name
    print(f"wrote {path}; {configured}.")
    print(f"next: cd {arguments.course_dir} && nbgrader generate_assignment {name} --create")
    return 0
