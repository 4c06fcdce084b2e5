"""Checks of solutions/08_instance_segmentation.ipynb: anchors (exercise 1), their assignment by
IoU (2), box-regression targets (3), their inverse (4), and pasting a soft mask into its box (5).

Answers come from :mod:`course_utils.anchors` (tested against loops and hand-worked cases) and
cases worked by hand, named by their keys. A wrong answer is compared with the classic mistakes
of its exercise and the one that reproduces it is named.
"""

import numpy as np

from course_utils import anchors, checks, detection, instances
from course_utils.checks import array_judge

# Exercise numbers in solutions/08_instance_segmentation.ipynb.
EXERCISES = {"generate_anchors": 1, "assign_anchors": 2, "encode_boxes": 3, "decode_boxes": 4}


def _as_result(exercise, output, what, shape):
    """The student's answer as a float array of the expected shape, or a one-line failure."""
    return checks.as_array(exercise, output, what, shape)


def _closest(expected, variant, hints, prepare, context):
    """A judge naming the catalogued mistake (``variant(*args, mistake=name)``) behind a wrong
    answer; ``expected(case)`` is the right one."""

    def mistakes(case):
        return {
            hint: (lambda name=name: variant(*case.args, **case.kwargs, mistake=name))
            for name, hint in hints.items()
        }

    return array_judge.closest_mistake(expected, mistakes, prepare, context)


# --- exercise 1: anchors ---------------------------------------------------------------------


def _anchors_variant(feature_height, feature_width, stride, scales, aspect_ratios, mistake=None):
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


def _anchors_expected(case):
    """The hand-worked anchors of a named case, else course_utils.anchors."""
    if isinstance(case.key, str):
        return np.array(HAND_ANCHORS[case.key][1], float)
    return anchors.generate_anchors(*case.args)


def _anchors_array(exercise, case, output):
    """The student's anchors as an (H * W * A, 4) array."""
    height, width, _, scales, ratios = case.args
    shape = (height * width * len(scales) * len(ratios), 4)
    return _as_result(exercise, output, "generate_anchors's result", shape)


def _anchors_context(case):
    """``generate_anchors(2, 3, 8, (16,), (1,)): ``."""
    return f"generate_anchors{tuple(case.args)}: "


check_generate_anchors, check_generate_anchors_hidden = checks.exercise(
    EXERCISES["generate_anchors"],
    "generate_anchors",
    case=anchors_case,
    public=["lecture", (2, 3, 8, (16,), (1.0,)), (3, 2, 4, (8, 16), (0.5, 1.0, 2.0))],
    hidden=[(4, 5, 16, (32, 64), (1.0, 2.0)), (5, 3, 4, (12, 16, 22), (1.0, 1.5, 2.0))]
    + [(2, 2, 8, (10,), (0.25, 1.0, 3.0))],
    judge=_closest(
        _anchors_expected,
        _anchors_variant,
        ANCHOR_MISTAKES,
        _anchors_array,
        _anchors_context,
    ),
    passed="anchors match the hand-worked 1 x 2 map and course_utils.anchors on {count} maps.",
    hidden_passed="anchors are right on {count} hidden feature maps.",
)


# --- exercise 2: assigning anchors by IoU ------------------------------------------------------


def _assign_variant(anchor_boxes, truth_boxes, positive_iou=0.7, negative_iou=0.3, mistake=None):
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


def _assign_expected(case):
    """The hand-worked labels of a named case, else course_utils.anchors.assign_anchors."""
    if isinstance(case.key, str):
        return np.array(HAND_ASSIGN[case.key], float)
    return anchors.assign_anchors(*case.args, **case.kwargs).labels.astype(float)


def _assign_labels(exercise, case, output):
    """The student's labels as one of 1, 0, -1 per anchor."""
    labels = _as_result(exercise, output, "assign_anchors's labels", (len(case.args[0]),))
    if not np.all(np.isin(labels, (-1, 0, 1))):
        checks.fail(exercise, "labels should be 1 (positive), 0 (negative) or -1 (ignored).")
    return labels


