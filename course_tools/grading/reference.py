"""Grading references: each solutions notebook executed in fast mode, with a manifest.

``_build/grading/<name>/`` (git-ignored, readable by the grader's user only) holds
``reference.ipynb``, the solution with its outputs (hidden tests exist only here and in
solutions/), and ``manifest.json``: cell ids, roles, points, hashes of the instructor cells, the
check each check cell records (``course_utils.checks.stem:check_name``), and timings. The
solution runs with recording on, as a graded kernel does: each check cell's record names its
check, and the solution's own records, judged by the grader's judge, must all pass (a check
that fails its own solution is caught here, not in a class's gradebook). A check cell that
records nothing (or more than one check) stops the build. A reference is rebuilt when its key
changes: the hash of the solution and of the course code it runs.
"""

import ast
import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import nbclient
import nbformat

import course_utils
from course_tools import notebooks
from course_tools.grading import judge, screen
from course_utils import config
from course_utils.checks import recording

FORMAT = 6
BUILD_ROOT = notebooks.ROOT / "_build" / "grading"
# The students' package: a reference depends on its checks and the modules a solution imports.
PACKAGE = pathlib.Path(course_utils.__file__).resolve().parent
CELL_TIMEOUT = 600
HOME_SEED = "home"
# From the reference run's home, what graded kernels may start with: caches only.
CACHE_FOLDERS = (".cache", ".keras")
# Run first in the reference's kernel, as the graded kernel's launcher does.
RECORDING = "--IPKernelApp.exec_lines=from course_utils import checks; checks.start_recording()"


class BuildError(RuntimeError):
    """The solution cannot serve as a grading reference (it fails, or a check prints nothing)."""


def solution_path(assignment, root=notebooks.ROOT):
    """The solutions notebook of ``assignment``: a name (``01_conv2d_padding_stride``) or path."""
    path = pathlib.Path(assignment)
    if path.suffix == ".ipynb" and path.exists():
        return path.resolve()
    name = path.name if path.suffix == ".ipynb" else f"{path.name}.ipynb"
    candidate = pathlib.Path(root) / "solutions" / name
    if not candidate.exists():
        available = ", ".join(p.stem for p in notebooks.notebook_paths("solutions", root))
        raise FileNotFoundError(f"no solutions notebook {name}; available: {available or 'none'}")
    return candidate


