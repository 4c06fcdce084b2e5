"""Inside the sandbox: the file system a graded kernel sees, then pytest with nbval.

``python -m course_tools.grading.jail SPEC`` runs as the sandbox's first process. As root, in the
new namespaces ``unshare`` made, it builds a root file system of its own on an empty tmpfs:

* the system's programs, libraries and settings (``/usr``, ``/bin``, ``/lib*``, ``/etc``),
  read-only;
* the interpreter, its site folders and the course's two packages, read-only, at their own
  paths wherever they are installed (a private folder under /tmp, a home only root may enter);
  their parent folders are made by the jail, so the kernel's user can reach them;
* a fresh ``/proc`` of the new PID namespace, a few devices, and private, empty ``/tmp`` and
  ``/dev/shm``: the only places the kernel's user can write, with its home and working folder;
* the run's own work folder (notebook, kernelspec, results), which only root can enter.

Then it pivots into that root, so solutions, references, submissions (the graded folder and any
beside it), grades and every other world-writable folder of the machine do not exist for the
kernel. It brings up loopback only (ZMQ between pytest and the kernel uses TCP on 127.0.0.1;
nothing else is reachable) and becomes pytest. When it exits, the kernel dies with its
namespace. Without root the same runs in the machine's own file system, with the guard's
allow-lists instead.
"""

import fcntl
import json
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys

from course_utils import config

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")
HOME, WORKDIR = "/tmp/home", "/tmp/notebook"
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # where mount and pivot_root live, whatever PATH says


def _tool(name):
    """The path of a system program (``mount``, ``pivot_root``), not only from PATH."""
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:{SYSTEM_PATH}") or name


