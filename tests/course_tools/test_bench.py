"""course bench: notebooks run alone once per seed, figures hold at the worst seed, verdicts."""

import json
import pathlib
import subprocess

import pytest

from course_tools import bench, bench_compare, bench_page, bench_stats
from course_utils import config, results

FIXTURES = pathlib.Path(__file__).parent / "bench_fixtures"
MACHINE = {"cpu": "x86_64", "cores": 2, "date": "2026-11-21"}


def _run(seed, seconds=10.0, ok=True, error=None, **figures):
    """One stored run; each figure is ``value`` or ``(value, at_least, at_most)``."""
    entries = {}
    for name, value in figures.items():
        value, at_least, at_most = value if isinstance(value, tuple) else (value, None, None)
        entries[name] = {"value": value, "at_least": at_least, "at_most": at_most}
    return {
        "seed": seed,
        "seconds": seconds,
        "peak_memory_mb": 500,
        "ok": ok,
        "error": error,
        "figures": entries,
    }


def _record(notebook, *runs):
    return {"notebook": notebook, "mode": "default", "runs": list(runs)}


def _store(out, name, records, measures=(), comparisons=(), **more):
    stored = {
        "machine": MACHINE,
        "notebooks": records,
        "measures": list(measures),
        "comparisons": list(comparisons),
        **more,
    }
    (out / f"{name}.json").write_text(json.dumps(stored))


# The seed reaches a notebook through course_utils.config, and only there.


def test_config_turns_a_seed_into_the_environment_and_back(monkeypatch):
    environment = config.environment("default", {"COURSE_SEED": "7", "PATH": "/bin"}, seed=2)
    assert environment == {"COURSE_SEED": "2", "PATH": "/bin"}
    assert "COURSE_SEED" not in config.environment("fast", {"COURSE_SEED": "7"})  # not inherited
    monkeypatch.setenv("COURSE_SEED", "4")
    assert config.run_seed() == 4
    monkeypatch.delenv("COURSE_SEED")
    assert config.run_seed() == config.DEFAULT_SEED
    monkeypatch.setenv("COURSE_SEED", "four")
    with pytest.raises(ValueError, match="COURSE_SEED='four' is not a whole number"):
        config.run_seed()


@pytest.mark.slow
def test_a_notebook_that_reaches_its_targets_is_recorded_with_its_figures():
    run = bench.run_notebook(FIXTURES / "reaches.ipynb", seed=3)
    assert run["ok"], run["error"]
    assert run["seed"] == 3 and run["peak_memory_mb"] > 0
    assert run["figures"]["tiny_score"]["value"] == pytest.approx(0.9)
    assert run["figures"]["tiny_error"]["at_most"] == pytest.approx(0.2)


def test_figures_that_moved_between_two_runs_of_one_seed_are_measured_and_said():
    first = {"a": {"value": 0.5}, "b": {"value": 1.0}}
    assert bench_stats.largest_difference(first, first) == (0.0, None)
    moved = {"a": {"value": 0.5}, "b": {"value": 1.25}}
    assert bench_stats.largest_difference(first, moved) == (0.25, "b")
    assert bench_stats.largest_difference(first, {"a": {"value": 0.5}})[0] == float("inf")
    check = {"notebook": "n.ipynb", "seed": 0, "difference": 0.25, "figure": "b", "error": None}
    check["first"] = first
    [said, _] = bench_page.determinism_lines({"determinism": check, "notebooks": []})
    assert "differ by up to 0.25 (b): on this machine runs are not bit-reproducible" in said


@pytest.mark.parametrize(
    ("course", "public", "better", "expected"),
    [
        ([0.80, 0.82, 0.81], [0.70, 0.72, 0.71], "higher", "course wins"),
        ([0.80, 0.41, 0.81], [0.70, 0.72, 0.71], "higher", "within noise"),  # issue 21's collapse
        ([0.30, 0.31], [0.50, 0.40], "higher", "public wins"),
        ([0.80], [0.70], "higher", "one seed: no verdict"),
        ([10, 12], [20, 25], "lower", "course faster"),
        ([10, 22], [20, 25], "lower", "within noise"),
    ],
)
def test_a_comparison_has_a_winner_only_when_its_worst_seed_beats_the_best(
    course, public, better, expected
):
    assert bench_stats.verdict(course, public, ("course", "public"), better) == expected


