"""Submissions as the grader finds them: one row per entry of the folder, answers by cell id.

Whatever lies in a submissions folder gets exactly one row, with its reason when it cannot be
graded: a FIFO is never opened (it would hang the run), a symbolic link is never followed (as
root it could point at the solutions), dotfiles and folders without one notebook are named,
non-UTF-8 and 255-byte file names are shown readably. A student's folder may be an LMS export
(one notebook inside) or nbgrader's collected layout (``submitted/<student>/<assignment>/``).

The student owns every byte of a submitted notebook, so only the sources of the answer cells
are taken, found by id (``exN-answer``) in the raw JSON: nbformat would silently repair a
duplicated or missing id, so it never reads a submission.
"""

import collections
import dataclasses
import json
import os
import pathlib
import stat

MAX_FILE_BYTES = 50_000_000
MAX_ANSWER_CHARACTERS = 100_000
MAX_DEPTH = 3  # folder levels searched for a student's notebook
KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


@dataclasses.dataclass
class Submission:
    """One entry of the submissions folder: its student, answers, flags and errors."""

    student: str
    path: pathlib.Path
    notebook: pathlib.Path | None = None
    answers: dict = dataclasses.field(default_factory=dict)
    flags: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    # Exercises the screen scores 0, with what it saw: {exercise: [labels]}.
    shortcuts: dict = dataclasses.field(default_factory=dict)

    @property
    def runnable(self):
        """True when there is at least one answer to run."""
        return not self.errors and any(source is not None for source in self.answers.values())


