"""The notebook tooling, and the rules every committed notebook follows."""

import json

import nbformat
import pytest

from course_tools import colab, notebooks

SOLUTION_CELL = '''def conv_output_size(input_size, kernel_size, strides=1):
    """Output length of a valid convolution."""
    ### BEGIN SOLUTION
    return (input_size - kernel_size) // strides + 1
    ### END SOLUTION'''

HIDDEN_CELL = """print("visible part")
### BEGIN HIDDEN TESTS
assert conv_output_size(9, 3, 2) == 4
### END HIDDEN TESTS"""


def exercise_notebook():
    """A small solutions notebook with one exercise in the course format."""
    cells = [
        nbformat.v4.new_markdown_cell("# 99 · Test"),
        nbformat.v4.new_code_cell(
            SOLUTION_CELL, metadata={"course": {"role": "answer", "exercise": 1}}
        ),
        nbformat.v4.new_code_cell(
            "assert conv_output_size(5, 3) == 3",
            metadata={"course": {"role": "check", "exercise": 1, "points": 2}},
        ),
        nbformat.v4.new_code_cell(
            HIDDEN_CELL, metadata={"course": {"role": "hidden", "exercise": 1, "points": 1}}
        ),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.cells[2].outputs = [nbformat.v4.new_output("stream", text="leftover output\n")]
    notebook.cells[2].execution_count = 7
    return notebook


def test_strip_solution_raises_with_the_exercise_and_function():
    student = notebooks.strip_solution(SOLUTION_CELL, 1)
    assert "return (input_size" not in student
    assert "BEGIN SOLUTION" not in student
    assert '    raise NotImplementedError("Exercise 1: write the body of conv_output_size().")' in (
        student
    )
    namespace = {}
    exec(student, namespace)  # the student version must still be valid Python
    with pytest.raises(NotImplementedError, match="Exercise 1"):
        namespace["conv_output_size"](5, 3)


def test_strip_hidden_keeps_the_visible_part():
    assert notebooks.strip_hidden(HIDDEN_CELL) == 'print("visible part")'
    only_hidden = "### BEGIN HIDDEN TESTS\nassert False\n### END HIDDEN TESTS"
    assert notebooks.strip_hidden(only_hidden) == notebooks.HIDDEN_PLACEHOLDER


def test_tidy_strips_outputs_and_sets_readable_ids():
    tidied = notebooks.tidy(exercise_notebook())
    ids = [cell.id for cell in tidied.cells]
    assert ids[1:] == ["ex1-answer", "ex1-check", "ex1-hidden"]
    assert len(set(ids)) == len(ids)
    assert all(not cell.get("outputs") for cell in tidied.cells)
    assert tidied.cells[2].execution_count is None
    assert notebooks.tidy(tidied) == tidied  # idempotent


def test_build_assignment_removes_answers_and_hidden_tests():
    student = notebooks.build_assignment(notebooks.tidy(exercise_notebook()))
    text = json.dumps(student)
    assert "(input_size - kernel_size) // strides" not in text
    assert "conv_output_size(9, 3, 2)" not in text
    assert student.cells[2].source == "assert conv_output_size(5, 3) == 3"  # checks stay


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda nb: nb.cells[1].metadata.pop("course"), "no 'course' metadata"),
        (lambda nb: nb.cells[2].metadata["course"].pop("points"), "needs points"),
        (lambda nb: nb.cells.pop(2), "has no check cell"),
        (lambda nb: setattr(nb.cells[1], "source", "def f():\n    return 1"), "lacks"),
        (lambda nb: nb.cells[3].metadata["course"].update(role="answer"), "two answer cells"),
    ],
)
def test_malformed_exercises_are_refused_with_the_reason(breakage, message):
    notebook = exercise_notebook()
    breakage(notebook)
    with pytest.raises(notebooks.NotebookFormatError, match=message):
        notebooks.build_assignment(notebook, "99_test.ipynb")


def test_build_assignments_detects_and_fixes_staleness(tmp_path):
    for folder in ("solutions", "assignments"):
        (tmp_path / folder).mkdir()
    notebooks.write(notebooks.tidy(exercise_notebook()), tmp_path / "solutions" / "99_test.ipynb")
    assert notebooks.build_assignments(check=True, root=tmp_path) == ["99_test.ipynb"]
    assert not (tmp_path / "assignments" / "99_test.ipynb").exists()  # --check writes nothing
    notebooks.build_assignments(root=tmp_path)
    assert notebooks.build_assignments(check=True, root=tmp_path) == []
    (tmp_path / "assignments" / "98_orphan.ipynb").write_text("{}")
    assert notebooks.build_assignments(check=True, root=tmp_path) == ["98_orphan.ipynb"]


# ---- every committed notebook ----

ALL_NOTEBOOKS = [
    path for folder in notebooks.NOTEBOOK_FOLDERS for path in notebooks.notebook_paths(folder)
]


def notebook_id(path):
    """``solutions/01_x.ipynb`` as a test id."""
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=notebook_id)
def test_committed_notebooks_are_tidy_and_without_outputs(path):
    notebook = notebooks.read(path)
    assert all(not cell.get("outputs") for cell in notebook.cells), "strip outputs: make tidy"
    assert notebooks.tidy(notebook) == notebook, "run make tidy"
    nbformat.validate(notebook)


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=notebook_id)
def test_notebooks_follow_the_course_format(path):
    notebook = notebooks.read(path)
    title = notebook.cells[0]
    assert title.cell_type == "markdown" and title.source.startswith(f"# {path.name[:2]} ")
    assert colab.colab_url(path.parent.name, path.name) in title.source, "Colab badge"
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert setup.source.startswith(colab.COLAB_SETUP), "Setup cell must start with COLAB_SETUP"
    assert "config.setup(" in setup.source
    headings = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert any(source.startswith("## Summary") for source in headings), "end with ## Summary"
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "os.environ" not in code, "notebooks ask course_utils.config, not the environment"
    assert "from tensorflow import keras" not in code, "use `import keras`"


@pytest.mark.parametrize("path", notebooks.notebook_paths("solutions"), ids=notebook_id)
def test_solutions_have_at_least_four_exercises(path):
    exercises = notebooks.validate_exercises(notebooks.read(path), path.name)
    assert len(exercises) >= 4


def test_every_topic_has_its_three_notebooks():
    names = {
        folder: {p.name for p in notebooks.notebook_paths(folder)}
        for folder in notebooks.NOTEBOOK_FOLDERS
    }
    topics = names["solutions"] | {n for n in names["notebooks"] if not n.startswith("00_")}
    for folder in notebooks.NOTEBOOK_FOLDERS:
        missing = topics - names[folder]
        assert not missing, f"{folder}/ lacks {sorted(missing)}"


def test_assignments_are_fresh():
    assert notebooks.build_assignments(check=True) == [], "run make assignments"
