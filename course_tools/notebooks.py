"""Course notebooks as files: tidying sources and building student assignments from solutions.

``solutions/NN_topic.ipynb`` is the only hand-edited exercise source. ``assignments/`` is made
from it by replacing every answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` with a
``raise NotImplementedError("Exercise N: ...")`` and dropping every hidden test between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.

``course tidy`` also keeps the cell tags consistent (the slide tags are Jupyter Book's names,
applied to the decks by nbconvert's TagRemovePreprocessor: see docs/slides.md) and stamps the
"Open in Colab" link, a plain link that needs no network, into every notebook's first cell.
"""

import copy
import json
import pathlib
import re

import nbformat

from course_tools import colab

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK_FOLDERS = ("notebooks", "solutions", "assignments")
ROLES = ("answer", "check", "hidden")
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
HIDDEN_PLACEHOLDER = "# Hidden tests of this exercise run when your notebook is graded."
VALID_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# Cell tags. What each slide tag does to a deck is in docs/slides.md.
REMOVE_CELL, REMOVE_INPUT, REMOVE_OUTPUT = "remove-cell", "remove-input", "remove-output"
NOTES, FRAGMENT = "notes", "fragment"
SLIDE_TAGS = (REMOVE_CELL, REMOVE_INPUT, REMOVE_OUTPUT, NOTES, FRAGMENT)
# nbval's own markers, which a test notebook may need.
TEST_TAGS = ("nbval-ignore-output", "nbval-skip", "nbval-raises-exception", "raises-exception")
KNOWN_TAGS = SLIDE_TAGS + TEST_TAGS
# Old names, renamed by ``course tidy``.
RENAMED_TAGS = {"setup": REMOVE_CELL}


class NotebookFormatError(ValueError):
    """A source notebook breaks the course's exercise format."""


def read(path):
    """Read a notebook as nbformat v4."""
    return nbformat.read(str(path), as_version=4)


def write(notebook, path):
    """Write a notebook the way the repository stores it (stable key order, final newline)."""
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    pathlib.Path(path).write_text(text, encoding="utf-8")


def course_meta(cell):
    """The ``course`` metadata of a cell (``{}`` for an ordinary cell)."""
    return cell.get("metadata", {}).get("course", {}) or {}


def exercise_cell_id(cell):
    """The id an exercise cell must have: ``ex<N>-<role>``."""
    meta = course_meta(cell)
    return f"ex{meta['exercise']}-{meta['role']}"


def _setup_cell(notebook):
    """The Setup cell (the first code cell, if it calls ``config.setup``), or None."""
    first = next((cell for cell in notebook.cells if cell.cell_type == "code"), None)
    if first is None or not (
        colab.split_colab_setup(first.source)[0] or "config.setup(" in first.source
    ):
        return None
    return first


def tidy(notebook):
    """Strip outputs, give cells stable readable ids, check tags, stamp the Colab stanza."""
    notebook = copy.deepcopy(notebook)
    setup = _setup_cell(notebook)
    if setup is not None:
        setup.source = colab.stamp_colab_setup(setup.source)
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        **{key: value for key, value in notebook.metadata.items() if key in ("course",)},
    }
    used = set()
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for noisy in ("execution", "collapsed", "scrolled", "jupyter", "ExecuteTime"):
            cell.metadata.pop(noisy, None)
        if course_meta(cell):
            wanted = exercise_cell_id(cell)
        else:
            wanted = cell.get("id", "")
            if not VALID_ID.match(wanted) or wanted in used or wanted.startswith("ex"):
                wanted = f"cell-{index:03d}"
        while wanted in used:
            wanted = f"{wanted}-dup"
        cell.id = wanted
        used.add(wanted)
    tidy_tags(notebook)
    return notebook


