"""Quality figures a notebook reports: printed for the student, checked against the stated target.

``results.report("fcn8s_mean_iou", 0.41, at_least=0.35)`` prints one line and, in default and full
mode, raises when the target is missed, saying by how much (fast sizes train too little to meet
targets, so in fast mode, and in the tests' full mode with fast sizes, it only prints). When
``COURSE_RESULTS_FILE`` names a file, each figure is also appended to it as a JSON line: that is
how ``course bench`` collects them.
"""

import json
import os

from course_utils import config


class TargetMissed(AssertionError):
    """A notebook did not reach the quality it states."""


def report(name, value, at_least=None, at_most=None, unit=""):
    """Print ``name = value`` with its target; enforce the target unless sizes are fast's."""
    value = float(value)
    target = ""
    if at_least is not None:
        target = f" (target >= {at_least:g}{unit})"
    if at_most is not None:
        target = f" (target <= {at_most:g}{unit})"
    missed_by = None
    if at_least is not None and value < at_least:
        missed_by = at_least - value
    if at_most is not None and value > at_most:
        missed_by = value - at_most
    status = "" if not target else (" missed" if missed_by is not None else " reached")
    print(f"{name} = {value:.4g}{unit}{target}{status}")
    _record(name, value, at_least, at_most, missed_by)
    if missed_by is not None and config.enforces_targets():
        raise TargetMissed(f"{name} = {value:.4g}{unit} misses its target by {missed_by:.4g}{unit}")
    return value


def _record(name, value, at_least, at_most, missed_by):
    """Append the figure to ``COURSE_RESULTS_FILE`` when the benchmark asks for it."""
    path = os.environ.get("COURSE_RESULTS_FILE")
    if not path:
        return
    entry = {
        "name": name,
        "value": value,
        "at_least": at_least,
        "at_most": at_most,
        "missed_by": missed_by,
        "mode": config.mode(),
    }
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
