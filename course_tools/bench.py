"""``course bench``: how long every notebook takes, how much memory, and what quality it reaches.

Each notebook runs alone, in a fresh process, once per seed (``--seeds N``, default 3; 5 for a
release): wall time and the kernel's peak memory are measured around it, and the quality figures
it reports through :func:`course_utils.results.report` are collected from
``COURSE_RESULTS_FILE``. The seed reaches the notebook through :func:`course_utils.config.
environment` and ``config.setup()``. Each comparison with a public recipe runs once per seed
too (:mod:`course_tools.bench_compare`), one notebook runs twice at the same seed to show whether
runs reproduce, and the grader is timed with 1 and with N jobs. Results go to
``_build/bench/results.json`` and ``results.md`` (``results-fast.*`` and ``results-full.*`` for
the other modes); a run writing there keeps its results in ``docs/benchmark-results/`` (tracked,
so a partial run on a fresh clone extends them) and refreshes ``docs/benchmark.md``
(:mod:`course_tools.bench_page`). A target missed at the worst seed, a failed run or a notebook
over its time budget fails the run (:func:`course_tools.bench_stats.problems`).
"""

import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from course_tools import bench_compare, bench_page, bench_stats, notebooks

OUT = bench_page.WORK
SEEDS = 3  # per notebook and comparison; a release run uses 5
# Run twice at the same seed to show whether runs reproduce: the U-Net, whose runs once moved
# between reruns, trained with TensorFlow's oneDNN kernels (off only in notebooks 01, 02 and 04).
DETERMINISM_NOTEBOOK = "notebooks/06_unet.ipynb"


def run_notebook(path, mode="default", timeout=1800, seed=None):
    """Execute one notebook at one seed in a child process; return the run (time, memory, ...)."""
    seed = 0 if seed is None else seed
    with tempfile.TemporaryDirectory() as scratch:
        results_file = pathlib.Path(scratch) / "results.jsonl"
        environment = bench_compare.child_environment(mode, seed)
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
        "seed": seed,
        "seconds": round(seconds, 1),
        "peak_memory_mb": report.get("peak_memory_mb"),
        "ok": finished.returncode == 0,
        "error": None if finished.returncode == 0 else error,
        "figures": figures,
    }


def run_seeds(path, mode="default", seeds=range(SEEDS)):
    """A notebook's record: one run per seed."""
    runs = []
    for seed in seeds:
        run = run_notebook(path, mode, seed=seed)
        runs.append(run)
        print(
            f"{notebook_name(path)}, seed {seed}: {run['seconds']:.0f} s, "
            f"{run['peak_memory_mb']} MB, {'ok' if run['ok'] else 'FAILED'}",
            flush=True,
        )
    return {"notebook": notebook_name(path), "mode": mode, "runs": runs}


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


def run(
    only=None,
    mode="default",
    comparisons=True,
    out=OUT,
    grader_submissions=100,
    notebooks=True,
    seeds=SEEDS,
    determinism=DETERMINISM_NOTEBOOK,
    grader_jobs=None,
    recipes=True,
):
    """Benchmark the course over ``seeds`` seeds; write results[-MODE].json and .md.

    Returns the problems: targets missed at the worst seed, failed runs, notebooks over budget,
    comparisons that failed. A partial run (``only``, or ``notebooks=False`` for the comparisons
    alone) updates the stored results in place: the notebooks it ran replace their old records,
    the others are kept; so are the comparisons and the same-seed check when it did not run them.
    ``recipes=False`` skips the public-recipe comparisons but still times the grader.
    """
    from course_utils import progress

    seed_list = list(range(seeds))
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results_file = bench_page.results_path(out, mode)
    stored = bench_page.read_stored(results_file, set_aside=True) or {
        "notebooks": [],
        "measures": [],
        "comparisons": [],
    }
    records = []
    for path in progress.bar(selected_paths(only) if notebooks else [], description="notebooks"):
        records.append(run_seeds(path, mode, seed_list))
        # Stored after every notebook: a run stopped part-way keeps what it measured.
        _write(out, mode, stored, {"notebooks": records}, partial=True)
    # Fast mode's figures say nothing about quality: its page has no determinism section.
    rerun = determinism and mode != "fast"
    check = same_seed_twice(records, selected_paths(only), mode, determinism) if rerun else None
    rows, failures, measures = None, [], []
    if comparisons:
        if recipes:
            rows, failures = bench_compare.run_comparisons(mode, seed_list)
        if grader_submissions:
            jobs = grader_jobs or _cores()
            measures = bench_compare.grader_scaling(grader_submissions, jobs)
    new = {"notebooks": records, "comparisons": rows, "failures": failures}
    new |= {"determinism": check, "measures": measures}
    _write(out, mode, stored, new, partial=bool(only) or not notebooks)
    for record in records:
        if blind := bench_stats.seed_blind_figures(record):
            print(f"warning: {record['notebook']}: {', '.join(blind)} the same at every seed")
    return bench_stats.problems(records, mode) + (failures if rows is not None else [])


def selected_paths(only=None):
    """The notebooks a run benchmarks: all of them, or those whose name contains one of the
    comma-separated parts of ``only``, in the order the parts are given (course order within)."""
    paths = lecture_and_solution_notebooks()
    if not only:
        return paths
    chosen = []
    for part in (part.strip() for part in only.split(",") if part.strip()):
        chosen += [path for path in paths if part in path.name and path not in chosen]
    return chosen