def source_key(solution):
    """What the reference depends on: the solution and the course code it runs.

    That is the checks (what judges the submissions' records), ``config``
    (fast-mode sizes) and every course module the solution imports; editing slides or
    widgets leaves references valid.
    """
    digest = hashlib.sha256(f"grading reference {FORMAT}\0".encode())
    digest.update(pathlib.Path(solution).read_bytes())
    notebook = notebooks.read(solution)
    for path in _course_files(notebook):
        digest.update(f"\0{path.relative_to(PACKAGE).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    for folder in python_path(solution, notebook):
        for name in local_modules(solution, notebook):
            path = pathlib.Path(folder) / f"{name}.py"
            if path.exists():
                digest.update(f"\0{path.name}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def local_modules(solution, notebook):
    """The modules the solution imports from its own python_path (its checks, for the self-test)."""
    imported = {module.split(".")[0] for module in module_names(notebook).values()}
    return sorted(
        name
        for name in imported
        for folder in python_path(solution, notebook)
        if (pathlib.Path(folder) / f"{name}.py").exists()
    )


def python_path(solution, notebook):
    """Folders besides the course that the solution imports from (its ``course.python_path``).

    A notebook's metadata may name folders relative to itself whose modules it imports (the
    grader's self-test keeps its checks with the tests); graded kernels get them read-only.
    """
    folders = notebook.metadata.get("course", {}).get("python_path", [])
    base = pathlib.Path(solution).resolve().parent
    return [str((base / folder).resolve()) for folder in folders]


def _course_files(notebook):
    """The course_utils sources a solution depends on, in a stable order."""
    wanted = {"__init__", "config", "checks"}
    for module in module_names(notebook).values():
        parts = module.split(".")
        if parts[0] == "course_utils" and len(parts) > 1:
            wanted.add(parts[1])
    files = set()
    for name in wanted:
        if (PACKAGE / name).is_dir():
            files.update((PACKAGE / name).rglob("*.py"))
        elif (PACKAGE / f"{name}.py").exists():
            files.add(PACKAGE / f"{name}.py")
    return sorted(files)


def cell_hash(source):
    """SHA-256 of a cell's source."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def reference_dir(solution, build_root=None):
    """The folder of one assignment's reference (under ``_build/grading`` by default)."""
    return pathlib.Path(build_root or BUILD_ROOT) / pathlib.Path(solution).stem


def load(assignment, build_root=None, build=True):
    """The (reference notebook, manifest) of ``assignment``, built first if missing or stale."""
    notebook, manifest, _ = load_reference(assignment, build_root, build)
    return notebook, manifest


def load_reference(assignment, build_root=None, build=True):
    """The (reference notebook, manifest, folder) of ``assignment``: built when stale."""
    solution = solution_path(assignment)
    folder = reference_dir(solution, build_root)
    with _lock(folder):
        manifest = _read_manifest(folder)
        if manifest is None or manifest["key"] != source_key(solution):
            if not build:
                raise BuildError(f"the grading reference of {solution.stem} is stale")
            print(f"building the grading reference of {solution.stem} (runs the solution)...")
            build_reference(solution, folder)
            manifest = _read_manifest(folder)
    return notebooks.read(folder / "reference.ipynb"), manifest, folder


def build_all(build_root=None, root=notebooks.ROOT, force=False):
    """Build the reference of every solutions notebook (when stale, or all with ``force``)."""
    built = []
    for solution in notebooks.notebook_paths("solutions", root):
        folder = reference_dir(solution, build_root)
        with _lock(folder):
            manifest = _read_manifest(folder)
            if force or manifest is None or manifest["key"] != source_key(solution):
                build_reference(solution, folder)
                built.append(solution.stem)
    return built


def stale(build_root=None, root=notebooks.ROOT):
    """Names of the solutions whose reference is missing or out of date (nothing is run)."""
    names = []
    for solution in notebooks.notebook_paths("solutions", root):
        manifest = _read_manifest(reference_dir(solution, build_root))
        if manifest is None or manifest["key"] != source_key(solution):
            names.append(solution.stem)
    return names


@contextlib.contextmanager
def _lock(folder):
    """One builder per reference at a time (parallel test workers, two graders)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(folder.parent, 0o700)
    with open(folder.parent / f".{folder.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_manifest(folder):
    """The manifest of a built reference, or None."""
    path = folder / "manifest.json"
    if not (path.exists() and (folder / "reference.ipynb").exists()):
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    return manifest if manifest.get("format") == FORMAT else None


def build_reference(solution, folder):
    """Execute the solution in fast mode, validate its checks, write reference and manifest."""
    solution = pathlib.Path(solution)
    notebook = notebooks.read(solution)
    notebooks.validate_exercises(notebook, solution.name)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    started = time.monotonic()
    try:
        executed = execute(notebook, staging / HOME_SEED, python_path(solution, notebook))
        exercises = notebooks.validate_exercises(executed, solution.name)
        manifest = make_manifest(executed, exercises, solution, time.monotonic() - started)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    keep_caches(staging / HOME_SEED)
    notebooks.write(executed, staging / "reference.ipynb")
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    staging.chmod(0o700)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)
    return manifest


def execute(notebook, home, extra_path=()):
    """Run a notebook in fast mode in a fresh kernel with its own ``home``; return it executed."""
    unset = {key: value for key, value in os.environ.items() if not key.startswith("COURSE_")}
    environment = {**config.environment("fast", unset), "HOME": str(home)}
    if extra_path:
        environment["PYTHONPATH"] = os.pathsep.join(extra_path)
    pathlib.Path(home).mkdir(parents=True, exist_ok=True)
    environment.pop("MPLCONFIGDIR", None)
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    with tempfile.TemporaryDirectory(prefix="course-reference-") as folder:
        client = nbclient.NotebookClient(
            notebook,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            resources={"metadata": {"path": folder}},
            record_timing=True,
            extra_arguments=[RECORDING],
        )
        try:
            client.execute(env=environment, stderr=subprocess.DEVNULL)
        except nbclient.exceptions.CellExecutionError as error:
            raise BuildError(f"the solution fails in fast mode: {error}") from error
    return notebook


def keep_caches(home):
    """Keep what makes a graded kernel start warm (data sets, font cache), nothing else.

    Graded kernels start with a copy of this home. IPython's history holds the solution's code,
    so only the cache folders survive.
    """
    for entry in pathlib.Path(home).iterdir():
        if entry.name not in CACHE_FOLDERS:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def records(cell):
    """The records a check cell showed (see :mod:`course_utils.checks.recording`)."""
    return [
        output["data"][recording.RECORD_MIME]
        for output in cell.outputs
        if output.get("output_type") in ("display_data", "execute_result")
        and recording.RECORD_MIME in output.get("data", {})
    ]


def check_of(cell):
    """The check path a solution's check cell recorded: exactly one record per cell."""
    if any(output.get("output_type") == "error" for output in cell.outputs):
        raise BuildError(f"check cell {cell.id} fails in the solution")
    found = records(cell)
    if len(found) != 1:
        raise BuildError(
            f"check cell {cell.id} showed {len(found)} check records; one per cell "
            "(call one check from course_utils.checks)"
        )
    return found[0]["check"]


def self_judge(executed, manifest, extra_modules):
    """Judge the solution's own records as the grader will; any failure stops the build."""
    tasks = []
    for cell in executed.cells:
        meta = notebooks.course_meta(cell)
        if meta.get("role") in ("check", "hidden") and records(cell):
            tasks.append((cell.id, records(cell)[0]["check"], records(cell)[0]["outputs"]))
    verdicts = judge.judge_all(tasks, manifest["python_path"], extra_modules)
    for cell_id, (status, message) in sorted(verdicts.items()):
        if status != judge.PASSED:
            raise BuildError(f"check cell {cell_id} fails the solution's own outputs: {message}")


def make_manifest(executed, exercises, solution, seconds):
    """Cells (id, role, points, hash), exercises (points, checks, course code) and timings."""
    modules = module_names(executed)
    local = local_modules(solution, executed)
    cells, durations = [], []
    for index, cell in enumerate(executed.cells):
        meta = notebooks.course_meta(cell)
        cells.append(
            {
                "index": index,
                "id": cell.get("id"),
                "cell_type": cell.cell_type,
                "role": meta.get("role"),
                "exercise": meta.get("exercise"),
                "points": meta.get("points", 0),
                "sha256": cell_hash(cell.source),
            }
        )
        durations.append(_duration(cell))
    summary = {}
    for number, roles in sorted(exercises.items()):
        entry = {"check_points": notebooks.course_meta(roles["check"])["points"]}
        entry["check_path"] = check_of(roles["check"])
        # Course code the instructor's answer uses is fair for students too: not flagged.
        entry["course_code"] = screen.course_code(roles["answer"].source, modules, local)
        entry["hidden_points"], entry["hidden_path"] = 0, None
        if "hidden" in roles:
            entry["hidden_points"] = notebooks.course_meta(roles["hidden"]).get("points", 0)
            entry["hidden_path"] = check_of(roles["hidden"])
        summary[str(number)] = entry
    manifest = {
        "format": FORMAT,
        "name": pathlib.Path(solution).stem,
        "key": source_key(solution),
        "cells": cells,
        "modules": modules,
        "exercises": summary,
        "python_path": python_path(solution, executed),
        "local_modules": local,
        "seconds": round(seconds, 1),
        "slowest_cell_seconds": round(max(durations, default=0.0), 1),
    }
    self_judge(executed, manifest, local)
    return manifest


def module_names(notebook):
    """What the instructor's cells bind to modules (``np``: numpy, ``conv``: a checks module).

    The screen flags answers that assign these modules' attributes or use the checks' code."""
    names = {}
    for cell in notebook.cells:
        if cell.cell_type != "code" or notebooks.course_meta(cell).get("role") == "answer":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    names[bound] = alias.name if alias.asname else bound
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return dict(sorted(names.items()))


def _duration(cell):
    """Seconds a cell took in the reference run (nbclient's timing metadata)."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    elapsed = _timestamp(end) - _timestamp(start)
    return max(0.0, elapsed.total_seconds())


def _timestamp(text):
    """A Jupyter ISO timestamp as a datetime."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