def _only_imports(source):
    """True for code made only of import statements (and comments or directives)."""
    lines = [line.strip() for line in source.splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    return bool(code) and all(line.startswith(("import ", "from ")) for line in code)


def tidy_tags(notebook):
    """Rename old tags, hide the Setup and exported import cells on slides, refuse bad tags."""
    setup = _setup_cell(notebook)
    for cell in notebook.cells:
        tags = [RENAMED_TAGS.get(tag, tag) for tag in cell.metadata.get("tags", [])]
        if cell.cell_type == "code" and (
            cell is setup or (cell.source.startswith("#| export") and _only_imports(cell.source))
        ):
            tags.append(REMOVE_CELL)
        tags = sorted(set(tags))
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        problem = tag_problem(cell)
        if problem:
            raise NotebookFormatError(f"cell {cell.get('id')}: {problem}")


def tag_problem(cell):
    """What is wrong with a cell's tags, in one line, or None."""
    tags = set(cell.metadata.get("tags", []))
    unknown = sorted(tags - set(KNOWN_TAGS))
    if unknown:
        return f"unknown tags {unknown}; the course knows {list(KNOWN_TAGS)} (docs/slides.md)"
    slide_tags = tags & set(SLIDE_TAGS)
    if REMOVE_CELL in tags and len(slide_tags) > 1:
        return f"{REMOVE_CELL} hides the whole cell: drop {sorted(slide_tags - {REMOVE_CELL})}"
    if {REMOVE_INPUT, REMOVE_OUTPUT} <= tags:
        return f"{REMOVE_INPUT} and {REMOVE_OUTPUT} together hide everything: tag {REMOVE_CELL}"
    if {NOTES, FRAGMENT} <= tags:
        return f"a speaker note cannot be a {FRAGMENT}"
    if cell.cell_type == "code" and NOTES in tags:
        return f"{NOTES} is for markdown cells (a speaker reads prose, not code)"
    if cell.cell_type == "markdown" and tags & {REMOVE_INPUT, REMOVE_OUTPUT}:
        return f"{sorted(tags & {REMOVE_INPUT, REMOVE_OUTPUT})} are for code cells"
    return None


def validate_exercises(notebook, name="notebook"):
    """Check the exercise cells' metadata and markers; return ``{exercise: {role: cell}}``."""
    exercises = {}
    for cell in notebook.cells:
        meta = course_meta(cell)
        if not meta:
            if BEGIN_SOLUTION in cell.source or BEGIN_HIDDEN in cell.source:
                raise NotebookFormatError(
                    f"{name}: cell {cell.get('id')} has exercise markers but no 'course' metadata."
                )
            continue
        role, number = meta.get("role"), meta.get("exercise")
        if role not in ROLES or not isinstance(number, int):
            raise NotebookFormatError(
                f"{name}: cell {cell.get('id')} needs course metadata "
                f"{{role: answer|check|hidden, exercise: <int>}}, got {meta}."
            )
        if role in exercises.setdefault(number, {}):
            raise NotebookFormatError(f"{name}: exercise {number} has two {role} cells.")
        exercises[number][role] = cell
        markers = {"answer": (BEGIN_SOLUTION, END_SOLUTION), "hidden": (BEGIN_HIDDEN, END_HIDDEN)}
        if role in markers and not all(marker in cell.source for marker in markers[role]):
            raise NotebookFormatError(
                f"{name}: the {role} cell of exercise {number} lacks "
                f"'{markers[role][0]}' ... '{markers[role][1]}'."
            )
    for number, roles in exercises.items():
        for role in ("answer", "check"):
            if role not in roles:
                raise NotebookFormatError(f"{name}: exercise {number} has no {role} cell.")
        if "points" not in course_meta(roles["check"]):
            raise NotebookFormatError(f"{name}: the check cell of exercise {number} needs points.")
    return exercises


def _function_name_before(lines, index):
    """Name of the nearest ``def`` above line ``index`` (for the NotImplementedError message)."""
    for line in reversed(lines[:index]):
        match = re.match(r"\s*def\s+(\w+)\s*\(", line)
        if match:
            return match.group(1)
    return None


def strip_solution(source, exercise):
    """Replace each solution block with a ``NotImplementedError`` naming the exercise."""
    lines, output, index = source.split("\n"), [], 0
    while index < len(lines):
        line = lines[index]
        if line.strip() != BEGIN_SOLUTION:
            output.append(line)
            index += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        function = _function_name_before(lines, index)
        task = f"write the body of {function}()" if function else "write your answer here"
        output.append(f"{indent}# YOUR CODE HERE")
        output.append(f'{indent}raise NotImplementedError("Exercise {exercise}: {task}.")')
        while index < len(lines) and lines[index].strip() != END_SOLUTION:
            index += 1
        index += 1  # skip END_SOLUTION
    return "\n".join(output)


def strip_hidden(source):
    """Remove each hidden-test block; leave a note where the whole cell was hidden."""
    kept = re.sub(
        rf"[ \t]*{re.escape(BEGIN_HIDDEN)}.*?{re.escape(END_HIDDEN)}[ \t]*\n?",
        "",
        source,
        flags=re.DOTALL,
    ).strip()
    return kept or HIDDEN_PLACEHOLDER


def build_assignment(solution, name="solution"):
    """The student version of a tidy solutions notebook."""
    validate_exercises(solution, name)
    student = tidy(solution)
    for cell in student.cells:
        meta = course_meta(cell)
        if meta.get("role") == "answer":
            cell.source = strip_solution(cell.source, meta["exercise"])
        elif meta.get("role") == "hidden":
            cell.source = strip_hidden(cell.source)
        elif cell.cell_type == "markdown" and "colab.research.google.com" in cell.source:
            cell.source = cell.source.replace("/blob/main/solutions/", "/blob/main/assignments/")
    return student


def notebook_paths(folder, root=ROOT):
    """The ``NN_topic.ipynb`` notebooks of one course folder, in order."""
    return sorted((pathlib.Path(root) / folder).glob("[0-9][0-9]_*.ipynb"))


def build_assignments(check=False, root=ROOT):
    """Write (or with ``check``, compare) assignments/ from solutions/. Returns stale names."""
    stale = []
    wanted_names = set()
    for path in notebook_paths("solutions", root):
        wanted_names.add(path.name)
        student = build_assignment(read(path), path.name)
        target = pathlib.Path(root) / "assignments" / path.name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        expected = json.dumps(student, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        if current != expected:
            stale.append(path.name)
            if not check:
                write(student, target)
    for path in notebook_paths("assignments", root):
        if path.name not in wanted_names:
            stale.append(path.name)
            if not check:
                path.unlink()
    return stale


def tidy_all(check=False, root=ROOT):
    """Tidy every source notebook in place (or list the untidy ones with ``check``)."""
    untidy = []
    for folder in ("notebooks", "solutions"):
        for path in sorted((pathlib.Path(root) / folder).glob("*.ipynb")):
            notebook = read(path)
            try:
                tidied = tidy(notebook)
            except NotebookFormatError as error:
                raise NotebookFormatError(f"{folder}/{path.name}: {error}") from None
            colab.stamp_colab_badge(tidied, folder, path.name)
            if tidied != notebook or path.read_text(encoding="utf-8") != (
                json.dumps(tidied, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            ):
                untidy.append(f"{folder}/{path.name}")
                if not check:
                    write(tidied, path)
    return untidy


def add_cli(subparsers):
    """Register ``course build-assignments`` and ``course tidy``."""
    build = subparsers.add_parser("build-assignments", help="write assignments/ from solutions/")
    build.add_argument("--check", action="store_true", help="fail if assignments/ is stale")
    build.set_defaults(handler=_cli_build)
    tidy_parser = subparsers.add_parser(
        "tidy", help="strip outputs and fix ids of source notebooks"
    )
    tidy_parser.add_argument("--check", action="store_true", help="fail if any notebook is untidy")
    tidy_parser.set_defaults(handler=_cli_tidy)


def _cli_build(arguments):
    """``course build-assignments [--check]``."""
    try:
        stale = build_assignments(check=arguments.check)
    except NotebookFormatError as error:
        print(f"error: {error}")
        return 1
    if arguments.check and stale:
        print(f"assignments/ is stale for {', '.join(stale)}: run 'make assignments'.")
        return 1
    verb = "stale" if arguments.check else "rebuilt"
    print(f"assignments/: {len(stale)} {verb}, {len(notebook_paths('solutions'))} solutions.")
    return 0


def _cli_tidy(arguments):
    """``course tidy [--check]``."""
    try:
        untidy = tidy_all(check=arguments.check)
    except NotebookFormatError as error:
        print(f"error: {error}")
        return 1
    if arguments.check and untidy:
        names = ", ".join(untidy)
        print(
            f"untidy notebooks (outputs, ids, tags, Colab link or stanza): {names}: "
            f"run 'make tidy'."
        )
        return 1
    print(f"{len(untidy)} notebooks {'untidy' if arguments.check else 'tidied'}.")
    return 0
