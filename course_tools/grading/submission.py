"""A submission as the grader sees it: answer sources by cell id, flags, the assembled notebook.

The student owns every byte of a submitted notebook, so only the sources of the answer cells are
taken, found by id (``exN-answer``) in the raw JSON: nbformat would silently repair a duplicated
or missing id, so it never reads a submission. Everything else comes from the instructor's
reference. Answers are screened for code a human should look at (flags never change a score).
"""

import ast
import copy
import dataclasses
import json
import pathlib
import re

from course_tools import notebooks

MAX_FILE_BYTES = 50_000_000
MAX_ANSWER_CHARACTERS = 100_000
CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
COMPARED_ROLES = ("check", "hidden")

# Names, modules and attributes that grading-aware code needs and exercise answers do not.
SUSPICIOUS_CALLS = {
    "get_ipython": "get_ipython",
    "globals": "globals()",
    "locals": "locals()",
    "vars": "vars()",
    "setattr": "setattr()",
    "delattr": "delattr()",
    "exec": "exec",
    "eval": "eval",
    "compile": "compile",
    "__import__": "__import__",
    "breakpoint": "breakpoint()",
    "input": "input()",
}
SUSPICIOUS_MODULES = (
    "IPython",
    "ipykernel",
    "jupyter_client",
    "zmq",
    "nbval",
    "pytest",
    "builtins",
    "importlib",
    "ctypes",
    "signal",
    "gc",
    "inspect",
    "subprocess",
    "threading",
    "_thread",
    "multiprocessing",
    "concurrent",
    "asyncio",
    "socket",
    "urllib",
    "http",
    "requests",
    "pickle",
    "marshal",
    "unittest",
    "atexit",
    "weakref",
    "shutil",
    "pty",
    "code",
    "codeop",
    "runpy",
    "sysconfig",
    "course_tools",
)
# Course modules an answer may use; the others compute or check answers (checks, reference,
# arith, topic builders), and an answer calling them may not be the student's own work.
COURSE_TOOLS = ("config", "plots", "progress", "results", "data", "widgets")
SUSPICIOUS_ATTRIBUTES = {
    "modules": "sys.modules",
    "environ": "os.environ",
    "getenv": "os.getenv",
    "putenv": "os.putenv",
    "kill": "os.kill",
    "killpg": "os.killpg",
    "_exit": "os._exit",
    "exit": "exit",
    "system": "os.system",
    "popen": "os.popen",
    "fork": "os.fork",
    "getppid": "os.getppid",
    "argv": "sys.argv",
    "orig_argv": "sys.argv",
    "_getframe": "sys._getframe",
    "settrace": "sys.settrace",
    "setprofile": "sys.setprofile",
    "addaudithook": "sys.addaudithook",
    "f_back": "frames",
    "f_globals": "frames",
    "f_locals": "frames",
    "f_builtins": "frames",
    "f_code": "frames",
    "tb_frame": "frames",
    "gi_frame": "frames",
    "cr_frame": "frames",
    "cell_contents": "closure cells",
    "input_transformers_post": "input transformers",
    "input_transformers_cleanup": "input transformers",
    "input_transformer_manager": "input transformers",
    "ast_transformers": "AST transformers",
    "showtraceback": "showtraceback",
    "showsyntaxerror": "showtraceback",
    "run_cell": "run_cell",
    "user_ns": "user_ns",
    "kernel": "the kernel",
    "register": "event callbacks",
}
ALLOWED_DUNDERS = {"__name__", "__doc__", "__init__", "__len__", "__call__", "__version__"}
SPECIAL_METHODS = {
    "__eq__",
    "__ne__",
    "__hash__",
    "__bool__",
    "__float__",
    "__int__",
    "__index__",
    "__array__",
    "__array_ufunc__",
    "__array_function__",
    "__del__",
    "__getattr__",
    "__getattribute__",
    "__instancecheck__",
    "__subclasscheck__",
    "__init_subclass__",
    "__set_name__",
    "__fspath__",
}
PASS_LINE = re.compile(r"Exercise\s*\d+\s*passed", re.IGNORECASE)
NBVAL_MARKER = re.compile(r"^\s*#\s*(NBVAL_|PYTEST_VALIDATE)", re.MULTILINE)
RAW_PATTERNS = {
    "get_ipython": "get_ipython",
    "sys.modules": "sys.modules",
    "__builtins__": "builtins",
    "ctypes": "ctypes",
    "input_transformers": "input transformers",
    "showtraceback": "showtraceback",
    "os.environ": "os.environ",
}