def test_a_notebook_over_its_time_budget_is_flagged_at_its_slowest_seed():
    record = _record("notebooks/06_unet.ipynb", _run(0, 180.0), _run(1, 230.0), _run(2, 190.0))
    [line] = bench_stats.problems([record], "default")
    assert line == (
        "notebooks/06_unet.ipynb: 230 s at its slowest seed, over the 200 s budget of default mode"
    )
    table = bench_page.notebook_table([record], "default")
    assert "| notebooks/06_unet.ipynb | 0, 1, 2 | 190 (180–230) | 500 | OVER 200 s |" in table
    assert bench_stats.problems([_record("x", _run(0, 230.0))], "full") == []  # no budget


def test_fast_mode_misses_are_not_failures_but_a_failed_notebook_is():
    missed = (0.1, 0.5, None)
    reached_nothing = _record("notebooks/x.ipynb", _run(0, score=missed))
    crashed = _record("notebooks/y.ipynb", _run(0, ok=False, error="ValueError: boom"))
    assert bench_stats.problems([reached_nothing, crashed], "fast") == [
        "notebooks/y.ipynb: failed at seed 0: ValueError: boom"
    ]
    assert len(bench_stats.problems([reached_nothing, crashed], "default")) == 2


def test_fast_mode_only_prints_a_miss(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    results.report("score", 0.1, at_least=0.5)
    assert capsys.readouterr().out == "score = 0.1 (target >= 0.5) missed\n"


def test_default_mode_raises_on_a_miss(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_FAST", raising=False)
    monkeypatch.setenv("COURSE_RESULTS_FILE", str(tmp_path / "figures.jsonl"))
    with pytest.raises(results.TargetMissed, match="misses its target by 0.001"):
        results.report("mse", 0.006, at_most=0.005)
    entry = json.loads((tmp_path / "figures.jsonl").read_text())
    assert entry["name"] == "mse" and entry["mode"] == "default"


def test_the_figure_table_shows_median_range_and_the_worst_seed():
    record = _record(
        "notebooks/03_x.ipynb",
        _run(0, mse=(0.004, None, 0.005), fixed=0.5),
        _run(1, mse=(0.0035, None, 0.005), fixed=0.5),
        _run(2, mse=(0.0045, None, 0.005), fixed=0.5),
    )
    table = bench_page.figure_table([record], "default")
    assert (
        "| notebooks/03_x.ipynb | mse | ≤ 0.005 | 0.004 (0.0035–0.0045) | 0.0045 (seed 2) | yes |"
        in table
    )
    assert "| notebooks/03_x.ipynb | fixed |  | 0.5 (0.5–0.5) |  |  |" in table
    assert bench_stats.seed_blind_figures(record) == ["fixed"]
    assert "Same value at every seed" in table[-1] and "notebooks/03_x.ipynb (fixed)" in table[-1]


@pytest.mark.slow
def test_comparisons_run_each_recipe_once_per_seed_in_a_fresh_process(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(FIXTURES))
    recipes = {"fcn": "bench_recipes:fcn", "unet": "bench_recipes:unet"}
    rows, failures = bench_compare.run_comparisons("fast", [0, 1], recipes)
    assert failures == []
    by_measure = {row["measure"]: row for row in rows}
    assert by_measure["FCN-8s mean IoU"]["values"] == [
        pytest.approx([0.5, 0.51]),
        pytest.approx([0.2, 0.2]),
    ]
    table = "\n".join(bench_page.comparison_table(rows))
    assert (
        "| FCN-8s mean IoU | 0.505 (0.500–0.510) | keras.io recipe: 0.200 (0.200–0.200) |" in table
    )
    assert (
        "| FCN-8s training s | 10 (10–11) | keras.io recipe: 8 (8–8) | keras.io recipe faster |"
        in (table)
    )
    assert "| FCN-8s minus FCN-32s mean IoU | +0.200 (+0.200–+0.200) |" in table
    scratch = "| U-Net as notebook 06 trains it, mean IoU | 0.600 (0.400–0.800) |"
    assert scratch + " TF tutorial decoder: 0.700 (0.700–0.700) | within noise |" in table
    assert "U-Net decoder on the same frozen backbone, mean IoU" in table
    assert table.count("course wins") == 5  # FCN 32s/16s/8s, the 8s-32s gain, the decoder


@pytest.mark.slow
def test_a_recipe_that_crashes_is_named_and_the_other_rows_still_come(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(FIXTURES))
    recipes = {"fcn": "bench_recipes:broken", "unet": "bench_recipes:unet"}
    rows, failures = bench_compare.run_comparisons("fast", [0], recipes)
    assert failures == ["bench_recipes:broken at seed 0: ValueError: boom at seed 0"]
    assert {row["measure"] for row in rows} == {
        f"{label}, {measure}"
        for _, label in bench_compare.UNET_ROWS
        for measure in ("mean IoU", "training s")
    }


def test_the_grader_is_timed_with_one_job_and_with_n():
    calls = []

    def fake_benchmark(assignment, count, jobs):
        calls.append(jobs)
        return {"submissions": count, "per_minute": 8.0 * jobs**0.9, "errors": 0}

    rows = bench_compare.grader_scaling(20, 2, benchmark=fake_benchmark)
    assert calls == [1, 2]
    assert rows[0] == (
        "grader, 1 job: submissions per minute (20 submissions of 01_conv2d_padding_stride)",
        "8.0",
    )
    assert rows[1][0].startswith("grader, 2 jobs:") and rows[1][1] == "14.9 (1.87x one job)"
    assert len(bench_compare.grader_scaling(20, 1, benchmark=fake_benchmark)) == 1


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        ("360 0\n", "6.0 (passed)"),
        ("90 2\n", "1.5 (FAILED, exit 2)"),
        ("120\n", "2.0 (outcome not recorded)"),
    ],
)
def test_make_test_time_says_whether_that_run_passed(tmp_path, content, shown):
    timing = tmp_path / "make_test_seconds"
    timing.write_text(content)
    assert bench_page.make_test_measure(timing) == ("make test, last run (minutes)", shown)


