"""Checks of topic 07, detection: IoU, non-max suppression, AP, YOLO targets and the YOLO loss.

Answers come from independent sources: hand-worked cases, :mod:`course_utils.detection` (itself
tested against loops, ``tf.image.non_max_suppression`` and pycocotools),
:func:`course_utils.yolo.encode_yolo_targets` and an explicit-loop NumPy YOLO loss. A wrong
answer is compared with the classic mistakes of each exercise, and the one it matches is named.
``check_*_hidden`` run more and different cases for grading.
"""

import numpy as np

from course_utils import checks, detection, yolo

# Exercise numbers in solutions/07_detection_yolo.ipynb.
EXERCISES = {"box_iou": 1, "non_max_suppression": 2, "average_precision": 3}
EXERCISES.update({"encode_targets": 4, "yolo_loss": 5})


# --- exercise 1: IoU ---------------------------------------------------------------------------


def _iou_variant(boxes_a, boxes_b, inclusive=False, mistake=None):
    """Pairwise IoU, right or wrong in one catalogued way (``mistake`` names which)."""
    a = np.asarray(boxes_a, float)[:, None, :]
    b = np.asarray(boxes_b, float)[None, :, :]
    area_extra = inter_extra = 1.0 if inclusive else 0.0
    if mistake == "no_plus_one":
        area_extra = inter_extra = 0.0
    if mistake == "plus_one_always":
        area_extra = inter_extra = 1.0
    if mistake == "plus_one_areas_only":
        inter_extra = 0.0
    if mistake == "plus_one_intersection_only":
        area_extra = 0.0
    width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + inter_extra
    height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + inter_extra
    if mistake == "no_clip":
        intersection = width * height
    else:
        intersection = np.maximum(width, 0) * np.maximum(height, 0)
    area_a = (a[..., 2] - a[..., 0] + area_extra) * (a[..., 3] - a[..., 1] + area_extra)
    area_b = (b[..., 2] - b[..., 0] + area_extra) * (b[..., 3] - b[..., 1] + area_extra)
    if mistake == "no_subtraction":
        return intersection / (area_a + area_b)
    if mistake == "over_first_area":
        return intersection / np.broadcast_to(area_a, intersection.shape)
    if mistake == "over_smaller_area":
        return intersection / np.minimum(area_a, area_b)
    return intersection / (area_a + area_b - intersection)


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
    "over_first_area": "IoU divides by the union of the two boxes, not by one box's area.",
    "over_smaller_area": "IoU divides by the union of the two boxes, not by one box's area.",
}

