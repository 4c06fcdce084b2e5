"""Run one assembled notebook under nbval, isolated from the machine and from the grader.

Outside (``run``): a private work folder only root can enter holds the notebook, the kernelspec
and, at the end, the results; one process tree is started in its own session and killed as a
group when done or out of time; the results are read only after that.

Inside (``python -m course_tools.grading.sandbox SPEC``, when root): ``unshare`` gave the tree its
own mount, network and PID namespaces. This module, PID 1 there, mounts empty file systems over
/tmp, /var/tmp, /dev/shm and every hidden path (solutions, references, submissions, grades,
.git), brings up loopback only (ZMQ between pytest and the kernel uses TCP on 127.0.0.1; nothing
else is reachable), makes the kernel's folders, and becomes pytest. When PID 1 exits the kernel
dies with its namespace, so nothing the student started can outlive grading. Where that is not
possible (not root, no ``unshare``) the same runs without namespaces or another user: the guard
still hides paths and refuses writes, but the isolation is weaker, and ``course grade`` says so.
"""

import contextlib
import fcntl
import functools
import json
import os
import pathlib
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile

from course_utils import config

UNPRIVILEGED = "nobody"
KERNEL_NAME = "course-grader"
SCRATCH_HOME, SCRATCH_WORKDIR = "/tmp/home", "/tmp/notebook"
ROOT_WORK_BASE = pathlib.Path("/run/course-grade")
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PRIVATE_FOLDERS = ("/tmp/", "/var/tmp/", "/dev/shm/")
UNSHARE = ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "--kill-child"]


@functools.cache
def isolation():
    """How this machine isolates a graded notebook: "namespaces" (root) or "none"."""
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("unshare") is None:
        return "none"
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=30)
    return "namespaces" if probe.returncode == 0 else "none"


def unprivileged_ids():
    """uid and gid of the user that runs submissions (``nobody``), or None when not root."""
    if isolation() == "none":
        return None, None
    import pwd

    entry = pwd.getpwnam(UNPRIVILEGED)
    return entry.pw_uid, entry.pw_gid


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