@pytest.mark.parametrize("content", ["", "garbage\n"])
def test_an_unreadable_make_test_time_is_left_out(tmp_path, content):
    timing = tmp_path / "make_test_seconds"
    timing.write_text(content)
    assert bench_page.make_test_measure(timing) is None
    assert bench_page.make_test_measure(tmp_path / "absent") is None


def test_the_published_page_has_a_section_per_mode_default_first(tmp_path):
    fast = _record("notebooks/01_fast.ipynb", _run(0, 9.0))
    _store(tmp_path, "results-fast", [fast], [("grader", "5.0")])
    default = _record("notebooks/01_default.ipynb", _run(0, 99.0), _run(1, 101.0))
    _store(tmp_path, "results", [default])
    page = tmp_path / "benchmark.md"
    assert bench_page.publish(tmp_path, page) == 2
    text = page.read_text()
    assert text.index("## Default mode") < text.index("## Fast mode")
    assert text.index("01_default.ipynb | 0, 1 | 100 (99–101)") < text.index(
        "01_fast.ipynb | 0 | 9"
    )
    assert "| grader | 5.0 |" in text and "2 cores, 2026-11-21" in text
    assert "`course bench --seeds 2`" in text and "`course bench --mode fast --seeds 1`" in text
    assert "worst seed" in text and "within noise" in text  # the rules are on the page