def _assign_context(case):
    """``12 anchors, 3 boxes, thresholds 0.7 / 0.3: ``."""
    anchor_boxes, truth_boxes = case.args
    positive, negative = case.kwargs["positive_iou"], case.kwargs["negative_iou"]
    return f"{len(anchor_boxes)} anchors, {len(truth_boxes)} boxes, IoU {positive} / {negative}: "


check_assign_anchors, check_assign_anchors_hidden = checks.exercise(
    EXERCISES["assign_anchors"],
    "assign_anchors",
    case=assign_case,
    public=["lecture", (0, 2, 0.7, 0.3), (1, 3, 0.7, 0.3)],
    hidden=["moved", (10, 3, 0.6, 0.4), (11, 2, 0.7, 0.3), (12, 4, 0.5, 0.2), (13, 1, 0.7, 0.3)],
    judge=_closest(
        _assign_expected, _assign_variant, ASSIGN_MISTAKES, _assign_labels, _assign_context
    ),
    passed="labels match the hand-worked boundaries and ties, and course_utils.anchors on "
    "{count} cases.",
    hidden_passed="labels are right on {count} hidden cases.",
)


# --- exercises 3 and 4: regression targets and their inverse ----------------------------------


def _sides(boxes, mistake):
    """Centres and sizes of corner boxes, read right or as one catalogued mistake reads them."""
    boxes = np.asarray(boxes, float)
    if mistake == "boxes_as_sizes":  # (x_min, y_min, width, height), width taken from x_max
        width, height = boxes[:, 2], boxes[:, 3]
    else:
        extra = 1.0 if mistake == "inclusive" else 0.0
        width, height = boxes[:, 2] - boxes[:, 0] + extra, boxes[:, 3] - boxes[:, 1] + extra
    return boxes[:, 0] + width / 2, boxes[:, 1] + height / 2, width, height


def _encode_variant(anchor_boxes, boxes, mistake=None):
    """Regression targets, right or wrong in one catalogued way."""
    anchor_x, anchor_y, anchor_w, anchor_h = _sides(anchor_boxes, mistake)
    x, y, w, h = _sides(boxes, mistake)
    if mistake == "corners":
        x, y = np.asarray(boxes, float)[:, 0], np.asarray(boxes, float)[:, 1]
        anchor_x, anchor_y = anchor_boxes[:, 0], anchor_boxes[:, 1]
    scale_x, scale_y = (anchor_h, anchor_w) if mistake == "swapped_sides" else (anchor_w, anchor_h)
    if mistake == "not_normalised":
        scale_x = scale_y = 1.0
    size = {
        "no_log": (w / anchor_w, h / anchor_h),
        "ratio_inverted": (np.log(anchor_w / w), np.log(anchor_h / h)),
    }.get(mistake, (np.log(w / anchor_w), np.log(h / anchor_h)))
    targets = np.stack([(x - anchor_x) / scale_x, (y - anchor_y) / scale_y, *size], axis=-1)
    return targets[:, [1, 0, 3, 2]] if mistake == "order_swapped" else targets


ENCODE_MISTAKES = {
    "no_log": "tw = log(w / w_a): without the log, a box the anchor's size would give 1, not 0, "
    "and sizes would not be compared by ratio.",
    "ratio_inverted": "tw = log(w / w_a), the box over the anchor, not the anchor over the box.",
    "corners": "tx and ty move the anchor's centre onto the box's centre: use centres "
    "(x_min + x_max) / 2, not the corners x_min.",
    "boxes_as_sizes": "boxes are corners (x_min, y_min, x_max, y_max): the width is "
    "x_max - x_min, not x_max.",
    "swapped_sides": "tx divides by the anchor's width and ty by its height (x with w, y with h).",
    "not_normalised": "tx = (x - x_a) / w_a: divide the shift by the anchor's size, so that "
    "the targets do not depend on the scale.",
    "order_swapped": "return the four numbers in the order (tx, ty, tw, th): x first.",
    "inclusive": "these are continuous corners: the width is x_max - x_min, with no + 1.",
}


