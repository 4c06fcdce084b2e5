"""Colab: every notebook opens in Colab from its own badge, and installs the course only there.

The Colab side is simulated: a fake ``google.colab`` module in ``sys.modules`` (what Colab's
runtime provides) and a stubbed ``subprocess.run`` that records the pip command. What it installs
is the course's distribution at the one version (``course_utils.__version__``), from the release
tag of the one configured repository address (``colab.REPOSITORY``).
"""

import subprocess
import sys
import types

import nbformat
import pytest

import course_utils
from course_tools import colab, notebooks
from course_utils import config

PATHS = [
    path
    for folder in notebooks.NOTEBOOK_FOLDERS
    for path in sorted((notebooks.ROOT / folder).glob("*.ipynb"))
]
IDS = [f"{path.parent.name}/{path.name}" for path in PATHS]
PIP_INSTALL = [sys.executable, "-m", "pip", "install", "-q", colab.COLAB_INSTALL]


def setup_source(notebook):
    """The source of the Setup cell: the first code cell."""
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_badge_opens_this_notebook(path):
    notebook = notebooks.read(path)
    first = notebook.cells[0]
    badge = colab.colab_badge(path.parent.name, path.name)
    assert first.cell_type == "markdown" and badge in first.source, (
        f"the title cell needs the badge {badge}"
    )
    everywhere = " ".join(cell.source for cell in notebook.cells)
    wanted = colab.colab_url(path.parent.name, path.name)
    assert everywhere.count("colab.research.google.com/github/") == everywhere.count(wanted), (
        "a Colab link points at another notebook"
    )


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_setup_cell_starts_with_the_colab_stanza(path):
    assert setup_source(notebooks.read(path)).startswith(colab.COLAB_SETUP), "make format"


def test_colab_installs_this_version_from_the_configured_repository():
    wanted = f"{colab.DISTRIBUTION} @ git+{colab.REPOSITORY}@v{course_utils.__version__}"
    assert wanted == colab.COLAB_INSTALL
    assert colab.REPOSITORY in colab.COLAB_SETUP
    assert f'"{course_utils.__version__}"' in colab.COLAB_SETUP


OLD_STANZA = """# Setup. In Colab, install the course's helpers first (make lab did so elsewhere).
import sys

if "google.colab" in sys.modules:
    import subprocess

    COURSE_PACKAGE = "git+https://github.com/example/old-address"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", COURSE_PACKAGE], check=True)
"""
SETUP_REST = """from course_utils import config

config.setup()
import keras"""


@pytest.mark.parametrize(
    "source",
    [OLD_STANZA + "\n" + SETUP_REST, colab.COLAB_SETUP + "\n" + SETUP_REST, SETUP_REST],
    ids=["older stanza", "current stanza", "no stanza"],
)
def test_tidy_stamps_the_current_stanza_into_the_setup_cell(source):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# 99 · Test"), nbformat.v4.new_code_cell(source)]
    )
    tidied = notebooks.tidy(notebook)
    assert tidied.cells[1].source == colab.COLAB_SETUP + "\n" + SETUP_REST
    assert notebooks.tidy(tidied) == tidied


def test_tidy_leaves_a_first_cell_that_is_no_setup_cell_alone():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    assert notebooks.tidy(notebook).cells[0].source == "x = 1"


def test_tidy_check_names_a_notebook_with_an_older_stanza(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "solutions").mkdir()
    cells = [nbformat.v4.new_code_cell(OLD_STANZA + "\n" + SETUP_REST)]
    notebooks.write(notebooks.tidy(nbformat.v4.new_notebook(cells=cells)), tmp_path / "x.ipynb")
    stale = notebooks.tidy(nbformat.v4.new_notebook(cells=cells))
    stale.cells[0].source = OLD_STANZA + "\n" + SETUP_REST
    notebooks.write(stale, tmp_path / "notebooks" / "01_x.ipynb")
    assert notebooks.tidy_all(check=True, root=tmp_path) == ["notebooks/01_x.ipynb"]
    assert notebooks.tidy_all(root=tmp_path) == ["notebooks/01_x.ipynb"]
    assert notebooks.tidy_all(check=True, root=tmp_path) == []
    restamped = notebooks.read(tmp_path / "notebooks" / "01_x.ipynb").cells[0].source
    assert restamped.startswith(colab.COLAB_SETUP) and "example/old-address" not in restamped


def test_badge_is_built_from_the_configured_repository():
    url = colab.colab_url("notebooks", "01_x.ipynb")
    owner_and_name = colab.REPOSITORY.removeprefix("https://github.com/")
    assert url == (
        f"https://colab.research.google.com/github/{owner_and_name}/blob/"
        f"{colab.BRANCH}/notebooks/01_x.ipynb"
    )
    assert f"({url})" in colab.colab_badge("notebooks", "01_x.ipynb")


@pytest.fixture
def pip_calls(monkeypatch):
    """The commands passed to subprocess.run, which runs nothing."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: calls.append(command))
    return calls


def run_setup(source):
    """Execute Setup-cell code as a notebook would, in a fresh namespace."""
    exec(compile(source, "<setup cell>", "exec"), {"__name__": "__main__"})


def test_setup_installs_course_utils_in_colab(monkeypatch, pip_calls):
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert config.in_colab()
    run_setup(colab.COLAB_SETUP)
    assert pip_calls == [PIP_INSTALL]


def test_setup_installs_nothing_elsewhere(monkeypatch, pip_calls):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not config.in_colab()
    run_setup(colab.COLAB_SETUP)
    assert pip_calls == []