def test_publishing_without_results_leaves_the_page_alone(tmp_path):
    page = tmp_path / "benchmark.md"
    page.write_text("kept")
    assert bench_page.publish(tmp_path / "empty", page) == 0
    assert page.read_text() == "kept"


@pytest.mark.slow
def test_a_run_over_seeds_holds_targets_at_the_worst_seed_and_checks_one_seed_twice(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(
        bench, "lecture_and_solution_notebooks", lambda: [FIXTURES / "seeded.ipynb"]
    )
    monkeypatch.setenv("PYTHONPATH", str(FIXTURES))
    monkeypatch.setattr(
        bench_compare, "RECIPES", {"fcn": "bench_recipes:fcn", "unet": "bench_recipes:unet"}
    )
    monkeypatch.setattr(
        bench_compare,
        "grader_scaling",
        lambda count, jobs: [("grader, 1 job", "8.0"), (f"grader, {jobs} jobs", "15.0")],
    )
    problems = bench.run(
        out=tmp_path, seeds=3, determinism="bench_fixtures/seeded.ipynb", grader_jobs=2
    )
    # The median (0.8) reaches the target; the worst seed does not, so the run fails.
    assert problems == [
        "bench_fixtures/seeded.ipynb: seeded_score = 0.45 at seed 1, at least 0.5 was stated: "
        "missed by 0.05"
    ]
    stored = json.loads((tmp_path / "results.json").read_text())
    [record] = stored["notebooks"]
    scores = [run["figures"]["seeded_score"]["value"] for run in record["runs"]]
    assert scores == pytest.approx([0.9, 0.45, 0.8])  # each run saw its own seed, through config
    assert [run["ok"] for run in record["runs"]] == [True, False, True]
    assert len(stored["comparisons"]) == 11 and stored["comparison_failures"] == []
    check = stored["determinism"]
    assert (check["notebook"], check["seed"], check["difference"]) == (record["notebook"], 0, 0)
    assert stored["measures"] == [["grader, 1 job", "8.0"], ["grader, 2 jobs", "15.0"]]
    table = (tmp_path / "results.md").read_text()
    assert "| bench_fixtures/seeded.ipynb | 0, 1, 2 |" in table and "FAILED at seed 1" in table
    assert "| seeded_score | ≥ 0.5 | 0.8 (0.45–0.9) | 0.45 (seed 1) | NO, by 0.05 |" in table
    assert "run again at seed 0 in a fresh process reported the same figures, bit" in table
    assert "same hardware" in table  # what TensorFlow promises, and what it does not
    assert "seed 2: " in capsys.readouterr().out


@pytest.mark.slow
def test_a_partial_run_replaces_only_the_notebooks_it_ran(tmp_path, monkeypatch):
    fixtures = [FIXTURES / "reaches.ipynb", FIXTURES / "misses.ipynb"]
    monkeypatch.setattr(bench, "lecture_and_solution_notebooks", lambda: fixtures)
    comparison = bench_compare.comparison("m", ("a", "b"), "higher", ([1, 2], [0, 0]), [0, 1])
    _store(
        tmp_path,
        "results",
        [
            _record("bench_fixtures/misses.ipynb", _run(0, 1.0)),
            _record("bench_fixtures/reaches.ipynb", _run(0, 2.0)),
        ],
        [["grader", "5.0"]],
        [comparison],
        determinism={"notebook": "kept", "seed": 0, "difference": 0, "figure": None},
    )
    bench.run(only="reaches", comparisons=False, out=tmp_path, seeds=1)
    after = json.loads((tmp_path / "results.json").read_text())
    names = [record["notebook"] for record in after["notebooks"]]
    assert names == ["bench_fixtures/reaches.ipynb", "bench_fixtures/misses.ipynb"]  # course order
    assert after["notebooks"][0]["runs"][0]["figures"]["tiny_score"]["value"] == pytest.approx(0.9)
    assert after["notebooks"][1]["runs"][0]["seconds"] == 1.0  # not rerun: kept as it was
    assert after["measures"] == [["grader", "5.0"]]  # no comparisons ran: the old ones stay
    assert after["comparisons"] == [comparison] and after["determinism"]["notebook"] == "kept"


def test_the_grader_jobs_default_to_the_graders_own_default():
    from course_tools.grading import pipeline

    assert bench._cores() == pipeline.default_jobs() >= 1


def test_only_runs_its_parts_in_their_order(monkeypatch):
    names = ["notebooks/03_a.ipynb", "notebooks/06_b.ipynb", "solutions/06_b.ipynb"]
    paths = [pathlib.Path(name) for name in names]
    monkeypatch.setattr(bench, "lecture_and_solution_notebooks", lambda: paths)
    assert bench.selected_paths("06_, 03_") == [paths[1], paths[2], paths[0]]
    assert bench.selected_paths(None) == paths and bench.selected_paths("09") == []


def test_a_run_stopped_part_way_keeps_the_notebooks_it_finished(tmp_path, monkeypatch):
    fixtures = [FIXTURES / "reaches.ipynb", FIXTURES / "misses.ipynb"]
    monkeypatch.setattr(bench, "lecture_and_solution_notebooks", lambda: fixtures)
    finished = _record("bench_fixtures/reaches.ipynb", _run(0, 2.0))

    def run_seeds(path, mode, seeds):
        if path.name == "misses.ipynb":
            raise KeyboardInterrupt  # stopped while the second notebook runs
        return finished

    monkeypatch.setattr(bench, "run_seeds", run_seeds)
    with pytest.raises(KeyboardInterrupt):
        bench.run(comparisons=False, out=tmp_path, seeds=1, determinism="")
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored["notebooks"] == [finished]
    assert "bench_fixtures/reaches.ipynb" in (tmp_path / "results.md").read_text()


def test_the_grader_is_timed_without_the_recipes(tmp_path, monkeypatch):
    comparison = bench_compare.comparison("m", ("a", "b"), "higher", ([1, 2], [0, 0]), [0, 1])
    _store(tmp_path, "results", [], [["make test", "5.0"]], [comparison])
    timed = []
    monkeypatch.setattr(
        bench_compare, "grader_scaling", lambda count, jobs: timed.append(jobs) or [("g", "9")]
    )
    monkeypatch.setattr(bench_compare, "run_comparisons", lambda *_: pytest.fail("recipes ran"))
    problems = bench.run(notebooks=False, recipes=False, out=tmp_path, grader_jobs=3)
    after = json.loads((tmp_path / "results.json").read_text())
    assert problems == [] and timed == [3]
    assert after["measures"][0] == ["g", "9"] and after["comparisons"] == [comparison]


def test_results_stored_before_seeds_keep_their_notebooks_as_one_run(tmp_path):
    old = {"notebook": "notebooks/01_x.ipynb", "mode": "default", "seconds": 12.0}
    old |= {"peak_memory_mb": 900, "ok": True, "error": None, "figures": {}}
    old_rows = [["FCN-8s mean IoU, course / keras.io recipe", "0.373 / 0.229 (ratio 1.63)"]]
    stored = {"notebooks": [old], "measures": old_rows}
    (tmp_path / "results.json").write_text(json.dumps(stored))
    stored = bench_page.read_stored(tmp_path / "results.json")
    assert stored["measures"] == [] and stored["comparisons"] == []  # one-seed text rows go
    assert bench_stats.runs_of(stored["notebooks"][0])[0]["seconds"] == 12.0
    page = bench_page.markdown(stored, "default")
    assert "| notebooks/01_x.ipynb | 0 | 12 | 900 | ok |" in page
    assert bench_page.NO_COMPARISONS in page  # the page says the comparisons did not run
    assert bench_page.NO_COMPARISONS not in bench_page.markdown(stored, "fast")


def test_new_measures_replace_the_rows_of_the_same_name_only():
    previous = [["grader, 1 job", "7.0"], ["make test", "5.0"]]
    merged = bench._merge_measures(previous, [("grader, 1 job", "8.0"), ("grader, 2 jobs", "15")])
    assert merged == [("grader, 1 job", "8.0"), ("grader, 2 jobs", "15"), ("make test", "5.0")]


def test_a_corrupt_results_file_is_set_aside_not_lost(tmp_path, capsys):
    (tmp_path / "results.json").write_text("{ truncated")
    assert bench.run(comparisons=False, notebooks=False, out=tmp_path) == []
    assert (tmp_path / "results.json.corrupt").read_text() == "{ truncated"
    assert json.loads((tmp_path / "results.json").read_text())["notebooks"] == []
    assert "kept as results.json.corrupt" in capsys.readouterr().out


def test_the_page_shows_the_latest_make_test_time_under_default_mode_only(tmp_path):
    stale = ("make test, last run (minutes)", "9.0 (passed)")
    default = _record("notebooks/01_default.ipynb", _run(0, 99.0))
    _store(tmp_path, "results", [default], [stale, ("grader", "5.0")])
    _store(tmp_path, "results-fast", [_record("notebooks/01_fast.ipynb", _run(0, 9.0))], [stale])
    (tmp_path / "make_test_seconds").write_text("300 0\n")
    page = tmp_path / "benchmark.md"
    bench_page.publish(tmp_path, page)
    text = page.read_text()
    assert "| make test, last run (minutes) | 5.0 (passed) |" in text
    assert "9.0" not in text and text.count("make test") == 1
    assert text.index("make test") < text.index("## Fast mode")


def test_the_command_line_asks_for_at_least_one_seed(capsys):
    from course_tools import cli

    assert cli.main(["bench", "--seeds", "0"]) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err


def test_the_page_names_the_notebooks_this_run_did_not_benchmark():
    ran = _record("notebooks/01_conv2d_padding_stride.ipynb", _run(0))
    missing = bench_page.not_benchmarked([ran])
    assert "notebooks/00_data.ipynb" in missing and "solutions/06_unet.ipynb" in missing
    assert "notebooks/01_conv2d_padding_stride.ipynb" not in missing
    stored = {"notebooks": [ran], "measures": [], "comparisons": []}
    assert "Not run with these seeds: notebooks/00_data.ipynb, " in bench_page.markdown(
        stored, "default"
    )


def test_the_courses_own_run_keeps_its_results_where_git_tracks_them(tmp_path):
    published = bench_page.results_path(bench_page.WORK, "default")
    assert published == bench_page.PUBLISHED_RESULTS / "results.json"
    assert bench_page.results_path(tmp_path, "fast") == tmp_path / "results-fast.json"
    root = bench_page.PUBLISHED_RESULTS.parent.parent
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "-q", str(published)], check=False
    )
    assert ignored.returncode == 1, f"{published} is ignored by git: a fresh clone would lose it"


def test_records_rebuilt_from_an_earlier_page_say_so_until_rerun(tmp_path):
    rebuilt = _record("notebooks/03_x.ipynb", _run(0, mse=0.003), _run(1, mse=0.004))
    rebuilt["recovered_from"] = "docs/benchmark.md of commit abc"
    fresh = _record("notebooks/05_y.ipynb", _run(0, accuracy=0.9))
    page = bench_page.markdown({"notebooks": [rebuilt, fresh], "measures": []}, "default")
    assert "Rebuilt from docs/benchmark.md of commit abc" in page
    paragraph = page.split("Rebuilt from")[1].split("\n")[0]
    assert "notebooks/03_x.ipynb" in paragraph and "notebooks/05_y.ipynb" not in paragraph
    rerun = _record("notebooks/03_x.ipynb", _run(0, mse=0.003))
    merged = bench._merge_records([rebuilt, fresh], [rerun])
    page = bench_page.markdown({"notebooks": merged, "measures": []}, "default")
    assert "Rebuilt from" not in page