@dataclasses.dataclass
class Submission:
    """One student's submission: answers by exercise, flags for a human, errors."""

    student: str
    path: pathlib.Path
    answers: dict = dataclasses.field(default_factory=dict)
    flags: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    readable: bool = True


def student_name(path):
    """The student a submission belongs to: the file's stem, or the folder's name."""
    path = pathlib.Path(path)
    return path.name if path.is_dir() else path.stem


def notebook_in(folder):
    """The notebook of a submission folder (an LMS export): the only .ipynb inside, or None."""
    found = sorted(
        p for p in pathlib.Path(folder).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    return found[0] if len(found) == 1 else None


def read(path, manifest):
    """Read a submission's answers from its raw JSON, with flags and errors."""
    path = pathlib.Path(path)
    submission = Submission(student=student_name(path), path=path)
    numbers = sorted(int(number) for number in manifest["exercises"])
    submission.answers = dict.fromkeys(numbers)
    document = _load_json(path, submission)
    if document is None:
        submission.readable = False
        return submission
    cells = [cell for cell in document["cells"] if isinstance(cell, dict)]
    if not cells:
        submission.errors.append("empty notebook: no cells")
    by_id = any("id" in cell for cell in cells)
    if cells and not by_id:
        submission.flags.append("no cell ids (an old Jupyter?): answers matched by metadata")
    for number in numbers:
        submission.answers[number] = _answer(cells, number, by_id, submission)
    modules = manifest.get("modules", {})
    for number, source in submission.answers.items():
        if source is None:
            continue
        allowed = manifest["exercises"][str(number)].get("course_code", [])
        flags = screen(source, modules, allowed, manifest.get("local_modules", ()))
        submission.flags.extend(f"ex{number}: {flag}" for flag in flags)
    return submission


def _load_json(path, submission):
    """The submission's JSON document, or None with the reason in ``submission.errors``."""
    if path.is_dir():
        inner = notebook_in(path)
        if inner is None:
            submission.errors.append("no notebook: a folder without exactly one .ipynb")
            return None
        path = inner
    if path.suffix != ".ipynb":
        submission.errors.append(f"not a notebook: a {path.suffix or 'extensionless'} file")
        return None
    if path.stat().st_size > MAX_FILE_BYTES:
        submission.errors.append(f"not graded: the file is over {MAX_FILE_BYTES // 10**6} MB")
        return None
    data = path.read_bytes()
    if not data.strip():
        submission.errors.append("empty file")
        return None
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        submission.errors.append("not a notebook: not UTF-8 text")
        return None
    except json.JSONDecodeError as error:
        submission.errors.append(f"malformed JSON: {error.msg} (line {error.lineno})")
        return None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        submission.errors.append("not a notebook: JSON without a list of cells")
        return None
    return document


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


def screen(source, modules=None, allowed=(), local_modules=()):
    """Flags for code a human should read: what grading-aware or tampering code needs.

    ``modules``: what the notebook binds to modules (``{"checks": "course_utils.checks"}``):
    answers must not assign their attributes, nor use course code that computes answers, except
    the ``allowed`` names (``detection.iou``) the instructor's own answer uses.
    """
    flags = set()
    if PASS_LINE.search(source):
        flags.add('contains an "Exercise N passed" line')
    if NBVAL_MARKER.search(source):
        flags.add("NBVAL marker")
    if re.search(r"^\s*[%!]", source, re.MULTILINE):
        flags.add("IPython magic or shell command")
    try:
        tree = ast.parse(_python_source(source))
    except (SyntaxError, ValueError):
        flags.update(label for token, label in RAW_PATTERNS.items() if token in source)
        return sorted(flags)
    modules = modules if isinstance(modules, dict) else dict.fromkeys(modules or (), "")
    flags.update(_ast_flags(tree, modules, set(allowed), set(local_modules)))
    return sorted(flags)


def course_code(source, modules, local_modules=()):
    """The course code that computes answers an answer uses (``detection.iou``)."""
    try:
        tree = ast.parse(_python_source(source))
    except (SyntaxError, ValueError):
        return []
    keys = {
        name for name, module in modules.items() if _computes_answers(module, set(local_modules))
    }
    return sorted(
        {
            ast.unparse(node)
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in keys
        }
    )


def _python_source(source):
    """The cell as IPython runs it (magics become calls), for parsing."""
    from IPython.core import inputtransformer2

    return inputtransformer2.TransformerManager().transform_cell(source)


def _ast_flags(tree, modules, allowed, local_modules=frozenset()):
    """Walk the answer's syntax tree for suspicious names, imports, attributes, assignments."""
    flags = set()
    answer_keys = {
        name for name, module in modules.items() if _computes_answers(module, local_modules)
    }
    modules = {"np", "numpy", "keras", "tf", "sys", "os", "plt", *modules}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
            flags.update(_import_flags(node, local_modules))
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in answer_keys
            and ast.unparse(node) not in allowed
        ):
            flags.add(f"uses course code that computes answers ({ast.unparse(node)})")
        elif isinstance(node, ast.Name) and node.id in SUSPICIOUS_CALLS:
            flags.add(SUSPICIOUS_CALLS[node.id])
        elif isinstance(node, ast.Name) and node.id == "__builtins__":
            flags.add("builtins")
        elif isinstance(node, ast.Attribute):
            flags.update(_attribute_flags(node))
        elif isinstance(node, ast.FunctionDef) and node.name in SPECIAL_METHODS:
            flags.add(f"defines {node.name}")
        elif isinstance(node, ast.Call) and _is_open_outside(node):
            flags.add("open() of a path outside the notebook's folder")
    for node in ast.walk(tree):
        for target in _assigned_attributes(node):
            if _root_name(target) in modules:
                flags.add(f"assigns {ast.unparse(target)} (monkeypatching)")
    return flags


