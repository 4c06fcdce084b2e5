"""``course grade``, top to bottom: each stage runs once, in this order.

1. **Reference**: built (or loaded) and self-judged (:mod:`reference`).
2. **Self-test**: the instructor's solution graded in the same sandbox as the class; unless it
   scores full marks, grading stops before any student is touched, with one line naming the
   cause and the fix.
3. **Submissions**: every entry of the folder read, its answers screened and its notebook
   assembled, in this thread (:mod:`inputs`, :mod:`screen`, :mod:`assemble`).
4. **Runs**: the assembled notebooks under nbval in the sandbox, ``jobs`` at a time
   (:mod:`sandbox`); each run's results are read only after its processes are gone.
5. **Verdicts**: the records judged in the grader's own workers (:mod:`judge`), scored
   (:mod:`verdict`).
6. **Gradebook and feedback** (:mod:`gradebook`).
"""

import concurrent.futures
import dataclasses
import json
import os
import pathlib
import sys

from tqdm import auto as tqdm_auto

from course_tools.grading import assemble, gradebook, inputs, judge, reference, sandbox, screen
from course_tools.grading import verdict as verdicts

GIB = 2**30
OUTPUT_BYTES = 3_000_000  # per cell: above a figure of segmentation panels (~1 MB)
RECORD_BYTES = 64_000_000  # per check cell: the recorded outputs (models with their weights)
STARTUP_SECONDS = 120


class SelfTestFailed(RuntimeError):
    """The instructor's solution does not score full marks in the sandbox: nothing is graded."""


@dataclasses.dataclass
class Limits:
    """What one graded notebook may use."""

    cell_timeout: float
    timeout: float
    memory_bytes: int
    file_bytes: int = 256 * 2**20
    tmp_bytes: int = 1 * GIB
    output_bytes: int = OUTPUT_BYTES
    record_bytes: int = RECORD_BYTES
    startup_timeout: float = STARTUP_SECONDS

    def options(self):
        """The sandbox's options."""
        return {
            key: (int(value) if key.endswith("bytes") else value)
            for key, value in dataclasses.asdict(self).items()
        }


def default_jobs():
    """Parallel gradings: one per core."""
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def default_limits(manifest, jobs, cell_timeout=None, timeout=None, memory_gb=None):
    """Limits scaled from the reference run: generous for honest code, finite for loops."""
    slowest, total = manifest.get("slowest_cell_seconds", 0), manifest.get("seconds", 0)
    cell_timeout = cell_timeout or max(30.0, 3 * slowest + 10)
    timeout = timeout or max(180.0, 3 * total + STARTUP_SECONDS)
    if memory_gb is None:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        memory = int(min(8 * GIB, max(4 * GIB, 0.8 * physical / jobs)))
    else:
        memory = int(memory_gb * GIB)
    return Limits(cell_timeout=cell_timeout, timeout=timeout, memory_bytes=memory)


@dataclasses.dataclass
class Assignment:
    """Stage 1's result: the reference and what every later stage needs from it."""

    notebook: object
    manifest: dict
    solution: pathlib.Path
    options: dict
    jobs: int


def grade(assignment, submissions, out, jobs=None, build_root=None, limits=None, progress=True):
    """Grade every entry of ``submissions`` into ``out``; return the gradebook rows."""
    if not pathlib.Path(submissions).is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    graded = prepare(assignment, submissions, out, jobs, build_root, limits)
    self_test(graded)
    entries = inputs.collect(submissions, out, graded.manifest["name"])
    rows = grade_entries(graded, entries, progress)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gradebook.write_gradebook(rows, graded.manifest, out / "gradebook.csv")
    gradebook.write_feedback(rows, graded.manifest, out / "feedback")
    return rows


def prepare(assignment, submissions, out, jobs=None, build_root=None, limits=None):
    """Stage 1: the reference, built or loaded and self-judged, and the sandbox's options."""
    notebook, manifest, folder = reference.load_reference(assignment, build_root)
    jobs = jobs or default_jobs()
    limits = limits or default_limits(manifest, jobs)
    solution = reference.solution_path(assignment)
    readable = sandbox.readable_paths(manifest["python_path"], manifest["local_modules"])
    build = pathlib.Path(build_root or reference.BUILD_ROOT)
    options = {
        **limits.options(),
        "home_seed": str(folder / reference.HOME_SEED),
        "python_path": manifest["python_path"],
        "readable": readable,
        "hidden": hidden_paths([solution.parent, build, submissions, out], readable),
    }
    return Assignment(notebook, manifest, solution, options, jobs)


def hidden_paths(candidates, readable):
    """What the guard hides without namespaces: solutions, references, submissions, grades.

    Never a folder holding what the kernel must read (the interpreter, the course).
    """
    hidden = set()
    for path in candidates:
        path = os.path.realpath(path)
        inside = [os.path.realpath(p) for p in readable]
        if os.path.exists(path) and not any(p == path or p.startswith(path + "/") for p in inside):
            hidden.add(path)
    return sorted(hidden)


