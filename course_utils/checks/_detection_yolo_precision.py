"""Topic 07's checks, exercise 3: average precision.

The cases (hand-worked and random), the catalogued mistakes and the right answers; the checks
themselves are registered in :mod:`course_utils.checks.detection_yolo`.
"""

import numpy as np

from course_utils import checks, detection, detection_metrics


def ap_variant(scores, hits, num_ground_truth, mistake=None):
    """All-point AP, right or wrong in one catalogued way."""
    scores, hits = np.asarray(scores, float), np.asarray(hits, bool)
    order = np.arange(len(scores)) if mistake == "unsorted" else detection.score_order(scores)
    true_positives = np.cumsum(hits[order])
    precision = true_positives / np.arange(1, len(scores) + 1)
    total = len(scores) if mistake == "recall_over_detections" else num_ground_truth
    recall = true_positives / total
    if mistake == "eleven_points":
        return detection_metrics.average_precision(precision, recall, "11")
    if mistake == "trapezoid":
        return float(np.trapezoid(precision, recall))
    envelope = detection_metrics.precision_envelope(precision)
    if mistake == "forward_envelope":
        envelope = np.maximum.accumulate(precision)
    if mistake == "no_envelope":
        envelope = precision
    if mistake == "no_first_step":
        return float(np.sum(np.diff(recall) * envelope[1:]))
    return float(np.sum(np.diff(np.concatenate([[0], recall])) * envelope))


AP_MISTAKES = {
    "no_envelope": "the precision envelope is missing: before summing, replace each precision "
    "by the highest precision at that recall or beyond (a running max from the right).",
    "forward_envelope": "the envelope runs the wrong way: take the max of the precisions at "
    "higher recall (to the right, at lower scores), not of those before.",
    "eleven_points": "that is the 11-point AP of VOC 2007: here, sum the envelope over every "
    "step in recall (VOC 2010 and later).",
    "trapezoid": "trapezoids between points are not AP: sum rectangles, (change in recall) x "
    "(interpolated precision), one per true positive.",
    "unsorted": "rank the detections by score, highest first, before accumulating TP and FP.",
    "recall_over_detections": "recall divides by the number of ground-truth objects, not by the "
    "number of detections.",
    "no_first_step": "the curve starts at recall 0: the first true positive's step in recall "
    "(from 0 to its recall) counts too.",
}


# Hand-worked: ranked by score, hit, miss, miss, hit, hit among 4 objects (one never found):
# precision 1, 1/2, 1/3, 2/4, 3/5 at recall .25, .25, .25, .5, .75. The envelope lifts the
# precision of the hit at recall .5 from 1/2 to 3/5: AP = .25 x 1 + .25 x 3/5 + .25 x 3/5 = 0.55
HAND_AP_CASES = {
    "lecture": ([0.8, 0.95, 0.7, 0.6, 0.5], [False, True, False, True, True], 4),
    "perfect": ([0.9, 0.8, 0.7], [True, True, True], 3),
    "none": ([0.9, 0.8], [False, False], 2),
}


HAND_AP = {"lecture": 0.25 * (1 + 3 / 5 + 3 / 5), "perfect": 1.0, "none": 0.0}


def ap_case(key):
    """A hand-worked case by name, or ``(seed, count, found_rate)``: random scores, hits that
    favour high scores, the best-scored a false positive, a few objects never found."""
    if key in HAND_AP_CASES:
        scores, hits, total = HAND_AP_CASES[key]
        return checks.Case((np.array(scores), np.array(hits), total), {}, key)
    seed, count, found_rate = key
    rng = np.random.default_rng(seed)
    scores = rng.permutation(count) / count + 0.5 / count
    hits = rng.random(count) < np.clip(scores * found_rate, 0.05, 0.95)
    hits[np.argmax(scores)] = False  # a dip for the envelope to lift
    hits[np.argsort(scores)[len(scores) // 3]] = True  # a late true positive after the dip
    return checks.Case((scores, hits, int(hits.sum()) + int(rng.integers(1, 4))), {}, key)


def ap_value(exercise, case, output):
    """The student's AP as a 0-d array, or a failure naming the shape it has."""
    return checks.as_array(exercise, output, "average_precision's result", shape=())


def ap_expected(case):
    """The hand-worked AP of a named case, else the all-point AP of detection_metrics."""
    if isinstance(case.key, str):
        return HAND_AP[case.key]
    precision, recall, _ = detection_metrics.precision_recall(*case.args)
    return detection_metrics.average_precision(precision, recall, "all")


def ap_mistakes(case):
    """The catalogued wrong APs of one case, computed when needed."""
    return {
        hint: (lambda name=name: ap_variant(*case.args, mistake=name))
        for name, hint in AP_MISTAKES.items()
    }


def ap_context(case):
    """``5 detections, 3 hits, 4 objects: ``."""
    scores, hits, total = case.args
    return f"{len(scores)} detections, {int(np.sum(hits))} hits, {total} objects: "
