"""The course as a package a student installs anywhere: its own name, a version, its dependencies.

A wheel is built from a copy of the sources and installed, offline, into a fresh virtual
environment that sees none of this checkout. The heavy dependencies come from this environment's
site-packages, shared read-only (without this checkout's own editable install), so the test stays
fast and still proves that pip finds every declared dependency satisfied by the tested set. A
lecture notebook then runs in fast mode in a kernel of that environment.
"""

import ast
import email
import importlib.metadata
import json
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile

import nbclient
import nbformat
import pytest

from course_tools import colab, notebooks
from course_utils import config

ROOT = notebooks.ROOT
SOURCES = ("pyproject.toml", "README.md", "course_utils", "course_tools")
# A short lecture that uses the data loaders, the plots and the package's files.
LECTURE = ROOT / "notebooks" / "00_data.ipynb"


def canonical(name):
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement):
    """``"scikit-image>=0.22,<1"`` -> ``"scikit-image"``."""
    return canonical(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built from a copy of the sources (the checkout gets no build folders)."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(path, source / name)
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "-q", "-w", str(folder / "dist"), str(source)], check=True)
    (built,) = (folder / "dist").glob("*.whl")
    return built


def wheel_metadata(wheel):
    """The wheel's METADATA as an email message (Name, Version, Requires-Dist...)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def shared_site_packages(target):
    """This environment's site-packages as links in ``target``, without the course itself."""
    own = {canonical(colab.DISTRIBUTION), "course-utils"}
    target.mkdir()
    for entry in pathlib.Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name.startswith("__editable__") or entry.name in ("course_utils", "course_tools"):
            continue
        if entry.suffix == ".dist-info" and canonical(entry.name.split("-")[0]) in own:
            continue
        (target / entry.name).symlink_to(entry)
    return target


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh virtual environment with the wheel installed: its Python."""
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "env")], check=True)
    python = folder / "env" / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shared = shared_site_packages(folder / "shared")
    # An import line in a .pth file runs at start-up: the shared folder's own .pth files count.
    (pathlib.Path(purelib) / "shared_dependencies.pth").write_text(
        f"import site; site.addsitedir({str(shared)!r})\n"
    )
    install = [python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "-q"]
    subprocess.run([*install, str(wheel)], check=True, cwd=folder, env=clean_environment())
    return python


def clean_environment(mode="fast"):
    """Variables for a process that must not see this checkout."""
    variables = config.environment(mode)
    variables.pop("PYTHONPATH", None)
    return variables


def test_the_distribution_has_its_own_name_and_the_one_version(wheel):
    metadata = wheel_metadata(wheel)
    assert metadata["Name"] == colab.DISTRIBUTION != "course-utils"
    import course_utils

    assert metadata["Version"] == course_utils.__version__ == colab.VERSION
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == colab.DISTRIBUTION
    assert "version" in pyproject["project"]["dynamic"], "one version: course_utils.__version__"


def test_the_wheel_holds_the_packages_and_their_files_only(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "course_utils/assets/vgg16_quarter_digits.npz" in names
    assert "course_utils/lectures/__init__.py" in names
    assert "course_tools/cli.py" in names
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"course_utils", "course_tools"}


def imported_top_modules(package):
    """The top-level names of every module a package imports, at the top or inside functions."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__", package}


def distributions_of(modules):
    """``{module: canonical distribution names}`` in this environment."""
    providers = importlib.metadata.packages_distributions()
    return {module: {canonical(name) for name in providers.get(module, ())} for module in modules}


def test_declared_dependencies_cover_what_the_students_package_imports(wheel):
    declared = {
        requirement_name(requirement)
        for requirement in wheel_metadata(wheel).get_all("Requires-Dist")
        if "extra ==" not in requirement
    }
    modules = distributions_of(imported_top_modules("course_utils"))
    missing = {module: sorted(names) for module, names in modules.items() if not names & declared}
    assert missing == {}, "import these from a declared dependency, or declare them"


def test_the_instructors_extra_covers_what_only_the_tools_import(wheel):
    metadata = wheel_metadata(wheel)
    assert "instructors" in metadata.get_all("Provides-Extra")
    everything = {requirement_name(r) for r in metadata.get_all("Requires-Dist")}
    modules = distributions_of(imported_top_modules("course_tools") - {"course_utils"})
    missing = {module: sorted(names) for module, names in modules.items() if not names & everything}
    assert missing == {}


def test_the_pinned_set_lies_inside_the_declared_ranges():
    """requirements.txt pins one tested version of every runtime dependency."""
    pinned = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line.strip())
        if match:
            pinned[canonical(match.group(1))] = match.group(2)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    unpinned = [
        requirement_name(requirement)
        for requirement in pyproject["project"]["dependencies"]
        if requirement_name(requirement) not in pinned
    ]
    assert unpinned == [], "pin the tested version in requirements.txt"


@pytest.mark.slow
def test_the_installed_package_comes_from_the_wheel(installed, tmp_path):
    code = (
        "import importlib.metadata, json, course_utils, course_tools.cli;"
        "print(json.dumps([course_utils.__file__, course_tools.cli.__file__,"
        f" importlib.metadata.version({colab.DISTRIBUTION!r})]))"
    )
    result = subprocess.run(
        [installed, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=clean_environment(),
    )
    utils_file, tools_file, version = json.loads(result.stdout.strip().splitlines()[-1])
    environment = installed.parent.parent
    assert pathlib.Path(utils_file).is_relative_to(environment), utils_file
    assert pathlib.Path(tools_file).is_relative_to(environment), tools_file
    assert version == colab.VERSION
    course = environment / "bin" / "course"
    help_text = subprocess.run(
        [course, "--help"], capture_output=True, text=True, check=True, env=clean_environment()
    )
    assert "tidy" in help_text.stdout


@pytest.mark.slow
def test_a_lecture_runs_against_the_installed_package(installed, tmp_path, monkeypatch):
    """The lecture, copied out of the checkout, runs in fast mode in the wheel's environment."""
    kernels = tmp_path / "jupyter" / "kernels" / "course-wheel"
    kernels.mkdir(parents=True)
    argv = [str(installed), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "course wheel", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    notebook = notebooks.read(LECTURE)
    where = "import course_utils, importlib.metadata\nprint(course_utils.__file__)"
    notebook.cells.append(nbformat.v4.new_code_cell(where))
    run = tmp_path / "run"
    run.mkdir()
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="course-wheel", resources={"metadata": {"path": run}}
    )
    try:
        client.execute(env=clean_environment())
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{LECTURE.name} against the wheel: {str(error).strip().splitlines()[-1]}")
    printed = notebook.cells[-1].outputs[0]["text"].strip()
    assert pathlib.Path(printed).is_relative_to(installed.parent.parent), printed
