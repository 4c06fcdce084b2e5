"""Run one assembled notebook under nbval, isolated from the machine and from the grader.

A private work folder only the grader's user can enter holds the notebook, the kernelspec and,
at the end, the results; one process tree is started in its own session and killed as a group
when done or out of time; the results are read only after that. Inside, as root, the tree gets
its own mount, network, PID, IPC and host-name namespaces and a root file system of its own
(:mod:`course_tools.grading.jail`): the system's programs and libraries, the interpreter, the
course's two packages, read-only, and nothing else, wherever they are installed; the kernel
runs as ``nobody``. Without root (or ``unshare``) the same runs without namespaces or another
user: the guard in the kernel then hides and refuses what it can, which is weaker, and ``course
grade`` says so.

Every run that ends without results says why: how the tree ended (exit status, signal, time
limit) and the last error line of its log.
"""

import contextlib
import functools
import importlib.util
import json
import os
import pathlib
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

UNPRIVILEGED = "nobody"
KERNEL_NAME = "course-grader"
ROOT_WORK_BASE = pathlib.Path("/run/course-grade")
UNSHARE_OPTIONS = ["--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
LOG_CHARACTERS = 4000
# The last line of a Python traceback: "ModuleNotFoundError: No module named 'x'".
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)(:|$)")
# Where an interpreter's own paths are read (isolated mode: no PYTHONPATH, no user site).
PATHS_SCRIPT = """
import importlib.util, json, os, sys
packages = {}
for name in ("course_utils", "course_tools"):
    spec = importlib.util.find_spec(name)
    packages[name] = list(spec.submodule_search_locations) if spec else []
print(json.dumps({"path": sys.path, "packages": packages, "executable": os.path.realpath(
    sys.executable), "prefixes": sorted({sys.prefix, sys.base_prefix, sys.exec_prefix,
    sys.base_exec_prefix})}))
"""


class SandboxError(RuntimeError):
    """The sandbox cannot run here: the message says why and what fixes it."""


@functools.cache
def isolation():
    """How this machine isolates a graded notebook: "namespaces" (root) or "none"."""
    if os.name != "posix" or os.geteuid() != 0 or _unshare() is None:
        return "none"
    probe = subprocess.run([_unshare(), *UNSHARE_OPTIONS, "true"], capture_output=True, timeout=30)
    return "namespaces" if probe.returncode == 0 else "none"


def _unshare():
    """The ``unshare`` program, from PATH or the system's folders (None: not installed)."""
    return shutil.which("unshare", path=f"{os.environ.get('PATH', '')}:{SYSTEM_PATH}")


def unprivileged_ids():
    """uid and gid of the user that runs submissions (``nobody``), or None when not root."""
    if isolation() == "none":
        return None, None
    import pwd

    entry = pwd.getpwnam(UNPRIVILEGED)
    return entry.pw_uid, entry.pw_gid


@functools.cache
def interpreter_paths():
    """What the kernel's interpreter needs to read: its prefixes and site folders, the course's
    packages (never a whole source tree: its solutions, tests and .git stay out)."""
    found = subprocess.run(
        [sys.executable, "-I", "-c", PATHS_SCRIPT], capture_output=True, text=True, check=True
    )
    facts = json.loads(found.stdout)
    packages = [folder for folders in facts["packages"].values() for folder in folders]
    paths = set(facts["prefixes"]) | {str(pathlib.Path(facts["executable"]).parent)}
    for entry in facts["path"]:
        if entry and os.path.exists(entry) and not _source_tree(entry):
            paths.add(entry)
    return tuple(sorted(paths | set(packages)))


def _source_tree(folder):
    """True for a checkout of the course (a path entry of an editable install): never exposed."""
    markers = ("solutions", ".git", "_build", "pyproject.toml")
    return os.path.isdir(folder) and any(os.path.exists(os.path.join(folder, m)) for m in markers)


def readable_paths(python_path=(), local_modules=()):
    """Everything a graded kernel may read besides the system: interpreter, course, the
    solution's own modules (one file each, never their folder)."""
    local = []
    for folder in map(pathlib.Path, python_path):
        for name in local_modules:
            if (folder / f"{name}.py").exists():
                local.append(str(folder / f"{name}.py"))
                # Its cached byte code, which the import system looks for (existing or not).
                local.append(importlib.util.cache_from_source(str(folder / f"{name}.py")))
    return [*interpreter_paths(), *local]