def self_test(graded):
    """Stage 2: the solution, graded like a student, must score full marks; else stop."""
    uid, gid = sandbox.unprivileged_ids()
    blocked = sandbox.unreadable(graded.options["readable"], uid, gid)
    if blocked:
        raise SelfTestFailed(
            f"the instructor's solution cannot run in the sandbox, so no submission was "
            f"graded: its user '{sandbox.UNPRIVILEGED}' cannot read {blocked}. Fix: make the "
            f"course and its Python readable by others (chmod -R o+rX on that folder)."
        )
    solution = inputs.Submission(student="solution", path=graded.solution)
    solution.notebook = graded.solution
    (row,) = grade_entries(graded, [solution], progress=False)
    got, best = sum(row.points.values()), verdicts.maximum(graded.manifest)
    if got == best and not row.errors:
        return row
    lost = [
        line
        for number, line in zip(verdicts.exercise_numbers(graded.manifest), row.feedback)
        if row.points[number] < _points(graded.manifest, number)
    ]
    cause = (row.errors or lost or ["unknown"])[0]
    raise SelfTestFailed(
        f"the instructor's solution scores {got}/{best} in the sandbox, so no submission was "
        f"graded: {cause.rstrip('.')}. Fix: {_fix(cause)}"
    )


def _points(manifest, number):
    """The most exercise ``number`` gives."""
    entry = manifest["exercises"][str(number)]
    return entry["check_points"] + entry["hidden_points"]


def _fix(cause):
    """The fix of a failed self-test, from its cause."""
    lowered = cause.lower()
    if "time limit" in lowered or "timed out" in lowered:
        return "raise --timeout or --cell-timeout (this machine is slower than the reference run)."
    if "memory" in lowered or "sigkill" in lowered:
        return "raise --memory, or grade with fewer --jobs."
    if "permission denied" in lowered or "cannot read" in lowered:
        return "make the course and its Python readable by others (chmod -R o+rX)."
    if "mount" in lowered or "pivot_root" in lowered or "unshare" in lowered:
        return "grade where root may create namespaces and mounts (a VM, a privileged container)."
    return (
        "run the solution in fast mode (pytest --nbval-lax on it) and 'course references'; the "
        "cause above is the sandbox's own last error."
    )


def grade_entries(graded, entries, progress=True):
    """Stages 3 to 5 for a list of entries: read and screen, run, judge; the rows, sorted."""
    manifest = graded.manifest
    texts = {}
    for index, entry in enumerate(entries):
        inputs.read(entry, manifest)
        _screen(entry, manifest)
        if entry.runnable:
            texts[index] = _assembled(graded, entry)
    results = _run_all(graded, texts, progress)
    tasks = []
    for index, entry in enumerate(entries):
        found, _ = verdicts.tasks(str(index), entry, manifest, results.get(index))
        tasks.extend(found)
    judged = judge.judge_all(
        tasks,
        manifest["python_path"],
        manifest["local_modules"],
        jobs=graded.jobs,
        memory_bytes=graded.options["memory_bytes"],
    )
    rows = []
    for index, entry in enumerate(entries):
        if not entry.errors and not any(a is not None for a in entry.answers.values()):
            entry.errors.append("no answer cells found")
        rows.append(verdicts.score(str(index), entry, manifest, results.get(index), judged))
    return sorted(rows, key=lambda row: row.student)


def _screen(entry, manifest):
    """Flag what a human should read; note the exercises whose answers are shortcuts."""
    for number, source in entry.answers.items():
        if source is None:
            continue
        allowed = manifest["exercises"][str(number)].get("course_code", [])
        found = screen.screen(source, manifest["modules"], allowed, manifest["local_modules"])
        entry.flags.extend(f"ex{number}: {finding.text()}" for finding in found)
        shortcuts = [finding.label for finding in found if finding.shortcut]
        if shortcuts:
            entry.shortcuts[number] = shortcuts


def _assembled(graded, entry):
    """The notebook text and guard cells one submission is run with."""
    notebook = assemble.assemble(graded.notebook, entry.answers)
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False)
    return text, assemble.guard_cells(notebook)


def _run_all(graded, texts, progress):
    """Stage 4: every assembled notebook in the sandbox, ``jobs`` at a time."""
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=graded.jobs) as pool:
        futures = {
            pool.submit(_run_one, graded, text, cells): index
            for index, (text, cells) in texts.items()
        }
        bar = tqdm_auto.tqdm(total=len(futures), desc="grading", disable=not progress, leave=False)
        for future in concurrent.futures.as_completed(futures):
            results[futures[future]] = future.result()
            bar.update(1)
        bar.close()
    return results


def _run_one(graded, text, cells):
    """One sandboxed run; a failure of the grader's own becomes that run's reason."""
    try:
        return sandbox.run(text, cells, graded.options)
    except Exception as error:  # noqa: BLE001 - one broken run must not stop the rest
        message = f"grader error: {type(error).__name__}: {error}"
        print(message, file=sys.stderr)
        return {"cells": {}, "ended": "grader error", "complete": False, "reason": message}
