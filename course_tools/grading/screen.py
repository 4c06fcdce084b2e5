"""The screen: what in an answer's source a human should read, and which shortcuts score 0.

The verdict is computed outside the student's process, so no trick in the kernel can make a
wrong answer pass. What the screen still catches is a right answer that is not the student's
work, and code the grader cannot read: answers that call the course's own answers (the checks,
their imports, topic modules), reach them through attributes, frames or ``getattr``, or run code
hidden in text (``exec``, ``timeit`` with a string). Those *shortcuts* score 0 for their
exercise and are flagged; everything else the screen finds is only flagged, for a human.

IPython's input transformers are imported with this module, before any grading thread starts
(a lazy import from several threads at once once gave an honest answer 0).
"""

import ast
import dataclasses
import pkgutil
import re

from IPython.core import inputtransformer2

import course_utils

# Course modules an answer may use; the others compute or check answers.
COURSE_TOOLS = ("config", "plots", "progress", "results", "data", "widgets")
SHORTCUT = "scored 0"

# Calls that run code the screen cannot read, or reach every object of the process.
HIDDEN_CODE_CALLS = {
    "exec": "exec",
    "eval": "eval",
    "compile": "compile",
    "__import__": "__import__",
    "globals": "globals()",
    "locals": "locals()",
    "vars": "vars()",
    "get_ipython": "get_ipython",
    "breakpoint": "breakpoint()",
}
OTHER_CALLS = {"setattr": "setattr()", "delattr": "delattr()", "input": "input()"}
# Modules that run code from text, reach other code, or start processes: a shortcut.
HIDDEN_CODE_MODULES = (
    "builtins",
    "importlib",
    "inspect",
    "gc",
    "ctypes",
    "timeit",
    "runpy",
    "code",
    "codeop",
    "pickle",
    "marshal",
    "dill",
    "cloudpickle",
    "subprocess",
    "_posixsubprocess",
    "posix",
    "pty",
    "multiprocessing",
    "concurrent",
    "_thread",
    "threading",
    "course_tools",
)
# Modules grading-aware code needs: flagged for a human.
OTHER_MODULES = (
    "IPython",
    "ipykernel",
    "jupyter_client",
    "zmq",
    "nbval",
    "pytest",
    "signal",
    "asyncio",
    "socket",
    "urllib",
    "http",
    "requests",
    "unittest",
    "atexit",
    "weakref",
    "shutil",
    "sysconfig",
)
# Attributes that reach frames, modules or processes: a shortcut.
HIDDEN_CODE_ATTRIBUTES = {
    "modules": "sys.modules",
    "_getframe": "frames",
    "currentframe": "frames",
    "f_back": "frames",
    "f_globals": "frames",
    "f_locals": "frames",
    "f_builtins": "frames",
    "f_code": "frames",
    "tb_frame": "frames",
    "gi_frame": "frames",
    "cr_frame": "frames",
    "cell_contents": "closure cells",
    "system": "starts processes",
    "popen": "starts processes",
    "fork": "starts processes",
    "forkpty": "starts processes",
    "posix_spawn": "starts processes",
    "posix_spawnp": "starts processes",
    "execv": "starts processes",
    "execve": "starts processes",
    "spawnv": "starts processes",
    "fork_exec": "starts processes",
    "source_to_code": "compiles code",
    "_call_with_frames_removed": "compiles code",
    "get_ipython": "get_ipython",
    "user_ns": "user_ns",
    "run_cell": "run_cell",
}
OTHER_ATTRIBUTES = {
    "environ": "os.environ",
    "getenv": "os.getenv",
    "putenv": "os.putenv",
    "kill": "os.kill",
    "killpg": "os.killpg",
    "_exit": "os._exit",
    "exit": "exit",
    "getppid": "os.getppid",
    "argv": "sys.argv",
    "orig_argv": "sys.argv",
    "settrace": "sys.settrace",
    "setprofile": "sys.setprofile",
    "addaudithook": "sys.addaudithook",
    "input_transformers_post": "input transformers",
    "input_transformers_cleanup": "input transformers",
    "input_transformer_manager": "input transformers",
    "ast_transformers": "AST transformers",
    "showtraceback": "showtraceback",
    "showsyntaxerror": "showtraceback",
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
# When the source does not parse: what the raw text gives away (all shortcuts: unreadable code).
RAW_PATTERNS = ("get_ipython", "sys.modules", "__builtins__", "ctypes", "exec", "eval", "course_")


@dataclasses.dataclass(frozen=True)
class Finding:
    """What the screen saw: a label, and whether it is a shortcut (the exercise scores 0)."""

    label: str
    shortcut: bool = False

    def text(self):
        """The flag as the gradebook shows it."""
        return f"{self.label} ({SHORTCUT})" if self.shortcut else self.label


def answer_modules(local_modules=()):
    """Names of the course modules that compute or check answers (and the solution's own)."""
    names = {
        info.name
        for info in pkgutil.iter_modules(course_utils.__path__)
        if info.name not in COURSE_TOOLS
    }
    return names | {"course_utils", "course_tools", "checks", "lectures", *local_modules}


def screen(source, modules=None, allowed=(), local_modules=()):
    """The findings of one answer, sorted: flags for a human, shortcuts that score 0.

    ``modules``: what the notebook binds to modules (``{"checks": "course_utils.checks"}``);
    ``allowed``: the course code the instructor's own answer uses (``detection.iou``), fair for
    students too; ``local_modules``: the solution's own modules (the self-test's checks).
    """
    findings = set()
    if PASS_LINE.search(source):
        findings.add(Finding('contains an "Exercise N passed" line'))
    if NBVAL_MARKER.search(source):
        findings.add(Finding("NBVAL marker"))
    if re.search(r"^\s*[%!]", source, re.MULTILINE):
        findings.add(Finding("IPython magic or shell command"))
    try:
        tree = ast.parse(python_source(source))
    except (SyntaxError, ValueError):
        hidden = [token for token in RAW_PATTERNS if token in source]
        if hidden:
            findings.add(Finding(f"unparsable code using {', '.join(hidden)}", shortcut=True))
        return sorted(findings, key=Finding.text)
    modules = modules if isinstance(modules, dict) else dict.fromkeys(modules or (), "")
    own = _bound_names(tree)
    modules = {name: module for name, module in modules.items() if name not in own}
    walker = _Walker(modules, set(allowed), set(local_modules))
    walker.visit(tree)
    findings |= walker.findings
    return sorted(findings, key=Finding.text)


def flags(source, modules=None, allowed=(), local_modules=()):
    """The screen's findings as gradebook flags (shortcuts marked "scored 0")."""
    return [finding.text() for finding in screen(source, modules, allowed, local_modules)]


def course_code(source, modules, local_modules=()):
    """The course code that computes answers an answer uses (``detection.iou``)."""
    try:
        tree = ast.parse(python_source(source))
    except (SyntaxError, ValueError):
        return []
    keys = _answer_names(modules, set(local_modules))
    return sorted(
        {
            ast.unparse(node)
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in keys
        }
    )


def python_source(source):
    """The cell as IPython runs it (magics become calls), for parsing."""
    return inputtransformer2.TransformerManager().transform_cell(source)


def _answer_names(modules, local_modules):
    """The names the notebook binds to course code that computes answers."""
    return {name for name, module in modules.items() if _computes_answers(module, local_modules)}


def _computes_answers(module, local_modules=frozenset()):
    """True for a course_utils module other than the tools answers may use, course_tools, and
    the solution's own modules (``local_modules``: its python_path's, like the self-test's)."""
    parts = module.split(".")
    if parts[0] in local_modules or parts[0] == "course_tools":
        return True
    return parts[0] == "course_utils" and (len(parts) == 1 or parts[1] not in COURSE_TOOLS)


class _Walker(ast.NodeVisitor):
    """One pass over an answer's syntax tree, collecting findings."""

    def __init__(self, modules, allowed, local_modules):
        self.findings = set()
        self.allowed, self.local_modules = allowed, local_modules
        self.answer_keys = _answer_names(modules, local_modules)
        self.module_names = {"np", "numpy", "keras", "tf", "sys", "os", "plt", *modules}
        self.reachable = answer_modules(local_modules)

    def add(self, label, shortcut=False):
        """Record one finding."""
        self.findings.add(Finding(label, shortcut))

    def visit_Import(self, node):
        """Imports of course code that computes answers, hidden-code and suspicious modules."""
        names = [alias.name for alias in node.names]
        self.module_names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        self._imported(names)
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        """``from x import y``: the module and each imported name."""
        module = node.module or ""
        names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        self.module_names.update(alias.asname or alias.name for alias in node.names)
        self._imported(names)
        for alias in node.names:
            if alias.name in HIDDEN_CODE_CALLS or alias.name in HIDDEN_CODE_ATTRIBUTES:
                self.add(f"imports {alias.name}", shortcut=True)
            elif alias.name in OTHER_CALLS or alias.name in OTHER_ATTRIBUTES:
                self.add(f"imports {alias.name}")
        self.generic_visit(node)

    def _imported(self, names):
        """Findings of the modules one import statement names."""
        for name in names:
            deeper = any(other.startswith(name + ".") for other in names)
            if _computes_answers(name, self.local_modules) and not deeper:
                self.add(f"imports {name} (course code that computes answers)", shortcut=True)
            for module in HIDDEN_CODE_MODULES:
                if name == module or name.startswith(module + "."):
                    self.add(f"imports {module}", shortcut=True)
            for module in OTHER_MODULES:
                if name == module or name.startswith(module + "."):
                    self.add(f"imports {module}")

    def visit_Name(self, node):
        """Calls that run hidden code or reach every object, by name."""
        if node.id in HIDDEN_CODE_CALLS:
            self.add(HIDDEN_CODE_CALLS[node.id], shortcut=True)
        elif node.id in OTHER_CALLS:
            self.add(OTHER_CALLS[node.id])
        elif node.id == "__builtins__":
            self.add("builtins", shortcut=True)

    def visit_Attribute(self, node):
        """Course code through a notebook name or any attribute; frames; dunders."""
        name = node.attr
        if isinstance(node.value, ast.Name) and node.value.id in self.answer_keys:
            if ast.unparse(node) not in self.allowed:
                self.add(f"uses course code that computes answers ({ast.unparse(node)})", True)
        elif name in self.reachable:
            self.add(f"reaches course code through an attribute ({ast.unparse(node)})", True)
        elif name in HIDDEN_CODE_MODULES and name != "code":
            self.add(f"reaches {name} through an attribute ({ast.unparse(node)})", True)
        if name in HIDDEN_CODE_ATTRIBUTES:
            self.add(HIDDEN_CODE_ATTRIBUTES[name], shortcut=True)
        elif name in OTHER_ATTRIBUTES:
            self.add(OTHER_ATTRIBUTES[name])
        elif name.startswith("__") and name.endswith("__") and name not in ALLOWED_DUNDERS:
            self.add(f"accesses {name}", shortcut=True)
        if isinstance(node.ctx, ast.Store | ast.Del) and _root_name(node) in self.module_names:
            self.add(f"assigns {ast.unparse(node)} (monkeypatching)")
        self.generic_visit(node)

    def visit_Call(self, node):
        """``getattr`` (a literal name is an attribute; a computed one hides where it goes) and
        ``open()`` outside the notebook's folder."""
        function = node.func
        if isinstance(function, ast.Name) and function.id in ("getattr", "hasattr"):
            self._getattr(node)
        if isinstance(function, ast.Name) and function.id == "open" and _opens_outside(node):
            self.add("open() of a path outside the notebook's folder")
        self.generic_visit(node)

    def _getattr(self, node):
        """``getattr(x, "name")`` screened as ``x.name``; a computed name is a shortcut."""
        if len(node.args) < 2:
            return
        name = node.args[1]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            self.add("getattr with a computed name", shortcut=True)
            return
        if name.value.isidentifier():
            self.visit_Attribute(ast.Attribute(value=node.args[0], attr=name.value, ctx=ast.Load()))

    def visit_FunctionDef(self, node):
        """Special methods that make objects lie about equality or truth."""
        if node.name in SPECIAL_METHODS:
            self.add(f"defines {node.name}")
        self.generic_visit(node)


def _bound_names(tree):
    """Names the answer binds itself (variables, arguments, loop targets), not by import:
    ``detection.score`` on the student's own ``detection`` is not the course's module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def _root_name(node):
    """``a`` for ``a.b.c``, or None."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _opens_outside(node):
    """``open()`` of an absolute path, one that climbs out with ``..``, or a computed one."""
    if not node.args:
        return False
    first = node.args[0]
    if not isinstance(first, ast.Constant) or not isinstance(first.value, str):
        return True
    return first.value.startswith(("/", "~")) or ".." in first.value
