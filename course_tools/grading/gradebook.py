"""The gradebook and the feedback files: what an instructor reads and what students get.

``gradebook.csv`` has one row per entry of the submissions folder, sorted by student, with no
timestamps: grading the same folder twice writes the same file. Text a spreadsheet would run
as a formula (a cell starting with ``=``, ``+``, ``-`` or ``@``, as a file named
``=HYPERLINK(...)`` would) is written with a leading apostrophe. Each student's feedback is
``feedback/<name>.md``, its name made safe (no separators, at most 100 bytes, a short hash where
it had to change) and unique.
"""

import csv
import dataclasses
import hashlib
import io
import pathlib
import re
import shutil

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_NAME_BYTES = 100


@dataclasses.dataclass
class Row:
    """One gradebook row (the exporters read these fields: keep them)."""

    student: str
    points: dict
    flags: list
    errors: list
    feedback: list
    feedback_file: str = ""  # the file name under feedback/, set when written
    # Points of each exercise's parts, {number: {"check": ..., "hidden": ...}}: the engines'
    # exports (Gradescope's visible and after-the-due-date tests) report them apart.
    parts: dict = dataclasses.field(default_factory=dict)


def spreadsheet_safe(text):
    """``text`` as a spreadsheet shows it: never a formula."""
    text = str(text)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def write_gradebook(rows, manifest, path):
    """The gradebook CSV: one row per student, points per exercise, total, flags, errors."""
    numbers = sorted(int(number) for number in manifest["exercises"])
    maximum = sum(e["check_points"] + e["hidden_points"] for e in manifest["exercises"].values())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *[f"ex{n}" for n in numbers], "total", "max", "flags", "errors"])
    for row in rows:
        scores = [row.points.get(number, 0) for number in numbers]
        text = [spreadsheet_safe(row.student), "; ".join(row.flags), "; ".join(row.errors)]
        writer.writerow([text[0], *scores, sum(scores), maximum, *map(spreadsheet_safe, text[1:])])
    partial = pathlib.Path(path).with_suffix(".partial")
    partial.write_text(buffer.getvalue(), encoding="utf-8")
    partial.replace(path)


def file_names(students):
    """A safe, unique feedback file stem for each student, in order."""
    used, names = set(), []
    for student in students:
        name = re.sub(r"[^\w.()@+-]+", "_", student).strip("._") or "student"
        digest = hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        if name != student or len(name.encode("utf-8")) > MAX_NAME_BYTES:
            name = name.encode("utf-8")[: MAX_NAME_BYTES - 9].decode("utf-8", "ignore")
            name = f"{name}-{digest}"
        if name.lower() in used:
            name = f"{name}-{digest}"
        used.add(name.lower())
        names.append(name)
    return names


def write_feedback(rows, manifest, folder):
    """One Markdown file per student: total, each exercise's hint, what stopped the run."""
    folder = pathlib.Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    maximum = sum(e["check_points"] + e["hidden_points"] for e in manifest["exercises"].values())
    for row, name in zip(rows, file_names([row.student for row in rows])):
        lines = [f"# {manifest['name']}: feedback for {row.student}", ""]
        lines += [f"Total: {sum(row.points.values())}/{maximum} points.", ""]
        lines += [f"- {line}" for line in row.feedback if line]
        problems = [error for error in row.errors if error not in row.feedback]
        if problems:
            lines += ["", "Problems while grading your notebook:", ""]
            lines += [f"- {error}" for error in problems]
        row.feedback_file = f"{name}.md"
        (folder / row.feedback_file).write_text("\n".join(lines) + "\n", encoding="utf-8")
