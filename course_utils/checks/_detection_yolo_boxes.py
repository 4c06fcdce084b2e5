"""Topic 07's checks, exercises 1 and 2: IoU and non-max suppression.

The cases (hand-worked and random), the catalogued mistakes and the right answers; the checks
themselves are registered in :mod:`course_utils.checks.detection_yolo`.
"""

import numpy as np

from course_utils import checks, detection


def iou_variant(boxes_a, boxes_b, inclusive=False, mistake=None):
    """Pairwise IoU, right or wrong in one catalogued way (``mistake`` names which)."""
    a = np.asarray(boxes_a, float)[:, None, :]
    b = np.asarray(boxes_b, float)[None, :, :]
    area_extra = inter_extra = 1.0 if inclusive else 0.0
    if mistake in ("no_plus_one", "plus_one_always"):
        area_extra = inter_extra = float(mistake == "plus_one_always")
    if mistake == "plus_one_areas_only":
        inter_extra = 0.0
    if mistake == "plus_one_intersection_only":
        area_extra = 0.0
    width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + inter_extra
    height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + inter_extra
    intersection = width * height
    if mistake != "no_clip":
        intersection = np.maximum(width, 0) * np.maximum(height, 0)
    area_a = (a[..., 2] - a[..., 0] + area_extra) * (a[..., 3] - a[..., 1] + area_extra)
    area_b = (b[..., 2] - b[..., 0] + area_extra) * (b[..., 3] - b[..., 1] + area_extra)
    denominators = {
        "no_subtraction": area_a + area_b,
        "over_first_area": np.broadcast_to(area_a, intersection.shape),
        "over_smaller_area": np.minimum(area_a, area_b),
    }
    return intersection / denominators.get(mistake, area_a + area_b - intersection)


IOU_MISTAKES = {
    "no_subtraction": "the union must not count the overlap twice: "
    "union = area_a + area_b - intersection.",
    "no_clip": "boxes that do not overlap have intersection 0: clip the overlap's width and "
    "height at 0 before multiplying (two negative sides give a positive product).",
    "plus_one_areas_only": "+1 pixel conventions mixed: with inclusive=True add 1 to the "
    "intersection's width and height too, not only to the boxes' areas.",
    "plus_one_intersection_only": "+1 pixel conventions mixed: with inclusive=True add 1 to "
    "the boxes' widths and heights too, not only to the intersection's.",
    "no_plus_one": "with inclusive=True, x_max is the last pixel of the box: its width is "
    "x_max - x_min + 1 (and so is the intersection's).",
    "plus_one_always": "add the +1 only when inclusive=True; continuous boxes are "
    "x_max - x_min wide.",
    "over_first_area": "IoU divides by the union of the two boxes, not by the first box's area.",
    "over_smaller_area": "IoU divides by the union of the two boxes, not by the smaller box's "
    "area.",
}


# The lecture's worked cases: 10 x 10 boxes overlapping on 5 x 5, so IoU = 25 / 175 = 1/7, in
# continuous coordinates and (pixels 0..9 and 5..14) inclusive ones; boxes sharing an edge.
HAND_IOU_CASES = {
    "lecture": ([[0, 0, 10, 10]], [[5, 5, 15, 15], [0, 0, 10, 10], [20, 0, 30, 10]], False),
    "lecture_inclusive": ([[0, 0, 9, 9]], [[5, 5, 14, 14]], True),
    "touching": ([[0, 0, 4, 4]], [[4, 0, 8, 4], [0, 0, 4, 4]], False),
    "touching_inclusive": ([[0, 0, 4, 4]], [[4, 0, 8, 4], [0, 0, 4, 4]], True),
}


HAND_IOU = {
    "lecture": [[1 / 7, 1.0, 0.0]],
    "lecture_inclusive": [[1 / 7]],
    "touching": [[0.0, 1.0]],
    "touching_inclusive": [[5 / 45, 1.0]],  # one shared column of 5 pixels
}


def iou_case(key):
    """A hand-worked case by name, or ``(seed, count_a, count_b, inclusive)``: random boxes with
    overlaps, nests and boxes far apart along x, y or both."""
    if key in HAND_IOU_CASES:
        boxes_a, boxes_b, inclusive = HAND_IOU_CASES[key]
        return checks.Case(
            (np.array(boxes_a, float), np.array(boxes_b, float)), {"inclusive": inclusive}, key
        )
    seed, count_a, count_b, inclusive = key
    rng = np.random.default_rng(seed)
    corner = rng.integers(0, 40, (count_a + count_b, 2)).astype(float)
    size = rng.integers(1, 20, (count_a + count_b, 2)).astype(float)
    boxes = np.concatenate([corner, corner + size], axis=1)
    # apart along x only and along both axes, the cases that expose an unclipped overlap
    boxes[0], boxes[count_a], boxes[count_a + 1] = [0, 0, 5, 5], [10, 2, 14, 8], [20, 20, 30, 30]
    if not inclusive:
        boxes = boxes + rng.uniform(0, 0.5, boxes.shape)
    return checks.Case((boxes[:count_a], boxes[count_a:]), {"inclusive": inclusive}, key)


