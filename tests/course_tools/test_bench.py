"""course bench: notebooks run alone, figures are collected, missed targets fail loudly."""

import json
import pathlib

import pytest

from course_tools import bench
from course_utils import results

FIXTURES = pathlib.Path(__file__).parent / "bench_fixtures"


def test_a_notebook_that_reaches_its_targets_is_recorded_with_its_figures():
    record = bench.run_notebook(FIXTURES / "reaches.ipynb")
    assert record["ok"], record["error"]
    assert record["figures"]["tiny_score"]["value"] == pytest.approx(0.9)
    assert record["figures"]["tiny_error"]["at_most"] == pytest.approx(0.2)
    assert record["peak_memory_mb"] > 0
    assert bench.missed_targets([record]) == []


def test_a_missed_target_fails_the_notebook_and_says_by_how_much():
    record = bench.run_notebook(FIXTURES / "misses.ipynb")
    assert not record["ok"]
    assert "TargetMissed" in record["error"]
    [line] = bench.missed_targets([record])
    assert "tiny_score = 0.3" in line and "missed by 0.2" in line


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


def test_markdown_table_lists_every_notebook():
    record = {
        "notebook": "notebooks/01_x.ipynb",
        "mode": "default",
        "seconds": 12.3,
        "peak_memory_mb": 900,
        "ok": True,
        "error": None,
        "figures": {"acc": {"value": 0.91, "at_least": 0.9}},
    }
    table = bench.markdown_table([record], extras=[("grader throughput", "40 / min")])
    assert "| notebooks/01_x.ipynb | default | 12 | 900 | acc 0.91 (≥ 0.9) | ok |" in table
    assert "| grader throughput | 40 / min |" in table


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
    assert bench.make_test_measure(timing) == ("make test, last run (minutes)", shown)


@pytest.mark.parametrize("content", ["", "garbage\n"])
def test_an_unreadable_make_test_time_is_left_out(tmp_path, content):
    timing = tmp_path / "make_test_seconds"
    timing.write_text(content)
    assert bench.make_test_measure(timing) is None
    assert bench.make_test_measure(tmp_path / "absent") is None


def _store(out, name, notebook, seconds, measures=()):
    record = {
        "notebook": notebook,
        "mode": "x",
        "seconds": seconds,
        "peak_memory_mb": 500,
        "ok": True,
        "error": None,
        "figures": {},
    }
    machine = {"cpu": "x86_64", "cores": 2, "date": "2026-11-21"}
    stored = {"machine": machine, "notebooks": [record], "measures": list(measures)}
    (out / f"{name}.json").write_text(json.dumps(stored))


def test_the_published_page_has_a_section_per_mode_default_first(tmp_path):
    _store(tmp_path, "results-fast", "notebooks/01_fast.ipynb", 9, [("grader", "5.0")])
    _store(tmp_path, "results", "notebooks/01_default.ipynb", 99)
    page = tmp_path / "benchmark.md"
    assert bench.publish(tmp_path, page) == 2
    text = page.read_text()
    assert text.index("## Default mode") < text.index("## Fast mode")
    assert text.index("01_default.ipynb | x | 99") < text.index("01_fast.ipynb | x | 9")
    assert "| grader | 5.0 |" in text and "2 cores, 2026-11-21" in text


def test_publishing_without_results_leaves_the_page_alone(tmp_path):
    page = tmp_path / "benchmark.md"
    page.write_text("kept")
    assert bench.publish(tmp_path / "empty", page) == 0
    assert page.read_text() == "kept"


def test_a_partial_run_replaces_only_the_notebooks_it_ran(tmp_path, monkeypatch):
    fixtures = [FIXTURES / "reaches.ipynb", FIXTURES / "misses.ipynb"]
    monkeypatch.setattr(bench, "lecture_and_solution_notebooks", lambda: fixtures)
    old = {"ok": True, "error": None, "figures": {}, "mode": "default", "peak_memory_mb": 1}
    stored = {
        "notebooks": [
            {**old, "notebook": "bench_fixtures/misses.ipynb", "seconds": 1.0},
            {**old, "notebook": "bench_fixtures/reaches.ipynb", "seconds": 2.0},
        ],
        "measures": [["grader", "5.0"]],
    }
    (tmp_path / "results.json").write_text(json.dumps(stored))
    bench.run(only="reaches", comparisons=False, out=tmp_path)
    after = json.loads((tmp_path / "results.json").read_text())
    names = [record["notebook"] for record in after["notebooks"]]
    assert names == ["bench_fixtures/reaches.ipynb", "bench_fixtures/misses.ipynb"]  # course order
    assert after["notebooks"][0]["figures"]["tiny_score"]["value"] == pytest.approx(0.9)
    assert after["notebooks"][1]["seconds"] == 1.0  # not rerun: kept as it was
    assert after["measures"] == [["grader", "5.0"]]  # no comparisons ran: the old ones stay


def test_new_measures_replace_the_rows_of_the_same_name_only():
    previous = [["fcn ratio", "1.5"], ["grader", "5.0"]]
    merged = bench._merge_measures(previous, [("fcn ratio", "2.0"), ("u-net ratio", "1.1")])
    assert merged == [("fcn ratio", "2.0"), ("u-net ratio", "1.1"), ("grader", "5.0")]


def test_a_corrupt_results_file_is_set_aside_not_lost(tmp_path, capsys):
    (tmp_path / "results.json").write_text("{ truncated")
    assert bench.run(comparisons=False, notebooks=False, out=tmp_path) == []
    assert (tmp_path / "results.json.corrupt").read_text() == "{ truncated"
    assert json.loads((tmp_path / "results.json").read_text())["notebooks"] == []
    assert "kept as results.json.corrupt" in capsys.readouterr().out


def test_the_page_shows_the_latest_make_test_time_under_default_mode_only(tmp_path):
    stale = ("make test, last run (minutes)", "9.0 (passed)")
    _store(tmp_path, "results", "notebooks/01_default.ipynb", 99, [stale, ("grader", "5.0")])
    _store(tmp_path, "results-fast", "notebooks/01_fast.ipynb", 9, [stale])
    (tmp_path / "make_test_seconds").write_text("300 0\n")
    page = tmp_path / "benchmark.md"
    bench.publish(tmp_path, page)
    text = page.read_text()
    assert "| make test, last run (minutes) | 5.0 (passed) |" in text
    assert "9.0" not in text and text.count("make test") == 1
    assert text.index("make test") < text.index("## Fast mode")


def test_fast_mode_misses_are_not_failures_but_a_failed_notebook_is():
    missed = {"value": 0.1, "at_least": 0.5, "missed_by": 0.4}
    record = {"notebook": "notebooks/x.ipynb", "ok": True, "error": None}
    reached_nothing = {**record, "figures": {"score": missed}}
    crashed = {**record, "notebook": "notebooks/y.ipynb", "ok": False, "error": "ValueError: boom"}
    crashed["figures"] = {}
    assert bench.missed_targets([reached_nothing, crashed], enforce=False) == [
        "notebooks/y.ipynb: failed: ValueError: boom"
    ]
    assert len(bench.missed_targets([reached_nothing, crashed])) == 2