# The lecture-style worked case: 10 x 10 boxes overlapping on 5 x 5, so IoU = 25 / 175 = 1/7.
HAND_BOXES_A = np.array([[0.0, 0.0, 10.0, 10.0]])
HAND_BOXES_B = np.array([[5.0, 5.0, 15.0, 15.0], [0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
HAND_IOU = np.array([[1 / 7, 1.0, 0.0]])


def _iou_cases(seed, count_a, count_b, inclusive):
    """Random boxes with overlaps, nests and boxes far apart along x, y or both."""
    rng = np.random.default_rng(seed)
    corner = rng.integers(0, 40, (count_a + count_b, 2)).astype(float)
    size = rng.integers(1, 20, (count_a + count_b, 2)).astype(float)
    boxes = np.concatenate([corner, corner + size], axis=1)
    # apart along x only and along both axes, the cases that expose an unclipped overlap
    boxes[0] = [0, 0, 5, 5]
    boxes[count_a] = [10, 2, 14, 8]
    boxes[count_a + 1] = [20, 20, 30, 30]
    if not inclusive:
        boxes = boxes + rng.uniform(0, 0.5, boxes.shape)
    return boxes[:count_a], boxes[count_a:]


def _check_iou_case(function, boxes_a, boxes_b, inclusive, expected=None):
    """Compare one call of the student's IoU with the reference, naming the mistake."""
    exercise = EXERCISES["box_iou"]
    result = checks.call(exercise, function, boxes_a, boxes_b, inclusive=inclusive)
    shape = (len(boxes_a), len(boxes_b))
    if np.ndim(result) == 1 and np.size(result) == min(shape):
        checks.fail(
            exercise,
            f"box_iou returned shape {np.shape(result)}, one IoU per pair of rows: return the "
            f"matrix {shape} of every box of boxes_a against every box of boxes_b (broadcast "
            f"boxes_a[:, None] against boxes_b[None, :]).",
        )
    result = checks.as_array(exercise, result, "box_iou's result", shape=shape)
    if expected is None:
        expected = detection.iou(boxes_a, boxes_b, inclusive=inclusive)
    mistakes = {
        hint: (lambda name=name: _iou_variant(boxes_a, boxes_b, inclusive, name))
        for name, hint in IOU_MISTAKES.items()
    }
    context = f"box_iou(<{shape[0]} boxes>, <{shape[1]} boxes>, inclusive={inclusive}): "
    checks.diagnose(exercise, result, expected, mistakes, context)


def check_box_iou(function):
    """Exercise 1: the hand-worked 1/7 case, random boxes, both pixel conventions."""
    _check_iou_case(function, HAND_BOXES_A, HAND_BOXES_B, False, HAND_IOU)
    # pixels 0..9 and 5..14: 10 x 10 boxes sharing 5 x 5 pixels, again 1/7 when inclusive
    _check_iou_case(function, [[0, 0, 9, 9]], [[5, 5, 14, 14]], True, [[1 / 7]])
    for seed, inclusive in ((0, False), (1, True)):
        boxes_a, boxes_b = _iou_cases(seed, 5, 7, inclusive)
        _check_iou_case(function, boxes_a, boxes_b, inclusive)
    return checks.passed(
        EXERCISES["box_iou"],
        "IoU matrices match the hand-worked cases and random boxes, in both pixel conventions.",
    )


def check_box_iou_hidden(function):
    """Exercise 1, graded: larger random sets, touching boxes, identical boxes."""
    for seed, inclusive in ((10, False), (11, True), (12, True), (13, False)):
        boxes_a, boxes_b = _iou_cases(seed, 9, 4, inclusive)
        _check_iou_case(function, boxes_a, boxes_b, inclusive)
    # sharing an edge: no overlap in continuous coordinates, one pixel column when inclusive
    touching_a, touching_b = [[0, 0, 4, 4]], [[4, 0, 8, 4], [0, 0, 4, 4]]
    _check_iou_case(function, touching_a, touching_b, False, [[0.0, 1.0]])
    _check_iou_case(function, touching_a, touching_b, True, [[5 / 45, 1.0]])
    return checks.passed(EXERCISES["box_iou"], "hidden IoU cases pass.")


# --- exercise 2: non-max suppression -----------------------------------------------------------


def _nms_variant(boxes, scores, classes, iou_threshold, mistake=None):
    """Kept indices (sorted) of per-class greedy NMS, right or wrong in one catalogued way."""
    boxes, scores, classes = np.asarray(boxes, float), np.asarray(scores), np.asarray(classes)
    if mistake == "across_classes":
        classes = np.zeros_like(classes)
    kept = []
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        order = members if mistake == "unsorted" else members[np.argsort(-scores[members])]
        overlaps = detection.iou(boxes, boxes)
        chosen = []
        for index in order:
            against = (
                order[: list(order).index(index)] if mistake == "suppressed_suppress" else chosen
            )
            near = [overlaps[index, other] for other in against]
            if mistake == "reversed":
                keep = all(value > iou_threshold for value in near)
            else:
                keep = all(value <= iou_threshold for value in near)
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
}

# A chain of three class-0 boxes (A overlaps B, B overlaps C, A and C apart), a class-1 box on
# top of A, a far class-0 box: A, C, the class-1 box and the far box survive at IoU 0.5.
HAND_NMS_BOXES = np.array(
    [[0, 0, 10, 10], [3, 0, 13, 10], [6, 0, 16, 10], [0, 1, 10, 11], [30, 30, 40, 40]], float
)
HAND_NMS_SCORES = np.array([0.9, 0.8, 0.7, 0.85, 0.4])
HAND_NMS_CLASSES = np.array([0, 0, 0, 1, 0])
HAND_NMS_KEPT = np.array([0, 2, 3, 4])


def _nms_cases(seed, count, num_classes):
    """Clustered random boxes with distinct scores and IoUs away from the thresholds."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(10, 50, (count // 3 + 1, 2))
    picks = rng.integers(0, len(centres), count)
    centre = centres[picks] + rng.normal(0, 3, (count, 2))
    size = rng.uniform(6, 14, (count, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    scores = (rng.permutation(count) + 1) / (count + 1)
    classes = rng.integers(0, num_classes, count)
    return boxes, scores, classes


def _check_nms_case(function, boxes, scores, classes, iou_threshold, expected=None):
    """Compare the student's kept indices (in any order) with the reference."""
    exercise = EXERCISES["non_max_suppression"]
    result = checks.call(exercise, function, boxes, scores, classes, iou_threshold=iou_threshold)
    if hasattr(result, "numpy"):
        result = result.numpy()
    result = np.asarray(result)
    if result.dtype == bool:
        checks.fail(
            exercise,
            "non_max_suppression returned a mask: return the indices of the kept boxes "
            "(np.flatnonzero(mask) turns one into the other).",
        )
    result = checks.as_array(exercise, result, "the kept indices", ndim=1)
    if np.any(result != np.round(result)) or np.any(result < 0) or np.any(result >= len(boxes)):
        checks.fail(exercise, f"the kept indices should be box indices 0..{len(boxes) - 1}.")
    kept = np.sort(result.astype(int))
    if len(np.unique(kept)) != len(kept):
        checks.fail(exercise, "a box index is returned twice: keep each box at most once.")
    if expected is None:
        expected = detection.tf_non_max_suppression_per_class(boxes, scores, classes, iou_threshold)
    expected = np.sort(np.asarray(expected, dtype=int))
    if np.array_equal(kept, expected):
        return
    context = f"with {len(boxes)} boxes at iou_threshold={iou_threshold}: "
    for name, hint in NMS_MISTAKES.items():
        if np.array_equal(kept, _nms_variant(boxes, scores, classes, iou_threshold, name)):
            checks.fail(exercise, context + hint)
    missing, extra = np.setdiff1d(expected, kept), np.setdiff1d(kept, expected)
    checks.fail(
        exercise,
        context + f"expected to keep {expected.tolist()}, got {kept.tolist()} "
        f"(missing {missing.tolist()}, extra {extra.tolist()}).",
    )


def check_non_max_suppression(function):
    """Exercise 2: the hand-worked chain and random clusters, against tf.image per class."""
    _check_nms_case(function, HAND_NMS_BOXES, HAND_NMS_SCORES, HAND_NMS_CLASSES, 0.5, HAND_NMS_KEPT)
    for seed, threshold in ((0, 0.5), (1, 0.3)):
        _check_nms_case(function, *_nms_cases(seed, 24, 3), threshold)
    return checks.passed(
        EXERCISES["non_max_suppression"],
        "per-class NMS keeps the same boxes as tf.image.non_max_suppression.",
    )


def check_non_max_suppression_hidden(function):
    """Exercise 2, graded: more clusters, thresholds, classes, and a single box."""
    for seed, threshold, num_classes in ((20, 0.6, 2), (21, 0.45, 5), (22, 0.2, 1)):
        _check_nms_case(function, *_nms_cases(seed, 40, num_classes), threshold)
    _check_nms_case(function, HAND_NMS_BOXES[:1], HAND_NMS_SCORES[:1], [7], 0.5, [0])
    return checks.passed(EXERCISES["non_max_suppression"], "hidden NMS cases pass.")


# --- exercise 3: average precision ---------------------------------------------------------------


def _ap_variant(scores, hits, num_ground_truth, mistake=None):
    """All-point AP, right or wrong in one catalogued way."""
    scores, hits = np.asarray(scores, float), np.asarray(hits, bool)
    order = np.arange(len(scores)) if mistake == "unsorted" else np.argsort(-scores, kind="stable")
    true_positives = np.cumsum(hits[order])
    ranks = np.arange(1, len(scores) + 1)
    precision = true_positives / ranks
    recall = true_positives / (
        len(scores) if mistake == "recall_over_detections" else num_ground_truth
    )
    if mistake == "eleven_points":
        return detection.average_precision(precision, recall, "11")
    if mistake == "trapezoid":
        return float(np.trapezoid(precision, recall))
    if mistake == "forward_envelope":
        envelope = np.maximum.accumulate(precision)
    elif mistake == "no_envelope":
        envelope = precision
    else:
        envelope = detection.precision_envelope(precision)
    steps = (
        np.diff(recall) if mistake == "no_first_step" else np.diff(np.concatenate([[0], recall]))
    )
    return float(np.sum(steps * (envelope[1:] if mistake == "no_first_step" else envelope)))


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
HAND_AP_SCORES = np.array([0.8, 0.95, 0.7, 0.6, 0.5])
HAND_AP_HITS = np.array([False, True, False, True, True])
HAND_AP = 0.25 * (1 + 3 / 5 + 3 / 5)


def _ap_cases(seed, count, found_rate):
    """Random scores, hits that favour high scores, a few objects never found."""
    rng = np.random.default_rng(seed)
    scores = rng.permutation(count) / count + 0.5 / count
    hits = rng.random(count) < np.clip(scores * found_rate, 0.05, 0.95)
    hits[np.argmax(scores)] = False  # the best-scored is a false positive: a dip to lift
    hits[np.argsort(scores)[len(scores) // 3]] = True  # a late true positive after the dip
    return scores, hits, int(hits.sum()) + int(rng.integers(1, 4))


def _check_ap_case(function, scores, hits, num_ground_truth, expected=None):
    """Compare one AP with the reference, naming the mistake."""
    exercise = EXERCISES["average_precision"]
    result = checks.call(exercise, function, scores, hits, num_ground_truth)
    result = checks.as_array(exercise, result, "average_precision's result", shape=())
    if expected is None:
        precision, recall, _ = detection.precision_recall(scores, hits, num_ground_truth)
        expected = detection.average_precision(precision, recall, "all")
    mistakes = {
        hint: (lambda name=name: _ap_variant(scores, hits, num_ground_truth, name))
        for name, hint in AP_MISTAKES.items()
    }
    context = f"{len(scores)} detections, {int(np.sum(hits))} hits, {num_ground_truth} objects: "
    checks.diagnose(exercise, result, expected, mistakes, context, atol=1e-6)
    if not 0 <= float(result) <= 1:
        checks.fail(exercise, f"AP is an area under precision <= 1: got {float(result)}.")


def check_average_precision(function):
    """Exercise 3: the hand-worked 0.55 and random rankings, all-point interpolation."""
    _check_ap_case(function, HAND_AP_SCORES, HAND_AP_HITS, 4, HAND_AP)
    for seed in (0, 1):
        _check_ap_case(function, *_ap_cases(seed, 20, 1.2))
    return checks.passed(
        EXERCISES["average_precision"],
        "all-point AP matches the hand-worked 0.55 and random rankings.",
    )


def check_average_precision_hidden(function):
    """Exercise 3, graded: longer rankings, a perfect detector, no true positive at all."""
    for seed in (30, 31, 32):
        _check_ap_case(function, *_ap_cases(seed, 60, 1.0))
    _check_ap_case(function, np.array([0.9, 0.8, 0.7]), np.array([True, True, True]), 3, 1.0)
    _check_ap_case(function, np.array([0.9, 0.8]), np.array([False, False]), 2, 0.0)
    return checks.passed(EXERCISES["average_precision"], "hidden AP cases pass.")


# --- exercise 4: YOLO targets --------------------------------------------------------------------


def _encode_variant(boxes, image_size, grid_size, boxes_per_cell, num_classes, mistake=None):
    """One image's YOLO target, right or wrong in one catalogued way."""
    cell = image_size / grid_size
    slots = 5 * boxes_per_cell
    target = np.zeros((grid_size, grid_size, slots + num_classes))
    boxes = np.asarray(boxes, float).reshape(-1, 5)
    plus = 0.0 if mistake in ("no_plus_one", "centre_without_plus_one") else 1.0
    widths = boxes[:, 3] - boxes[:, 1] + (0.0 if mistake == "no_plus_one" else 1.0)
    heights = boxes[:, 4] - boxes[:, 2] + (0.0 if mistake == "no_plus_one" else 1.0)
    order = np.argsort(-widths * heights, kind="stable")
    if mistake == "smaller_wins":
        order = np.argsort(widths * heights, kind="stable")
    if mistake == "last_wins":
        order = np.arange(len(boxes))[::-1]
    for index in order:
        label, x_min, y_min, x_max, y_max = boxes[index]
        centre_x, centre_y = (x_min + x_max + plus) / 2, (y_min + y_max + plus) / 2
        column = min(int(centre_x // cell), grid_size - 1)
        row = min(int(centre_y // cell), grid_size - 1)
        if mistake == "swapped":
            row, column = column, row
        if target[row, column, 4] > 0:
            continue
        x, y = centre_x / cell - int(centre_x // cell), centre_y / cell - int(centre_y // cell)
        if mistake == "image_offsets":
            x, y = centre_x / image_size, centre_y / image_size
        width, height = widths[index] / image_size, heights[index] / image_size
        if mistake == "cell_sizes":
            width, height = widths[index] / cell, heights[index] / cell
        box = [x, y, width, height, 1.0]
        target[row, column, :slots] = box * boxes_per_cell
        if mistake == "first_slot_only":
            target[row, column, 5:slots] = 0
        target[row, column, slots + int(label)] = 1.0
    return target


ENCODE_MISTAKES = {
    "swapped": "rows and columns are swapped: the row index comes from y, the column from x "
    "(target[row, column]).",
    "image_offsets": "x, y are the centre's offset inside its cell (in cell units, in [0, 1)), "
    "not its position in the image.",
    "cell_sizes": "w, h are fractions of the whole image, not of a cell.",
    "no_plus_one": "boxes are inclusive pixels: a box is x_max - x_min + 1 pixels wide and "
    "centred at (x_min + x_max + 1) / 2.",
    "centre_without_plus_one": "+1 pixel conventions mixed: with inclusive pixels the centre "
    "is (x_min + x_max + 1) / 2, consistent with width = x_max - x_min + 1.",
    "first_slot_only": "every one of the B slots of an object's cell gets its box and "
    "confidence 1, not only the first.",
    "smaller_wins": "when two centres share a cell, the larger box (by area) wins.",
    "last_wins": "when two centres share a cell, the larger box (by area) wins, whatever the "
    "order of the boxes.",
}

# Hand-worked: a '3' over pixels 10..25 x 20..35 of a 64-pixel image, 8 x 8 grid (8-pixel cells):
# 16 x 16 pixels, centre (18, 28) -> column 2, row 3, offsets (0.25, 0.5), size 0.25 x 0.25.
HAND_ENCODE_BOXES = np.array([[3, 10, 20, 25, 35]])
HAND_ENCODE_CELL = (3, 2, [0.25, 0.5, 0.25, 0.25, 1.0])


def _encode_cases(seed, count, image_size, grid_size, num_classes):
    """Random inclusive boxes, two of them with centres in one cell."""
    rng = np.random.default_rng(seed)
    x_min = rng.integers(0, image_size - 20, count)
    y_min = rng.integers(0, image_size - 20, count)
    width, height = rng.integers(3, 19, count), rng.integers(3, 19, count)
    labels = rng.integers(0, num_classes, count)
    boxes = np.stack([labels, x_min, y_min, x_min + width, y_min + height], axis=1)
    # a small box centred in the same cell as box 0, listed after it and before it
    centre_x = (boxes[0, 1] + boxes[0, 3] + 1) // 2
    centre_y = (boxes[0, 2] + boxes[0, 4] + 1) // 2
    small = [labels[-1], centre_x - 1, centre_y - 1, centre_x, centre_y]
    return np.concatenate([[small], boxes, [small]]).astype(np.int64)


def _check_encode_case(
    function, boxes, image_size, grid_size, boxes_per_cell, num_classes, expected=None
):
    """Compare one encoded image with yolo.encode_yolo_targets, naming the mistake."""

    exercise = EXERCISES["encode_targets"]
    depth = 5 * boxes_per_cell + num_classes
    result = checks.call(
        exercise,
        function,
        boxes,
        image_size,
        grid_size=grid_size,
        boxes_per_cell=boxes_per_cell,
        num_classes=num_classes,
    )
    result = checks.as_array(
        exercise, result, "encode_targets' result", shape=(grid_size, grid_size, depth)
    )
    if expected is None:
        expected = yolo.encode_yolo_targets(
            [boxes], image_size, grid_size, boxes_per_cell, num_classes
        )[0]
    arguments = (boxes, image_size, grid_size, boxes_per_cell, num_classes)
    mistakes = {
        hint: (lambda name=name: _encode_variant(*arguments, mistake=name))
        for name, hint in ENCODE_MISTAKES.items()
    }
    context = (
        f"{len(boxes)} boxes, image_size={image_size}, grid_size={grid_size}, "
        f"boxes_per_cell={boxes_per_cell}: "
    )
    checks.diagnose(exercise, result, expected, mistakes, context, atol=1e-5)


def check_encode_targets(function):
    """Exercise 4: the hand-worked '3', then random boxes against yolo.encode_yolo_targets."""
    exercise = EXERCISES["encode_targets"]
    row, column, box = HAND_ENCODE_CELL
    expected = np.zeros((8, 8, 20))
    expected[row, column, :10] = box * 2
    expected[row, column, 10 + 3] = 1.0
    _check_encode_case(function, HAND_ENCODE_BOXES, 64, 8, 2, 10, expected)
    _check_encode_case(function, _encode_cases(0, 4, 64, 8, 10), 64, 8, 2, 10)
    _check_encode_case(function, _encode_cases(1, 5, 64, 8, 10), 64, 8, 2, 10)
    return checks.passed(
        exercise, "targets match the hand-worked '3' and yolo.encode_yolo_targets on random boxes."
    )


def check_encode_targets_hidden(function):
    """Exercise 4, graded: other grids, B, C and image sizes; an image without boxes."""
    _check_encode_case(function, _encode_cases(40, 6, 96, 6, 4), 96, 6, 3, 4)
    _check_encode_case(function, _encode_cases(41, 3, 64, 4, 10), 64, 4, 1, 10)
    _check_encode_case(function, _encode_cases(42, 8, 128, 16, 10), 128, 16, 2, 10)
    _check_encode_case(function, np.zeros((0, 5), np.int64), 64, 8, 2, 10)
    return checks.passed(EXERCISES["encode_targets"], "hidden encoding cases pass.")


# --- exercise 5: the YOLO loss -------------------------------------------------------------------


def _loss_variant(
    y_true, y_pred, boxes_per_cell, num_classes, lambda_coord=5.0, lambda_noobj=0.5, mistake=None
):
    """The YOLO v1 loss per image in vectorised NumPy, right or wrong in one catalogued way."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    count, grid = y_true.shape[:2]
    channels = 5 * boxes_per_cell
    slots = y_pred[..., :channels].reshape(count, grid, grid, boxes_per_cell, 5)
    truth = y_true[..., None, 0:4]
    has_object = y_true[..., 4]
    overlaps = np.asarray(detection.cell_iou(truth, slots[..., :4], grid), dtype=float)
    best = np.argmax(overlaps, axis=-1)
    if mistake == "first_slot":
        best = np.zeros_like(best)
    responsible = np.eye(boxes_per_cell)[best] * has_object[..., None]
    if mistake == "all_slots":
        responsible = np.ones_like(responsible) * has_object[..., None]
    if mistake == "no_lambda_coord":
        lambda_coord = 1.0
    if mistake == "noobj_like_obj":
        lambda_noobj = 1.0

    def size(value):
        """Square root of a size, or the size itself for the 'no square root' mistake."""
        value = np.maximum(value, 1e-12)
        return value if mistake == "no_sqrt" else np.sqrt(value)

    coordinates = (
        (truth[..., 0] - slots[..., 0]) ** 2
        + (truth[..., 1] - slots[..., 1]) ** 2
        + (size(truth[..., 2]) - size(slots[..., 2])) ** 2
        + (size(truth[..., 3]) - size(slots[..., 3])) ** 2
    )
    target_confidence = 1.0 if mistake == "confidence_one" else overlaps
    obj = responsible * (target_confidence - slots[..., 4]) ** 2
    empty = (1.0 - has_object[..., None]) if mistake == "noobj_empty_cells_only" else None
    no_object = (empty if empty is not None else 1.0 - responsible) * slots[..., 4] ** 2
    class_mask = np.ones_like(has_object) if mistake == "classes_everywhere" else has_object
    classes = class_mask * np.sum((y_true[..., channels:] - y_pred[..., channels:]) ** 2, axis=-1)
    total = (
        lambda_coord * np.sum(responsible * coordinates, axis=(1, 2, 3))
        + np.sum(obj, axis=(1, 2, 3))
        + lambda_noobj * np.sum(no_object, axis=(1, 2, 3))
        + np.sum(classes, axis=(1, 2))
    )
    if mistake == "mean_over_cells":
        total = total / (grid * grid)
    return total


LOSS_MISTAKES = {
    "no_sqrt": "compare square roots of the widths and heights, sqrt(w) - sqrt(w_hat): an error "
    "of a few pixels should cost more on a small box than on a large one.",
    "noobj_like_obj": "the no-object confidence term is weighted by lambda_noobj = 0.5, not like "
    "the object term: most slots are empty and would drown the rest.",
    "no_lambda_coord": "the coordinate term is weighted by lambda_coord = 5.",
    "classes_everywhere": "the class error counts only in cells that hold an object (1_i^obj): "
    "an empty cell has no class to predict.",
    "first_slot": "the responsible slot is the one whose predicted box has the highest IoU with "
    "the truth, not always the first.",
    "all_slots": "only the responsible slot (highest IoU) of an object cell pays the coordinate "
    "and object terms; the others pay the no-object term.",
    "confidence_one": "the responsible slot's confidence target is c_ij, its IoU with the "
    "truth (as in the lecture), not 1.",
    "noobj_empty_cells_only": "the no-object term covers every slot that is not responsible, "
    "including the other slots of an object cell: (1 - 1_ij^obj), not (1 - 1_i^obj).",
    "mean_over_cells": "sum the terms over the grid (one total per image), do not average them.",
}


def _hand_loss_case():
    """The hand-worked case: one '1' in a 2 x 2 grid, B = 1, C = 2, and its loss 0.4186."""
    y_true = np.zeros((1, 2, 2, 7), np.float32)
    y_true[0, 0, 1] = [0.5, 0.5, 0.25, 0.25, 1, 0, 1]
    y_pred = np.zeros((1, 2, 2, 7), np.float32)
    # same centre and width, height 0.09: IoU 0.36; sqrt(0.25) - sqrt(0.09) = 0.2
    y_pred[0, 0, 1] = [0.5, 0.5, 0.25, 0.09, 0.8, 0.3, 0.6]
    y_pred[0, 1, 0, 4] = 0.2
    # 5 x 0.2^2 + (0.36 - 0.8)^2 + 0.5 x 0.2^2 + (0.3^2 + 0.4^2)
    expected = 5 * 0.04 + 0.44**2 + 0.5 * 0.04 + 0.25
    return y_true, y_pred, np.array([expected])


def _loss_cases(seed, count, grid, boxes_per_cell, num_classes):
    """Random targets and predictions near them, so the responsible slot is clear."""
    rng = np.random.default_rng(seed)
    depth = 5 * boxes_per_cell + num_classes
    y_true = np.zeros((count, grid, grid, depth), np.float32)
    objects = rng.random((count, grid, grid)) < 0.35
    objects[:, 0, 0] = True
    box = np.concatenate(
        [rng.uniform(0, 1, (count, grid, grid, 2)), rng.uniform(0.1, 0.6, (count, grid, grid, 2))],
        axis=-1,
    )
    for slot in range(boxes_per_cell):
        y_true[..., 5 * slot : 5 * slot + 4] = box * objects[..., None]
        y_true[..., 5 * slot + 4] = objects
    labels = rng.integers(0, num_classes, (count, grid, grid))
    y_true[..., 5 * boxes_per_cell :] = np.eye(num_classes)[labels] * objects[..., None]
    y_pred = rng.uniform(0.05, 0.95, y_true.shape).astype(np.float32)
    for slot in range(boxes_per_cell):
        noisy = box + rng.normal(0, 0.05 + 0.05 * slot, box.shape)
        y_pred[..., 5 * slot : 5 * slot + 4] = np.clip(noisy, 0.02, 0.98)
    if boxes_per_cell > 1:
        # the first slot is the worse one in some cells: choosing it blindly shows
        swap = rng.random((count, grid, grid)) < 0.5
        first, second = y_pred[..., 0:5].copy(), y_pred[..., 5:10].copy()
        y_pred[..., 0:5] = np.where(swap[..., None], second, first)
        y_pred[..., 5:10] = np.where(swap[..., None], first, second)
    return y_true, y_pred


def _check_loss_case(function, y_true, y_pred, boxes_per_cell, num_classes, expected=None):
    """Compare the student's per-image loss with the explicit-loop reference."""
    exercise = EXERCISES["yolo_loss"]
    result = checks.call(
        exercise,
        function,
        y_true,
        y_pred,
        boxes_per_cell=boxes_per_cell,
        num_classes=num_classes,
    )
    count = len(y_true)
    if np.ndim(result) == 0:
        checks.fail(
            exercise,
            f"yolo_loss returned one number for {count} images: return one loss per image, "
            f"shape ({count},) (sum over the grid only; Keras averages over the batch).",
        )
    result = checks.as_array(exercise, result, "yolo_loss's result", shape=(count,))
    if expected is None:
        expected = detection.yolo_loss_reference(y_true, y_pred, boxes_per_cell, num_classes)
    mistakes = {
        hint: (
            lambda name=name: _loss_variant(
                y_true, y_pred, boxes_per_cell, num_classes, mistake=name
            )
        )
        for name, hint in LOSS_MISTAKES.items()
    }
    context = f"{count} images, grid {y_true.shape[1]}, B={boxes_per_cell}, C={num_classes}: "
    checks.diagnose(exercise, result, expected, mistakes, context, atol=1e-4, rtol=1e-4)


def check_yolo_loss(function):
    """Exercise 5: the hand-worked 0.4186, then random tensors against an explicit-loop loss."""
    y_true, y_pred, expected = _hand_loss_case()
    _check_loss_case(function, y_true, y_pred, 1, 2, expected)
    _check_loss_case(function, *_loss_cases(0, 3, 4, 2, 10), 2, 10)
    return checks.passed(
        EXERCISES["yolo_loss"],
        "the loss matches the hand-worked 0.4186 and an explicit-loop version on random tensors.",
    )


def check_yolo_loss_hidden(function):
    """Exercise 5, graded: other B, C and grids, and TensorFlow tensors as inputs."""
    import tensorflow as tf

    _check_loss_case(function, *_loss_cases(50, 4, 7, 3, 5), 3, 5)
    _check_loss_case(function, *_loss_cases(51, 2, 3, 1, 20), 1, 20)
    y_true, y_pred = _loss_cases(52, 2, 8, 2, 10)
    expected = detection.yolo_loss_reference(y_true, y_pred, 2, 10)
    try:
        _check_loss_case(function, tf.constant(y_true), tf.constant(y_pred), 2, 10, expected)
    except checks.CheckFailed as error:
        reason = str(error).split(": ", 1)[-1]
        checks.fail(
            EXERCISES["yolo_loss"],
            f"with TensorFlow tensors as inputs (as in training): {reason} "
            "Use keras.ops, which works on NumPy arrays and tensors alike.",
        )
    return checks.passed(EXERCISES["yolo_loss"], "hidden loss cases pass.")
