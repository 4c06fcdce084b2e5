"""The kernel a graded notebook runs in: limits, another user, a clean environment, the guard.

The grader's kernelspec starts ``python -m course_tools.grading.kernel CONFIG -f CONNECTION``.
This runs as the grader's user (root in the sandbox): it reads its root-only configuration and
connection file, sets resource limits, drops to the unprivileged user, replaces the environment
with one a student's own Jupyter could have, switches the checks to recording (they only probe
and show the student's outputs; the grader judges them elsewhere), installs the guard and only
then starts ipykernel, so no submission code runs before any of that. Recording is switched on
here rather than by a cell the assembly inserts: nothing a notebook holds can run before it.
"""

import ctypes
import importlib.util
import json
import os
import pathlib
import resource
import sys
import sysconfig
import tempfile

from course_tools.grading import guard

PR_SET_NO_NEW_PRIVS = 38
# What a student's own kernel could see too: nothing here says "grading".
KEPT_ENVIRONMENT = ("JPY_PARENT_PID",)
LOCALE = "C.UTF-8"


def set_limits(config):
    """Address space, file size and core dumps: what one kernel may take from the machine."""
    memory, file_size = config["memory_bytes"], config["file_bytes"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def copy_connection_file(path, config):
    """Copy the (root-only) connection file to where the kernel's user can read it."""
    home = pathlib.Path(config["home"])
    runtime = home / ".local" / "share" / "jupyter" / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    copy = runtime / pathlib.Path(path).name
    copy.write_text(pathlib.Path(path).read_text(encoding="utf-8"), encoding="utf-8")
    copy.chmod(0o600)
    if config["uid"] is not None:
        created = [home / ".local", home / ".local" / "share", runtime.parent, runtime, copy]
        for item in [home, *created]:
            os.chown(item, config["uid"], config["gid"])
    return str(copy)


def guard_config(config):
    """The guard's settings: trusted code, hidden paths, writable folders, the cells."""
    trusted = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    trusted.update(config.get("python_path", []))
    trusted.update(config.get("trusted", []))
    trusted.update(os.path.realpath(path) for path in config.get("trusted", []))
    # The course's two packages: the students' library (its checks) and the grader itself.
    for package in ("course_utils", "course_tools"):
        trusted.add(str(pathlib.Path(importlib.util.find_spec(package).origin).resolve().parent))
    temp = tempfile.gettempdir()
    readable = config.get("readable")
    if readable is not None:
        readable = sorted({os.path.realpath(path) for path in readable} | set(readable))
    return {
        "cells": config["cells"],
        "cell_dir": str(pathlib.Path(temp) / f"ipykernel_{os.getpid()}"),
        "trusted": sorted(trusted),
        "hidden": config["hidden"],
        "readable": readable,
        "listable": [os.path.realpath(path) for path in config.get("python_path", [])],
        "writable": [config["home"], config["workdir"], temp, os.devnull],
    }


def drop_privileges(config):
    """Become the unprivileged user for good (no supplementary groups, no new privileges)."""
    if config["uid"] is None:
        return
    os.setgroups([])
    os.setgid(config["gid"])
    os.setuid(config["uid"])
    if os.getuid() == 0 or os.geteuid() == 0:
        raise RuntimeError("could not drop root privileges")
    # Setuid programs must not give the kernel its privileges back.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def clean_environment(config):
    """Replace the environment: PATH, HOME, locale, COURSE_FAST=1 and Jupyter's parent pid."""
    kept = {name: os.environ[name] for name in KEPT_ENVIRONMENT if name in os.environ}
    os.environ.clear()
    python_bin = str(pathlib.Path(sys.executable).parent)
    os.environ.update(
        {
            "PATH": f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": config["home"],
            "LANG": LOCALE,
            "LC_ALL": LOCALE,
            "PYTHONDONTWRITEBYTECODE": "1",
            **({"TMPDIR": config["temp"]} if config.get("temp", "/tmp") != "/tmp" else {}),
            **config["environment"],
            **kept,
        }
    )


def main(argv=None):
    """Start the guarded kernel."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config = json.loads(pathlib.Path(argv[0]).read_text(encoding="utf-8"))
    connection = argv[argv.index("-f") + 1]
    if config.get("log_file"):
        # Opened as root, kept after dropping privileges: why a kernel died, for the grader.
        log = os.open(config["log_file"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 2)
        os.close(log)
    pathlib.Path(config["pid_file"]).write_text(str(os.getpid()))
    set_limits(config)
    connection_copy = copy_connection_file(connection, config)
    drop_privileges(config)
    os.chdir(config["workdir"])
    clean_environment(config)
    # ``python -m`` put the grader's folder first on sys.path; a student's kernel has none.
    sys.path[:] = [entry for entry in sys.path if entry not in ("", os.getcwd(), argv[0])]
    sys.path[:0] = config.get("python_path", [])
    from course_utils import checks

    checks.start_recording()
    guard.install(guard_config(config))
    from ipykernel import kernelapp

    sys.argv = [str(pathlib.Path(kernelapp.__file__).parent.parent / "ipykernel_launcher.py")]
    kernelapp.launch_new_instance(argv=["-f", connection_copy])


if __name__ == "__main__":
    main()
