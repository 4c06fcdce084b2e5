"""What ``course bench`` concludes from runs over several seeds: spreads, worst seeds, verdicts.

Pure functions of the stored records, so the published page and the exit status are computed
the same way from a fresh run and from a stored one. The rules (issue 21):

* a figure is shown as its median and its range over the seeds;
* a notebook's target holds only when it holds at its worst seed;
* a comparison names a winner only when the winner's worst seed beats the other's best seed,
  otherwise it says "within noise";
* a notebook whose slowest seed runs longer than its mode's budget is flagged.
"""

import statistics

# Seconds per notebook, measured alone (docs/design.md): 200 s in default mode leaves a margin
# for a student's machine 1.5x slower than the benchmark's under the 5-minute budget.
TIME_BUDGET = {"default": 200, "fast": 60}
NO_VERDICT = "one seed: no verdict"
WITHIN_NOISE = "within noise"


def spread(values):
    """Median, lowest and highest of some numbers, or None when there are none."""
    values = [float(value) for value in values if value is not None]
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "low": min(values),
        "high": max(values),
        "count": len(values),
    }


def runs_of(record):
    """A notebook record's runs, one per seed (a record stored before seeds is one run)."""
    if "runs" in record:
        return record["runs"]
    keys = ("seconds", "peak_memory_mb", "ok", "error", "figures")
    return [{"seed": 0, **{key: record.get(key) for key in keys}}]


def figure_rows(record):
    """One row per figure the notebook reported: its values per seed, target and worst seed."""
    runs = runs_of(record)
    names = list(dict.fromkeys(name for run in runs for name in run["figures"]))
    rows = []
    for name in names:
        entries = [(run["seed"], run["figures"][name]) for run in runs if name in run["figures"]]
        first = entries[0][1]
        at_least, at_most = first.get("at_least"), first.get("at_most")
        values = [(seed, float(entry["value"])) for seed, entry in entries]
        if at_least is not None:
            worst_seed, worst = min(values, key=lambda pair: pair[1])
            missed_by = at_least - worst if worst < at_least else None
        elif at_most is not None:
            worst_seed, worst = max(values, key=lambda pair: pair[1])
            missed_by = worst - at_most if worst > at_most else None
        else:
            worst_seed, worst, missed_by = None, None, None
        rows.append(
            {
                "name": name,
                "values": dict(values),
                "spread": spread(value for _, value in values),
                "at_least": at_least,
                "at_most": at_most,
                "worst_seed": worst_seed,
                "worst": worst,
                "missed_by": missed_by,
                # seeds that did not report it (the notebook failed before it): counted as missed
                "absent_at": [run["seed"] for run in runs if name not in run["figures"]],
            }
        )
    return rows


def timing(record, mode):
    """Time over the seeds, peak memory, and whether the slowest seed is over the budget."""
    runs = runs_of(record)
    seconds = spread(run["seconds"] for run in runs)
    memory = [run["peak_memory_mb"] for run in runs if run.get("peak_memory_mb")]
    budget = TIME_BUDGET.get(mode)
    return {
        "seconds": seconds,
        "peak_memory_mb": max(memory) if memory else None,
        "budget": budget,
        "over_budget": bool(budget and seconds and seconds["high"] > budget),
        "failed_seeds": [run["seed"] for run in runs if not run["ok"]],
    }


def problems(records, mode):
    """Lines naming each target missed at the worst seed, each failed run, each run over budget.

    Fast mode trains too little to reach any target: there only failures and time count.
    """
    lines = []
    for record in records:
        notebook = record["notebook"]
        missed = []
        if mode != "fast":
            for row in figure_rows(record):
                if row["missed_by"] is not None:
                    bound = "at least" if row["at_least"] is not None else "at most"
                    target = row["at_least"] if row["at_least"] is not None else row["at_most"]
                    missed.append(
                        f"{notebook}: {row['name']} = {row['worst']:.4g} at seed "
                        f"{row['worst_seed']}, {bound} {target:g} was stated: "
                        f"missed by {row['missed_by']:.4g}"
                    )
        lines += missed
        for run in runs_of(record):
            explained = missed and "TargetMissed" in (run["error"] or "")
            if not run["ok"] and not explained:
                lines.append(f"{notebook}: failed at seed {run['seed']}: {run['error']}")
        spent = timing(record, mode)
        if spent["over_budget"]:
            lines.append(
                f"{notebook}: {spent['seconds']['high']:.0f} s at its slowest seed, over the "
                f"{spent['budget']} s budget of {mode} mode"
            )
    return lines


def seed_blind_figures(record):
    """Figures identical at every one of several seeds: the notebook may reseed with a literal."""
    runs = [run for run in runs_of(record) if run["ok"]]
    if len({run["seed"] for run in runs}) < 2:
        return []
    return [
        row["name"]
        for row in figure_rows(record)
        if len(row["values"]) == len(runs) and len(set(row["values"].values())) == 1
    ]


def verdict(first, second, names, better="higher"):
    """Who wins a comparison over seeds, named from ``names``, or "within noise".

    ``first`` and ``second`` are the two sides' values, one per seed. A side wins only when its
    worst seed beats the other side's best seed.
    """
    first, second = spread(first), spread(second)
    if first is None or second is None:
        return "not run"
    if min(first["count"], second["count"]) < 2:
        return NO_VERDICT
    word = "wins" if better == "higher" else "faster"
    sign = 1 if better == "higher" else -1
    worst_first = first["low"] if sign > 0 else first["high"]
    best_first = first["high"] if sign > 0 else first["low"]
    worst_second = second["low"] if sign > 0 else second["high"]
    best_second = second["high"] if sign > 0 else second["low"]
    if sign * (worst_first - best_second) > 0:
        return f"{names[0]} {word}"
    if sign * (worst_second - best_first) > 0:
        return f"{names[1]} {word}"
    return WITHIN_NOISE


def largest_difference(first, second):
    """The largest absolute difference between two runs' figures (``{name: entry}``).

    Returns ``(difference, name)``; a figure one run lacks counts as infinitely different.
    """
    largest = (0.0, None)
    for name in sorted(set(first) | set(second)):
        if name not in first or name not in second:
            return (float("inf"), name)
        difference = abs(float(first[name]["value"]) - float(second[name]["value"]))
        if difference > largest[0]:
            largest = (difference, name)
    return largest