def _write(out, mode, stored, new, partial):
    """Write results[-MODE].json and .md from the stored results and this run's ``new`` ones.

    ``new`` holds this run's notebook records and, once measured, its comparisons (None: not
    run), comparison failures, same-seed check and measures. A partial run's records replace
    only the notebooks they ran.
    """
    records = new["notebooks"]
    rows = new.get("comparisons")
    result = {
        "machine": _machine(),
        "notebooks": _merge_records(stored["notebooks"], records) if partial else records,
        "comparisons": stored["comparisons"] if rows is None else rows,
        "comparison_failures": (
            stored.get("comparison_failures", []) if rows is None else new.get("failures", [])
        ),
        "determinism": new.get("determinism") or stored.get("determinism"),
        "measures": _merge_measures(stored["measures"], new.get("measures") or []),
    }
    if mode == "default":
        result["measures"] = bench_page.with_make_test(result["measures"], out)
    results_file = bench_page.results_path(out, mode)
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(result, indent=1) + "\n")
    (out / f"{bench_page.results_name(mode)}.md").write_text(bench_page.markdown(result, mode))
    if out == OUT:
        bench_page.publish(out)


def same_seed_twice(records, paths, mode, notebook=DETERMINISM_NOTEBOOK):
    """Run ``notebook`` again at its first seed; how far its figures moved, or None if not run.

    Only a notebook this run benchmarked is rerun (a partial run keeps the stored check).
    """
    record = next((r for r in records if r["notebook"] == notebook), None)
    path = next((p for p in paths if notebook_name(p) == notebook), None)
    if record is None or path is None:
        return None
    first = record["runs"][0]
    second = run_notebook(path, mode, seed=first["seed"])
    difference, figure = bench_stats.largest_difference(first["figures"], second["figures"])
    error = None if first["ok"] and second["ok"] else (second["error"] or first["error"])
    print(f"{notebook}, seed {first['seed']} again: figures differ by up to {difference:.3g}")
    return {
        "notebook": notebook,
        "seed": first["seed"],
        "difference": difference,
        "figure": figure,
        "error": error,
        "first": first["figures"],
        "second": second["figures"],
    }


def _cores():
    """How many jobs the grader runs by default on this machine."""
    from course_tools.grading import pipeline

    return pipeline.default_jobs()


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


def add_cli(subparsers):
    """Register ``course bench``."""
    parser = subparsers.add_parser("bench", help="time every notebook and collect its figures")
    parser.add_argument(
        "--only",
        help="only notebooks whose name contains this (comma-separated parts: run in that "
        "order); the stored results keep the others",
    )
    parser.add_argument(
        "--no-notebooks",
        action="store_true",
        help="run no notebook: only the comparisons and grader throughput",
    )
    parser.add_argument("--mode", default="default", choices=bench_page.MODES)
    parser.add_argument(
        "--seeds",
        type=int,
        default=SEEDS,
        help=f"seeds per notebook and comparison, 0 to N-1 (default {SEEDS}; 5 for a release)",
    )
    parser.add_argument(
        "--no-comparisons",
        action="store_true",
        help="skip the public-recipe comparisons and grader throughput",
    )
    parser.add_argument(
        "--no-recipes",
        action="store_true",
        help="skip the public-recipe comparisons; the grader is still timed (the stored rows stay)",
    )
    parser.add_argument(
        "--determinism",
        default=DETERMINISM_NOTEBOOK,
        help="the notebook run twice at the same seed ('' to skip)",
    )
    parser.add_argument(
        "--grader-submissions",
        type=int,
        default=100,
        help="submissions the grader throughput benchmark grades (0: skip)",
    )
    parser.add_argument(
        "--grader-jobs",
        type=int,
        default=None,
        help="the N of the grader's 1-job against N-jobs throughput (default: cores)",
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="only rewrite docs/benchmark.md from the results in docs/benchmark-results/",
    )
    parser.set_defaults(handler=_cli_bench)


def _cli_bench(arguments):
    """``course bench``: run, write the tables, fail loudly on missed targets."""
    if arguments.publish:
        if not bench_page.publish(OUT):
            where = bench_page.PUBLISHED_RESULTS
            print(f"no benchmark results in {where}: run `make bench` first", file=sys.stderr)
            return 1
        print(f"wrote {bench_page.PUBLISHED}")
        return 0
    if arguments.seeds < 1:
        print("--seeds must be at least 1", file=sys.stderr)
        return 2
    problems = run(
        arguments.only,
        arguments.mode,
        not arguments.no_comparisons,
        grader_submissions=arguments.grader_submissions,
        notebooks=not arguments.no_notebooks,
        seeds=arguments.seeds,
        determinism=arguments.determinism,
        grader_jobs=arguments.grader_jobs,
        recipes=not arguments.no_recipes,
    )
    print(f"results: {OUT / bench_page.results_name(arguments.mode)}.md")
    for line in problems:
        print(f"PROBLEM {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--execute-one":
        timeout = int(sys.argv[4]) if len(sys.argv) > 4 else 1800
        sys.exit(_execute_one(pathlib.Path(sys.argv[2]), timeout))
