"""Each attack on a grader, tried by a crafted submission: none scores what it did not earn.

All submissions are graded in one ``course grade`` run of the self-test assignment (two
exercises, 3 points each), then each test reads its student's row. The red team's tricks
against the verdict are graded a second time with the screen switched off: the verdict alone,
computed outside the kernel, gives them nothing. The sandbox's reach is probed from a process
the kernel's guard does not watch.
"""

import json
import pathlib
import secrets
import shutil

import pytest
from grading_fixtures import attacks, helpers

from course_tools.grading import assemble, pipeline, sandbox

ATTACKS = {
    "print_pass_line": attacks.print_pass_line,
    "monkeypatch_check": attacks.monkeypatch_check,
    "patch_during_check": attacks.patch_during_check,
    "showtraceback": attacks.showtraceback,
    "input_transformer": attacks.input_transformer,
    "ast_transformer": attacks.ast_transformer,
    "always_equal": attacks.always_equal,
    "kill_and_forge": attacks.kill_and_forge,
    "detect_grading": attacks.detect_grading,
    "probe_sandbox": attacks.probe_sandbox,
    "run_cell_replaced": attacks.run_cell_replaced,
    "dict_writes_during_check": attacks.dict_writes_during_check,
    "trusted_file_name": attacks.trusted_file_name,
    "read_frames": attacks.read_frames,
    "timeit_exec": attacks.timeit_exec,
    "rewritten_cases": attacks.rewritten_cases,
    "check_module_import": attacks.check_module_import,
}
EDITS = {"edit_checks": attacks.edit_checks, "nbval_markers": attacks.nbval_markers}
# The tricks that aim at the verdict itself (not at a shortcut to the answer).
AGAINST_THE_VERDICT = [
    "print_pass_line",
    "monkeypatch_check",
    "patch_during_check",
    "run_cell_replaced",
    "dict_writes_during_check",
    "trusted_file_name",
    "rewritten_cases",
    "always_equal",
]


def _write_all(folder, build_root, sibling, names=None):
    """Write every attack (or those ``names``) and one honest student into ``folder``."""
    folder.mkdir()
    write = helpers.write_submission
    write(folder, "honest", {1: helpers.CORRECT_1, 2: helpers.CORRECT_2})
    for name, builder in ATTACKS.items():
        if names is None or name in names:
            write(folder, name, builder())
    for name, edit in EDITS.items():
        if names is None or name in names:
            write(folder, name, edit=edit)
    if names is None:
        write(folder, "read_solutions", attacks.read_solutions(build_root))
        write(folder, "sibling_folder", attacks.sibling_folder(sibling))
        answer_key = "    return selftest._output_size(size, kernel, stride, padding)\n"
        write(folder, "answer_key", {1: attacks.STUB.replace("    return 0\n", answer_key)})


@pytest.fixture(scope="module")
def build_root(tmp_path_factory):
    """The self-test's reference, built once for this module."""
    folder = tmp_path_factory.mktemp("attacks-build")
    helpers.build(folder)
    return folder


@pytest.fixture(scope="module")
def sibling(tmp_path_factory):
    """A late section's folder beside the graded one, holding the solution."""
    folder = tmp_path_factory.mktemp("attacks") / "late"
    folder.mkdir()
    shutil.copy(helpers.SELFTEST, folder / "solution.ipynb")
    return folder


@pytest.fixture(scope="module")
def graded(build_root, sibling):
    """Every attack (and one honest student) graded in one run."""
    submissions, out = sibling.parent / "submissions", sibling.parent / "out"
    _write_all(submissions, build_root, sibling)
    return helpers.grade(submissions, out, build_root), out


@pytest.fixture(scope="module")
def unscreened(build_root, sibling, tmp_path_factory):
    """The tricks against the verdict, graded with the screen switched off."""
    folder = tmp_path_factory.mktemp("unscreened")
    _write_all(folder / "submissions", build_root, sibling, names=AGAINST_THE_VERDICT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "_screen", lambda entry, manifest: None)
        return helpers.grade(folder / "submissions", folder / "out", build_root)


@pytest.mark.slow
@pytest.mark.parametrize(
    "attack", [*ATTACKS, *EDITS, "read_solutions", "sibling_folder", "answer_key"]
)
def test_attack_scores_nothing(graded, attack):
    """No attack earns a point it did not earn with a right answer of its own."""
    rows, _ = graded
    earned = {"detect_grading": helpers.FULL_MARKS, "probe_sandbox": {1: 3, 2: 0}}
    if attack == "probe_sandbox" and sandbox.isolation() != "namespaces":
        pytest.skip("the sandbox's facts hold only as root with namespaces")
    assert rows[attack].points == earned.get(attack, helpers.ZERO), rows[attack]


