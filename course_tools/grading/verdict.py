"""Verdicts: points per exercise from the sandbox's records, judged in the grader's own workers.

A recorded check cell scores its points only on a clean pass: the answer was submitted and is
not a shortcut, the cell ran and the kernel reported success, it showed exactly one record, the
record names the check the reference's cell calls, and that check, judging the decoded outputs
in a judge worker (:mod:`course_tools.grading.judge`), passed. The feedback carries the judge's
one-line hint for a public check, and only passed/failed for hidden tests.

Every row with an error says why: the cell's time or memory limit, a dying kernel, an output
flood, or for a run without results, how the sandbox ended and the last error in its log.
"""

import re

from course_tools.grading import assemble, gradebook, judge

OUTPUT_LIMIT_TEXT = "output over the per-cell limit"
REASONS = {
    "timeout": "timed out (cell time limit) in",
    "kernel_died": "the kernel died (crash, os._exit or memory) in",
    "kernel_dead": None,
    "output_limit": f"{OUTPUT_LIMIT_TEXT} in",
}
ROLES = ("check", "hidden")
NO_CELL = (judge.FAILED, "it has no such cell.")


def exercise_numbers(manifest):
    """Exercise numbers, in order."""
    return sorted(int(number) for number in manifest["exercises"])


def maximum(manifest):
    """The most points the assignment gives."""
    return sum(e["check_points"] + e["hidden_points"] for e in manifest["exercises"].values())


def tasks(key, submission, manifest, results):
    """The judge tasks of one graded submission, and the cells decided without judging.

    Returns ``(tasks, decided)``: tasks ``(f"{key}:{cell}", check path, outputs)`` and
    ``{cell: (status, hint)}`` for cells that fail before any judging.
    """
    found, decided = [], {}
    for number in exercise_numbers(manifest):
        for role in ROLES:
            path = assemble.check_path(manifest, number, role)
            cell = f"ex{number}-{role}"
            if path is None:
                continue
            problem, outputs = _recorded(path, (results or {}).get("cells", {}).get(cell))
            if submission.answers.get(number) is None or number in submission.shortcuts:
                decided[cell] = (judge.FAILED, "not judged")
            elif problem:
                decided[cell] = (judge.ERROR, problem)
            else:
                found.append((f"{key}:{cell}", path, outputs))
    return found, decided


def _recorded(path, result):
    """``(problem, outputs)`` of one recorded cell's result: what stops it being judged."""
    if not result:
        return "it did not run.", None
    if result.get("records_over_limit"):
        return "its outputs were over the grader's size limit.", None
    if result.get("status") not in (None, "ok") or result.get("error"):
        return _hint(result), None
    records = result.get("records") or []
    if len(records) != 1:
        return f"it showed {len(records)} records instead of one (scored 0).", None
    record = records[0]
    if not isinstance(record, dict) or not isinstance(record.get("outputs"), list):
        return "its record is malformed (scored 0).", None
    if record.get("check") != path:
        return "its record names another check than the notebook's (scored 0).", None
    return None, record["outputs"]


def score(key, submission, manifest, results, judged):
    """The gradebook row of one submission: points, flags, errors, feedback."""
    cells = (results or {}).get("cells", {})
    _, decided = tasks(key, submission, manifest, results)
    points, parts, feedback = {}, {}, []
    for number in exercise_numbers(manifest):
        entry = manifest["exercises"][str(number)]
        answered = submission.answers.get(number) is not None
        outcome = {}
        for role in ROLES:
            cell = f"ex{number}-{role}"
            # An exercise without hidden tests has no hidden cell: nothing to pass, 0 points.
            outcome[role] = judged.get(f"{key}:{cell}") or decided.get(cell) or NO_CELL
        passed = {
            role: answered
            and number not in submission.shortcuts
            and bool(outcome[role])
            and outcome[role][0] == judge.PASSED
            for role in ROLES
        }
        parts[number] = {role: entry[f"{role}_points"] * passed[role] for role in ROLES}
        points[number] = sum(parts[number].values())
        feedback.append(_feedback(number, entry, points[number], submission, outcome, passed))
    errors, flags = list(submission.errors), set(submission.flags) | guard_flags(cells)
    if results is not None:
        errors.extend(run_errors(cells, results))
    flags = sorted(flags)
    return gradebook.Row(submission.student, points, flags, errors, feedback, parts=parts)


def _feedback(number, entry, points, submission, outcome, passed):
    """One exercise's feedback: the check's hint when it failed, pass/fail for hidden tests."""
    total = entry["check_points"] + entry["hidden_points"]
    line = f"Exercise {number}: {points}/{total} points."
    if submission.answers.get(number) is None:
        return f"{line} No answer cell ex{number}-answer was found in your notebook."
    if number in submission.shortcuts:
        used = "; ".join(sorted(submission.shortcuts[number]))
        return f"{line} Scored 0: the answer uses code the grader cannot accept as yours ({used})."
    if passed["check"]:
        line += " The check passed."
    else:
        line += f" The check failed: {_clean_hint(outcome['check'])}"
    if entry["hidden_points"]:
        line += f" Hidden tests: {'passed' if passed['hidden'] else 'failed'}."
    return line


def _clean_hint(outcome):
    """A failed check's hint in its own words, without the ``Exercise N:`` prefix."""
    if not outcome:
        return "it did not run."
    hint = re.sub(r"^(CheckFailed: )?(Exercise \d+: )?", "", outcome[1] or "").strip()
    if not hint:
        return "it did not pass."
    return hint if hint.endswith((".", "!", "?", ")")) else f"{hint}."


def _hint(result):
    """Why a cell failed in the kernel, in the check's own words where it gave them."""
    if not result:
        return "it did not run."
    error = result.get("error") or ""
    if error.startswith("NotImplementedError"):
        return "not answered yet (NotImplementedError)."
    if error:
        return re.sub(r"^CheckFailed: (Exercise \d+: )?", "", error).strip()
    if result.get("reason") in REASONS and REASONS[result["reason"]]:
        return f"{REASONS[result['reason']].removesuffix(' in')}."
    if result.get("status") not in (None, "ok"):
        return "your code raised an error the notebook did not show."
    return "it printed something other than its pass line (does your function print?)."


def run_errors(cells, results):
    """What went wrong in the run itself, each with its reason."""
    errors = []
    for cell_id, result in cells.items():
        reason = REASONS.get(result.get("reason"))
        if reason:
            errors.append(f"{reason} cell {cell_id}")
        if (result.get("error") or "").startswith("MemoryError"):
            errors.append(f"out of memory in cell {cell_id} (the memory limit)")
    why = results.get("reason") or "no error in its log"
    if results["ended"].startswith("stopped at"):
        errors.append(f"grading {results['ended']}")
    elif not results["complete"]:
        errors.append(f"the sandbox produced no results ({results['ended']}: {why})")
    elif not cells:
        errors.append(f"the notebook did not start ({why})")
    elif not any(result["outcome"] == "passed" for result in cells.values()):
        first = next(iter(cells.values()))
        message = first.get("message") or first.get("error") or "unknown"
        errors.append(f"no cell ran: {message} ({why})")
    return errors


def guard_flags(cells):
    """Operations the guard refused: a human should read that submission."""
    flags = set()
    for cell_id, result in cells.items():
        error = result.get("error") or ""
        if "grader: " in error:
            refused = error.split("grader: ", 1)[1].split(" is not allowed")[0]
            flags.add(f"{cell_id}: {refused} refused")
    return flags
