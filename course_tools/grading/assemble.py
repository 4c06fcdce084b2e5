"""The notebook a submission is graded with: the instructor's reference, the student's answers.

Setup, checks and hidden tests are the instructor's. A check cell only runs and records what
the student's functions returned (see :mod:`course_utils.checks.recording`): the grader judges
the record, so no output is compared and every code cell starts without outputs.
"""

import copy

# Imported here, before any grading thread starts: a lazy import from several threads at once
# once gave an honest answer 0 (a partially initialised IPython module).
from ipykernel import compiler
from IPython.core import inputtransformer2

from course_tools import notebooks
from course_tools.grading import guard


def stub(reference_source, number):
    """What the assignment has in an answer cell: the NotImplementedError placeholder."""
    return notebooks.strip_solution(reference_source, number)


def assemble(reference, answers):
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
        cell.outputs, cell.execution_count = [], None
    return assembled


def check_path(manifest, number, role):
    """The recorded check of exercise ``number``'s check or hidden cell (None: no such cell)."""
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
