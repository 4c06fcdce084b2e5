"""Topic 08's checks, exercises 1 and 2: generating anchors and assigning them by IoU.

The cases (hand-worked and random), the catalogued mistakes and the right answers; the checks
themselves are registered in :mod:`course_utils.checks.instance_segmentation`.
"""

import numpy as np

from course_utils import anchors, checks, detection


def anchors_variant(feature_height, feature_width, stride, scales, aspect_ratios, mistake=None):
    """All anchors of a feature map, right or wrong in one catalogued way."""
    scales, ratios = np.asarray(scales, float), np.asarray(aspect_ratios, float)
    if mistake == "ratio_inverted":
        ratios = 1 / ratios
    pairs = [(s, r) for s in scales for r in ratios]
    if mistake == "ratios_outer":
        pairs = [(s, r) for r in ratios for s in scales]
    root = (lambda r: r) if mistake == "no_square_root" else np.sqrt
    shapes = np.array([(s / root(r), s * root(r)) for s, r in pairs])
    offset = 0.0 if mistake == "cell_corner" else 0.5
    rows, columns = np.meshgrid(np.arange(feature_height), np.arange(feature_width), indexing="ij")
    if mistake == "column_major":
        rows, columns = rows.T, columns.T
    x = (columns.reshape(-1, 1) + offset) * stride
    y = (rows.reshape(-1, 1) + offset) * stride
    if mistake == "swapped_xy":
        x, y = y, x
    half_w, half_h = shapes[:, 0] / 2, shapes[:, 1] / 2
    if mistake == "size_as_half":
        half_w, half_h = shapes[:, 0], shapes[:, 1]
    boxes = np.stack([x - half_w, y - half_h, x + half_w, y + half_h], axis=-1)
    if mistake == "inclusive_corner":
        boxes[..., 2:] -= 1
    if mistake == "shapes_outer":
        boxes = boxes.transpose(1, 0, 2)
    return boxes.reshape(-1, 4)


ANCHOR_MISTAKES = {
    "cell_corner": "anchors are centred on their cell: x = (column + 0.5) * stride, not "
    "column * stride.",
    "swapped_xy": "x and y are swapped: x comes from the column, y from the row.",
    "column_major": "locations go row by row (all columns of row 0 first), as a (H, W, A) "
    "output reshaped to rows does: loop over rows outside, columns inside.",
    "shapes_outer": "the A anchors of one location come together: the location loops outside, "
    "the shapes inside.",
    "ratios_outer": "shapes go scale by scale, every ratio of one scale together: scales outer, "
    "ratios inner.",
    "ratio_inverted": "the aspect ratio is height / width: a ratio of 2 makes a tall anchor, "
    "width s / sqrt(r), height s * sqrt(r).",
    "no_square_root": "keep the area s ** 2 whatever the ratio: width s / sqrt(r), height "
    "s * sqrt(r) (without the square root the area changes with r).",
    "size_as_half": "the scale is the anchor's whole side, not its half: corners are the "
    "centre -/+ half the width and height.",
    "inclusive_corner": "these are continuous coordinates: x_max = x_min + width, with no - 1.",
}


# Hand-worked: a 1 x 2 map of stride 8, scale 8, ratios 1 and 4 (8 x 8 and 4 x 16 boxes):
# cell (0, 0) is centred at (4, 4), cell (0, 1) at (12, 4).
HAND_ANCHORS = {
    "lecture": (
        (1, 2, 8, (8,), (1, 4)),
        [[0, 0, 8, 8], [2, -4, 6, 12], [8, 0, 16, 8], [10, -4, 14, 12]],
    )
}


def anchors_case(key):
    """A hand-worked case by name, or ``(height, width, stride, scales, ratios)`` itself."""
    arguments = HAND_ANCHORS[key][0] if key in HAND_ANCHORS else key
    return checks.Case(tuple(arguments), {}, key)


def anchors_expected(case):
    """The hand-worked anchors of a named case, else course_utils.anchors."""
    if isinstance(case.key, str):
        return np.array(HAND_ANCHORS[case.key][1], float)
    return anchors.generate_anchors(*case.args)


def anchors_array(exercise, case, output):
    """The student's anchors as an (H * W * A, 4) array."""
    height, width, _, scales, ratios = case.args
    shape = (height * width * len(scales) * len(ratios), 4)
    return checks.as_array(exercise, output, "generate_anchors's result", shape)


def anchors_context(case):
    """``generate_anchors(2, 3, 8, (16,), (1,)): ``."""
    return f"generate_anchors{tuple(case.args)}: "


def assign_variant(anchor_boxes, truth_boxes, positive_iou=0.7, negative_iou=0.3, mistake=None):
    """Anchor labels (1, 0, -1), right or wrong in one catalogued way."""
    overlaps = detection.iou(anchor_boxes, truth_boxes, inclusive=mistake == "inclusive_iou")
    best = overlaps.max(axis=1)
    labels = np.full(len(anchor_boxes), -1)
    negative = best < negative_iou
    if mistake == "negative_at_threshold":
        negative = best <= negative_iou
    positive = best > positive_iou if mistake == "strict_positive" else best >= positive_iou
    best_of_truth = overlaps.max(axis=0)
    best_anchors = np.any((overlaps == best_of_truth) & (best_of_truth > 0), axis=1)
    if mistake == "single_best_anchor":
        best_anchors = np.isin(np.arange(len(anchor_boxes)), overlaps.argmax(axis=0))
    if mistake == "no_best_anchor":
        best_anchors[:] = False
    if mistake == "no_ignore":
        negative = ~(positive | best_anchors)
    if mistake == "negatives_last":
        labels[positive | best_anchors] = 1
        labels[negative] = 0
        return labels
    labels[negative] = 0
    labels[positive | best_anchors] = 1
    return labels