def collect(folder, out=None, assignment=None):
    """Every entry of ``folder`` as a :class:`Submission` (not yet read), names unique."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no submissions folder {folder}")
    skip = os.path.realpath(out) if out is not None else None
    entries = sorted(
        (entry for entry in os.scandir(folder) if os.path.realpath(entry.path) != skip),
        key=lambda entry: os.fsencode(entry.name),
    )
    names = unique_names([entry.name for entry in entries])
    submissions = []
    for entry, student in zip(entries, names):
        submission = Submission(student=student, path=pathlib.Path(entry.path))
        submission.notebook, problem = _find_notebook(submission.path, assignment)
        if problem:
            submission.errors.append(problem)
        submissions.append(submission)
    return submissions


def readable_name(name):
    """A file name as text: UTF-8, else Windows' code page (zip archives), never raw bytes."""
    raw = os.fsencode(name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def unique_names(names):
    """Students' names: the file's stem, or its full name where two stems collide."""
    readable = [readable_name(name) for name in names]
    stems = [name if "." not in name.lstrip(".") else name.rsplit(".", 1)[0] for name in readable]
    counts = collections.Counter(stems)
    chosen = [stem if counts[stem] == 1 else name for stem, name in zip(stems, readable)]
    seen, unique = collections.Counter(), []
    for name in chosen:
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _find_notebook(path, assignment):
    """The notebook of one entry, or the reason there is none to grade."""
    info = os.lstat(path)
    if path.name.startswith("."):
        what = "folder" if stat.S_ISDIR(info.st_mode) else "file"
        return None, f"not graded: a hidden {what} (its name starts with a dot)"
    if stat.S_ISLNK(info.st_mode):
        return None, "not graded: a symbolic link (links are never followed; submit the file)"
    if stat.S_ISREG(info.st_mode):
        if path.suffix != ".ipynb":
            return None, f"not a notebook: a {path.suffix or 'extensionless'} file"
        return path, None
    if not stat.S_ISDIR(info.st_mode):
        kind = KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        return None, f"not graded: {kind}, not a file"
    found = list(_notebooks_in(path, MAX_DEPTH))
    if len(found) > 1 and assignment:
        # nbgrader's collected layout: <student>/<assignment>/<notebook>.ipynb
        preferred = [p for p in found if assignment in (p.parent.name, p.stem)]
        found = preferred or found
    if len(found) == 1:
        return found[0], None
    if not found:
        return None, "no notebook: a folder without an .ipynb file"
    listed = ", ".join(readable_name(str(p.relative_to(path))) for p in found[:4])
    return None, f"no notebook chosen: the folder holds {len(found)} notebooks ({listed})"


def _notebooks_in(folder, depth):
    """Regular .ipynb files below ``folder`` (links not followed, checkpoints and dotfiles
    left out), to ``depth`` levels."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: os.fsencode(entry.name))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False) and depth > 1:
            yield from _notebooks_in(entry.path, depth - 1)
        elif entry.is_file(follow_symlinks=False) and entry.name.endswith(".ipynb"):
            yield pathlib.Path(entry.path)


def read(submission, manifest):
    """Fill in ``submission``'s answers (by exercise) from its notebook's raw JSON."""
    numbers = sorted(int(number) for number in manifest["exercises"])
    submission.answers = dict.fromkeys(numbers)
    if submission.errors or submission.notebook is None:
        return submission
    document = _load_json(submission.notebook, submission)
    if document is None:
        return submission
    cells = [cell for cell in document["cells"] if isinstance(cell, dict)]
    if not cells:
        submission.errors.append("empty notebook: no cells")
        return submission
    by_id = any("id" in cell for cell in cells)
    if not by_id:
        submission.flags.append("no cell ids (an old Jupyter?): answers matched by metadata")
    for number in numbers:
        submission.answers[number] = _answer(cells, number, by_id, submission)
    return submission


def read_bytes(path):
    """A file's bytes, or the reason it cannot be read: never follows a link, never blocks."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        return None, f"cannot be read ({error.strerror})"
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return None, f"not graded: {KINDS.get(stat.S_IFMT(info.st_mode), 'not a file')}"
        if info.st_size > MAX_FILE_BYTES:
            return None, f"not graded: the file is over {MAX_FILE_BYTES // 10**6} MB"
        return handle.read(MAX_FILE_BYTES + 1), None


def _load_json(path, submission):
    """The notebook's JSON document, or None with the reason in ``submission.errors``."""
    data, problem = read_bytes(path)
    if problem:
        submission.errors.append(problem)
        return None
    if not data.strip():
        submission.errors.append("empty file")
        return None
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        submission.errors.append("not a notebook: not UTF-8 text")
        return None
    except (json.JSONDecodeError, RecursionError) as error:
        message = getattr(error, "msg", "nested too deeply")
        line = getattr(error, "lineno", None)
        submission.errors.append(f"malformed JSON: {message}" + (f" (line {line})" if line else ""))
        return None
    problem = _format_problem(document)
    if problem:
        submission.errors.append(problem)
        return None
    return document


def _format_problem(document):
    """Why a JSON document is not a notebook the grader reads (None when it is one)."""
    if not isinstance(document, dict):
        return "not a notebook: JSON without a list of cells"
    version = document.get("nbformat")
    if isinstance(version, int) and version < 4 or "worksheets" in document:
        return (
            f"an nbformat {version if isinstance(version, int) else 3} notebook (IPython 3 or "
            "older), which the grader does not read: open it in Jupyter, save it (that "
            "converts it to nbformat 4) and submit it again"
        )
    if isinstance(version, int) and version > 4:
        return f"an nbformat {version} notebook, newer than the grader reads (nbformat 4)"
    if not isinstance(document.get("cells"), list):
        return "not a notebook: JSON without a list of cells"
    return None


def _answer(cells, number, by_id, submission):
    """The source of exercise ``number``'s answer cell, or None (flagged) if missing or doubled."""
    wanted = f"ex{number}-answer"
    if by_id:
        matches = [cell for cell in cells if cell.get("id") == wanted]
    else:
        matches = [cell for cell in cells if _meta_matches(cell, number)]
    if not matches:
        submission.flags.append(f"ex{number}: answer cell {wanted} missing (scored 0)")
        return None
    if len(matches) > 1:
        submission.flags.append(
            f"ex{number}: answer cell {wanted} appears {len(matches)} times (scored 0)"
        )
        return None
    cell, source = matches[0], matches[0].get("source")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)
    if cell.get("cell_type") != "code" or not isinstance(source, str):
        submission.flags.append(f"ex{number}: answer cell {wanted} is not a code cell (scored 0)")
        return None
    if len(source) > MAX_ANSWER_CHARACTERS:
        submission.flags.append(
            f"ex{number}: answer over {MAX_ANSWER_CHARACTERS} characters (scored 0)"
        )
        return None
    return source


def _meta_matches(cell, number):
    """True when a cell's course metadata says it is exercise ``number``'s answer."""
    metadata = cell.get("metadata")
    meta = metadata.get("course") if isinstance(metadata, dict) else None
    return (
        isinstance(meta, dict) and meta.get("role") == "answer" and meta.get("exercise") == number
    )
