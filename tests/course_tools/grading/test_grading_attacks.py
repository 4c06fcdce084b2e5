"""Each attack on a naive grader, tried by a crafted submission: none scores what it did not earn.

All submissions are graded in one ``course grade`` run of the self-test assignment (two
exercises, 3 points each), then each test reads its student's row.
"""

import json
import textwrap

import pytest
from grading_fixtures import helpers

from course_tools.grading import sandbox

STUB = 'def output_size(size, kernel, stride=1, padding="valid"):\n    return 0\n'
STUB_2 = "def normalize(image):\n    return image\n"


def _lines(*lines):
    """Source from lines."""
    return "\n".join(lines) + "\n"


def _print_pass_line():
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


def _monkeypatch_check():
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


def _patch_during_check():
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


def _edit_checks(notebook):
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


def _nbval_markers(notebook):
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


def _showtraceback():
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


def _input_transformer():
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


def _ast_transformer():
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


def _always_equal():
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


def _kill_and_forge():
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


def _read_solutions(build_root):
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


def _detect_grading():
    """Answer correctly only when no environment variable gives grading away."""
    detector = _lines(
        "import os",
        "WORDS = ('grad', 'nbval', 'pytest', 'sandbox', 'unshare', 'reference', 'solution')",
        "GRADED = [k for k, v in os.environ.items()",
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


def _probe_sandbox():
    """Answer correctly only if the kernel is unprivileged, offline, limited, in a private /tmp."""
    probe = _lines(
        "import os, resource, socket",
        "FACTS = {",
        "    'unprivileged': os.getuid() != 0 and os.geteuid() != 0,",
        "    'loopback only': [name for _, name in socket.if_nameindex()] == ['lo'],",
        "    'memory limit': resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY,",
        "    'private tmp': all(entry.name in ('home', 'notebook')",
        "                       or entry.name.startswith('ipykernel_')",
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


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every attack (and one honest student) graded in one run."""
    folder = tmp_path_factory.mktemp("attacks")
    build_root = folder / "build"
    submissions, out = folder / "submissions", folder / "out"
    submissions.mkdir()
    helpers.build(build_root)
    write = helpers.write_submission
    write(submissions, "honest", {1: helpers.CORRECT_1, 2: helpers.CORRECT_2})
    write(submissions, "print_pass_line", _print_pass_line())
    write(submissions, "monkeypatch_check", _monkeypatch_check())
    write(submissions, "patch_during_check", _patch_during_check())
    write(submissions, "edit_checks", edit=_edit_checks)
    write(submissions, "nbval_markers", edit=_nbval_markers)
    write(submissions, "showtraceback", _showtraceback())
    write(submissions, "input_transformer", _input_transformer())
    write(submissions, "ast_transformer", _ast_transformer())
    write(submissions, "always_equal", _always_equal())
    write(submissions, "kill_and_forge", _kill_and_forge())
    write(submissions, "read_solutions", _read_solutions(build_root))
    write(submissions, "detect_grading", _detect_grading())
    write(submissions, "probe_sandbox", _probe_sandbox())
    answer_key = "    return selftest._output_size(size, kernel, stride, padding)\n"
    write(submissions, "answer_key", {1: STUB.replace("    return 0\n", answer_key)})
    rows = helpers.grade(submissions, out, build_root)
    return rows, out


ATTACKS = [
    "print_pass_line",
    "monkeypatch_check",
    "patch_during_check",
    "edit_checks",
    "nbval_markers",
    "showtraceback",
    "input_transformer",
    "ast_transformer",
    "always_equal",
    "kill_and_forge",
    "read_solutions",
]


@pytest.mark.slow
@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_scores_nothing(graded, attack):
    """No attack earns a point."""
    rows, _ = graded
    assert rows[attack].points == helpers.ZERO, rows[attack]


@pytest.mark.slow
def test_honest_student_graded_alongside(graded):
    """The attacks in the same run do not cost an honest student anything."""
    rows, _ = graded
    assert rows["honest"].points == helpers.FULL_MARKS
    assert rows["honest"].flags == [] and rows["honest"].errors == []


@pytest.mark.slow
def test_grading_cannot_be_detected_from_the_environment(graded):
    """An answer that behaves only when it does not see grading still earns its points."""
    rows, _ = graded
    assert rows["detect_grading"].points == helpers.FULL_MARKS
    assert any("os.environ" in flag for flag in rows["detect_grading"].flags)


@pytest.mark.slow
@pytest.mark.skipif(sandbox.isolation() != "namespaces", reason="needs root and unshare")
def test_sandbox_isolates_the_kernel(graded):
    """As root: another user, loopback only, a memory limit, a private /tmp."""
    rows, _ = graded
    assert rows["probe_sandbox"].points == {1: 3, 2: 0}, rows["probe_sandbox"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("attack", "flag"),
    [
        ("monkeypatch_check", "monkeypatching"),
        ("patch_during_check", "monkeypatching"),
        ("showtraceback", "showtraceback"),
        ("input_transformer", "input transformers"),
        ("ast_transformer", "AST transformers"),
        ("always_equal", "defines __eq__"),
        ("kill_and_forge", "os.kill"),
        ("print_pass_line", "passed"),
        ("nbval_markers", "NBVAL marker"),
        ("read_solutions", "access to"),
        ("answer_key", "course code that computes answers"),
    ],
)
def test_attacks_are_flagged_for_a_human(graded, attack, flag):
    """Suspicious code is flagged, so a human reads it."""
    rows, _ = graded
    assert any(flag in item for item in rows[attack].flags), rows[attack].flags


@pytest.mark.slow
def test_calling_the_course_answer_key_is_left_to_a_human(graded):
    """Calling the checks' own implementation gives right answers: flagged, not zeroed."""
    rows, _ = graded
    assert rows["answer_key"].points == {1: 3, 2: 0}
    assert rows["answer_key"].flags == [
        "ex1: uses course code that computes answers (selftest._output_size)"
    ]


@pytest.mark.slow
def test_tampering_with_cells_is_reported(graded):
    """The guard's refusal of a rewritten check shows in the flags."""
    rows, _ = graded
    assert any("refused" in flag for flag in rows["input_transformer"].flags)


@pytest.mark.slow
def test_forged_results_are_not_read(graded):
    """The gradebook on disk is the grader's, not the forged one."""
    _, out = graded
    rows = {row["student"]: row for row in helpers.gradebook_rows(out)}
    assert rows["kill_and_forge"]["total"] == "0"
    assert "FORGED" not in (out / "gradebook.csv").read_text()
    assert not json.dumps(rows).count('"outcome": "passed"')


@pytest.mark.slow
def test_without_namespaces_the_guard_still_protects(tmp_path, monkeypatch):
    """Not root, or no unshare: same user, same /tmp; the guard alone hides and refuses."""
    monkeypatch.setattr(sandbox, "isolation", lambda: "none")
    monkeypatch.setattr(sandbox, "unprivileged_ids", lambda: (None, None))
    build_root, submissions = tmp_path / "build", tmp_path / "submissions"
    submissions.mkdir()
    helpers.write_submission(submissions, "honest", {1: helpers.CORRECT_1, 2: helpers.CORRECT_2})
    helpers.write_submission(submissions, "read_solutions", _read_solutions(build_root))
    helpers.write_submission(submissions, "kill_and_forge", _kill_and_forge())
    rows = helpers.grade(submissions, tmp_path / "out", build_root)
    assert rows["honest"].points == helpers.FULL_MARKS
    assert rows["read_solutions"].points == helpers.ZERO
    assert rows["kill_and_forge"].points == helpers.ZERO