def _mount(*arguments):
    """Run ``mount``; a failure stops the sandbox with mount's own message."""
    command = [_tool("mount"), *map(str, arguments)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip()
        raise RuntimeError(f"sandbox: mount {' '.join(map(str, arguments))} failed: {message}")


def _bind(source, target, writable=False, device=False):
    """Bind ``source`` at ``target`` (a folder or a file made for it), read-only by default."""
    source = pathlib.Path(source)
    if source.is_dir():
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
    else:
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        target.touch()
    _mount("--bind", source, target)
    options = "remount,bind,nosuid" + ("" if device else ",nodev") + ("" if writable else ",ro")
    _mount("-o", options, target)


def build_root(spec):
    """The kernel's root file system, on a fresh tmpfs under the work folder; return its path."""
    root = pathlib.Path(spec["work"]) / "root"
    root.mkdir(mode=0o755)
    _mount("-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", root)
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            os.symlink(os.readlink(folder), root / folder.lstrip("/"))
        elif os.path.isdir(folder):
            _bind(folder, root / folder.lstrip("/"))
    # The private /tmp first: what is installed under the machine's /tmp is bound into it.
    (root / "tmp").mkdir(mode=0o755)
    _mount(
        "-t",
        "tmpfs",
        "-o",
        f"size={spec['tmp_bytes']},mode=1777,nosuid,nodev",
        "tmpfs",
        root / "tmp",
    )
    bound = []
    for path in sorted(_with_real_paths(spec["readable"])):
        target = pathlib.Path(path)
        if any(target == done or done in target.parents for done in bound):
            continue
        _bind(os.path.realpath(path), root / path.lstrip("/"))
        bound.append(target)
    _bind(spec["work"], root / spec["work"].lstrip("/"), writable=True)
    _devices(root)
    (root / "proc").mkdir(mode=0o755)
    _mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", root / "proc")
    return root


def _with_real_paths(paths):
    """Each path, and its real path where links lead elsewhere (code may resolve either)."""
    found = set()
    for path in paths:
        path = os.path.normpath(path)
        found.add(path)
        found.add(os.path.realpath(path))
    return {path for path in found if not path.startswith(SYSTEM_DIRS) and os.path.exists(path)}


def _devices(root):
    """``/dev`` with null, zero, random and friends, standard streams and a private shm."""
    dev = root / "dev"
    dev.mkdir(mode=0o755)
    for name in DEVICES:
        _bind(f"/dev/{name}", dev / name, writable=True, device=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, dev / name)
    os.symlink("/proc/self/fd/1", dev / "stdout")
    os.symlink("/proc/self/fd/2", dev / "stderr")
    (dev / "shm").mkdir(mode=0o755)
    _mount("-t", "tmpfs", "-o", "size=64m,mode=1777,nosuid,nodev", "tmpfs", dev / "shm")


def pivot(root):
    """Make ``root`` this namespace's ``/``: the machine's own file system is gone from it."""
    old = root / ".old"
    old.mkdir(mode=0o700)
    _mount("-o", "remount,ro,bind", root)
    pivot_root, umount = _tool("pivot_root"), _tool("umount")
    subprocess.run([pivot_root, str(root), str(old)], check=True, capture_output=True)
    os.chdir("/")
    subprocess.run([umount, "-l", "/.old"], check=True, capture_output=True)


def _loopback_up():
    """Bring up ``lo`` in the new network namespace (what ``ip link set lo up`` does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def _kernel_folders(spec, base):
    """The kernel's home (warm caches from the reference run) and working folder, its own."""
    home, workdir = base / HOME.lstrip("/"), base / WORKDIR.lstrip("/")
    if not spec["isolated"]:
        home, workdir = pathlib.Path(spec["scratch"]) / "home", pathlib.Path(spec["scratch"]) / "nb"
    seed = spec.get("home_seed")
    if seed and os.path.isdir(seed):
        shutil.copytree(seed, home, symlinks=True, dirs_exist_ok=True)
    for folder in (home, workdir):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        if spec["uid"] is not None:
            _chown_tree(folder, spec["uid"], spec["gid"])


def _chown_tree(folder, uid, gid):
    """Give a folder and everything in it to the kernel's user."""
    os.lchown(folder, uid, gid)
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            os.lchown(os.path.join(parent, name), uid, gid)


def _kernel_config(spec):
    """What the kernel launcher needs: user, limits, folders, environment, the guard's lists."""
    if spec["isolated"]:
        home, workdir, temp, readable, hidden = HOME, WORKDIR, "/tmp", None, []
    else:
        scratch = pathlib.Path(spec["scratch"])
        home, workdir, temp = str(scratch / "home"), str(scratch / "nb"), str(scratch / "tmp")
        pathlib.Path(temp).mkdir(mode=0o700, exist_ok=True)
        readable = [*SYSTEM_DIRS, "/proc", "/sys", "/dev", *spec["readable"], str(scratch)]
        # The work folder too: without namespaces, the guard is what keeps the kernel out.
        hidden = [*spec.get("hidden", []), spec["work"]]
    return {
        "uid": spec["uid"],
        "gid": spec["gid"],
        "memory_bytes": spec["memory_bytes"],
        "file_bytes": spec["file_bytes"],
        "home": home,
        "workdir": workdir,
        "temp": temp,
        "environment": config.environment("fast", {}),
        "cells": spec["cells"],
        "readable": readable,
        # The interpreter's site folders wherever they are (a path file may add another's).
        "trusted": [path for path in spec["readable"] if os.path.isdir(path)],
        "hidden": hidden,
        "pid_file": str(pathlib.Path(spec["work"]) / "kernel.pid"),
        "log_file": str(pathlib.Path(spec["work"]) / "kernel.log"),
        "python_path": spec.get("python_path", []),
    }


def _pytest_arguments(spec):
    """pytest with nbval and the grader's plugin, and nothing else from this machine."""
    work = pathlib.Path(spec["work"])
    return [
        str(work / "notebook.ipynb"),
        *("-c", str(work / "pytest.ini"), "--rootdir", str(work)),
        *("-p", "nbval.plugin", "-p", "course_tools.grading.plugin", "--nbval-lax"),
        *("--nbval-kernel-name", "course-grader"),
        *("--nbval-cell-timeout", str(spec["cell_timeout"])),
        *("--nbval-kernel-startup-timeout", str(spec["startup_timeout"])),
        *("--grader-results", str(work / "results.json")),
        *("--grader-output-limit", str(spec["output_bytes"])),
        *("--grader-record-limit", str(spec["record_bytes"])),
        *("-q", "-p", "no:cacheprovider"),
    ]


def main(spec_path):
    """Inside the sandbox: build and enter the kernel's root, prepare its folders, run pytest."""
    os.umask(0o022)
    spec = json.loads(pathlib.Path(spec_path).read_text())
    work = pathlib.Path(spec["work"])
    if spec["isolated"]:
        root = build_root(spec)
        # Seeded before pivoting: the seed sits next to the reference, which the kernel must
        # not see.
        _kernel_folders(spec, root)
        pivot(root)
        _loopback_up()
    else:
        _kernel_folders(spec, pathlib.Path("/"))
    (work / "kernel-config.json").write_text(json.dumps(_kernel_config(spec), indent=1))
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
