"""The two packages stay apart: the students' library, the tools, no circles, no side effects."""

import ast
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("course_utils", "course_tools")


def module_files(package):
    """The Python files of one of the course's packages."""
    return sorted((ROOT / package).rglob("*.py"))


def module_name(path):
    """``course_utils.checks.plain`` for ``course_utils/checks/plain.py``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path):
    """Every course module a file imports, at the top or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else f"{package}.{node.module}"
            found.update(f"{base}.{alias.name}" for alias in node.names)
            found.add(base)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def known(name, modules):
    """The longest prefix of ``name`` that is a module of the course (``a.b.c`` -> ``a.b``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph():
    """Module -> the course modules it imports."""
    files = {module_name(path): path for package in PACKAGES for path in module_files(package)}
    graph = {}
    for name, path in files.items():
        targets = {known(target, files) for target in imported_modules(path)}
        graph[name] = {target for target in targets if target and target != name}
    return graph


def test_the_students_package_imports_nothing_from_the_tools():
    offenders = {
        name: sorted(t for t in targets if t.startswith("course_tools"))
        for name, targets in import_graph().items()
        if name.startswith("course_utils")
    }
    assert {name: t for name, t in offenders.items() if t} == {}


def test_no_import_circle():
    graph = import_graph()
    # A package importing its own submodules is not a circle (``__init__`` re-exports nothing).
    edges = {
        name: {t for t in targets if not t.startswith(f"{name}.")}
        for name, targets in graph.items()
    }
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_notebook_imports_the_tools():
    offenders = []
    for folder in ("notebooks", "solutions", "assignments"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                source = (
                    "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                )
                if cell["cell_type"] == "code" and "course_tools" in source:
                    offenders.append(f"{folder}/{path.name}")
    assert offenders == []


def test_every_module_says_why_it_exists():
    missing = [
        module_name(path)
        for package in PACKAGES
        for path in module_files(package)
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == []


@pytest.mark.slow
def test_importing_the_students_library_leaves_tensorflow_unloaded():
    """Setup cells import modules before config.setup(), which must run before TensorFlow loads.

    The lectures' generated modules are Keras code, imported after config.setup().
    """
    names = [
        module_name(path)
        for path in module_files("course_utils")
        if not module_name(path).startswith("course_utils.lectures.")
    ]
    code = (
        f"import importlib, sys\nfor name in {names!r}:\n    importlib.import_module(name)\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr[-800:]
