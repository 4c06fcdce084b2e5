"""Colab: the "Open in Colab" link of every notebook and the Setup cell's install stanza.

Both are built from the one configured repository address and the package version, and stamped
into every notebook by ``course tidy`` (:func:`course_tools.notebooks.tidy`). The link is a plain
link, not an image badge, so that nothing in a notebook loads from the network.
"""

import re

import course_utils

# The one configured repository address: Colab badges and the Colab install are built from it.
REPOSITORY = "https://github.com/dense-prediction-course/dense-prediction-course"
BRANCH = "main"
# What a Colab Setup cell installs: this distribution, at the version of course_utils that the
# notebooks were written with, from the release tag v<version> of REPOSITORY (as d2l's notebooks
# pin `pip install d2l==...`). pyproject.toml reads the version from course_utils.__version__.
DISTRIBUTION = "dense-prediction-course"
VERSION = course_utils.__version__
RELEASE_TAG = f"v{VERSION}"
COLAB_INSTALL = f"{DISTRIBUTION} @ git+{REPOSITORY}@{RELEASE_TAG}"

# The first lines of every notebook's Setup cell: in Colab (only there) install the course's
# package at the pinned version. `course tidy` writes it into every Setup cell.
COLAB_SETUP = f"""# Setup. In Colab, install the course's package at the version of these notebooks.
import sys

if "google.colab" in sys.modules:
    import subprocess

    COURSE_REPOSITORY = "{REPOSITORY}"
    COURSE_VERSION = "{VERSION}"
    COURSE_PACKAGE = f"{DISTRIBUTION} @ git+{{COURSE_REPOSITORY}}@v{{COURSE_VERSION}}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", COURSE_PACKAGE], check=True)
"""
COLAB_CHECK = 'if "google.colab" in sys.modules:'

# The Colab link of a title cell, as a badge image (the old form) or a plain link (this one).
COLAB_LINK = re.compile(
    r"\[(?:!\[[^\]]*\]\([^)]*\)|Open in Colab)\]\(https://colab\.research\.google\.com/[^)]*\)",
    re.I,
)


def colab_url(folder, name):
    """The "Open in Colab" address of ``folder/name`` in the configured repository."""
    repository = REPOSITORY.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repository}/blob/{BRANCH}/{folder}/{name}"


def colab_badge(folder, name):
    """Markdown of the "Open in Colab" link for ``folder/name``: a plain link, so that nothing
    in a notebook loads from the network (an image badge shows broken when offline)."""
    return f"[Open in Colab]({colab_url(folder, name)})"


def stamp_colab_badge(notebook, folder, name):
    """Put the Colab link of ``folder/name`` into the first cell (replacing any other form)."""
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "markdown":
        return
    badge = colab_badge(folder, name)
    if COLAB_LINK.search(first.source):
        first.source = COLAB_LINK.sub(lambda _: badge, first.source, count=1)
    else:
        first.source = first.source.rstrip() + "\n\n" + badge


def split_colab_setup(source):
    """A Setup cell's source as ``(stanza, rest)``: its leading Colab install block, the code after.

    The stanza is whatever comes before and in the ``if "google.colab" in sys.modules:`` block
    (comments, ``import sys``), so an older stanza of any wording is found and replaced whole.
    ``stanza`` is empty when the cell has none.
    """
    lines = source.split("\n")
    for index, line in enumerate(lines):
        if line.strip() == COLAB_CHECK:
            end = index + 1
            while end < len(lines) and (not lines[end].strip() or lines[end][:1].isspace()):
                end += 1
            return "\n".join(lines[:end]), "\n".join(lines[end:])
        if line.strip() and not line.startswith("#") and line.strip() != "import sys":
            break  # code before any Colab block: this cell has no stanza
    return "", source


def stamp_colab_setup(source):
    """A Setup cell's source starting with the current ``COLAB_SETUP``, the rest unchanged."""
    _, rest = split_colab_setup(source)
    rest = rest.lstrip("\n")
    return COLAB_SETUP + ("\n" + rest if rest else "")