def iou_array(exercise, case, output):
    """The student's IoU matrix, or a failure naming an elementwise answer or a wrong shape."""
    boxes_a, boxes_b = case.args
    shape = (len(boxes_a), len(boxes_b))
    if np.ndim(output) == 1 and np.size(output) == min(shape):
        checks.fail(
            exercise,
            f"box_iou returned shape {np.shape(output)}, one IoU per pair of rows: return the "
            f"matrix {shape} of every box of boxes_a against every box of boxes_b (broadcast "
            f"boxes_a[:, None] against boxes_b[None, :]).",
        )
    return checks.as_array(exercise, output, "box_iou's result", shape=shape)


def iou_expected(case):
    """The hand-worked answer of a named case, else detection.iou."""
    if isinstance(case.key, str):
        return np.array(HAND_IOU[case.key])
    return detection.iou(*case.args, **case.kwargs)


def iou_mistakes(case):
    """The catalogued wrong answers of one case, computed when needed."""
    return {
        hint: (lambda name=name: iou_variant(*case.args, **case.kwargs, mistake=name))
        for name, hint in IOU_MISTAKES.items()
    }


def iou_context(case):
    """``box_iou(<1 boxes>, <3 boxes>, inclusive=False): ``."""
    boxes_a, boxes_b = case.args
    inclusive = case.kwargs["inclusive"]
    return f"box_iou(<{len(boxes_a)} boxes>, <{len(boxes_b)} boxes>, inclusive={inclusive}): "


def _visiting_order(members, scores, mistake):
    """The order NMS visits one class's boxes in: best score first, ties in index order."""
    if mistake == "unsorted":
        return members
    if mistake == "ties_reversed":
        return members[np.lexsort((-members, -scores[members]))]
    return members[detection.score_order(scores[members])]


def nms_variant(boxes, scores, classes, iou_threshold, mistake=None):
    """Kept indices (sorted) of per-class greedy NMS, right or wrong in one catalogued way."""
    boxes, scores, classes = np.asarray(boxes, float), np.asarray(scores), np.asarray(classes)
    if mistake == "across_classes":
        classes = np.zeros_like(classes)
    overlaps = detection.iou(boxes, boxes)
    kept = []
    for label in np.unique(classes):
        order = _visiting_order(np.flatnonzero(classes == label), scores, mistake)
        chosen = []
        for position, index in enumerate(order):
            against = order[:position] if mistake == "suppressed_suppress" else chosen
            near = overlaps[index, against]
            keep = np.all(near > iou_threshold if mistake == "reversed" else near <= iou_threshold)
            if keep:
                chosen.append(index)
        kept.extend(chosen)
    return np.sort(np.array(kept, dtype=int))


NMS_MISTAKES = {
    "across_classes": "boxes of different classes suppress each other: run the suppression "
    "separately within each class (a '3' may overlap a '5').",
    "unsorted": "visit the boxes from the highest score down: the best box of a cluster must be "
    "the one kept.",
    "suppressed_suppress": "a box that was itself suppressed must not suppress others: compare "
    "each box only with the boxes already kept.",
    "reversed": "a box goes when its IoU with a kept box is ABOVE the threshold, and stays "
    "otherwise.",
    "ties_reversed": "boxes with equal scores must be visited in index order, as "
    "tf.image.non_max_suppression does: sort with a stable sort, "
    "np.argsort(-scores, kind='stable') (the default sort may reorder ties).",
}


# A chain of three class-0 boxes (A overlaps B, B overlaps C, A and C apart), a class-1 box on
# top of A, a far class-0 box: A, C, the class-1 box and the far box survive at IoU 0.5.
# "ties": boxes 2 and 3 tie at 0.9 and overlap (IoU 9/11): tf.image keeps the first, box 2.
HAND_NMS_CASES = {
    "lecture": (
        [[0, 0, 10, 10], [3, 0, 13, 10], [6, 0, 16, 10], [0, 1, 10, 11], [30, 30, 40, 40]],
        [0.9, 0.8, 0.7, 0.85, 0.4],
        [0, 0, 0, 1, 0],
        0.5,
    ),
    "ties": ([[50, 50, 60, 60], [70, 70, 80, 80], [0, 0, 10, 10], [1, 0, 11, 10]],)
    + ([0.3, 0.5, 0.9, 0.9], [0, 0, 0, 0], 0.5),
    "single": ([[0, 0, 10, 10]], [0.9], [7], 0.5),
}