def _computes_answers(module, local_modules=frozenset()):
    """True for a course_utils module other than the tools answers may use, and for the
    solution's own modules (``local_modules``: its python_path's, like the self-test's checks)."""
    parts = module.split(".")
    if parts[0] in local_modules:
        return True
    return parts[0] == "course_utils" and len(parts) > 1 and parts[1] not in COURSE_TOOLS


def _root_name(node):
    """``a`` for ``a.b.c``, or None."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _import_flags(node, local_modules=frozenset()):
    """Flags of one import statement."""
    if isinstance(node, ast.ImportFrom):
        names = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
    else:
        names = [alias.name for alias in node.names]
    flags = {
        f"imports {name} (course code that computes answers)"
        for name in names
        if _computes_answers(name, local_modules)
        and not any(n.startswith(name + ".") for n in names)
    }
    for name in names:
        for module in SUSPICIOUS_MODULES:
            if name == module or name.startswith(module + "."):
                flags.add(f"imports {module}")
    if isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if alias.name in SUSPICIOUS_CALLS or alias.name in SUSPICIOUS_ATTRIBUTES:
                flags.add(f"imports {alias.name}")
    return flags


def _attribute_flags(node):
    """Flags of one attribute access."""
    name = node.attr
    if name in SUSPICIOUS_ATTRIBUTES:
        return {SUSPICIOUS_ATTRIBUTES[name]}
    if name.startswith("__") and name.endswith("__") and name not in ALLOWED_DUNDERS:
        return {f"accesses {name}"}
    return set()


def _is_open_outside(node):
    """``open()`` of an absolute path or one that climbs out with ``..``."""
    if not (isinstance(node.func, ast.Name) and node.func.id == "open" and node.args):
        return False
    first = node.args[0]
    if not isinstance(first, ast.Constant) or not isinstance(first.value, str):
        return True
    return first.value.startswith(("/", "~")) or ".." in first.value


def _assigned_attributes(node):
    """Attribute targets of an assignment or deletion."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    elif isinstance(node, ast.Delete):
        targets = node.targets
    else:
        return []
    found = []
    for target in targets:
        found.extend(item for item in ast.walk(target) if isinstance(item, ast.Attribute))
    return [item for item in found if isinstance(item.ctx, ast.Store | ast.Del)]


def stub(reference_source, number):
    """What the assignment has in an answer cell: the NotImplementedError placeholder."""
    return notebooks.strip_solution(reference_source, number)


def assemble(reference, answers):
    """The reference with the student's answers; check and hidden outputs compared by nbval."""
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
        if role in COMPARED_ROLES:
            cell.source = f"{CHECK_MARKER}\n{cell.source}"
            # stderr (warnings) is not compared: the plugin drops it on both sides.
            cell.outputs = [o for o in cell.outputs if o.get("name") != "stderr"]
            cell.execution_count = 1
        else:
            cell.outputs, cell.execution_count = [], None
    return assembled


def guard_cells(assembled):
    """What the kernel's guard expects: each code cell's file name, role and transformed hash."""
    from ipykernel import compiler
    from IPython.core import inputtransformer2

    from course_tools.grading import guard

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
