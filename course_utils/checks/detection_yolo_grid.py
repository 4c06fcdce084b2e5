"""Checks of solutions/07_detection_yolo.ipynb's YOLO exercises: grid targets (4) and the loss (5).

Answers come from hand-worked cases, :func:`course_utils.yolo.encode_yolo_targets` and the
lecture's own loss (``course_utils.lectures.detection_yolo``, tested against an explicit-loop
version). :mod:`course_utils.checks.detection_yolo` re-exports these checks with exercises 1-3.
"""

import numpy as np

from course_utils import checks, yolo
from course_utils.checks import array_judge

EXERCISES = {"encode_targets": 4, "yolo_loss": 5}


# --- exercise 4: YOLO targets --------------------------------------------------------------------


def _encode_variant(boxes, image_size, grid_size, boxes_per_cell, num_classes, mistake=None):
    """One image's YOLO target, right or wrong in one catalogued way."""
    cell = image_size / grid_size
    slots = 5 * boxes_per_cell
    target = np.zeros((grid_size, grid_size, slots + num_classes))
    boxes = np.asarray(boxes, float).reshape(-1, 5)
    plus = 0.0 if mistake in ("no_plus_one", "centre_without_plus_one") else 1.0
    size_plus = 0.0 if mistake == "no_plus_one" else 1.0
    widths, heights = boxes[:, 3] - boxes[:, 1] + size_plus, boxes[:, 4] - boxes[:, 2] + size_plus
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
        unit = cell if mistake == "cell_sizes" else image_size
        box = [x, y, widths[index] / unit, heights[index] / unit, 1.0]
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
    "object indicator 1, not only the first.",
    "smaller_wins": "when two centres share a cell, the larger box (by area) wins.",
    "last_wins": "when two centres share a cell, the larger box (by area) wins, whatever the "
    "order of the boxes.",
}

# Hand-worked: a '3' over pixels 10..25 x 20..35 of a 64-pixel image, 8 x 8 grid (8-pixel cells):
# 16 x 16 pixels, centre (18, 28) -> column 2, row 3, offsets (0.25, 0.5), size 0.25 x 0.25.
HAND_ENCODE_BOXES = np.array([[3, 10, 20, 25, 35]])
HAND_ENCODE_CELL = (3, 2, [0.25, 0.5, 0.25, 0.25, 1.0])


def _hand_encoded():
    """The hand-worked '3''s target: its cell's two slots and class, zeros elsewhere."""
    row, column, box = HAND_ENCODE_CELL
    expected = np.zeros((8, 8, 20))
    expected[row, column, :10] = box * 2
    expected[row, column, 10 + 3] = 1.0
    return expected


def encode_case(key):
    """``"lecture"``, ``"empty"``, or ``(seed, count, image_size, grid_size, B, C)``: random
    inclusive boxes, and a small box centred in box 0's cell, listed after it and before it."""
    sizes = {"grid_size": 8, "boxes_per_cell": 2, "num_classes": 10}
    if key == "lecture":
        return checks.Case((HAND_ENCODE_BOXES.copy(), 64), sizes, key)
    if key == "empty":
        return checks.Case((np.zeros((0, 5), np.int64), 64), sizes, key)
    seed, count, image_size, grid_size, boxes_per_cell, num_classes = key
    rng = np.random.default_rng(seed)
    x_min = rng.integers(0, image_size - 20, count)
    y_min = rng.integers(0, image_size - 20, count)
    width, height = rng.integers(3, 19, count), rng.integers(3, 19, count)
    labels = rng.integers(0, num_classes, count)
    boxes = np.stack([labels, x_min, y_min, x_min + width, y_min + height], axis=1)
    centre_x = (boxes[0, 1] + boxes[0, 3] + 1) // 2
    centre_y = (boxes[0, 2] + boxes[0, 4] + 1) // 2
    small = [labels[-1], centre_x - 1, centre_y - 1, centre_x, centre_y]
    boxes = np.concatenate([[small], boxes, [small]]).astype(np.int64)
    sizes = {"grid_size": grid_size, "boxes_per_cell": boxes_per_cell, "num_classes": num_classes}
    return checks.Case((boxes, image_size), sizes, key)


def _encode_sizes(case):
    """(grid_size, boxes_per_cell, num_classes) of a case."""
    return tuple(case.kwargs[name] for name in ("grid_size", "boxes_per_cell", "num_classes"))


