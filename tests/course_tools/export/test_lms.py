"""``course export lms``: a gradebook as the CSV that Canvas and Moodle import."""

import csv

from course_tools import cli
from course_tools.export import lms

GRADEBOOK = """student,ex1,ex2,total,max,flags,errors
alice,3,5,8,8,,
bob,3,0,3,8,ex2: imports ctypes,
carol,0,0,0,8,,no answer cells found
"""
# What Canvas' "Export Entire Gradebook" writes: identity columns, a points row, assignments.
CANVAS_EXPORT = """Student,ID,SIS User ID,SIS Login ID,Section,Old quiz (101)
    Points Possible,,,,,10
"Liddell, Alice",1001,S1,alice,Section A,7
"Builder, Bob",1002,S2,bob,Section B,
"Dean, Dora",1004,S4,dora,Section A,5
"""


def _rows(path):
    """A written CSV as a header and rows."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def test_canvas_from_its_own_export(tmp_path, capsys):
    """Identity columns come from Canvas' export; the roster's order; unknowns are reported."""
    (tmp_path / "gradebook.csv").write_text(GRADEBOOK)
    (tmp_path / "canvas.csv").write_text(CANVAS_EXPORT)
    code = cli.main(
        ["export", "lms", str(tmp_path / "gradebook.csv"), "--to", "canvas", "--column",
         "01 Conv2D", "--roster", str(tmp_path / "canvas.csv"), "--out",
         str(tmp_path / "import.csv")]
    )  # fmt: skip
    assert code == 0
    header, rows = _rows(tmp_path / "import.csv")
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01 Conv2D"]
    assert rows == [
        ["Liddell, Alice", "1001", "S1", "alice", "Section A", "8"],
        ["Builder, Bob", "1002", "S2", "bob", "Section B", "3"],
        ["Dean, Dora", "1004", "S4", "dora", "Section A", ""],
    ]
    printed = capsys.readouterr().out
    assert "flagged, read before importing: bob" in printed
    assert "not in the roster: carol" in printed and "no grade (left blank): dora" in printed


def test_canvas_without_a_roster_uses_login_ids():
    """Without a roster the submissions' names are the SIS Login IDs."""
    gradebook = list(csv.DictReader(GRADEBOOK.splitlines()))
    header, rows, _ = lms.convert(gradebook, "canvas", "01")
    assert header[-1] == "01" and rows[0] == ["alice", "", "", "alice", "", "8"]


def test_moodle_with_a_roster_and_rescaled(tmp_path):
    """Moodle: one identifier column and the grade item, rescaled to 100."""
    roster_path = tmp_path / "roster.csv"
    roster_path.write_text("student,Email address\nalice,a@x.org\nbob,b@x.org\ncarol,c@x.org\n")
    gradebook = list(csv.DictReader(GRADEBOOK.splitlines()))
    roster = lms.read_roster(roster_path, "student")
    header, rows, notes = lms.convert(gradebook, "moodle", "01", roster, "email", out_of=100)
    assert header == ["Email address", "01"]
    assert rows == [["a@x.org", "100"], ["b@x.org", "37.5"], ["c@x.org", "0"]]
    assert notes == ["flagged, read before importing: bob (ex2: imports ctypes)"]


def test_a_roster_without_the_matching_column_is_refused(tmp_path, capsys):
    """A wrong --match says which columns there are."""
    (tmp_path / "gradebook.csv").write_text(GRADEBOOK)
    (tmp_path / "roster.csv").write_text("name,mail\nalice,a@x.org\n")
    code = cli.main(
        ["export", "lms", str(tmp_path / "gradebook.csv"), "--to", "moodle", "--column", "01",
         "--roster", str(tmp_path / "roster.csv"), "--out", str(tmp_path / "out.csv")]
    )  # fmt: skip
    assert code == 1 and "no column 'Username': name, mail" in capsys.readouterr().out