HAND_NMS_KEPT = {"lecture": [0, 2, 3, 4], "ties": [0, 1, 2], "single": [0]}


def _nms_boxes(rng, count, num_classes):
    """Clusters of jittered boxes, each cluster mostly of one class, one in five of another."""
    clusters = max(count // 4, 1)
    centres = rng.uniform(10, 60, (clusters, 2))
    cluster_classes = rng.integers(0, num_classes, clusters)
    picks = rng.integers(0, clusters, count)
    centre = centres[picks] + rng.normal(0, 2.0, (count, 2))
    size = rng.uniform(8, 14, (count, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    strays = rng.random(count) < 0.2
    classes = np.where(strays, rng.integers(0, num_classes, count), cluster_classes[picks])
    return boxes, classes


def nms_case(key):
    """A hand-worked case by name, or ``(seed, count, num_classes, threshold, tied)``: clusters
    that NMS must thin out, IoUs at least 0.01 from the threshold, scores tied if ``tied``."""
    if key in HAND_NMS_CASES:
        boxes, scores, classes, threshold = HAND_NMS_CASES[key]
        arrays = (np.array(boxes, float), np.array(scores, float), np.array(classes))
        return checks.Case(arrays, {"iou_threshold": threshold}, key)
    seed, count, num_classes, threshold, tied = key
    rng = np.random.default_rng(seed)
    while True:  # redraw until no IoU sits on the threshold (float32 and float64 agree)
        boxes, classes = _nms_boxes(rng, count, num_classes)
        if np.all(np.abs(detection.iou(boxes, boxes) - threshold) > 0.01):
            break
    distinct = (rng.permutation(count) + 1) / (count + 1)
    scores = rng.integers(1, 5, count) / 5 if tied else distinct  # tied: four values for many
    return checks.Case((boxes, scores, classes), {"iou_threshold": threshold}, key)


def _kept_indices(exercise, output, count):
    """The student's kept indices as a sorted int array, or a one-line failure saying why."""
    output = checks.unwrap(exercise, output, "the kept indices")
    if np.asarray(output).dtype == bool:
        checks.fail(
            exercise,
            "non_max_suppression returned a mask: return the indices of the kept boxes "
            "(np.flatnonzero(mask) turns one into the other).",
        )
    result = checks.as_array(exercise, output, "the kept indices", ndim=1)
    if np.any(result != np.round(result)) or np.any(result < 0) or np.any(result >= count):
        checks.fail(exercise, f"the kept indices should be box indices 0..{count - 1}.")
    kept = np.sort(result.astype(int))
    if len(np.unique(kept)) != len(kept):
        checks.fail(exercise, "a box index is returned twice: keep each box at most once.")
    return kept


def judge_nms(exercise, case, output):
    """The kept boxes (any order) against tf.image per class or the hand-worked answer."""
    boxes, scores, classes = case.args
    threshold = case.kwargs["iou_threshold"]
    kept = _kept_indices(exercise, output, len(boxes))
    if isinstance(case.key, str):
        expected = np.array(HAND_NMS_KEPT[case.key])
    else:
        expected = detection.tf_non_max_suppression_per_class(boxes, scores, classes, threshold)
    expected = np.sort(np.asarray(expected, dtype=int))
    if np.array_equal(kept, expected):
        return
    ties = " (scores tied)" if len(np.unique(scores)) < len(scores) else ""
    context = f"with {len(boxes)} boxes{ties} at iou_threshold={threshold}: "
    for name, hint in NMS_MISTAKES.items():
        if np.array_equal(kept, nms_variant(boxes, scores, classes, threshold, name)):
            checks.fail(exercise, context + hint)
    missing, extra = np.setdiff1d(expected, kept), np.setdiff1d(kept, expected)
    checks.fail(
        exercise,
        context + f"expected to keep {expected.tolist()}, got {kept.tolist()} "
        f"(missing {missing.tolist()}, extra {extra.tolist()}).",
    )


NMS_PUBLIC = ["lecture", "ties", (0, 24, 3, 0.5, False), (1, 24, 3, 0.3, False)]


NMS_HIDDEN = [(20, 40, 2, 0.6, False), (21, 40, 5, 0.45, False), (22, 40, 1, 0.2, False)]
NMS_HIDDEN += [(23, 30, 2, 0.5, True), (24, 30, 1, 0.4, True), "single"]


NMS_HIDDEN += [(23, 30, 2, 0.5, True), (24, 30, 1, 0.4, True), "single"]