def _encoded(exercise, case, output):
    """The student's target as an array of the right shape, or a failure saying which shape."""
    grid, slots, classes = _encode_sizes(case)
    shape = (grid, grid, 5 * slots + classes)
    return checks.as_array(exercise, output, "encode_targets' result", shape=shape)


def _encode_expected(case):
    """The hand-worked target, or yolo.encode_yolo_targets'."""
    if case.key == "lecture":
        return _hand_encoded()
    boxes, image_size = case.args
    return yolo.encode_yolo_targets([boxes], image_size, *_encode_sizes(case))[0]


def _encode_mistakes(case):
    """The catalogued wrong targets of one case, computed when needed."""
    arguments = (*case.args, *_encode_sizes(case))
    return {
        hint: (lambda name=name: _encode_variant(*arguments, mistake=name))
        for name, hint in ENCODE_MISTAKES.items()
    }


def _encode_context(case):
    """``6 boxes, image_size=64, grid_size=8, boxes_per_cell=2: ``."""
    boxes, image_size = case.args
    grid, slots, _ = _encode_sizes(case)
    return (
        f"{len(boxes)} boxes, image_size={image_size}, grid_size={grid}, boxes_per_cell={slots}: "
    )


check_encode_targets, check_encode_targets_hidden = checks.exercise(
    EXERCISES["encode_targets"],
    "encode_targets",
    case=encode_case,
    public=["lecture", (0, 4, 64, 8, 2, 10), (1, 5, 64, 8, 2, 10)],
    hidden=[(40, 6, 96, 6, 3, 4), (41, 3, 64, 4, 1, 10), (42, 8, 128, 16, 2, 10), "empty"],
    judge=array_judge.closest_mistake(
        _encode_expected, _encode_mistakes, _encoded, _encode_context, 1e-5, 1e-4
    ),
    passed="targets match the hand-worked '3' and yolo.encode_yolo_targets on {count} images.",
    hidden_passed="targets are right on {count} hidden images (other grids, B, C, sizes).",
)


# --- exercise 5: the YOLO loss -------------------------------------------------------------------


def _cell_iou(boxes_a, boxes_b, grid_size):
    """Elementwise IoU of (x, y, w, h) boxes of one cell, in NumPy (for the mistakes)."""

    def corners(boxes):
        centre_x, centre_y = boxes[..., 0] / grid_size, boxes[..., 1] / grid_size
        half_width, half_height = boxes[..., 2] / 2, boxes[..., 3] / 2
        return (
            centre_x - half_width,
            centre_y - half_height,
            centre_x + half_width,
            centre_y + half_height,
        )

    a_left, a_top, a_right, a_bottom = corners(boxes_a)
    b_left, b_top, b_right, b_bottom = corners(boxes_b)
    width = np.maximum(np.minimum(a_right, b_right) - np.maximum(a_left, b_left), 0)
    height = np.maximum(np.minimum(a_bottom, b_bottom) - np.maximum(a_top, b_top), 0)
    intersection = width * height
    union = boxes_a[..., 2] * boxes_a[..., 3] + boxes_b[..., 2] * boxes_b[..., 3] - intersection
    return intersection / np.maximum(union, 1e-9)


