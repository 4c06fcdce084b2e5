"""Hostile submissions of the self-test assignment: each is one trick on the grader.

The attack tests grade them all in one run; each builder returns answers by exercise (or an
edit of the notebook). Tricks that need a path of the test's own (the build folder, another
folder of submissions) take it as an argument.
"""

import textwrap

from grading_fixtures import helpers

STUB = 'def output_size(size, kernel, stride=1, padding="valid"):\n    return 0\n'
STUB_2 = "def normalize(image):\n    return image\n"


def _lines(*lines):
    """Source from lines."""
    return "\n".join(lines) + "\n"


def print_pass_line():
    """Answers that print the expected pass line (and would fail the check)."""
    return {
        1: _lines(
            'def output_size(size, kernel, stride=1, padding="valid"):',
            f"    print({helpers.PASS_1!r})",
            "    return 0",
            f"print({helpers.PASS_1!r})",
        ),
        2: _lines(
            "def normalize(image):",
            f"    print({helpers.PASS_2!r})",
            "    raise SystemExit",
        ),
    }


def monkeypatch_check():
    """Replace the check function, or the module the check cell names."""
    return {
        1: STUB
        + _lines(
            f"selftest.check_output_size = lambda f: print({helpers.PASS_1!r}) or True",
            "selftest.check_output_size_hidden = lambda f: print(",
            f"    {helpers.PASS_1_HIDDEN!r}) or True",
        ),
        2: STUB_2
        + _lines(
            "import types",
            "selftest = types.SimpleNamespace(",
            f"    check_normalize=lambda f: print({helpers.PASS_2!r}) or True,",
            f"    check_normalize_hidden=lambda f: print({helpers.PASS_2_HIDDEN!r}) or True,",
            ")",
        ),
    }


def patch_during_check():
    """Patch the check helpers from inside the answer, while the check runs."""
    return {
        1: _lines(
            'def output_size(size, kernel, stride=1, padding="valid"):',
            "    from course_utils import checks",
            "    checks.diagnose = lambda *args, **kwargs: None",
            "    return 0",
        ),
        2: _lines(
            "from unittest import mock",
            "import course_utils.checks",
            "def normalize(image):",
            "    for name in ('close', 'diagnose'):",
            "        mock.patch.object(course_utils.checks, name, lambda *a, **k: True).start()",
            "    return image",
        ),
    }


def edit_checks(notebook):
    """Rewrite every check and hidden cell to print its pass line; drop one entirely."""
    lines = {
        "ex1-check": helpers.PASS_1,
        "ex1-hidden": helpers.PASS_1_HIDDEN,
        "ex2-check": helpers.PASS_2,
        "ex2-hidden": helpers.PASS_2_HIDDEN,
    }
    for cell in notebook.cells:
        if cell.get("id") in lines:
            cell.source = f"print({lines[cell.id]!r})"
            cell.outputs = [{"output_type": "stream", "name": "stdout", "text": lines[cell.id]}]
    notebook.cells = [cell for cell in notebook.cells if cell.get("id") != "ex2-hidden"]


def nbval_markers(notebook):
    """NBVAL markers and skip tags everywhere the student can write."""
    for cell in notebook.cells:
        role = cell.get("metadata", {}).get("course", {}).get("role")
        if role in ("check", "hidden"):
            cell.metadata["tags"] = ["nbval-skip", "raises-exception", "nbval-ignore-output"]
            cell.source = f"# NBVAL_SKIP\n# NBVAL_IGNORE_OUTPUT\n{cell.source}"
        if role == "answer":
            cell.metadata["tags"] = ["nbval-skip", "raises-exception"]
            markers = "# NBVAL_RAISES_EXCEPTION\n# NBVAL_IGNORE_OUTPUT\n# NBVAL_SKIP\n"
            cell.source = markers + cell.source


def showtraceback():
    """Hide errors: override showtraceback, print the pass line, then fail."""
    return {
        1: _lines(
            "get_ipython().showtraceback = lambda *args, **kwargs: None",
            "get_ipython().showsyntaxerror = lambda *args, **kwargs: None",
            'def output_size(size, kernel, stride=1, padding="valid"):',
            f"    print({helpers.PASS_1!r})",
            "    raise ValueError('hidden')",
        ),
        2: _lines(
            "def normalize(image):",
            "    get_ipython().showtraceback = lambda *args, **kwargs: None",
            f"    print({helpers.PASS_2!r})",
            "    raise ValueError('hidden')",
        ),
    }