ASSIGN_MISTAKES = {
    "no_ignore": "anchors between the two thresholds are ignored (-1), not negative: "
    "negatives have IoU < negative_iou with every box.",
    "no_best_anchor": "each true box's best anchor is positive even below positive_iou "
    "(every anchor tied at that best IoU): otherwise a small box has no positive anchor.",
    "single_best_anchor": "every anchor tied at a true box's best IoU is positive, not only "
    "the first (np.argmax keeps one: compare with the maximum instead).",
    "negatives_last": "a true box's best anchor stays positive even when its IoU is below "
    "negative_iou: label the negatives first, then the positives.",
    "strict_positive": "positive means IoU >= positive_iou (at the threshold counts).",
    "negative_at_threshold": "negative means IoU < negative_iou, strictly: an anchor at "
    "exactly negative_iou is ignored.",
    "inclusive_iou": "anchors and boxes are continuous corners: their IoU has no + 1 on widths.",
}


def _hand_assign_case():
    """Boundaries, ties and small boxes worked by hand (continuous corners).

    Truths T0 [0, 0, 10, 7], T1 [20, 0, 30, 3], T2 [45, 2, 55, 8], T3 [60, 60, 66, 65]. Anchors:
    A0 [0, 0, 10, 10] has IoU exactly 0.7 with T0: positive. A1 is T0 itself (IoU 1). A2
    [20, 0, 30, 10] has IoU 0.3 with T1, too low, but it is T1's best anchor: positive. A3
    [40, 0, 50, 10] and A4 [50, 0, 60, 10] tie at 30 / 130 for T2: both best, both positive.
    A5 [60, 60, 70, 70] has IoU exactly 0.3 with T3 (not its best, A6 at 0.75 is): ignored.
    A7 is far from everything: negative. A8 [0, 3, 10, 13] has 40 / 130 with T0: ignored.
    """
    anchor_boxes = [[0, 0, 10, 10], [0, 0, 10, 7], [20, 0, 30, 10], [40, 0, 50, 10]]
    anchor_boxes += [[50, 0, 60, 10], [60, 60, 70, 70], [58, 60, 66, 65], [80, 80, 90, 90]]
    anchor_boxes += [[0, 3, 10, 13]]
    truth_boxes = [[0, 0, 10, 7], [20, 0, 30, 3], [45, 2, 55, 8], [60, 60, 66, 65]]
    return np.array(anchor_boxes, float), np.array(truth_boxes, float)


HAND_ASSIGN = {"lecture": [1, 1, 1, 1, 1, -1, 1, 0, -1], "moved": [1, 1, 1, 1, 1, -1, 1, 0, -1]}


def _moved(boxes):
    """Boxes with x and y swapped and shifted by (7, 3): every IoU, hence every label, stays."""
    return np.asarray(boxes)[:, [1, 0, 3, 2]] + [7.0, 3.0, 7.0, 3.0]


def _scene_truths(rng, count, image_size):
    """Digit-like boxes: taller than wide, 8 to 24 pixels, apart from each other."""
    boxes = []
    while len(boxes) < count:
        width, height = rng.uniform(6, 16), rng.uniform(12, 24)
        x, y = rng.uniform(0, image_size - width), rng.uniform(0, image_size - height)
        box = [x, y, x + width, y + height]
        if not boxes or detection.iou([box], boxes).max() == 0:
            boxes.append(box)
    return np.array(boxes)


def assign_case(key):
    """A hand-worked case by name, or ``(seed, truths, positive_iou, negative_iou)``: the anchors
    of a 12 x 12 map of stride 4 against random digit-like boxes in a 48-pixel image."""
    if key in HAND_ASSIGN:
        boxes = _hand_assign_case()
        boxes = tuple(_moved(part) for part in boxes) if key == "moved" else boxes
        return checks.Case(boxes, {"positive_iou": 0.7, "negative_iou": 0.3}, key)
    seed, count, positive_iou, negative_iou = key
    rng = np.random.default_rng(seed)
    anchor_boxes = anchors.generate_anchors(12, 12, 4, (12, 16, 22), (1.0, 1.5, 2.0))
    truths = _scene_truths(rng, count, 48)
    kwargs = {"positive_iou": positive_iou, "negative_iou": negative_iou}
    return checks.Case((anchor_boxes, truths), kwargs, key)


def assign_expected(case):
    """The hand-worked labels of a named case, else course_utils.anchors.assign_anchors."""
    if isinstance(case.key, str):
        return np.array(HAND_ASSIGN[case.key], float)
    return anchors.assign_anchors(*case.args, **case.kwargs).labels.astype(float)


def assign_labels(exercise, case, output):
    """The student's labels as one of 1, 0, -1 per anchor."""
    labels = checks.as_array(exercise, output, "assign_anchors's labels", (len(case.args[0]),))
    if not np.all(np.isin(labels, (-1, 0, 1))):
        checks.fail(exercise, "labels should be 1 (positive), 0 (negative) or -1 (ignored).")
    return labels


def assign_context(case):
    """``12 anchors, 3 boxes, thresholds 0.7 / 0.3: ``."""
    anchor_boxes, truth_boxes = case.args
    positive, negative = case.kwargs["positive_iou"], case.kwargs["negative_iou"]
    return f"{len(anchor_boxes)} anchors, {len(truth_boxes)} boxes, IoU {positive} / {negative}: "