def _loss_variant(y_true, y_pred, boxes_per_cell, mistake=None):
    """The YOLO v1 loss per image in vectorised NumPy, wrong in one catalogued way."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    count, grid = y_true.shape[:2]
    channels = 5 * boxes_per_cell
    slots = y_pred[..., :channels].reshape(count, grid, grid, boxes_per_cell, 5)
    truth, has_object = y_true[..., None, 0:4], y_true[..., 4]
    overlaps = _cell_iou(truth, slots[..., :4], grid)
    best = np.zeros_like(has_object, int) if mistake == "first_slot" else overlaps.argmax(-1)
    responsible = np.eye(boxes_per_cell)[best] * has_object[..., None]
    if mistake == "all_slots":
        responsible = np.ones_like(responsible) * has_object[..., None]
    lambda_coord = 1.0 if mistake == "no_lambda_coord" else 5.0
    lambda_noobj = 1.0 if mistake == "noobj_like_obj" else 0.5

    def size(value):
        """Square root of a size, or the size itself for the 'no square root' mistake."""
        return value if mistake == "no_sqrt" else np.sqrt(np.maximum(value, 1e-12))

    coordinates = (
        (truth[..., 0] - slots[..., 0]) ** 2
        + (truth[..., 1] - slots[..., 1]) ** 2
        + (size(truth[..., 2]) - size(slots[..., 2])) ** 2
        + (size(truth[..., 3]) - size(slots[..., 3])) ** 2
    )
    target_confidence = 1.0 if mistake == "confidence_one" else overlaps
    obj = responsible * (target_confidence - slots[..., 4]) ** 2
    empty = 1.0 - (has_object[..., None] if mistake == "noobj_empty_cells_only" else responsible)
    class_mask = np.ones_like(has_object) if mistake == "classes_everywhere" else has_object
    classes = class_mask * np.sum((y_true[..., channels:] - y_pred[..., channels:]) ** 2, -1)
    total = (
        lambda_coord * np.sum(responsible * coordinates, axis=(1, 2, 3))
        + np.sum(obj, axis=(1, 2, 3))
        + lambda_noobj * np.sum(empty * slots[..., 4] ** 2, axis=(1, 2, 3))
        + np.sum(classes, axis=(1, 2))
    )
    return total / (grid * grid) if mistake == "mean_over_cells" else total


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
    "truth, not the object indicator 1 stored in the target.",
    "noobj_empty_cells_only": "the no-object term covers every slot that is not responsible, "
    "including the other slots of an object cell: (1 - 1_ij^obj), not (1 - 1_i^obj).",
    "mean_over_cells": "sum the terms over the grid (one total per image), do not average them.",
}

# The hand-worked case: one '1' in a 2 x 2 grid, B = 1, C = 2. Same centre and width as the
# truth, height 0.09 against 0.25: IoU 0.36, sqrt(0.25) - sqrt(0.09) = 0.2; so the loss is
# 5 x 0.2^2 + (0.36 - 0.8)^2 + 0.5 x 0.2^2 + (0.3^2 + 0.4^2) = 0.6636.
HAND_LOSS = 5 * 0.04 + 0.44**2 + 0.5 * 0.04 + 0.25


def hand_loss_tensors():
    """The hand-worked case's target and prediction, (1, 2, 2, 7) each."""
    y_true = np.zeros((1, 2, 2, 7), np.float32)
    y_true[0, 0, 1] = [0.5, 0.5, 0.25, 0.25, 1, 0, 1]
    y_pred = np.zeros((1, 2, 2, 7), np.float32)
    y_pred[0, 0, 1] = [0.5, 0.5, 0.25, 0.09, 0.8, 0.3, 0.6]
    y_pred[0, 1, 0, 4] = 0.2
    return y_true, y_pred


def random_loss_tensors(seed, count, grid, boxes_per_cell, num_classes):
    """Random targets and predictions near them; the first slot is the worse one in half the
    cells, so choosing it blindly shows."""
    rng = np.random.default_rng(seed)
    y_true = np.zeros((count, grid, grid, 5 * boxes_per_cell + num_classes), np.float32)
    objects = rng.random((count, grid, grid)) < 0.35
    objects[:, 0, 0] = True
    centres, sizes = (
        rng.uniform(0, 1, objects.shape + (2,)),
        rng.uniform(0.1, 0.6, objects.shape + (2,)),
    )
    box = np.concatenate([centres, sizes], axis=-1)
    for slot in range(boxes_per_cell):
        y_true[..., 5 * slot : 5 * slot + 4] = box * objects[..., None]
        y_true[..., 5 * slot + 4] = objects
    labels = rng.integers(0, num_classes, objects.shape)
    y_true[..., 5 * boxes_per_cell :] = np.eye(num_classes)[labels] * objects[..., None]
    y_pred = rng.uniform(0.05, 0.95, y_true.shape).astype(np.float32)
    for slot in range(boxes_per_cell):
        noisy = box + rng.normal(0, 0.05 + 0.05 * slot, box.shape)
        y_pred[..., 5 * slot : 5 * slot + 4] = np.clip(noisy, 0.02, 0.98)
    if boxes_per_cell > 1:
        swap = rng.random(objects.shape)[..., None] < 0.5
        first, second = y_pred[..., 0:5].copy(), y_pred[..., 5:10].copy()
        y_pred[..., 0:5], y_pred[..., 5:10] = (
            np.where(swap, second, first),
            np.where(swap, first, second),
        )
    return y_true, y_pred


