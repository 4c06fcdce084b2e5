"""Gradescope's side: grade ``/autograder/submission`` with the course's own grader.

``run_autograder`` (from ``course export gradescope``) runs this module in the container once
per submission. It picks the submitted notebook, grades it with ``course_tools.grading.grade``
(the sandbox, the checks judged in the grader's process) and writes ``results/results.json`` in
Gradescope's autograder format: one test per check, visible, and one per exercise's hidden
tests, shown only after the due date. Whatever fails, a results.json is written.
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import sys
import time
import traceback

DEFAULT_ROOT = "/autograder"
VISIBLE, AFTER_DUE_DATE = "visible", "after_due_date"


def pick_notebook(folder, name):
    """The submitted notebook: ``<name>.ipynb`` anywhere in the upload, else the only one."""
    found = sorted(
        path
        for path in pathlib.Path(folder).rglob("*.ipynb")
        if ".ipynb_checkpoints" not in path.parts and path.is_file()
    )
    named = [path for path in found if path.name == f"{name}.ipynb"]
    if len(named) == 1:
        return named[0], None
    if len(found) == 1:
        return found[0], None
    if not found:
        return None, f"No notebook was submitted: upload {name}.ipynb."
    listed = ", ".join(str(path.relative_to(folder)) for path in found)
    return None, f"Several notebooks were submitted ({listed}): upload only {name}.ipynb."


def split_points(points, entry, line, parts=None):
    """(check points, hidden points) of one exercise's total.

    The grader's row gives them (``parts``); rows written before it did are split from the
    total, using the feedback line where two splits are possible.
    """
    if parts:
        return parts["check"], parts["hidden"]
    check, hidden = entry["check_points"], entry["hidden_points"]
    options = [(a, b) for a in (0, check) for b in (0, hidden) if a + b == points]
    if len(set(options)) == 1:
        return options[0]
    if options:  # equal points and one part passed: the feedback names which
        return (check, 0) if "check passed" in line else (0, hidden)
    # Points the two parts cannot add up to (a grader giving partial credit): check first.
    return min(points, check), max(0, points - check)


def public_output(line):
    """An exercise's feedback line without its total and hidden-test outcome (both reveal them)."""
    line = re.sub(r"^Exercise \d+: [\d.]+/[\d.]+ points\.\s*", "", line)
    return re.sub(r"\s*Hidden tests: \w+\.", "", line).strip()


def exercise_tests(number, entry, points, line, parts=None):
    """Gradescope's tests of one exercise: its check (visible) and its hidden tests."""
    check_score, hidden_score = split_points(points, entry, line, parts)
    tests = [
        {
            "name": f"Exercise {number}: check",
            "number": f"{number}.1",
            "score": check_score,
            "max_score": entry["check_points"],
            "status": "passed" if check_score == entry["check_points"] else "failed",
            "output": public_output(line) or "The check did not run.",
            "visibility": VISIBLE,
        }
    ]
    if entry["hidden_points"]:
        passed = hidden_score == entry["hidden_points"]
        tests.append(
            {
                "name": f"Exercise {number}: hidden tests",
                "number": f"{number}.2",
                "score": hidden_score,
                "max_score": entry["hidden_points"],
                "status": "passed" if passed else "failed",
                "output": "The hidden tests passed." if passed else "The hidden tests failed.",
                "visibility": AFTER_DUE_DATE,
            }
        )
    return tests


def results_for(row, manifest):
    """results.json of one graded row."""
    tests = []
    for number in sorted(int(n) for n in manifest["exercises"]):
        entry = manifest["exercises"][str(number)]
        line = next((f for f in row.feedback if f.startswith(f"Exercise {number}:")), "")
        parts = getattr(row, "parts", {}).get(number)
        tests += exercise_tests(number, entry, row.points.get(number, 0), line, parts)
    score = sum(test["score"] for test in tests)
    maximum = sum(test["max_score"] for test in tests)
    lines = [f"Total: {score}/{maximum} points (hidden tests are shown after the due date)."]
    if row.flags:
        lines += ["", "Flagged for your instructor to read:", *[f"- {f}" for f in row.flags]]
    problems = [error for error in row.errors if error not in row.feedback]
    if problems:
        lines += ["", "Problems while running your notebook:", *[f"- {e}" for e in problems]]
    return {
        "score": score,
        "output": "\n".join(lines),
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def ungraded(manifest, reason):
    """results.json for a submission that could not be graded: every test at zero, and why."""
    tests = []
    for number in sorted(int(n) for n in manifest["exercises"]):
        entry = manifest["exercises"][str(number)]
        tests += exercise_tests(number, entry, 0, "")
    return {"score": 0, "output": reason, "stdout_visibility": "hidden", "tests": tests}


def grade(assignment, root):
    """Grade the submission under ``root``; return results.json as a dict."""
    from course_tools import grading
    from course_tools.grading import reference

    # The zip carries a fresh reference: refuse to rebuild one in the container.
    _, manifest = reference.load(assignment, build=False)
    notebook, reason = pick_notebook(root / "submission", manifest["name"])
    if notebook is None:
        return ungraded(manifest, reason)
    work = root / "grading"
    shutil.rmtree(work, ignore_errors=True)
    submissions = work / "submissions"
    submissions.mkdir(parents=True)
    shutil.copy(notebook, submissions / "submission.ipynb")
    print(f"grading {notebook} against {manifest['name']} ...", flush=True)
    rows = grading.grade(assignment, submissions, work / "out", jobs=1, progress=False)
    print((work / "out" / "gradebook.csv").read_text(), flush=True)
    return results_for(rows[0], manifest)


def check(assignment):
    """What setup.sh verifies: the zip's code is the one imported, its reference is fresh."""
    import importlib

    import course_tools
    from course_tools.grading import reference, sandbox

    for module in ("nbval", "ipykernel", "keras"):
        importlib.import_module(module)
    _, manifest = reference.load(assignment, build=False)
    code = pathlib.Path(course_tools.__file__).resolve().parents[1]
    print(
        f"autograder ready: {manifest['name']} ({len(manifest['exercises'])} exercises), "
        f"course code in {code}, isolation: {sandbox.isolation()}"
    )


def write_results(results, path):
    """Write results.json in one step, replacing whatever is there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    os.replace(staging, path)


def main(argv=None):
    """``python -m course_tools.export.autograder ASSIGNMENT [--root /autograder]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", DEFAULT_ROOT))
    parser.add_argument("--check", action="store_true", help="verify the setup, grade nothing")
    arguments = parser.parse_args(argv)
    if arguments.check:
        check(arguments.assignment)
        return 0
    root = pathlib.Path(arguments.root)
    started = time.monotonic()
    try:
        results = grade(arguments.assignment, root)
    except Exception as error:  # noqa: BLE001 - the student must get a results.json regardless
        traceback.print_exc()
        results = {
            "score": 0,
            "output": f"The autograder failed ({type(error).__name__}); your instructor has "
            "the details in the autograder's output.",
            "stdout_visibility": "hidden",
            "tests": [],
        }
    results["execution_time"] = round(time.monotonic() - started)
    write_results(results, root / "results" / "results.json")
    print(f"score {results['score']}: {root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
