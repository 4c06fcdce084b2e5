"""The benchmark's comparisons over seeds (course against public recipes) and grading's scaling.

Each comparison row keeps both sides' figure at every seed, so the page can show medians and
ranges and name a winner only when the winner's worst seed beats the other's best
(:func:`course_tools.bench_stats.verdict`). The recipes themselves live in
:mod:`course_tools.baselines`; this module runs each once per seed, in a fresh process that
receives its mode and seed through :func:`course_utils.config.environment` as a notebook does,
and lays out the rows.
"""

import importlib
import json
import os
import subprocess
import sys

from course_utils import config

GRADED_ASSIGNMENT = "01_conv2d_padding_stride"  # the assignment the grader benchmark grades
RECIPES = {
    "fcn": "course_tools.baselines:compare_fcn",
    "unet": "course_tools.baselines:compare_unet",
}
FCN_VARIANTS = ("32s", "16s", "8s")
UNET_ROWS = (
    ("scratch", "U-Net as notebook 06 trains it"),
    ("decoder", "U-Net decoder on the same frozen backbone"),
)


def comparison(measure, names, better, values, seeds):
    """One stored comparison row: both sides' values, one per seed."""
    return {
        "measure": measure,
        "names": list(names),
        "better": better,
        "values": [list(values[0]), list(values[1])],
        "seeds": list(seeds),
    }


class RecipeFailed(RuntimeError):
    """A comparison's recipe crashed in its child process."""


def child_environment(mode, seed):
    """The environment of a benchmarked child process: this one's, with ``mode`` and ``seed``.

    The child receives both through :func:`config.environment`, the one place that turns them
    into variables; a results file the parent may have been given is not passed on.
    """
    base = {key: value for key, value in os.environ.items() if key != "COURSE_RESULTS_FILE"}
    return config.environment(mode, base, seed=seed)


def run_recipe(target, mode, seed):
    """Run ``module:function`` as ``function(mode, seed=seed)`` in a fresh process; its result."""
    environment = child_environment(mode, seed)
    command = [sys.executable, "-m", "course_tools.bench_compare", target]
    finished = subprocess.run(command, env=environment, capture_output=True, text=True)
    if finished.returncode != 0:
        last = (finished.stderr.strip().splitlines() or ["no message"])[-1]
        raise RecipeFailed(f"{target} at seed {seed}: {last[:300]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def run_comparisons(mode, seeds, recipes=None):
    """Every comparison row over ``seeds``, and a line for each recipe run that failed.

    ``recipes`` maps ``fcn`` and ``unet`` to ``module:function`` (default :data:`RECIPES`). A row
    is made from the seeds at which its recipe ran.
    """
    recipes = recipes or RECIPES
    results = {name: {} for name in recipes}
    failures = []
    for name, target in recipes.items():
        for seed in seeds:
            try:
                results[name][seed] = run_recipe(target, mode, seed)
            except RecipeFailed as failure:
                failures.append(str(failure))
    rows = []
    for name, make_rows in (("fcn", fcn_rows), ("unet", unet_rows)):
        ran = [seed for seed in seeds if seed in results.get(name, {})]
        if ran:
            rows += make_rows([results[name][seed] for seed in ran], ran)
    return rows, failures


def fcn_rows(runs, seeds):
    """The FCN rows from one ``compare_fcn`` result per seed."""
    names = ("course", "keras.io recipe")
    rows = []
    for variant in FCN_VARIANTS:
        for measure, course_key, public_key, better in (
            ("mean IoU", "course_mean_iou", "kerasio_mean_iou", "higher"),
            ("training s", "course_seconds", "kerasio_seconds", "lower"),
        ):
            values = (
                [run[variant][course_key] for run in runs],
                [run[variant][public_key] for run in runs],
            )
            rows.append(comparison(f"FCN-{variant} {measure}", names, better, values, seeds))
    gains = (
        [run["8s"]["course_mean_iou"] - run["32s"]["course_mean_iou"] for run in runs],
        [run["8s"]["kerasio_mean_iou"] - run["32s"]["kerasio_mean_iou"] for run in runs],
    )
    rows.append(comparison("FCN-8s minus FCN-32s mean IoU", names, "higher", gains, seeds))
    return rows


def unet_rows(runs, seeds):
    """The U-Net rows from one ``compare_unet`` result per seed, each against the tutorial."""
    names = ("course", "TF tutorial decoder")
    rows = []
    for key, label in UNET_ROWS:
        for measure, field, better in (
            ("mean IoU", "mean_iou", "higher"),
            ("training s", "seconds", "lower"),
        ):
            values = (
                [run[key][field] for run in runs],
                [run["tutorial"][field] for run in runs],
            )
            rows.append(comparison(f"{label}, {measure}", names, better, values, seeds))
    return rows


def grader_scaling(count, jobs, benchmark=None):
    """Grading throughput with 1 job and with ``jobs`` jobs, as ``(name, value)`` rows.

    ``benchmark(assignment, count=, jobs=)`` defaults to :func:`course_tools.grading.benchmark`.
    """
    if benchmark is None:
        from course_tools import grading

        benchmark = grading.benchmark
    rows = []
    single = None
    for parallel in dict.fromkeys((1, jobs)):
        result = benchmark(GRADED_ASSIGNMENT, count=count, jobs=parallel)
        per_minute = float(result["per_minute"])
        single = per_minute if parallel == 1 else single
        value = f"{per_minute:.1f}"
        if parallel > 1 and single:
            value += f" ({per_minute / single:.2f}x one job)"
        if result.get("errors"):
            value += f", {result['errors']} graded with errors"
        job_word = "job" if parallel == 1 else "jobs"
        rows.append(
            (
                f"grader, {parallel} {job_word}: submissions per minute "
                f"({result['submissions']} submissions of {GRADED_ASSIGNMENT})",
                value,
            )
        )
    return rows


def _child(target):
    """Child-process side of :func:`run_recipe`: call the recipe, print its result as JSON."""
    module, name = target.split(":")
    function = getattr(importlib.import_module(module), name)
    result = function(config.mode(), seed=config.run_seed())
    print(json.dumps(result, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
