"""``course export gradescope``: the autograder zip of Gradescope's autograder specification.

The zip holds ``setup.sh`` and ``run_autograder`` at its root, the course's code (course_utils,
course_tools), the assignment's solution and its grading reference (the very files ``course
grade`` uses: the references are not rebuilt in the container), requirements.txt and, when
given, a folder of wheels. ``setup.sh`` runs once when Gradescope builds the image: it makes a
Python environment from the wheels (no network) or from PyPI (the image build may reach it),
and says what it needs when it cannot. ``run_autograder`` grades each submission with the
course's own grader (``course_tools.export.autograder``) and needs no network.
"""

import os
import pathlib
import stat
import zipfile

from course_tools import notebooks

COURSE = "course"  # the folder of the zip that holds the course's code and references
PACKAGES = ("course_utils", "course_tools")
EXECUTABLE = 0o755

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image.
# It makes venv/ beside it for the course's grader: from wheels/ when the zip carries them (no
# network), else from PyPI (Gradescope's image build reaches it). Grading itself needs neither.
# COURSE_PYTHON=/path/to/python: reuse an interpreter that already has requirements.txt (a
# prebuilt image, the course's tests) instead of installing.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$SOURCE/venv"
site_of() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
if [ -n "${COURSE_PYTHON:-}" ]; then
  "$COURSE_PYTHON" -m venv --without-pip "$VENV"
  BASE="$(site_of "$COURSE_PYTHON")"
  SITE="$(site_of "$VENV/bin/python")"
  # The grader trusts only the code of its own environment: give venv/ the packages, as hard
  # links where the file system allows (instant, no space), else as a copy. An install of the
  # course there is left out: the zip's copy is the code that grades.
  cp -al "$BASE/." "$SITE/" 2>/dev/null || cp -a "$BASE/." "$SITE/"
  rm -rf "$SITE"/__editable__*course_utils* "$SITE"/course_utils-*.dist-info
else
  PYTHON="${PYTHON:-python3}"
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "The course needs Python 3.11 or newer: choose Gradescope's Ubuntu 24.04 base image,"
    echo "or set PYTHON=python3.11 at the top of setup.sh after installing it."
    exit 1
  fi
  if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
    echo "Installing python3-venv (Debian and Ubuntu ship venv without pip)."
    apt-get update -q >/dev/null && apt-get install -y -q python3-venv >/dev/null
    "$PYTHON" -m venv --clear "$VENV"
  fi
  if [ -d "$SOURCE/wheels" ]; then
    "$VENV/bin/pip" install -q --no-index --find-links "$SOURCE/wheels" \\
      -r "$SOURCE/requirements.txt"
  else
    echo "No wheels/ in the zip: installing requirements.txt from PyPI while the image builds."
    "$VENV/bin/pip" install -q -r "$SOURCE/requirements.txt"
  fi
fi
# The course's code is imported from the zip's copy, by every process the grader starts.
echo "$SOURCE/@COURSE@" > "$(site_of "$VENV/bin/python")/course.pth"
"$VENV/bin/python" -m course_tools.export.autograder @ASSIGNMENT@ --check
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, in /autograder: the course's own grader
# grades /autograder/submission and writes /autograder/results/results.json.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
exec "$ROOT/source/venv/bin/python" -m course_tools.export.autograder @ASSIGNMENT@ --root "$ROOT"
"""


def requirements(root=notebooks.ROOT):
    """requirements.txt without its editable install of the course (the zip carries the code)."""
    lines = pathlib.Path(root, "requirements.txt").read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.startswith(("-e", "--editable"))) + "\n"


def package_files(root=notebooks.ROOT):
    """The course's source files (no caches), as paths relative to ``root``."""
    root = pathlib.Path(root)
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path.relative_to(root)


def reference_files(folder):
    """Every file of a grading reference, symbolic links followed (data caches point outside)."""
    folder = pathlib.Path(folder)
    for parent, _, names in os.walk(folder, followlinks=True):
        for name in sorted(names):
            path = pathlib.Path(parent) / name
            if path.is_file() and not name.startswith("."):
                yield path


def _fill(template, assignment):
    """A script template with the assignment and the course folder filled in."""
    return template.replace("@ASSIGNMENT@", assignment).replace("@COURSE@", COURSE)


def _add_text(archive, name, text, mode=0o644):
    """Add a text file with a Unix mode (setup.sh and run_autograder must be executable)."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def export(assignment, out=None, wheels=None, build_root=None):
    """Write the autograder zip of ``assignment``; return its path."""
    from course_tools.grading import reference

    _, manifest = reference.load(assignment, build_root)
    if manifest.get("python_path"):
        raise ValueError(f"{manifest['name']} imports from outside the course (python_path)")
    name = manifest["name"]
    solution = reference.solution_path(assignment)
    folder = reference.reference_dir(solution, build_root)
    out = pathlib.Path(out or f"{name}-gradescope.zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    root = notebooks.ROOT
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        _add_text(archive, "setup.sh", _fill(SETUP, name), EXECUTABLE)
        _add_text(archive, "run_autograder", _fill(RUN_AUTOGRADER, name), EXECUTABLE)
        _add_text(archive, "requirements.txt", requirements(root))
        for relative in package_files(root):
            archive.write(root / relative, f"{COURSE}/{relative.as_posix()}")
        archive.write(root / "pyproject.toml", f"{COURSE}/pyproject.toml")
        archive.write(solution, f"{COURSE}/solutions/{solution.name}")
        built = f"{COURSE}/_build/grading/{folder.name}"
        for path in reference_files(folder):
            archive.write(path, f"{built}/{path.relative_to(folder).as_posix()}")
        for wheel in sorted(pathlib.Path(wheels).glob("*.whl")) if wheels else ():
            archive.write(wheel, f"wheels/{wheel.name}")
    return out


def add_cli(subparsers):
    """Register ``course export gradescope ASSIGNMENT``."""
    parser = subparsers.add_parser("gradescope", help="a Gradescope autograder zip")
    parser.add_argument("assignment", help="e.g. 01_conv2d_padding_stride, or a path")
    parser.add_argument("--out", help="the zip to write (default: <assignment>-gradescope.zip)")
    parser.add_argument(
        "--wheels", help="a folder of wheels for requirements.txt: setup.sh installs offline"
    )
    parser.set_defaults(handler=_cli)


def _cli(arguments):
    """``course export gradescope ASSIGNMENT [--out ZIP] [--wheels DIR]``."""
    from course_tools.grading import reference

    try:
        path = export(arguments.assignment, arguments.out, arguments.wheels)
    except (FileNotFoundError, ValueError, reference.BuildError) as error:
        print(f"error: {error}")
        return 1
    size = path.stat().st_size / 2**20
    print(f"wrote {path} ({size:.1f} MiB): upload it as the assignment's autograder.")
    return 0
