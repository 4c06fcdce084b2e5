"""Grade a folder of submissions: sandboxed runs in parallel, a gradebook and feedback files.

Rows are sorted by student and hold no timestamps, so grading the same folder twice writes the
same gradebook. One broken submission only ever costs its own row.
"""

import concurrent.futures
import csv
import dataclasses
import io
import json
import os
import pathlib
import re
import shutil
import sys
import tempfile
import time

import nbformat
from tqdm import auto as tqdm_auto

from course_tools import notebooks
from course_tools.grading import reference, sandbox, submission

GIB = 2**30
# Per-cell output cap: above a figure of segmentation panels (~1 MB), far below a flood.
OUTPUT_BYTES = 3_000_000
STARTUP_SECONDS = 120
REASONS = {
    "timeout": "timed out (cell time limit) in",
    "kernel_died": "the kernel died (crash, os._exit or memory) in",
    "kernel_dead": None,
    "output_limit": f"output over {OUTPUT_BYTES // 10**6} MB in",
}


@dataclasses.dataclass
class Limits:
    """What one graded notebook may use."""

    cell_timeout: float
    timeout: float
    memory_bytes: int
    file_bytes: int = 256 * 2**20
    tmp_bytes: int = 1 * GIB
    output_bytes: int = OUTPUT_BYTES
    startup_timeout: float = STARTUP_SECONDS

    def options(self):
        """The sandbox's options."""
        return {
            key: (int(value) if key.endswith("bytes") else value)
            for key, value in dataclasses.asdict(self).items()
        }


@dataclasses.dataclass
class Row:
    """One gradebook row."""

    student: str
    points: dict
    flags: list
    errors: list
    feedback: list


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


def submission_paths(folder, out=None):
    """The submissions in a folder: files and sub-folders, hidden ones and ``out`` left out."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no submissions folder {folder}")
    skip = pathlib.Path(out).resolve() if out is not None else None
    return sorted(
        path
        for path in folder.iterdir()
        if not path.name.startswith((".", "_")) and path.resolve() != skip
    )


def hidden_paths(solution, build_root, submissions, out):
    """What the kernel must not see: solutions, references, submissions, grades, git history."""
    root = notebooks.ROOT
    candidates = [pathlib.Path(solution).parent, root / "solutions", build_root, root / "_build"]
    candidates += [submissions, out, root / ".git"]
    protected = [
        pathlib.Path(sys.prefix),
        pathlib.Path(reference.PACKAGE),
        pathlib.Path(__file__).resolve().parents[1],  # course_tools
        pathlib.Path(sys.executable),
    ]
    hidden = set()
    for path in candidates:
        path = pathlib.Path(path).resolve()
        # Never hide what the kernel needs to run: a folder holding the package or Python.
        if path.exists() and not any(p == path or path in p.parents for p in protected):
            hidden.add(str(path))
    return sorted(hidden)


def grade(
    assignment,
    submissions,
    out,
    jobs=None,
    build_root=None,
    limits=None,
    progress=True,
):
    """Grade every submission in ``submissions`` into ``out``; return the rows."""
    reference_notebook, manifest = reference.load(assignment, build_root)
    jobs = jobs or default_jobs()
    limits = limits or default_limits(manifest, jobs)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    solution = reference.solution_path(assignment)
    hidden = hidden_paths(solution, build_root or reference.BUILD_ROOT, submissions, out)
    paths = submission_paths(submissions, out)
    home_seed = reference.reference_dir(solution, build_root) / reference.HOME_SEED
    options = {
        **limits.options(),
        "home_seed": str(home_seed),
        "python_path": manifest.get("python_path", []),
    }
    grade_one = _grader(reference_notebook, manifest, hidden, options)
    rows = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_one, path) for path in paths]
        bar = tqdm_auto.tqdm(total=len(futures), desc="grading", disable=not progress, leave=False)
        for future in concurrent.futures.as_completed(futures):
            rows.append(future.result())
            bar.update(1)
        bar.close()
    rows.sort(key=lambda row: row.student)
    write_gradebook(rows, manifest, out / "gradebook.csv")
    write_feedback(rows, manifest, out / "feedback")
    return rows


def _grader(reference_notebook, manifest, hidden, options):
    """A function grading one path, turning any failure of its own into an error row."""

    def grade_one(path):
        """Read, assemble, run, score one submission."""
        try:
            return grade_submission(path, reference_notebook, manifest, hidden, options)
        except Exception as error:  # noqa: BLE001 - one broken submission must not stop the rest
            points = dict.fromkeys(_numbers(manifest), 0)
            message = f"grader error: {type(error).__name__}: {error}"
            return Row(submission.student_name(path), points, [], [message], [message])

    return grade_one


def _numbers(manifest):
    """Exercise numbers, in order."""
    return sorted(int(number) for number in manifest["exercises"])


def grade_submission(path, reference_notebook, manifest, hidden, options):
    """Grade one submission into a row."""
    student = submission.read(path, manifest)
    if not student.readable or all(answer is None for answer in student.answers.values()):
        points = dict.fromkeys(_numbers(manifest), 0)
        errors = student.errors or ["no answer cells found"]
        return Row(student.student, points, sorted(set(student.flags)), errors, errors)
    assembled = submission.assemble(reference_notebook, student.answers)
    text = json.dumps(assembled, indent=1, sort_keys=True, ensure_ascii=False)
    results = sandbox.run(text, submission.guard_cells(assembled), hidden, options)
    return score(student, manifest, results, options)


def _clean(record):
    """A check scores only when it passed and the kernel itself reported success."""
    return bool(record) and record["outcome"] == "passed" and record["status"] == "ok"


def score(student, manifest, results, options):
    """Points per exercise, errors and feedback from the sandbox's per-cell results."""
    cells, points, feedback = results["cells"], {}, []
    errors, flags = list(student.errors), set(student.flags)
    for number in _numbers(manifest):
        entry = manifest["exercises"][str(number)]
        check, hidden = cells.get(f"ex{number}-check"), cells.get(f"ex{number}-hidden")
        answered = student.answers.get(number) is not None
        check_ok, hidden_ok = answered and _clean(check), answered and _clean(hidden)
        points[number] = entry["check_points"] * check_ok + entry["hidden_points"] * hidden_ok
        feedback.append(
            _exercise_feedback(number, entry, points[number], answered, check, check_ok, hidden_ok)
        )
    errors.extend(_run_errors(cells, results, options))
    flags.update(_guard_flags(cells))
    return Row(student.student, points, sorted(flags), errors, feedback)


