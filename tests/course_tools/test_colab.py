"""Colab: every notebook opens in Colab from its own badge, and installs course_utils only there.

The Colab side is simulated: a fake ``google.colab`` module in ``sys.modules`` (what Colab's
runtime provides) and a stubbed ``subprocess.run`` that records the pip command.
"""

import subprocess
import sys
import types

import pytest

from course_tools import notebooks
from course_utils import config

PATHS = [
    path
    for folder in notebooks.NOTEBOOK_FOLDERS
    for path in sorted((notebooks.ROOT / folder).glob("*.ipynb"))
]
IDS = [f"{path.parent.name}/{path.name}" for path in PATHS]
PIP_INSTALL = [sys.executable, "-m", "pip", "install", "-q", f"git+{notebooks.REPOSITORY}"]


def setup_source(notebook):
    """The source of the Setup cell: the first code cell."""
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_badge_opens_this_notebook(path):
    notebook = notebooks.read(path)
    first = notebook.cells[0]
    badge = notebooks.colab_badge(path.parent.name, path.name)
    assert first.cell_type == "markdown" and badge in first.source, (
        f"the title cell needs the badge {badge}"
    )
    everywhere = " ".join(cell.source for cell in notebook.cells)
    wanted = notebooks.colab_url(path.parent.name, path.name)
    assert everywhere.count("colab.research.google.com/github/") == everywhere.count(wanted), (
        "a Colab link points at another notebook"
    )


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_setup_cell_starts_with_the_colab_stanza(path):
    assert setup_source(notebooks.read(path)).startswith(notebooks.COLAB_SETUP)


def test_badge_is_built_from_the_configured_repository():
    url = notebooks.colab_url("notebooks", "01_x.ipynb")
    owner_and_name = notebooks.REPOSITORY.removeprefix("https://github.com/")
    assert url == (
        f"https://colab.research.google.com/github/{owner_and_name}/blob/"
        f"{notebooks.BRANCH}/notebooks/01_x.ipynb"
    )
    assert f"({url})" in notebooks.colab_badge("notebooks", "01_x.ipynb")


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
    run_setup(notebooks.COLAB_SETUP)
    assert pip_calls == [PIP_INSTALL]


def test_setup_installs_nothing_elsewhere(monkeypatch, pip_calls):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not config.in_colab()
    run_setup(notebooks.COLAB_SETUP)
    assert pip_calls == []
