"""Build the self-test assignment's submissions the grader's tests feed to ``course grade``."""

import json
import pathlib

from course_tools import notebooks
from course_tools.grading import pipeline, reference

FIXTURES = pathlib.Path(__file__).resolve().parent
SELFTEST = FIXTURES / "solutions" / "00_grader_selftest.ipynb"
PASS_1 = "Exercise 1 passed: output sizes match Conv2D for 'valid' and 'same'."
PASS_1_HIDDEN = "Exercise 1 passed: hidden output-size cases pass."
PASS_2 = "Exercise 2 passed: images are scaled to [0, 1]."
PASS_2_HIDDEN = "Exercise 2 passed: hidden normalization cases pass."
FULL_MARKS = {1: 3, 2: 3}
ZERO = {1: 0, 2: 0}
# Small limits: the self-test needs little, and the attack tests must stay quick.
TEST_LIMITS = pipeline.Limits(cell_timeout=45, timeout=300, memory_bytes=int(1.5 * 2**30))

BODY_1 = """    if padding == "same":
        return (size + stride - 1) // stride
    return (size - kernel) // stride + 1
"""
BODY_2 = """    image = np.asarray(image, dtype=float)
    low, high = image.min(), image.max()
    return np.zeros_like(image) if high == low else (image - low) / (high - low)
"""
CORRECT_1 = 'def output_size(size, kernel, stride=1, padding="valid"):\n' + BODY_1
CORRECT_2 = "def normalize(image):\n" + BODY_2


def copy_selftest(folder):
    """Copy the self-test to ``folder/solutions/`` with its checks beside it; return its path."""
    import shutil

    (pathlib.Path(folder) / "solutions").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "selftest.py", pathlib.Path(folder) / "selftest.py")
    return pathlib.Path(shutil.copy(SELFTEST, pathlib.Path(folder) / "solutions"))


def assignment():
    """The student version of the self-test, as a notebook."""
    return notebooks.build_assignment(notebooks.read(SELFTEST))


def write_submission(folder, student, answers=None, edit=None, notebook=None):
    """Write ``student``'s notebook: the assignment with ``answers`` (by exercise) filled in."""
    notebook = notebook if notebook is not None else assignment()
    for cell in notebook.cells:
        meta = notebooks.course_meta(cell)
        if meta.get("role") == "answer" and answers and meta["exercise"] in answers:
            cell.source = answers[meta["exercise"]]
    if edit is not None:
        edit(notebook)
    path = pathlib.Path(folder) / f"{student}.ipynb"
    notebooks.write(notebook, path)
    return path


def write_raw(folder, name, content):
    """Write a submission file byte for byte (broken files)."""
    path = pathlib.Path(folder) / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def grade(submissions, out, build_root, jobs=2):
    """Grade a folder of self-test submissions with the test limits; rows by student."""
    rows = pipeline.grade(
        SELFTEST,
        submissions,
        out,
        jobs=jobs,
        build_root=build_root,
        limits=TEST_LIMITS,
        progress=False,
    )
    return {row.student: row for row in rows}


def build(build_root):
    """Build (or reuse) the self-test's reference in ``build_root``."""
    return reference.load(SELFTEST, build_root)


def gradebook_rows(out):
    """The gradebook CSV as a list of dicts."""
    import csv

    text = (pathlib.Path(out) / "gradebook.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


def raw_cells(path):
    """The cells of a written submission, as raw JSON."""
    return json.loads(pathlib.Path(path).read_text())["cells"]