def run(notebook_text, guard_cells, hidden, options):
    """Grade one assembled notebook; return the per-cell results and how the run ended."""
    work = make_workdir()
    scratch = None if isolation() == "namespaces" else tempfile.mkdtemp(prefix="nb-")
    try:
        (work / "notebook.ipynb").write_text(notebook_text, encoding="utf-8")
        (work / "pytest.ini").write_text("[pytest]\n")
        write_kernelspec(work)
        seed = str(pathlib.Path(options.get("home_seed") or "/nonexistent").resolve())
        if os.path.isdir(seed) and seed.startswith(PRIVATE_FOLDERS):
            # The sandbox's private /tmp would hide this seed: bring a copy along.
            shutil.copytree(seed, work / "home-seed", symlinks=True)
            options = {**options, "home_seed": str(work / "home-seed")}
        uid, gid = unprivileged_ids()
        spec = {
            "work": str(work),
            "isolated": isolation() == "namespaces",
            "uid": uid,
            "gid": gid,
            "hidden": sorted(str(path) for path in hidden),
            "cells": guard_cells,
            "scratch": scratch,
            **options,
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
    command = [sys.executable, "-m", "course_tools.grading.sandbox", str(work / "spec.json")]
    if spec["isolated"]:
        command = [*UNSHARE, *command]
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
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
            ended = f"exit {process.returncode}"
        except subprocess.TimeoutExpired:
            ended = "timeout"
        finally:
            _kill_group(process)
    _kill_stray_kernel(work)
    return ended


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
    """The per-cell results the plugin wrote, with how the run ended and the log's tail."""
    path = work / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {"cells": {}}
    results["ended"] = ended
    results["complete"] = path.exists()
    log = work / "sandbox.log"
    results["log"] = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    return results


# ----- inside the sandbox -----


def _mount(*arguments):
    """Run ``mount`` and fail loudly: a sandbox that is not set up must not grade."""
    subprocess.run(["mount", *arguments], check=True, capture_output=True)


def _private_tmp(spec):
    """Empty, private /tmp, /var/tmp and /dev/shm."""
    for folder in (path.rstrip("/") for path in PRIVATE_FOLDERS):
        if os.path.isdir(folder):
            _mount("-t", "tmpfs", "-o", f"size={spec['tmp_bytes']},mode=1777", "tmpfs", folder)


def _hide(spec):
    """Hidden paths, Python reachable by the kernel's user, loopback-only networking."""
    for path in spec["hidden"]:
        if os.path.isdir(path):
            _mount("-t", "tmpfs", "-o", "size=4k,mode=000,ro", "tmpfs", path)
        elif os.path.exists(path):
            _mount("--bind", "/dev/null", path)
    needed = {sys.base_prefix, sys.prefix, str(pathlib.Path(__file__).parents[2])}
    for path in sorted(needed | set(spec.get("python_path", []))):
        _expose(pathlib.Path(path).resolve(), pathlib.Path(spec["work"]))
    _loopback_up()


def _expose(path, work):
    """Make ``path`` reachable by the kernel's user where a parent folder is private.

    Python may live in a private home (/root/.pyenv): the kernel, once unprivileged, must still
    import from it. Such a parent gets an empty file system with only that child bound back
    into it, which also keeps the parent's other contents out of the kernel's sight.
    """
    for parent in reversed(path.parents):
        if parent == path or os.stat(parent).st_mode & stat.S_IXOTH:
            continue
        child = path.relative_to(parent).parts[0]
        staging = work / f"expose-{len(list(work.glob('expose-*')))}"
        staging.mkdir()
        # --rbind: the empty file systems hiding paths below it must come along.
        _mount("--rbind", str(parent / child), str(staging))
        _mount("-t", "tmpfs", "-o", "size=4k,mode=0755", "tmpfs", str(parent))
        (parent / child).mkdir()
        _mount("--rbind", str(staging), str(parent / child))


def _loopback_up():
    """Bring up ``lo`` in the new network namespace (what ``ip link set lo up`` does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def _scratch(spec):
    """The kernel's home (warm caches from the reference run) and working folder, its own."""
    if spec["isolated"]:
        home, workdir = pathlib.Path(SCRATCH_HOME), pathlib.Path(SCRATCH_WORKDIR)
    else:
        base = pathlib.Path(spec["scratch"])
        home, workdir = base / "home", base / "notebook"
    seed = spec.get("home_seed")
    if seed and os.path.isdir(seed):
        shutil.copytree(seed, home, symlinks=True, dirs_exist_ok=True)
    for folder in (home, workdir):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        if spec["uid"] is not None:
            _chown_tree(folder, spec["uid"], spec["gid"])
    return str(home), str(workdir)


def _chown_tree(folder, uid, gid):
    """Give a folder and everything in it to the kernel's user."""
    os.lchown(folder, uid, gid)
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            os.lchown(os.path.join(parent, name), uid, gid)


def _kernel_config(spec, home, workdir):
    """What the kernel launcher needs: user, limits, folders, environment, the guard's cells."""
    return {
        "uid": spec["uid"],
        "gid": spec["gid"],
        "memory_bytes": spec["memory_bytes"],
        "file_bytes": spec["file_bytes"],
        "home": home,
        "workdir": workdir,
        "environment": config.environment("fast", {}),
        "cells": spec["cells"],
        # The work folder too: without namespaces, the guard is what keeps the kernel out.
        "hidden": [*spec["hidden"], spec["work"]],
        "pid_file": str(pathlib.Path(spec["work"]) / "kernel.pid"),
        "python_path": spec.get("python_path", []),
    }


def _pytest_arguments(spec):
    """pytest with nbval and the grader's plugin, and nothing else from this machine."""
    work = pathlib.Path(spec["work"])
    return [
        str(work / "notebook.ipynb"),
        "-c",
        str(work / "pytest.ini"),
        "--rootdir",
        str(work),
        "-p",
        "nbval.plugin",
        "-p",
        "course_tools.grading.plugin",
        "--nbval-lax",
        "--nbval-kernel-name",
        KERNEL_NAME,
        "--nbval-cell-timeout",
        str(spec["cell_timeout"]),
        "--nbval-kernel-startup-timeout",
        str(spec["startup_timeout"]),
        "--grader-results",
        str(work / "results.json"),
        "--grader-output-limit",
        str(spec["output_bytes"]),
        "-q",
        "-p",
        "no:cacheprovider",
    ]


def main(spec_path):
    """Inside the sandbox: isolate, prepare the kernel's folders, run pytest."""
    spec = json.loads(pathlib.Path(spec_path).read_text())
    work = pathlib.Path(spec["work"])
    if spec["isolated"]:
        _private_tmp(spec)
    # Seeded before hiding: the seed sits next to the reference, which the kernel must not see.
    home, workdir = _scratch(spec)
    if spec["isolated"]:
        _hide(spec)
    config = _kernel_config(spec, home, workdir)
    (work / "kernel-config.json").write_text(json.dumps(config, indent=1))
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(work),
        "JUPYTER_PATH": str(work / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        "JUPYTER_CONFIG_DIR": str(work / "config"),
        "JUPYTER_DATA_DIR": str(work / "data"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(work)
    # jsonschema imports rfc3987_syntax when present, which builds a grammar for seconds at every
    # start; nbformat's validation here needs none of its format checkers.
    sys.modules["rfc3987_syntax"] = None
    import pytest

    return pytest.main(_pytest_arguments(spec))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