def encode_case(key):
    """``(seed, count)``: anchors of three shapes and boxes near them, offset and resized."""
    seed, count = key
    rng = np.random.default_rng(seed)
    centres = rng.uniform(8, 56, (count, 2))
    sizes = np.array([[12, 12], [10, 14], [8, 16]], float)[rng.integers(0, 3, count)]
    anchor_boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    shifted = centres + rng.uniform(-4, 4, (count, 2))
    resized = sizes * np.exp(rng.uniform(-0.5, 0.5, (count, 2)))
    boxes = np.concatenate([shifted - resized / 2, shifted + resized / 2], axis=1)
    return checks.Case((anchor_boxes, boxes), {}, key)


def _encode_array(exercise, case, output):
    """The student's targets as a (K, 4) array."""
    return _as_result(exercise, output, "encode_boxes's result", (len(case.args[0]), 4))


check_encode_boxes, check_encode_boxes_hidden = checks.exercise(
    EXERCISES["encode_boxes"],
    "encode_boxes",
    case=encode_case,
    public=[(0, 6), (1, 12)],
    hidden=[(10, 20), (11, 20), (12, 3)],
    judge=_closest(
        lambda case: anchors.encode_boxes(*case.args),
        _encode_variant,
        ENCODE_MISTAKES,
        _encode_array,
        lambda case: f"encode_boxes(<{len(case.args[0])} anchors>, <{len(case.args[1])} boxes>): ",
    ),
    passed="regression targets match course_utils.anchors on {count} cases.",
    hidden_passed="regression targets are right on {count} hidden cases.",
)


def _decode_variant(anchor_boxes, deltas, mistake=None):
    """Boxes from regression targets, right or wrong in one catalogued way."""
    anchor_x, anchor_y, anchor_w, anchor_h = _sides(anchor_boxes, None)
    deltas = np.asarray(deltas, float)
    if mistake == "swapped_sides":
        anchor_w, anchor_h = anchor_h, anchor_w
    scale_x, scale_y = (1.0, 1.0) if mistake == "shift_not_scaled" else (anchor_w, anchor_h)
    x, y = anchor_x + deltas[:, 0] * scale_x, anchor_y + deltas[:, 1] * scale_y
    grow = (lambda t: t) if mistake == "no_exp" else np.exp
    w, h = anchor_w * grow(deltas[:, 2]), anchor_h * grow(deltas[:, 3])
    if mistake == "returns_centres":
        return np.stack([x, y, w, h], axis=-1)
    half_w, half_h = (w, h) if mistake == "size_as_half" else (w / 2, h / 2)
    boxes = np.stack([x - half_w, y - half_h, x + half_w, y + half_h], axis=-1)
    if mistake == "inclusive":
        boxes[:, 2:] -= 1
    return boxes


DECODE_MISTAKES = {
    "no_exp": "undo the log: w = w_a * exp(tw), not w_a * tw.",
    "shift_not_scaled": "x = x_a + tx * w_a: the shift is in units of the anchor's width.",
    "swapped_sides": "x moves by tx times the anchor's width, y by ty times its height.",
    "returns_centres": "return corners (x_min, y_min, x_max, y_max): x - w / 2, y - h / 2, "
    "x + w / 2, y + h / 2.",
    "size_as_half": "the corners are the centre -/+ HALF the width and height.",
    "inclusive": "these are continuous corners: x_max = x + w / 2, with no - 1.",
}


def decode_case(key):
    """``(seed, count)``: anchors and the targets of nearby boxes (encoded by course_utils)."""
    anchor_boxes, boxes = encode_case(key).args
    return checks.Case((anchor_boxes, anchors.encode_boxes(anchor_boxes, boxes)), {}, key)


def _decode_expected(case):
    """The boxes the targets were made from: decoding must undo encoding exactly."""
    return encode_case(case.key).args[1]


def _decode_array(exercise, case, output):
    """The student's boxes as a (K, 4) array."""
    return _as_result(exercise, output, "decode_boxes's result", (len(case.args[0]), 4))


