"""The benchmark's Markdown: the tables of one mode's results, and docs/benchmark.md.

Every figure is shown as its median and its range over the seeds it ran at; whether a target
holds and who wins a comparison come from :mod:`course_tools.bench_stats`, the same rules that
decide ``course bench``'s exit status.
"""

import json
import pathlib

from course_tools import bench_stats, notebooks

PUBLISHED = notebooks.ROOT / "docs" / "benchmark.md"
# Where `course bench` works (tables per mode, make test's time); results of the published run
# live in docs/benchmark-results/ instead, tracked in git: a fresh clone's partial run (--only)
# then extends the last full one instead of starting an empty table.
WORK = notebooks.ROOT / "_build" / "bench"
PUBLISHED_RESULTS = notebooks.ROOT / "docs" / "benchmark-results"
MODES = ("default", "fast", "full")  # the order of the published page's sections
MAKE_TEST_ROW = "make test, last run (minutes)"
DETERMINISM_PROMISE = (
    "`config.setup()` seeds Python, NumPy and Keras and turns on TensorFlow's deterministic ops. "
    "TensorFlow's oneDNN kernels stay on (its default on x86 CPUs), except in notebook 04 and "
    "the FCN comparison, which turn them off (`config.setup(onednn=False)`) because they train "
    "FCN-32s's 64 x 64 transposed convolution at half the speed, and in notebooks 01 and 02, "
    "whose paddings they partly refuse. "
    "TensorFlow promises that an op run again with the same inputs on the same hardware gives "
    "the same outputs; it promises nothing across processors, thread counts or TensorFlow "
    "versions, so a run elsewhere can differ in its figures' last digits or more. The ranges "
    "over seeds above are the spread to expect"
)


def results_name(mode):
    """``results`` for default mode (what the README links to), ``results-fast`` and so on."""
    return "results" if mode == "default" else f"results-{mode}"


def results_path(out, mode):
    """A mode's stored results: in docs/benchmark-results/ for the course's own run (``out`` is
    ``WORK``), else in ``out`` (tests, one-off runs)."""
    folder = PUBLISHED_RESULTS if pathlib.Path(out) == WORK else pathlib.Path(out)
    return folder / f"{results_name(mode)}.json"


def read_stored(path, set_aside=False):
    """Stored results, or None when absent or unreadable (set aside as ``*.corrupt``, not lost).

    Results stored before seeds (one run per notebook, comparisons as text rows) keep their
    notebooks, each as one run at seed 0; their text rows are dropped.
    """
    path = pathlib.Path(path)
    try:
        stored = json.loads(path.read_text())
        if isinstance(stored, dict) and {"notebooks", "measures"} <= stored.keys():
            if "comparisons" not in stored:  # stored before seeds
                stored = {**stored, "comparisons": [], "measures": []}
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
        print(f"{path} is unreadable, left out: rerun `course bench` to remake it.")
    return None


def _number(value, measure=""):
    """A figure as the tables print it: seconds whole, gains signed, others to 3 digits."""
    if measure.endswith(" s") or measure == "seconds":
        return f"{value:.0f}"
    if " minus " in measure:
        return f"{value:+.3f}"
    return f"{value:.3g}" if measure == "" else f"{value:.3f}"


def with_range(summary, measure=""):
    """``median (low–high)``, or the one value when there was one seed."""
    if summary is None:
        return "n/a"
    median = _number(summary["median"], measure)
    if summary["count"] == 1:
        return median
    return f"{median} ({_number(summary['low'], measure)}–{_number(summary['high'], measure)})"