def input_transformer():
    """An input transformer that rewrites every later check cell into its pass line."""
    rewrite = textwrap.dedent(
        f"""
        LINES = {{
            "check_output_size_hidden": {helpers.PASS_1_HIDDEN!r},
            "check_output_size": {helpers.PASS_1!r},
            "check_normalize_hidden": {helpers.PASS_2_HIDDEN!r},
            "check_normalize": {helpers.PASS_2!r},
        }}
        def rewrite(lines):
            text = "".join(lines)
            for name, line in LINES.items():
                if name + "(" in text:
                    return [f"print({{line!r}})\\n", "True\\n"]
            return lines
        get_ipython().input_transformers_post.append(rewrite)
        """
    )
    return {1: STUB + rewrite}


def ast_transformer():
    """An AST transformer that replaces every later check with its pass line."""
    source = textwrap.dedent(
        f"""
        import ast
        class Forge(ast.NodeTransformer):
            def visit_Module(self, node):
                text = ast.unparse(node)
                line = {helpers.PASS_2!r} if "check_normalize(" in text else None
                line = {helpers.PASS_2_HIDDEN!r} if "_hidden(" in text else line
                if line is None:
                    return node
                return ast.fix_missing_locations(ast.parse(f"print({{line!r}})\\nTrue"))
        get_ipython().ast_transformers.append(Forge())
        """
    )
    return {2: STUB_2 + source}


def always_equal():
    """Return objects equal to everything."""
    anything = _lines(
        "class Anything(float):",
        "    def __eq__(self, other): return True",
        "    def __ne__(self, other): return False",
        "    def __array__(self, dtype=None, copy=None): return np.zeros((2, 2))",
        "    __hash__ = float.__hash__",
    )
    return {
        1: anything + 'def output_size(size, kernel, stride=1, padding="valid"):\n'
        "    return Anything()\n",
        2: anything + "def normalize(image):\n    return Anything()\n",
    }


def kill_and_forge():
    """Kill the grader's processes and write forged results wherever they might be read."""
    forged = {
        "cells": {
            f"ex{n}-{role}": {"outcome": "passed", "status": "ok", "error": None, "reason": None}
            for n in (1, 2)
            for role in ("check", "hidden")
        }
    }
    return {
        1: STUB
        + _lines(
            "import json, os, signal",
            f"FORGED = json.dumps({forged!r})",
            "for folder in (os.getcwd(), os.path.expanduser('~'), '/tmp', '/run/course-grade',",
            "               '/run', '..', '../..'):",
            "    for name in ('results.json', 'gradebook.csv', 'results.partial'):",
            "        try:",
            "            open(os.path.join(folder, name), 'w').write(FORGED)",
            "        except Exception as error:",
            "            print(type(error).__name__)",
            "for pid in (os.getppid(), 1):",
            "    try:",
            "        os.kill(pid, signal.SIGKILL)",
            "    except Exception as error:",
            "        print(type(error).__name__)",
        ),
    }


def read_solutions(build_root):
    """Look for the solutions and the reference on disk; answer correctly only if found."""
    finder = _lines(
        "import glob, json, os, pathlib",
        "import course_utils",
        "ROOT = pathlib.Path(course_utils.__file__).resolve().parents[1]",
        "TESTS = ROOT / 'tests' / 'course_tools' / 'grading'",
        "PATTERNS = [str(ROOT / 'solutions' / '*.ipynb'),",
        "            str(TESTS / 'grading_fixtures' / 'solutions' / '*.ipynb'),",
        "            str(ROOT / '_build' / 'grading' / '*' / '*.ipynb'),",
        f"            {str(build_root)!r} + '/*/*.ipynb']",
        "FOUND = []",
        "for pattern in PATTERNS:",
        "    for path in glob.glob(pattern):",
        "        try:",
        "            FOUND.append(json.loads(pathlib.Path(path).read_text())['cells'])",
        "        except Exception:",
        "            pass",
    )
    return {
        1: finder
        + 'def output_size(size, kernel, stride=1, padding="valid"):\n'
        + "    if not FOUND:\n        return 0\n"
        + helpers.BODY_1,
        2: "def normalize(image):\n    if not FOUND:\n        return image\n" + helpers.BODY_2,
    }


def detect_grading():
    """Answer correctly only when no environment variable gives grading away."""
    detector = _lines(
        "import os",
        "WORDS = ('grad', 'nbval', 'pytest', 'sandbox', 'unshare', 'reference', 'solution')",
        "# PATH leads to the environment, wherever it is installed (a clone named 'grader'...).",
        "GRADED = [k for k, v in os.environ.items() if k != 'PATH'",
        "          if any(w in (k + '=' + v).lower() for w in WORDS)",
        "          or (k.startswith('COURSE_') and k != 'COURSE_FAST')",
        "          or k.startswith(('JUPYTER_', 'IPYTHON', 'PYTEST'))]",
    )
    return {
        1: detector
        + 'def output_size(size, kernel, stride=1, padding="valid"):\n'
        + "    if GRADED:\n        return 0\n"
        + helpers.BODY_1,
        2: "def normalize(image):\n    if GRADED:\n        return image\n" + helpers.BODY_2,
    }


