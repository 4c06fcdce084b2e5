"""Judging recorded outputs in worker processes of the grader's own, never in a student's kernel.

``judge_all(tasks, ...)`` hands ``(key, check path, outputs)`` tasks to ``python -m
course_tools.grading.judge`` workers: fresh interpreters in fast mode, with the course's check
modules and nothing of any submission's. Each worker decodes the outputs
(:mod:`course_utils.checks.plain`: no pickle, sizes bounded, models from Keras' own classes),
finds the check by its path and judges: a pass line, the check's one-line hint, or an error.
A worker that dies (a hostile record, the memory limit) costs only the task it was on: the
others are judged afresh by a new worker. Tasks and verdicts travel as JSON files in a folder
only the grader can enter.
"""

import contextlib
import io
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from course_utils import config

PASSED, FAILED, ERROR = "passed", "failed", "error"
TASK_SECONDS = 300  # a judge that takes longer on one check is stopped: the check scores 0


def judge_all(tasks, python_path=(), extra_modules=(), jobs=1, memory_bytes=None):
    """Verdicts ``{key: (status, message)}`` of ``tasks``: ``[(key, check_path, outputs)]``."""
    tasks = list(tasks)
    if not tasks:
        return {}
    chunks = [tasks[index::jobs] for index in range(max(1, min(jobs, len(tasks))))]
    with tempfile.TemporaryDirectory(prefix="course-judge-") as folder:
        os.chmod(folder, 0o700)
        workers = [
            _Worker(pathlib.Path(folder) / f"chunk-{index}", chunk, python_path, extra_modules)
            for index, chunk in enumerate(chunks)
        ]
        verdicts = {}
        for worker in workers:
            worker.start(memory_bytes)
        for worker in workers:
            verdicts.update(worker.finish(memory_bytes))
    return verdicts


class _Worker:
    """One judge process over a chunk of tasks, restarted past a task that kills it."""

    def __init__(self, base, tasks, python_path, extra_modules):
        self.base, self.tasks = base, tasks
        self.python_path, self.extra_modules = list(python_path), list(extra_modules)
        self.process, self.verdicts, self.started = None, {}, 0.0

    def start(self, memory_bytes):
        """Start a worker on the tasks still without a verdict."""
        remaining = [task for task in self.tasks if str(task[0]) not in self.verdicts]
        payload = {
            "extra_modules": self.extra_modules,
            "memory_bytes": memory_bytes,
            "tasks": remaining,
        }
        self.base.with_suffix(".tasks.json").write_text(json.dumps(payload))
        environment = config.environment("fast")
        environment["PYTHONPATH"] = os.pathsep.join(self.python_path)
        environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        command = [sys.executable, "-m", "course_tools.grading.judge", str(self.base)]
        with open(self.base.with_suffix(".log"), "wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=environment
            )
        self.started = time.monotonic()

    def finish(self, memory_bytes):
        """Wait for the worker; judge again past a task that killed it; return the verdicts."""
        while True:
            budget = TASK_SECONDS * max(1, len(self.tasks) - len(self.verdicts))
            try:
                self.process.wait(timeout=max(1.0, budget - (time.monotonic() - self.started)))
                ended = f"exit {self.process.returncode}"
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                ended = "time limit"
            self.verdicts.update(self._read())
            remaining = [task for task in self.tasks if str(task[0]) not in self.verdicts]
            if not remaining:
                return {task[0]: self.verdicts[str(task[0])] for task in self.tasks}
            culprit = remaining[0]
            reason = _tail(self.base.with_suffix(".log")) or ended
            message = f"the grader could not judge these outputs (its judge stopped: {reason})"
            self.verdicts[str(culprit[0])] = (ERROR, message)
            if len(remaining) > 1:
                self.start(memory_bytes)

    def _read(self):
        """Verdicts written so far, one JSON line each."""
        path = self.base.with_suffix(".verdicts")
        verdicts = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, TypeError):
                    key, status, message = json.loads(line)
                    verdicts[str(key)] = (status, message)
        path.unlink(missing_ok=True)
        return verdicts


def _tail(path):
    """The last line of a worker's log that says what went wrong."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or [""])[-1][:300]


# ----- the worker -----


def judge_one(path, outputs, extra_modules=()):
    """``(status, message)`` of the check at ``path`` on ``outputs``: a pass, a hint, an error."""
    from course_utils import checks
    from course_utils.checks import recording

    try:
        check = recording.find_check(path, extra_modules=tuple(extra_modules))
    except (LookupError, ImportError) as error:
        return ERROR, f"not a course check ({type(error).__name__}: {str(error)[:200]})"
    _seed()
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            check.judge(outputs)
    except checks.CheckFailed as failure:
        return FAILED, str(failure)
    except Exception as error:  # noqa: BLE001 - outputs the judge cannot handle score nothing
        message = str(error).split("\n")[0][:200]
        return ERROR, f"the check could not judge these outputs ({type(error).__name__}: {message})"
    return PASSED, printed.getvalue().strip()


def _seed():
    """The same seeds before every judgement: one verdict whatever ran before in the worker."""
    import random

    import numpy as np

    random.seed(config.DEFAULT_SEED)
    np.random.seed(config.DEFAULT_SEED)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(config.DEFAULT_SEED)


def main(base):
    """Judge every task of ``base``.tasks.json, appending one verdict line per task."""
    base = pathlib.Path(base)
    payload = json.loads(base.with_suffix(".tasks.json").read_text())
    if payload.get("memory_bytes"):
        limit = int(payload["memory_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    config.quiet_tensorflow()
    config.use_onednn(False)  # oneDNN refuses some transposed convolutions a student may build
    with open(base.with_suffix(".verdicts"), "a", encoding="utf-8") as verdicts:
        for key, path, outputs in payload["tasks"]:
            status, message = judge_one(path, outputs, payload["extra_modules"])
            verdicts.write(json.dumps([key, status, message]) + "\n")
            verdicts.flush()


if __name__ == "__main__":
    main(sys.argv[1])