def _run_errors(cells, results, options):
    """What went wrong in the run itself: time limits, crashes, output floods, no results."""
    errors = []
    for cell_id, record in cells.items():
        reason = REASONS.get(record.get("reason"))
        if reason:
            errors.append(f"{reason} cell {cell_id}")
        if (record.get("error") or "").startswith("MemoryError"):
            errors.append(f"out of memory in cell {cell_id}")
    if results["ended"] == "timeout":
        errors.append(f"grading stopped at the {options['timeout']:g} s limit")
    elif not results["complete"]:
        errors.append(f"the sandbox produced no results ({results['ended']})")
    elif cells and not any(record["outcome"] == "passed" for record in cells.values()):
        first = next(iter(cells.values()))
        errors.append(f"no cell ran: {first.get('message') or first.get('error') or 'unknown'}")
    return errors


def _guard_flags(cells):
    """Operations the guard refused: a human should read that submission."""
    flags = set()
    for cell_id, record in cells.items():
        error = record.get("error") or ""
        if "grader: " in error:
            flags.add(
                f"{cell_id}: {error.split('grader: ', 1)[1].split(' is not allowed')[0]} refused"
            )
    return flags


def _exercise_feedback(number, entry, points, answered, check, check_ok, hidden_ok):
    """One exercise's feedback: the check's hint when it failed, pass/fail for hidden tests."""
    total = entry["check_points"] + entry["hidden_points"]
    line = f"Exercise {number}: {points}/{total} points."
    if not answered:
        return f"{line} No answer cell ex{number}-answer was found in your notebook."
    if check_ok:
        line += " The check passed."
    else:
        line += f" The check failed: {_hint(check)}"
    if entry["hidden_points"]:
        line += f" Hidden tests: {'passed' if hidden_ok else 'failed'}."
    return line