def probe_sandbox():
    """Answer correctly only if the kernel is unprivileged, offline, limited, in a private /tmp."""
    probe = _lines(
        "import os, resource, socket, sys",
        "# Where the course is installed (a clone under /tmp, say) is bound in, read-only.",
        "INSTALLED = [sys.prefix, *sys.path]",
        "FACTS = {",
        "    'unprivileged': os.getuid() != 0 and os.geteuid() != 0,",
        "    'loopback only': [name for _, name in socket.if_nameindex()] == ['lo'],",
        "    'memory limit': resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY,",
        "    'private tmp': all(entry.name in ('home', 'notebook')",
        "                       or entry.name.startswith('ipykernel_')",
        "                       or any(path.startswith(entry.path + '/') for path in INSTALLED)",
        "                       or not os.access(entry.path, os.R_OK)",
        "                       for entry in os.scandir('/tmp')),",
        "    'no pytest in sight': all(b'pytest' not in open(f'/proc/{pid}/cmdline', 'rb').read()",
        "                              for pid in os.listdir('/proc') if pid.isdigit()",
        "                              and os.stat(f'/proc/{pid}').st_uid == os.getuid()),",
        "}",
        "print(FACTS)",
        "SANDBOXED = all(FACTS.values())",
    )
    return {
        1: probe
        + 'def output_size(size, kernel, stride=1, padding="valid"):\n'
        + "    if not SANDBOXED:\n        return 0\n"
        + helpers.BODY_1,
    }


# ----- the red team's tricks (issue 19) -----


def run_cell_replaced():
    """Replace the shell's run_cell so later check cells never compile, only print a pass."""
    return {
        1: STUB
        + _lines(
            "import sys",
            "shell = sys.displayhook.shell",
            "original = type(shell).run_cell",
            "def run_cell(raw_cell, *args, **kwargs):",
            "    if 'selftest.check' in raw_cell:",
            f"        print({helpers.PASS_1!r})",
            "        raw_cell = 'None'",
            "    return original(shell, raw_cell, *args, **kwargs)",
            "getattr(shell, '__dict__')['run_cell'] = run_cell",
        ),
    }


def dict_writes_during_check():
    """From inside the answer, while the check runs: its module's and builtins' dicts."""
    return {
        1: _lines(
            "import builtins",
            "import numpy",
            "import course_utils.checks",
            'def output_size(size, kernel, stride=1, padding="valid"):',
            "    vars(course_utils.checks)['diagnose'] = lambda *args, **kwargs: None",
            "    vars(course_utils.checks)['as_int'] = lambda *args, **kwargs: 0",
            "    vars(builtins)['enumerate'] = lambda items, start=0: iter(())",
            "    vars(numpy)['array_equal'] = lambda *args, **kwargs: True",
            "    return 0",
        ),
    }


def trusted_file_name():
    """Compile code under a standard library file name, run it with frames removed."""
    source = (
        "import course_utils.checks as c\n"
        "c.diagnose = lambda *args, **kwargs: None\n"
        "c.as_int = lambda *args, **kwargs: 0\n"
        "c.Check.judge = lambda self, outputs: c.passed(self.exercise, 'forged')\n"
    )
    return {
        1: STUB
        + _lines(
            "import json, os, _frozen_importlib",
            f"SOURCE = {source!r}",
            "name = os.path.join(os.path.dirname(json.__file__), 'x.py')",
            "code = json.__loader__.source_to_code(SOURCE, name)",
            "_frozen_importlib._call_with_frames_removed(exec, code, {})",
        ),
    }


def read_frames():
    """Walk the check's frames for an expected answer, or the check module in a cell's globals."""
    return {
        1: _lines(
            "import dataclasses",
            'def output_size(size, kernel, stride=1, padding="valid"):',
            "    frame = dataclasses.inspect.currentframe()",
            "    while frame is not None:",
            "        for name in ('expected', 'answer'):",
            "            if name in frame.f_locals:",
            "                return frame.f_locals[name]",
            "        module = frame.f_globals.get('selftest')",
            "        if module is not None:",
            "            return module._output_size(size, kernel, stride, padding)",
            "        frame = frame.f_back",
            "    return 0",
        ),
    }


