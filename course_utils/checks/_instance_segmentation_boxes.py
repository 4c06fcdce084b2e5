"""Topic 08's checks, exercises 3 to 5: box-regression targets, their inverse, pasting a mask.

The cases (hand-worked and random), the catalogued mistakes and the right answers; the checks
themselves are registered in :mod:`course_utils.checks.instance_segmentation`.
"""

import numpy as np

from course_utils import anchors, checks


def _sides(boxes, mistake):
    """Centres and sizes of corner boxes, read right or as one catalogued mistake reads them."""
    boxes = np.asarray(boxes, float)
    if mistake == "boxes_as_sizes":  # (x_min, y_min, width, height), width taken from x_max
        width, height = boxes[:, 2], boxes[:, 3]
    else:
        extra = 1.0 if mistake == "inclusive" else 0.0
        width, height = boxes[:, 2] - boxes[:, 0] + extra, boxes[:, 3] - boxes[:, 1] + extra
    return boxes[:, 0] + width / 2, boxes[:, 1] + height / 2, width, height


def encode_variant(anchor_boxes, boxes, mistake=None):
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


def encode_array(exercise, case, output):
    """The student's targets as a (K, 4) array."""
    return checks.as_array(exercise, output, "encode_boxes's result", (len(case.args[0]), 4))


def decode_variant(anchor_boxes, deltas, mistake=None):
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


def decode_expected(case):
    """The boxes the targets were made from: decoding must undo encoding exactly."""
    return encode_case(case.key).args[1]


def decode_array(exercise, case, output):
    """The student's boxes as a (K, 4) array."""
    return checks.as_array(exercise, output, "decode_boxes's result", (len(case.args[0]), 4))


def paste_variant(soft_mask, box, image_size, threshold=0.5, mistake=None):
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


def paste_array(exercise, case, output):
    """The student's mask as a (48, 48) array of booleans."""
    mask = checks.as_array(exercise, output, "paste_mask's result", (case.args[2],) * 2)
    if not np.all(np.isin(mask, (0, 1))):
        checks.fail(exercise, "return a boolean mask (True inside the object), not probabilities.")
    return mask