def unreadable(paths, uid, gid):
    """The first needed path the kernel's user cannot read (its mode), or None."""
    if uid is None:
        return None
    for path in paths:
        for item in _sample(pathlib.Path(path)):
            try:
                info = os.stat(item)
            except OSError:
                continue  # not there (byte code not compiled yet): nothing to read
            wanted = 0o5 if stat.S_ISDIR(info.st_mode) else 0o4
            if info.st_uid == uid:
                mode = info.st_mode >> 6
            elif info.st_gid == gid:
                mode = info.st_mode >> 3
            else:
                mode = info.st_mode
            if mode & wanted != wanted:
                return f"{item} (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def _sample(path):
    """A path and what matters below it: every file of a small package, the top of the rest."""
    yield path
    if path.is_dir() and (path / "__init__.py").exists():
        for parent, folders, files in os.walk(path):
            folders[:] = [f for f in folders if f != "__pycache__"]
            for name in folders + files:
                yield pathlib.Path(parent) / name


def make_workdir():
    """A fresh folder only the grader's user can enter."""
    base = None
    if isolation() == "namespaces":
        ROOT_WORK_BASE.mkdir(mode=0o700, parents=True, exist_ok=True)
        base = ROOT_WORK_BASE
    work = pathlib.Path(tempfile.mkdtemp(prefix="run-", dir=base))
    work.chmod(0o700)
    return work


def write_kernelspec(work):
    """The kernelspec nbval starts: the guarded kernel launcher with its configuration."""
    folder = work / "jupyter" / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True)
    argv = [sys.executable, "-m", "course_tools.grading.kernel", str(work / "kernel-config.json")]
    spec = {
        "argv": [*argv, "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "interrupt_mode": "signal",
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))


def run(notebook_text, guard_cells, options):
    """Grade one assembled notebook; return the per-cell results and how the run ended.

    ``options``: the limits, ``readable`` (paths the kernel needs), ``hidden`` (what the guard
    hides without namespaces), ``home_seed``, ``python_path``.
    """
    work = make_workdir()
    isolated = isolation() == "namespaces"
    scratch = None if isolated else tempfile.mkdtemp(prefix="course-kernel-")
    try:
        (work / "notebook.ipynb").write_text(notebook_text, encoding="utf-8")
        (work / "pytest.ini").write_text("[pytest]\n")
        write_kernelspec(work)
        uid, gid = unprivileged_ids()
        spec = {
            **options,
            "work": str(work),
            "isolated": isolated,
            "uid": uid,
            "gid": gid,
            "cells": guard_cells,
            "scratch": scratch,
        }
        (work / "spec.json").write_text(json.dumps(spec, indent=1))
        ended = _run_tree(work, spec)
        return _read_results(work, ended)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _run_tree(work, spec):
    """Start the sandbox tree, wait for it (or kill it at the deadline), then kill its group."""
    command = [sys.executable, "-m", "course_tools.grading.jail", str(work / "spec.json")]
    if spec["isolated"]:
        command = [_unshare(), *UNSHARE_OPTIONS, *command]
    environment = {"PATH": f"{os.environ.get('PATH', '')}:{SYSTEM_PATH}", "LANG": "C.UTF-8"}
    with open(work / "sandbox.log", "wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=work,
            start_new_session=True,
        )
        try:
            process.wait(timeout=spec["timeout"])
            ended = _ending(process.returncode)
        except subprocess.TimeoutExpired:
            ended = f"stopped at the {spec['timeout']:g} s time limit"
        finally:
            _kill_group(process)
    _kill_stray_kernel(work)
    return ended


def _ending(returncode):
    """How the tree ended, in words (an exit status, or the signal that killed it)."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
    return f"exit {returncode}"


def _kill_group(process):
    """Kill the whole process group and reap its leader."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _kill_stray_kernel(work):
    """Without a PID namespace the kernel has its own session: kill it by the pid it wrote.

    Only then: inside a namespace the pid it wrote is the namespace's, not this machine's.
    """
    pid_file = work / "kernel.pid"
    if isolation() == "namespaces" or not pid_file.exists():
        return
    with contextlib.suppress(ValueError, OSError):
        pid = int(pid_file.read_text())
        command = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"course_tools.grading.kernel" in command:
            os.kill(pid, signal.SIGKILL)


def _read_results(work, ended):
    """The per-cell results the plugin wrote, with how the run ended and why, from its log."""
    path = work / "results.json"
    results = {"cells": {}}
    if path.exists():
        with contextlib.suppress(ValueError, RecursionError):
            results = json.loads(path.read_text(encoding="utf-8"))
    results["ended"] = ended
    results["complete"] = path.exists()
    results["log"] = _tail(work / "sandbox.log")
    # The kernel's own stderr (before ipykernel captures it): why a kernel did not start.
    results["kernel_log"] = _tail(work / "kernel.log")
    results["reason"] = log_reason(results["kernel_log"]) or log_reason(results["log"])
    return results


def _tail(path):
    """The end of a log file, or ""."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - LOG_CHARACTERS))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def log_reason(log):
    """The line of a log that says what went wrong (the last exception raised), or ""."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    raised = [line for line in lines if EXCEPTION_LINE.match(line)]
    markers = ("error:", "denied", "Killed", "No such file")
    other = [line for line in lines if any(marker in line for marker in markers)]
    return (raised or other or [""])[-1][:300]