def _hint(record):
    """Why a check failed, in the check's own words where it gave them."""
    if not record:
        return "it did not run."
    error = record.get("error") or ""
    if error.startswith("NotImplementedError"):
        return "not answered yet (NotImplementedError)."
    if error:
        # "CheckFailed: Exercise 2: hint" -> "hint": the line already names the exercise.
        hint = re.sub(r"^CheckFailed: (Exercise \d+: )?", "", error).strip()
        return hint if hint.endswith((".", "!", "?")) else f"{hint}."
    if record.get("reason") in REASONS and REASONS[record["reason"]]:
        return f"{REASONS[record['reason']].removesuffix(' in')}."
    if record.get("status") not in (None, "ok"):
        return "your code raised an error the notebook did not show."
    return "it printed something other than its pass line (does your function print?)."


def write_gradebook(rows, manifest, path):
    """The gradebook CSV: one row per student, points per exercise, total, flags, errors."""
    numbers = _numbers(manifest)
    maximum = sum(e["check_points"] + e["hidden_points"] for e in manifest["exercises"].values())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *[f"ex{n}" for n in numbers], "total", "max", "flags", "errors"])
    for row in rows:
        scores = [row.points.get(number, 0) for number in numbers]
        writer.writerow(
            [
                row.student,
                *scores,
                sum(scores),
                maximum,
                "; ".join(row.flags),
                "; ".join(row.errors),
            ]
        )
    pathlib.Path(path).write_text(buffer.getvalue(), encoding="utf-8")


def write_feedback(rows, manifest, folder):
    """One Markdown file per student: total, each exercise's hint, what stopped the run."""
    folder = pathlib.Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    maximum = sum(e["check_points"] + e["hidden_points"] for e in manifest["exercises"].values())
    for row in rows:
        lines = [f"# {manifest['name']}: feedback for {row.student}", ""]
        lines += [f"Total: {sum(row.points.values())}/{maximum} points.", ""]
        lines += [f"- {line}" for line in row.feedback if line]
        problems = [error for error in row.errors if error not in row.feedback]
        if problems:
            lines += ["", "Problems while running your notebook:", ""]
            lines += [f"- {error}" for error in problems]
        (folder / f"{row.student}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def generate_submissions(assignment, folder, count, build_root=None):
    """Write ``count`` submissions mixing solved and unsolved exercises (for the benchmark)."""
    reference_notebook, manifest = reference.load(assignment, build_root)
    solved = {int(n): None for n in manifest["exercises"]}
    for cell in reference_notebook.cells:
        meta = notebooks.course_meta(cell)
        if meta.get("role") == "answer":
            solved[meta["exercise"]] = cell.source
    student = notebooks.build_assignment(
        nbformat.from_dict(json.loads(json.dumps(reference_notebook)))
    )
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        notebook = nbformat.from_dict(json.loads(json.dumps(student)))
        for cell in notebook.cells:
            meta = notebooks.course_meta(cell)
            bit = (index >> (meta.get("exercise", 1) - 1)) & 1
            if meta.get("role") == "answer" and bit:
                cell.source = solved[meta["exercise"]]
        notebooks.write(notebook, folder / f"student-{index:03d}.ipynb")


def benchmark(assignment, count=100, jobs=None, build_root=None):
    """Grade ``count`` generated submissions of ``assignment``; print and return the throughput."""
    reference.load(assignment, build_root)
    with tempfile.TemporaryDirectory(prefix="course-grade-bench-") as folder:
        submissions = pathlib.Path(folder) / "submissions"
        generate_submissions(assignment, submissions, count, build_root)
        started = time.monotonic()
        rows = grade(assignment, submissions, pathlib.Path(folder) / "out", jobs, build_root)
        seconds = time.monotonic() - started
    jobs = jobs or default_jobs()
    result = {
        "assignment": reference.solution_path(assignment).stem,
        "submissions": len(rows),
        "seconds": round(seconds, 1),
        "per_minute": round(60 * len(rows) / seconds, 1),
        "jobs": jobs,
        "isolation": sandbox.isolation(),
        "errors": sum(bool(row.errors) for row in rows),
    }
    print(
        f"graded {result['submissions']} submissions of {result['assignment']} in "
        f"{result['seconds']} s with {jobs} jobs: {result['per_minute']} submissions/minute "
        f"({result['errors']} with errors, isolation: {result['isolation']})"
    )
    return result