def notebook_table(records, mode):
    """One row per notebook: seeds, time over the seeds, peak memory, and what went wrong."""
    lines = [
        "| notebook | seeds | time (s), median (range) | peak memory (MB) | status |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for record in records:
        spent = bench_stats.timing(record, mode)
        seeds = ", ".join(str(run["seed"]) for run in bench_stats.runs_of(record))
        status = []
        if spent["failed_seeds"]:
            status.append("FAILED at seed " + ", ".join(map(str, spent["failed_seeds"])))
        if spent["over_budget"]:
            status.append(f"OVER {spent['budget']} s")
        lines.append(
            f"| {record['notebook']} | {seeds} | {with_range(spent['seconds'], 'seconds')} | "
            f"{spent['peak_memory_mb'] or ''} | {'; '.join(status) or 'ok'} |"
        )
    return lines


def _target(row):
    """A figure's stated target, e.g. ``≥ 0.35``, or nothing."""
    if row["at_least"] is not None:
        return f"≥ {row['at_least']:g}"
    if row["at_most"] is not None:
        return f"≤ {row['at_most']:g}"
    return ""


def figure_table(records, mode):
    """One row per reported figure: target, median and range over the seeds, the worst seed."""
    lines = [
        "| notebook | figure | target | median (range) | worst seed | holds at worst seed |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for record in records:
        for row in bench_stats.figure_rows(record):
            if row["worst_seed"] is None:
                worst, holds = "", ""
            else:
                worst = f"{_number(row['worst'])} (seed {row['worst_seed']})"
                holds = "yes" if row["missed_by"] is None else f"NO, by {row['missed_by']:.3g}"
                if mode == "fast":
                    holds = "not enforced"
            if row["absent_at"]:
                holds += f"; not reached at seed {', '.join(map(str, row['absent_at']))}"
            lines.append(
                f"| {record['notebook']} | {row['name']} | {_target(row)} | "
                f"{with_range(row['spread'])} | {worst} | {holds} |"
            )
    blind = [
        f"{record['notebook']} ({', '.join(names)})"
        for record in records
        if (names := bench_stats.seed_blind_figures(record))
    ]
    if blind:
        lines += [
            "",
            "Same value at every seed, so their range says nothing about noise (the figure may "
            "not depend on training, come from shipped weights, or a cell may reseed with a "
            "fixed number instead of `config.run_seed()`): " + "; ".join(blind) + ".",
        ]
    return lines


def comparison_table(comparisons):
    """One row per comparison: both sides' median and range, and the verdict."""
    lines = [
        "| measure | course, median (range) | public recipe, median (range) | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for row in comparisons:
        first, second = (bench_stats.spread(values) for values in row["values"])
        names = row["names"]
        verdict = bench_stats.verdict(*row["values"], names, row["better"])
        lines.append(
            f"| {row['measure']} | {with_range(first, row['measure'])} | {names[1]}: "
            f"{with_range(second, row['measure'])} | {verdict} |"
        )
    return lines


def determinism_lines(stored):
    """What the same-seed rerun showed, what TensorFlow promises, and the largest seed spread."""
    check = stored.get("determinism")
    lines = []
    if check:
        difference, figure = check["difference"], check["figure"]
        where = f"`{check['notebook']}` run again at seed {check['seed']} in a fresh process"
        if check.get("error"):
            lines.append(f"Same seed twice: {where} failed: {check['error']}.")
        elif not check.get("first"):
            lines.append(f"Same seed twice: {where} reported no figure to compare.")
        elif difference == 0:
            lines.append(f"Same seed twice: {where} reported the same figures, bit for bit.")
        else:
            lines.append(
                f"Same seed twice: {where} reported figures that differ by up to "
                f"{difference:.3g} ({figure}): on this machine runs are not bit-reproducible."
            )
    widest = max(
        (
            (
                (row["spread"]["high"] - row["spread"]["low"])
                / max(abs(row["spread"]["median"]), 1e-12),
                f"{row['name']} of {record['notebook']}, {with_range(row['spread'])}",
            )
            for record in stored["notebooks"]
            for row in bench_stats.figure_rows(record)
            if row["spread"]["count"] > 1
        ),
        default=None,
    )
    widest = f" (the widest relative to its median: {widest[1]})" if widest else ""
    lines.append(DETERMINISM_PROMISE + widest + ".")
    return lines


def _relative_width(summary):
    """A range's width over its median's size, to find the noisiest of unlike figures."""
    return (summary["high"] - summary["low"]) / max(abs(summary["median"]), 1e-12)


NO_COMPARISONS = (
    "Not run with these seeds: `course bench --no-notebooks` runs the public-recipe comparisons "
    "alone (each recipe once per seed) and keeps the notebooks' results."
)


def not_benchmarked(records):
    """The course's lecture and solutions notebooks that have no record on the page."""
    ran = {record["notebook"] for record in records}
    names = [
        f"{folder}/{path.name}"
        for folder in ("notebooks", "solutions")
        for path in notebooks.notebook_paths(folder)
    ]
    return [name for name in names if name not in ran]


def recovered_lines(records):
    """A paragraph naming the records rebuilt from an earlier page (``recovered_from``), if any.

    Such a page shows only a median and a range: the rebuilt runs hold those three values, so
    their tables read as before, but which seed gave which value is known only for the worst
    seed of a target. Rerunning a notebook replaces its rebuilt record.
    """
    sources = {}
    for record in records:
        if record.get("recovered_from"):
            sources.setdefault(record["recovered_from"], []).append(record["notebook"])
    lines = []
    for source, names in sources.items():
        lines += [
            "",
            f"Rebuilt from {source}, whose per-seed results were not kept: {', '.join(names)}. "
            "Their times and figures are the median and range that page showed, to its digits; "
            "which seed gave which value is known only for each target's worst seed. Rerun "
            "them to replace these rows.",
        ]
    return lines


def markdown(stored, mode):
    """The Markdown of one mode's results: notebooks, figures, comparisons, other measures."""
    records = stored["notebooks"]
    lines = ["### Notebooks", "", *notebook_table(records, mode)]
    if missing := not_benchmarked(records):
        lines += ["", f"Not run with these seeds: {', '.join(missing)}."]
    lines += recovered_lines(records)
    lines += ["", "### Figures", "", *figure_table(records, mode)]
    if stored.get("comparisons") or stored.get("comparison_failures"):
        lines += ["", "### Against public recipes", ""]
        lines += comparison_table(stored.get("comparisons", []))
        failures = stored.get("comparison_failures", [])
        lines += [""] * bool(failures) + [f"- FAILED: {failure}" for failure in failures]
    elif mode != "fast":
        lines += ["", "### Against public recipes", "", NO_COMPARISONS]
    if stored["measures"]:
        lines += ["", "### Grading and tests", "", "| measure | value |", "| --- | --- |"]
        lines += [f"| {name} | {value} |" for name, value in stored["measures"]]
    if mode != "fast":
        lines += ["", "### Determinism"]
        for paragraph in determinism_lines(stored):
            lines += ["", paragraph]
    return "\n".join(lines) + "\n"


def publish(out, page=PUBLISHED):
    """Write docs/benchmark.md: one section per mode whose results are in ``out``.

    Returns the number of sections; with none, the page is left as it was.
    """
    sections = ["# Benchmark\n"]
    for mode in MODES:
        stored = read_stored(results_path(out, mode))
        if stored is None:
            continue
        stored = {**stored, "measures": [tuple(row) for row in stored["measures"]]}
        if mode == "default":  # make test is one figure for the course, shown once
            stored["measures"] = with_make_test(stored["measures"], out)
        else:
            stored["measures"] = [row for row in stored["measures"] if row[0] != MAKE_TEST_ROW]
        sections.append(f"## {mode.capitalize()} mode\n\n{_preamble(stored, mode)}\n\n")
        sections[-1] += markdown(stored, mode)
    if len(sections) > 1:
        pathlib.Path(page).write_text("\n".join(sections))
    return len(sections) - 1


def _preamble(stored, mode):
    """Where and how a section's results were made, and the rules its verdicts follow."""
    machine = stored.get("machine") or {}
    where = (
        f" on {machine['cpu']} with {machine['cores']} cores, {machine['date']}" if machine else ""
    )
    seeds = max((len(bench_stats.runs_of(r)) for r in stored["notebooks"]), default=1)
    command = "course bench" + ("" if mode == "default" else f" --mode {mode}")
    text = (
        f"Made by `{command} --seeds {seeds}`{where}: each notebook alone in a fresh kernel, "
        f"once per seed, and each comparison once per seed in a fresh process. "
        "Figures are medians with their range over the seeds. A target holds only when it holds "
        "at the worst seed; a comparison names a winner only when the winner's worst seed beats "
        "the other side's best seed, otherwise it says within noise."
    )
    budget = bench_stats.TIME_BUDGET.get(mode)
    if budget:
        text += f" A notebook whose slowest seed takes over {budget} s is flagged."
    if mode == "fast":
        text += (
            " Fast mode trains on a sliver of the data for an epoch or two: its figures show the "
            "code runs end to end, not the quality, and its targets are not enforced."
        )
    return text


def with_make_test(measures, out):
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
