"""The notebook a submission is graded with: the instructor's reference, the student's answers.

Setup, checks and hidden tests are the instructor's. A check cell whose check records (see
:mod:`course_utils.checks.recording`) only runs: its record is judged by the grader. A check cell
of a module not yet converted to the factory keeps the old way, marked ``LEGACY`` below: nbval
compares its printed pass line with the reference's.
"""

import copy

# Imported here, before any grading thread starts: a lazy import from several threads at once
# once gave an honest answer 0 (a partially initialised IPython module).
from ipykernel import compiler
from IPython.core import inputtransformer2

from course_tools import notebooks
from course_tools.grading import guard

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
CHECK_ROLES = ("check", "hidden")


def stub(reference_source, number):
    """What the assignment has in an answer cell: the NotImplementedError placeholder."""
    return notebooks.strip_solution(reference_source, number)


def assemble(reference, answers, manifest):
    """The reference with the student's answers (``None``: the assignment's placeholder)."""
    assembled = copy.deepcopy(reference)
    for cell in assembled.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        meta = notebooks.course_meta(cell)
        role, number = meta.get("role"), meta.get("exercise")
        if role == "answer":
            answer = answers.get(number)
            cell.source = stub(cell.source, number) if answer is None else answer
        if role in CHECK_ROLES and check_path(manifest, number, role) is None:
            # LEGACY: a check that prints its verdict; nbval compares the pass line.
            cell.source = f"{CHECK_MARKER}\n{cell.source}"
            # stderr (warnings) is not compared: the plugin drops it on both sides.
            cell.outputs = [o for o in cell.outputs if o.get("name") != "stderr"]
            cell.execution_count = 1
        else:
            cell.outputs, cell.execution_count = [], None
    return assembled


def check_path(manifest, number, role):
    """The recorded check of exercise ``number``'s check or hidden cell (None: legacy)."""
    return manifest["exercises"][str(number)].get(f"{role}_path")


def guard_cells(assembled):
    """What the kernel's guard expects: each code cell's file name, role and transformed hash."""
    transformer = inputtransformer2.TransformerManager()
    expected = {}
    for cell in assembled.cells:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        role = notebooks.course_meta(cell).get("role") or "other"
        name = f"{compiler.murmur2_x86(cell.source, compiler.get_tmp_hash_seed())}.py"
        digest = None
        if role != "answer":
            digest = guard.transformed_hash(transformer.transform_cell(cell.source))
        # The same source twice (an answer copying an instructor cell) counts as an answer.
        if expected.get(name, {}).get("role") != "answer":
            expected[name] = {"role": role, "sha256": digest}
    return expected