def loss_case(key):
    """``"lecture"``, or ``(seed, count, grid, B, C)``, or ``("tensors", seed, ...)``: the same
    random case handed to the student as TensorFlow tensors, as in training."""
    if key == "lecture":
        return checks.Case(hand_loss_tensors(), {"boxes_per_cell": 1, "num_classes": 2}, key)
    seed, count, grid, boxes_per_cell, num_classes = key[-5:]
    tensors = random_loss_tensors(seed, count, grid, boxes_per_cell, num_classes)
    return checks.Case(tensors, {"boxes_per_cell": boxes_per_cell, "num_classes": num_classes}, key)


def probe_loss(exercise, function, case):
    """The student's loss on the case's arrays, or on TensorFlow tensors for a "tensors" key."""
    args, kwargs = case.copies()
    if _on_tensors(case.key):
        import tensorflow as tf

        args = [tf.constant(array) for array in args]
    return checks.run(exercise, function, *args, **kwargs)


def lecture_loss(y_true, y_pred, boxes_per_cell):
    """The lecture's YOLO loss per image (course_utils.lectures.detection_yolo), as NumPy."""
    from course_utils.lectures import detection_yolo

    terms = detection_yolo.yolo_loss_terms(y_true, y_pred, boxes_per_cell)
    return np.asarray(sum(terms.values()), dtype=np.float64)


def _losses(exercise, case, output):
    """The student's losses as an array of one per image, or a failure saying why not."""
    count = len(case.args[0])
    if np.ndim(output) == 0:
        checks.fail(
            exercise,
            f"yolo_loss returned one number for {count} images: return one loss per image, "
            f"shape ({count},) (sum over the grid only; Keras averages over the batch).",
        )
    return checks.as_array(exercise, output, "yolo_loss's result", shape=(count,))


def _loss_expected(case):
    """The hand-worked loss, or the lecture's."""
    if case.key == "lecture":
        return np.array([HAND_LOSS])
    return lecture_loss(*case.args, case.kwargs["boxes_per_cell"])


def _loss_mistakes(case):
    """The catalogued wrong losses of one case, computed when needed."""
    slots = case.kwargs["boxes_per_cell"]
    return {
        hint: (lambda name=name: _loss_variant(*case.args, slots, name))
        for name, hint in LOSS_MISTAKES.items()
    }


def _loss_context(case):
    """``3 images, grid 4, B=2, C=10: ``."""
    y_true = case.args[0]
    slots, classes = case.kwargs["boxes_per_cell"], case.kwargs["num_classes"]
    return f"{len(y_true)} images, grid {y_true.shape[1]}, B={slots}, C={classes}: "


_judge_loss_values = array_judge.closest_mistake(
    _loss_expected, _loss_mistakes, _losses, _loss_context, 1e-4, 1e-4
)


def _on_tensors(key):
    """True for the case keys whose arrays reach the student as TensorFlow tensors."""
    return isinstance(key, tuple) and key[0] == "tensors"


def _judge_loss(exercise, cases, outputs):
    """The batches on arrays first; then those on tensors, whose failure says tensors broke it."""
    on_arrays = [index for index, case in enumerate(cases) if not _on_tensors(case.key)]
    on_tensors = [index for index, case in enumerate(cases) if _on_tensors(case.key)]
    _judge_loss_values(exercise, [cases[i] for i in on_arrays], [outputs[i] for i in on_arrays])
    try:
        _judge_loss_values(
            exercise, [cases[i] for i in on_tensors], [outputs[i] for i in on_tensors]
        )
    except checks.CheckFailed as error:
        reason = str(error).split(": ", 1)[-1]
        checks.fail(
            exercise,
            f"with TensorFlow tensors as inputs (as in training): {reason} "
            "Use keras.ops, which works on NumPy arrays and tensors alike.",
        )
    return len(cases)


check_yolo_loss, check_yolo_loss_hidden = checks.exercise(
    EXERCISES["yolo_loss"],
    "yolo_loss",
    case=loss_case,
    public=["lecture", (0, 3, 4, 2, 10)],
    hidden=[(50, 4, 7, 3, 5), (51, 2, 3, 1, 20), ("tensors", 52, 2, 8, 2, 10)],
    judge=_judge_loss,
    probe=probe_loss,
    passed="the loss matches the hand-worked 0.6636 and the lecture's yolo_loss on {count} "
    "batches.",
    hidden_passed="the loss is right on {count} hidden batches, TensorFlow tensors included.",
)