@pytest.mark.slow
@pytest.mark.parametrize("attack", AGAINST_THE_VERDICT)
def test_the_verdict_alone_gives_tricks_nothing(unscreened, attack):
    """Without the screen, the out-of-process verdict still scores each trick 0."""
    assert unscreened[attack].points == helpers.ZERO, unscreened[attack]
    assert unscreened["honest"].points == helpers.FULL_MARKS


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
        ("read_solutions", "accesses __file__ (scored 0)"),
        ("run_cell_replaced", "run_cell (scored 0)"),
        ("dict_writes_during_check", "vars() (scored 0)"),
        ("trusted_file_name", "compiles code (scored 0)"),
        ("read_frames", "frames (scored 0)"),
        ("timeit_exec", "imports timeit (scored 0)"),
        ("rewritten_cases", "selftest.OUTPUT_SIZE_CASES) (scored 0)"),
        ("check_module_import", "selftest.checks) (scored 0)"),
        ("answer_key", "selftest._output_size) (scored 0)"),
    ],
)
def test_attacks_are_flagged_for_a_human(graded, attack, flag):
    """Suspicious code is flagged; shortcuts to the answer say they scored 0."""
    rows, _ = graded
    assert any(flag in item for item in rows[attack].flags), rows[attack].flags


@pytest.mark.slow
@pytest.mark.parametrize("attack", ["answer_key", "read_frames", "timeit_exec"])
def test_shortcuts_to_the_answer_score_zero_and_say_why(graded, attack):
    """The course's own answer, however reached, scores 0 for that exercise, with a reason."""
    rows, out = graded
    feedback = (out / "feedback" / rows[attack].feedback_file).read_text()
    assert "Scored 0: the answer uses code the grader cannot accept as yours" in feedback


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
@pytest.mark.skipif(sandbox.isolation() != "namespaces", reason="needs root and unshare")
def test_the_sandbox_reaches_only_its_own_folders(build_root, sibling, tmp_path):
    """From a process the guard does not watch (``_posixsubprocess.fork_exec``): no solution,
    no other folder of submissions, no source tree beyond the course's packages, and nothing
    written outside the sandbox's private folders by mkfifo, sqlite3 or dir_fd."""
    token = secrets.token_hex(6)
    course = pathlib.Path(assemble.__file__).resolve().parents[2]
    answer = attacks.reach_probe(token, helpers.SELFTEST, sibling, course)
    graded = pipeline.prepare(
        helpers.SELFTEST, sibling, tmp_path / "out", 1, build_root, helpers.TEST_LIMITS
    )
    notebook = assemble.assemble(graded.notebook, {1: answer})
    results = sandbox.run(json.dumps(notebook), assemble.guard_cells(notebook), graded.options)
    (record,) = results["cells"]["ex1-check"]["records"]
    facts = json.loads(record["outputs"][0])
    assert facts["uid"] != 0
    assert not facts["read the solution"] and not facts["list the sibling folder"]
    # Besides the packages: only the self-test's own check module, one file of tests/.
    selftest = str((helpers.FIXTURES / "selftest.py").relative_to(course))
    assert facts["course files"] == [selftest], facts["course files"]
    written = {
        name.split(" ", 1)[1]
        for name, done in facts.items()
        if name.startswith(("mkfifo", "sqlite3", "dir_fd")) and done
    }
    assert written <= {"/tmp", "/dev/shm"}, written
    for folder in ("/var/tmp", "/dev/shm", "/tmp", "/run/lock", "/run", "/"):
        assert not list(pathlib.Path(folder).glob(f"course-pwn-{token}*")), folder


@pytest.mark.slow
def test_without_namespaces_the_guard_still_protects(build_root, sibling, tmp_path, monkeypatch):
    """Not root, or no unshare: same user, same /tmp; the guard's allow-lists alone keep the
    kernel from the solutions, the reference and other folders of submissions."""
    monkeypatch.setattr(sandbox, "isolation", lambda: "none")
    monkeypatch.setattr(sandbox, "unprivileged_ids", lambda: (None, None))
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    write = helpers.write_submission
    write(submissions, "honest", {1: helpers.CORRECT_1, 2: helpers.CORRECT_2})
    write(submissions, "read_solutions", attacks.read_solutions(build_root))
    write(submissions, "kill_and_forge", attacks.kill_and_forge())
    write(submissions, "sibling_folder", attacks.sibling_folder(sibling))
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_screen", lambda entry, manifest: None)
        rows = helpers.grade(submissions, tmp_path / "out", build_root)
    assert rows["honest"].points == helpers.FULL_MARKS
    for name in ("read_solutions", "kill_and_forge", "sibling_folder"):
        assert rows[name].points == helpers.ZERO, rows[name]