check_decode_boxes, check_decode_boxes_hidden = checks.exercise(
    EXERCISES["decode_boxes"],
    "decode_boxes",
    case=decode_case,
    public=[(0, 6), (1, 12)],
    hidden=[(20, 20), (21, 20), (22, 3)],
    judge=_closest(
        _decode_expected,
        _decode_variant,
        DECODE_MISTAKES,
        _decode_array,
        lambda case: f"decode_boxes(<{len(case.args[0])} anchors>, <{len(case.args[1])} deltas>): ",
    ),
    passed="decoding gives back the boxes the targets were made from, on {count} cases.",
    hidden_passed="decoding inverts encoding exactly on {count} hidden cases.",
)


# --- exercise 5: pasting a soft mask into its box --------------------------------------------

EXERCISES["paste_mask"] = 5


def _paste_variant(soft_mask, box, image_size, threshold=0.5, mistake=None):
    """A pasted boolean mask, right or wrong in one catalogued way."""
    import tensorflow as tf

    x_min, y_min, x_max, y_max = (int(value) for value in box)
    if mistake == "swapped_xy":
        x_min, y_min, x_max, y_max = y_min, x_min, y_max, x_max
    extra = 0 if mistake == "exclusive_box" else 1
    height, width = y_max - y_min + extra, x_max - x_min + extra
    method = "nearest" if mistake == "nearest" else "bilinear"
    soft = np.asarray(soft_mask, np.float32)[..., None]
    resized = tf.image.resize(soft, (height, width), method=method).numpy()[..., 0]
    pasted = np.zeros((image_size, image_size), dtype=bool)
    claimed = resized > threshold if mistake == "strict_threshold" else resized >= threshold
    pasted[y_min : y_min + height, x_min : x_min + width] = claimed
    return pasted


PASTE_MISTAKES = {
    "exclusive_box": "the box is inclusive: x_max is its last pixel column, so the mask is "
    "resized to x_max - x_min + 1 columns (and likewise rows).",
    "swapped_xy": "boxes are (x_min, y_min, x_max, y_max): x indexes columns (the second axis), "
    "y rows.",
    "nearest": "resize the soft mask bilinearly (tf.image.resize's default), then threshold: "
    "nearest-neighbour resizing makes blocky masks.",
    "strict_threshold": "a pixel belongs to the mask when its probability is >= threshold "
    "(at the threshold counts).",
}


def paste_case(key):
    """``(seed, mask_size, box)``: a smooth random soft mask pasted into an inclusive box of a
    48-pixel image (some probabilities exactly 0.5, to tell >= from >)."""
    seed, mask_size, box = key
    rng = np.random.default_rng(seed)
    a, b, c, d = rng.uniform(1, 6, 4)
    line = np.linspace(0, 1, mask_size)
    soft = 0.5 + 0.5 * np.sin(a * line[:, None] + b) * np.cos(c * line[None, :] + d)
    soft[soft.shape[0] // 2 :, : soft.shape[1] // 2] = 0.5
    return checks.Case((soft, tuple(box), 48), {}, key)


def _paste_array(exercise, case, output):
    """The student's mask as a (48, 48) array of booleans."""
    mask = checks.as_array(exercise, output, "paste_mask's result", (case.args[2],) * 2)
    if not np.all(np.isin(mask, (0, 1))):
        checks.fail(exercise, "return a boolean mask (True inside the object), not probabilities.")
    return mask


check_paste_mask, check_paste_mask_hidden = checks.exercise(
    EXERCISES["paste_mask"],
    "paste_mask",
    case=paste_case,
    public=[(0, 8, (5, 9, 14, 30)), (1, 28, (20, 3, 31, 20))],
    hidden=[(2, 28, (0, 0, 12, 25)), (3, 14, (30, 22, 47, 47)), (4, 28, (7, 11, 26, 19))],
    judge=_closest(
        lambda case: instances.paste_mask(*case.args).astype(float),
        _paste_variant,
        PASTE_MISTAKES,
        _paste_array,
        lambda case: (
            f"paste_mask(<{case.args[0].shape[0]} x {case.args[0].shape[0]} mask>, "
            f"{case.args[1]}, {case.args[2]}): "
        ),
    ),
    passed="pasted masks match course_utils.instances on {count} boxes.",
    hidden_passed="pasted masks are right on {count} hidden boxes.",
)
