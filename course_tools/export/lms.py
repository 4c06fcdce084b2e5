"""``course export lms``: a gradebook of ``course grade`` as the CSV Canvas or Moodle imports.

Canvas imports a CSV with its identity columns (Student, ID, SIS User ID, SIS Login ID, Section)
and one column per assignment, matched by name: give the column the assignment's name in Canvas
(a new name makes a new assignment). Moodle imports any CSV with a column identifying the user
and one per grade item, both chosen at import ("Map from" / "Map to"). Students are the
gradebook's names (the submissions' file or folder names); a roster (Canvas: its own gradebook
export) maps them to the LMS's ids. Flagged rows are exported too, and listed for a human.
"""

import csv
import io
import pathlib

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_IDENTIFIERS = {"username": "Username", "idnumber": "ID number", "email": "Email address"}
FORMATS = ("canvas", "moodle")


def read_csv(path):
    """The rows of a CSV file as dicts (a byte-order mark, as spreadsheets write, is dropped)."""
    text = pathlib.Path(path).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def read_roster(path, match):
    """Roster rows by their ``match`` column's value (Canvas' "Points Possible" row skipped)."""
    rows = read_csv(path)
    if rows and match not in rows[0]:
        raise ValueError(f"the roster {path} has no column {match!r}: {', '.join(rows[0])}")
    return {
        row[match].strip(): row
        for row in rows
        if row.get(match, "").strip() and "Points Possible" not in (row.get("Student") or "")
    }


def score(row, out_of=None):
    """A gradebook row's total as text: points, or rescaled to ``out_of``."""
    total, maximum = float(row["total"]), float(row["max"])
    value = total if out_of is None else (out_of * total / maximum if maximum else 0.0)
    value = round(value, 2)
    return str(int(value)) if value == int(value) else str(value)


def convert(gradebook, lms, column, roster=None, identifier="username", out_of=None):
    """(header, rows, notes) of the LMS's CSV from gradebook rows (dicts)."""
    if lms not in FORMATS:
        raise ValueError(f"unknown LMS {lms!r}: use one of {', '.join(FORMATS)}")
    grades = {row["student"]: score(row, out_of) for row in gradebook}
    notes = [
        f"flagged, read before importing: {row['student']} ({row['flags']})"
        for row in gradebook
        if row.get("flags")
    ]
    if lms == "canvas":
        header = [*CANVAS_IDENTITY, column]
        if roster is None:
            rows = [[student, "", "", student, "", grade] for student, grade in grades.items()]
        else:
            rows = [
                [entry.get(name, "") for name in CANVAS_IDENTITY] + [grades.get(key, "")]
                for key, entry in roster.items()
            ]
    else:
        name = MOODLE_IDENTIFIERS[identifier]
        header = [name, column]
        if roster is None:
            rows = [[student, grade] for student, grade in grades.items()]
        else:
            rows = [[entry.get(name, ""), grades.get(key, "")] for key, entry in roster.items()]
    if roster is not None:
        notes += [f"not in the roster: {student}" for student in grades if student not in roster]
        notes += [f"no grade (left blank): {key}" for key in roster if key not in grades]
    return header, rows, notes


def write(path, header, rows):
    """Write the CSV (UTF-8, comma-separated, quoted where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    pathlib.Path(path).write_text(buffer.getvalue(), encoding="utf-8")


def add_cli(subparsers):
    """Register ``course export lms GRADEBOOK --to canvas|moodle --column NAME --out CSV``."""
    parser = subparsers.add_parser("lms", help="a gradebook as Canvas' or Moodle's import CSV")
    parser.add_argument("gradebook", help="the gradebook.csv that `course grade` wrote")
    parser.add_argument("--to", required=True, choices=FORMATS, dest="lms")
    parser.add_argument("--column", required=True, help="the assignment's column name in the LMS")
    parser.add_argument("--out", required=True, help="the CSV to write")
    parser.add_argument("--roster", help="CSV mapping students to LMS ids (Canvas: its export)")
    parser.add_argument(
        "--match",
        help="the roster column holding the gradebook's student names "
        "(default: SIS Login ID for Canvas, the identifier's column for Moodle)",
    )
    parser.add_argument(
        "--identifier",
        choices=sorted(MOODLE_IDENTIFIERS),
        default="username",
        help="Moodle: what identifies a user (default: username)",
    )
    parser.add_argument("--out-of", type=float, help="rescale totals to this many points")
    parser.set_defaults(handler=_cli)


def _cli(arguments):
    """``course export lms ...``."""
    match = arguments.match or (
        "SIS Login ID" if arguments.lms == "canvas" else MOODLE_IDENTIFIERS[arguments.identifier]
    )
    try:
        gradebook = read_csv(arguments.gradebook)
        roster = read_roster(arguments.roster, match) if arguments.roster else None
        header, rows, notes = convert(
            gradebook,
            arguments.lms,
            arguments.column,
            roster,
            arguments.identifier,
            arguments.out_of,
        )
    except (OSError, KeyError, ValueError) as error:
        print(f"error: {error}")
        return 1
    write(arguments.out, header, rows)
    for note in notes:
        print(f"note: {note}")
    print(
        f"wrote {arguments.out}: {len(rows)} rows for {arguments.lms}, column {arguments.column!r}."
    )
    return 0