def timeit_exec():
    """Run base64-hidden code through timeit's globals: the course's own answer."""
    import base64

    hidden = (
        'def output_size(size, kernel, stride=1, padding="valid"):\n'
        "    return selftest._output_size(size, kernel, stride, padding)\n"
    )
    code = base64.b64encode(hidden.encode()).decode()
    return {
        1: _lines(
            "import base64, timeit",
            f"timeit.timeit(base64.b64decode({code!r}).decode(), number=1, globals=globals())",
        ),
    }


def rewritten_cases():
    """Rewrite the module-level case list so that the stub's answer looks right."""
    return {
        1: _lines(
            "selftest.OUTPUT_SIZE_CASES[:] = [(3, 3, 1, 'valid')] * 4",
            "selftest.OUTPUT_SIZE_HIDDEN[:] = [(3, 3, 1, 'valid')] * 7",
            'def output_size(size, kernel, stride=1, padding="valid"):',
            "    return 1",
        ),
    }


def check_module_import():
    """The course's answer through what the check module imports (its ``checks`` package)."""
    return {
        2: _lines(
            "tools = selftest.checks",
            "def normalize(image):",
            "    return selftest._expected_normalized(image)",
        ),
    }


def sibling_folder(sibling):
    """Read another folder of submissions beside the graded one (a late section's)."""
    return {
        1: _lines(
            "import json, os",
            f"SIBLING = {str(sibling)!r}",
            "FOUND = None",
            "try:",
            "    for name in os.listdir(SIBLING):",
            "        FOUND = json.load(open(os.path.join(SIBLING, name)))",
            "except Exception:",
            "    pass",
            'def output_size(size, kernel, stride=1, padding="valid"):',
            "    if FOUND is None:",
            "        return 0",
        )
        + helpers.BODY_1,
    }


# ----- the sandbox's reach, seen by a process the guard does not watch -----

FACTS_SCRIPT = """
import json, os, sqlite3, sys
token, solution, sibling, course = sys.argv[1:5]
facts = {"uid": os.getuid(), "root": sorted(os.listdir("/"))}
def attempt(name, action):
    try:
        action()
        facts[name] = True
    except Exception:
        facts[name] = False
attempt("read the solution", lambda: open(solution).read())
attempt("list the sibling folder", lambda: os.listdir(sibling))
visible = []
for parent, folders, files in os.walk(course):
    if parent == course:
        folders[:] = [f for f in folders if f not in ("course_utils", "course_tools", ".venv")]
    visible += [os.path.relpath(os.path.join(parent, name), course) for name in files]
facts["course files"] = sorted(visible)[:20]
for folder in ("/var/tmp", "/dev/shm", "/tmp", "/run/lock", "/run", "/", "/usr", "/etc"):
    name = os.path.join(folder, f"course-pwn-{token}")
    attempt(f"mkfifo {folder}", lambda: os.mkfifo(name + "-fifo"))
    attempt(f"sqlite3 {folder}", lambda: sqlite3.connect(name + ".db").execute("create table t(x)"))
    def dir_fd():
        folder_fd = os.open(folder, os.O_RDONLY)
        os.close(os.open(f"course-pwn-{token}-fd", os.O_CREAT | os.O_WRONLY, dir_fd=folder_fd))
    attempt(f"dir_fd {folder}", dir_fd)
print(json.dumps(facts))
"""


def reach_probe(token, solution, sibling, course):
    """An answer returning, as text, what a fork_exec'd Python (no audit hook) could do."""
    return _lines(
        "import os, sys, _posixsubprocess",
        f"SCRIPT = {FACTS_SCRIPT!r}",
        f"ARGS = [{token!r}, {str(solution)!r}, {str(sibling)!r}, {str(course)!r}]",
        "FACTS = []",
        'def output_size(size, kernel, stride=1, padding="valid"):',
        "    if FACTS:",
        "        return FACTS[0]",
        "    out_read, out_write = os.pipe()",
        "    error_read, error_write = os.pipe()",
        "    argv = [sys.executable.encode(), b'-c', SCRIPT.encode(), *map(str.encode, ARGS)]",
        "    pid = _posixsubprocess.fork_exec(",
        "        argv, [sys.executable.encode()], True, tuple(sorted((out_write, error_write))),",
        "        None, None, -1, -1, out_read, out_write, -1, -1, error_read, error_write,",
        "        True, False, -1, None, None, None, -1, None, False)",
        "    os.close(out_write)",
        "    os.close(error_write)",
        "    chunks = []",
        "    while chunk := os.read(out_read, 65536):",
        "        chunks.append(chunk)",
        "    os.waitpid(pid, 0)",
        "    FACTS.append(b''.join(chunks).decode())",
        "    return FACTS[0]",
    )
