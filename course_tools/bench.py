"""``course bench``: how long every notebook takes, how much memory, and what quality it reaches.

Each notebook runs alone, in default mode, in a fresh process: wall time and the kernel's peak
memory are measured around it, and the quality figures it reports through
:func:`course_utils.results.report` are collected from ``COURSE_RESULTS_FILE``. Results go to
``_build/bench/results.json`` and a Markdown table, ``_build/bench/results.md`` (fast and full mode
runs write ``results-fast.*`` and ``results-full.*``); a run over every notebook also refreshes
``docs/benchmark.md``, one section per mode. A notebook that misses a target it states fails the
run, and the table says by how much.
"""

import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from course_tools import notebooks
from course_utils import config

OUT = notebooks.ROOT / "_build" / "bench"
# The committed copy of the latest full table, linked from the README.
PUBLISHED = notebooks.ROOT / "docs" / "benchmark.md"
GRADED_ASSIGNMENT = "01_conv2d_padding_stride"  # the assignment the grader benchmark grades


def run_notebook(path, mode="default", timeout=1800):
    """Execute one notebook in a child process; return its record (time, memory, figures)."""
    with tempfile.TemporaryDirectory() as scratch:
        results_file = pathlib.Path(scratch) / "results.jsonl"
        unset = {key: value for key, value in os.environ.items() if not key.startswith("COURSE_")}
        environment = config.environment(mode, unset)
        environment["COURSE_RESULTS_FILE"] = str(results_file)
        command = [
            sys.executable,
            "-m",
            "course_tools.bench",
            "--execute-one",
            str(path),
            "--timeout",
            str(timeout),
        ]
        started = time.perf_counter()
        finished = subprocess.run(
            command, env=environment, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
        figures = _read_figures(results_file)
    report = json.loads(finished.stdout.strip().splitlines()[-1]) if finished.stdout.strip() else {}
    error = report.get("error") or (finished.stderr.strip().splitlines() or [""])[-1]
    return {
        "notebook": notebook_name(path),
        "mode": mode,
        "seconds": round(seconds, 1),
        "peak_memory_mb": report.get("peak_memory_mb"),
        "ok": finished.returncode == 0,
        "error": None if finished.returncode == 0 else error,
        "figures": figures,
    }


def notebook_name(path):
    """How the results name a notebook: its folder and file, e.g. ``notebooks/04_fcn_vgg.ipynb``."""
    return f"{path.parent.name}/{path.name}"


def _read_figures(results_file):
    """The figures a notebook reported, as ``{name: entry}``."""
    if not results_file.exists():
        return {}
    entries = [json.loads(line) for line in results_file.read_text().splitlines() if line]
    return {entry["name"]: entry for entry in entries}


def _execute_one(path, timeout):
    """Child-process side: run the notebook, then print peak kernel memory as JSON."""
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    error = None
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as failure:
        # the last line of a cell error names the exception and its message
        error = str(failure).strip().splitlines()[-1][:300]
    # ru_maxrss of finished children is in KiB on Linux: the kernel is our only child.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"peak_memory_mb": round(peak), "error": error}))
    return 1 if error else 0


def lecture_and_solution_notebooks():
    """Every notebook the benchmark runs, in course order."""
    return notebooks.notebook_paths("notebooks") + notebooks.notebook_paths("solutions")


def missed_targets(records, enforce=True):
    """Lines naming each stated target that was missed, and by how much, and each failure.

    ``enforce=False`` (fast mode, which trains too little to reach any target) names failed
    notebooks only.
    """
    lines = []
    for record in records:
        for name, entry in record["figures"].items():
            if enforce and entry.get("missed_by") is not None:
                bound = (
                    ("at least", entry["at_least"])
                    if entry.get("at_least") is not None
                    else ("at most", entry["at_most"])
                )
                lines.append(
                    f"{record['notebook']}: {name} = {entry['value']:.4g}, "
                    f"{bound[0]} {bound[1]:g} was stated: missed by {entry['missed_by']:.4g}"
                )
        if not record["ok"] and not any(line.startswith(record["notebook"]) for line in lines):
            lines.append(f"{record['notebook']}: failed: {record['error']}")
    return lines


def markdown_table(records, extras=()):
    """The results as a Markdown table, plus extra ``(name, value)`` rows below it."""
    lines = [
        "| notebook | mode | time (s) | peak memory (MB) | figures | status |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for record in records:
        figures = ", ".join(
            f"{name} {entry['value']:.3g}"
            + (
                f" (≥ {entry['at_least']:g})"
                if entry.get("at_least") is not None
                else f" (≤ {entry['at_most']:g})"
                if entry.get("at_most") is not None
                else ""
            )
            for name, entry in record["figures"].items()
        )
        status = "ok" if record["ok"] else "FAILED"
        lines.append(
            f"| {record['notebook']} | {record['mode']} | {record['seconds']:.0f} | "
            f"{record['peak_memory_mb'] or ''} | {figures} | {status} |"
        )
    if extras:
        lines += ["", "| measure | value |", "| --- | --- |"]
        lines += [f"| {name} | {value} |" for name, value in extras]
    return "\n".join(lines) + "\n"


MAKE_TEST_ROW = "make test, last run (minutes)"
MODES = ("default", "fast", "full")  # the order of the published page's sections


def results_name(mode):
    """``results`` for default mode (what the README links to), ``results-fast`` and so on."""
    return "results" if mode == "default" else f"results-{mode}"


def run(
    only=None, mode="default", comparisons=True, out=OUT, grader_submissions=100, notebooks=True
):
    """Benchmark the course; write results[-MODE].json and .md; return the missed targets.

    A partial run (``only``, or ``notebooks=False`` for the comparisons alone) updates the stored
    results in place: the notebooks it ran replace their old records, the others are kept. Measures
    (comparisons, grader, make test) replace the rows of the same name; the others are kept.
    """
    from course_utils import progress

    paths = [p for p in lecture_and_solution_notebooks() if not only or only in p.name]
    records = []
    for path in progress.bar(paths if notebooks else [], description="notebooks"):
        record = run_notebook(path, mode)
        records.append(record)
        print(
            f"{record['notebook']}: {record['seconds']:.0f} s, "
            f"{record['peak_memory_mb']} MB, {'ok' if record['ok'] else 'FAILED'}",
            flush=True,
        )
    extras = _extra_measures(mode, grader_submissions) if comparisons else None
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results_file = out / f"{results_name(mode)}.json"
    stored = _read_stored(results_file, set_aside=True) or {"notebooks": [], "measures": []}
    partial = bool(only) or not notebooks
    records_now = _merge_records(stored["notebooks"], records) if partial else records
    measures = _merge_measures(stored["measures"], extras or [])
    if mode == "default":
        measures = _with_make_test(measures, out)
    stored = {"machine": _machine(), "notebooks": records_now, "measures": measures}
    results_file.write_text(json.dumps(stored, indent=1) + "\n")
    (out / f"{results_name(mode)}.md").write_text(markdown_table(records_now, measures))
    if out == OUT:
        publish(out)
    return missed_targets(records, enforce=mode != "fast")


def _read_stored(path, set_aside=False):
    """Stored results, or None when absent or unreadable (set aside as ``*.corrupt``, not lost)."""
    try:
        stored = json.loads(path.read_text())
        if isinstance(stored, dict) and {"notebooks", "measures"} <= stored.keys():
            return stored
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        pass
    if set_aside:
        kept = path.with_name(path.name + ".corrupt")
        path.replace(kept)
        print(f"{path} was unreadable: kept as {kept.name}; starting a fresh table.")
    else:
        print(f"{path} is unreadable, left out: rerun `make bench` to remake it.")
    return None


def _merge_measures(previous, new):
    """The new ``(name, value)`` rows, then the previous rows no new row replaces."""
    names = {name for name, _ in new}
    return [tuple(row) for row in new] + [tuple(r) for r in previous if r[0] not in names]


def _merge_records(previous, new):
    """The previous records with the new ones in their place, in course order."""
    by_notebook = {record["notebook"]: record for record in previous}
    by_notebook.update({record["notebook"]: record for record in new})
    order = [notebook_name(path) for path in lecture_and_solution_notebooks()]
    position = {name: index for index, name in enumerate(order)}
    return sorted(by_notebook.values(), key=lambda r: position.get(r["notebook"], len(order)))


def _machine():
    """Where and when the benchmark ran, for the published page."""
    import datetime
    import platform

    return {
        "cpu": platform.machine(),
        "cores": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
    }


def publish(out=OUT, page=PUBLISHED):
    """Write docs/benchmark.md: one section per mode whose results are in ``out``.

    Returns the number of sections; with none, the page is left as it was.
    """
    sections = ["# Benchmark\n"]
    for mode in MODES:
        stored = _read_stored(pathlib.Path(out) / f"{results_name(mode)}.json")
        if stored is None:
            continue
        machine = stored.get("machine") or {}
        where = (
            f" on {machine['cpu']} with {machine['cores']} cores, {machine['date']}"
            if machine
            else ""
        )
        command = "make bench" if mode == "default" else f"course bench --mode {mode}"
        measures = [tuple(row) for row in stored["measures"]]
        if mode == "default":  # make test is one figure for the course, shown once
            measures = _with_make_test(measures, out)
        else:
            measures = [row for row in measures if row[0] != MAKE_TEST_ROW]
        caveat = (
            " Fast mode trains on a sliver of the data for an epoch or two: its figures show the "
            "code runs end to end, not the quality, and its targets are not enforced."
            if mode == "fast"
            else " Each comparison row is one seeded run, not an average over seeds."
        )
        sections.append(
            f"## {mode.capitalize()} mode\n\n"
            f"Made by `{command}`{where}; each notebook alone in a fresh kernel. "
            f"Rerun it to refresh this section.{caveat}\n\n"
            + markdown_table(stored["notebooks"], measures)
        )
    if len(sections) > 1:
        page.write_text("\n".join(sections))
    return len(sections) - 1


def _extra_measures(mode, grader_submissions=100):
    """Comparisons with public recipes and the grader's throughput."""
    from course_tools import baselines, grading

    measures = list(baselines.bench_measures(mode))
    if grader_submissions:
        throughput = grading.benchmark(GRADED_ASSIGNMENT, count=grader_submissions)
        measures.append(
            (
                f"grader throughput ({throughput['submissions']} submissions of "
                f"{GRADED_ASSIGNMENT}, submissions per minute)",
                f"{throughput['per_minute']:.1f}",
            )
        )
    return measures


def _with_make_test(measures, out):
    """The measures with make test's row brought up to date from ``out/make_test_seconds``."""
    row = make_test_measure(pathlib.Path(out) / "make_test_seconds")
    if row is None:
        return measures
    return [tuple(r) for r in measures if r[0] != row[0]] + [row]


def make_test_measure(timing_file):
    """The row for make test's last run, from ``tools/timed.sh``'s "SECONDS STATUS" file."""
    timing_file = pathlib.Path(timing_file)
    if not timing_file.exists():
        return None
    fields = timing_file.read_text().split()
    try:
        minutes = int(fields[0]) / 60
        status = int(fields[1]) if len(fields) > 1 else None  # older files hold seconds only
    except (IndexError, ValueError):
        return None  # an unreadable file is no figure; the bench still runs
    outcome = {None: "outcome not recorded", 0: "passed"}.get(status, f"FAILED, exit {status}")
    return (MAKE_TEST_ROW, f"{minutes:.1f} ({outcome})")


def add_cli(subparsers):
    """Register ``course bench``."""
    parser = subparsers.add_parser("bench", help="time every notebook and collect its figures")
    parser.add_argument(
        "--only",
        help="only notebooks whose name contains this; the stored results keep the others",
    )
    parser.add_argument(
        "--no-notebooks",
        action="store_true",
        help="run no notebook: only the comparisons and grader throughput",
    )
    parser.add_argument("--mode", default="default", choices=MODES)
    parser.add_argument(
        "--no-comparisons",
        action="store_true",
        help="skip the public-recipe comparisons and grader throughput",
    )
    parser.add_argument(
        "--grader-submissions",
        type=int,
        default=100,
        help="submissions the grader throughput benchmark grades (0: skip)",
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="only rewrite docs/benchmark.md from the results already in _build/bench",
    )
    parser.set_defaults(handler=_cli_bench)


def _cli_bench(arguments):
    """``course bench``: run, write the tables, fail loudly on missed targets."""
    if arguments.publish:
        if not publish():
            print(f"no benchmark results in {OUT}: run `make bench` first", file=sys.stderr)
            return 1
        print(f"wrote {PUBLISHED}")
        return 0
    missed = run(
        arguments.only,
        arguments.mode,
        not arguments.no_comparisons,
        grader_submissions=arguments.grader_submissions,
        notebooks=not arguments.no_notebooks,
    )
    print(f"results: {OUT / results_name(arguments.mode)}.md")
    for line in missed:
        print(f"MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--execute-one":
        timeout = int(sys.argv[4]) if len(sys.argv) > 4 else 1800
        sys.exit(_execute_one(pathlib.Path(sys.argv[2]), timeout))
