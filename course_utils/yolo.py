"""YOLO's grid: targets from inclusive pixel boxes, boxes back, predictions decoded, a figure.

A YOLO tensor is float32 (N, S, S, 5B + C): per cell, B slots of ``(x, y, w, h, c)`` then C class
scores. ``x, y`` is the box centre's offset inside its cell in ``[0, 1)``, ``w, h`` the box size
as a fraction of the image; row ``i`` of the grid is the image's ``y`` axis, column ``j`` its
``x`` axis.

In a *target*, the fifth number of every slot is the **object indicator** ``1_i^obj``: 1 in the
cell that holds a box's centre, 0 elsewhere; the class scores are one-hot. It is not the
confidence target ``c_ij`` of the loss: that one is the IoU of the responsible slot's predicted
box with the truth, which exists only once there is a prediction, so the loss computes it
(``course_utils.lectures.detection_yolo.yolo_loss_terms``). In a *prediction*, the fifth number
is the predicted confidence ``c_ij`` (hat).
"""

import numpy as np

from course_utils import detection

# ---------------------------------------------------------------------------------------------
# YOLO targets


def yolo_channels(boxes_per_cell, num_classes):
    """Numbers per grid cell of a YOLO tensor: 5 per box slot, plus one per class."""
    return 5 * boxes_per_cell + num_classes


def _checked_boxes(boxes, image_size, num_classes):
    """One image's boxes as an int array (k, 5); ValueError naming the problem otherwise."""
    boxes = np.asarray(boxes)
    if boxes.size == 0:
        return np.zeros((0, 5), np.int64)
    if boxes.ndim != 2 or boxes.shape[1] != 5:
        raise ValueError(
            f"boxes of one image have shape {boxes.shape}: give (k, 5) rows of "
            "(class, x_min, y_min, x_max, y_max), as make_digit_scenes does."
        )
    classes, corners = boxes[:, 0], boxes[:, 1:]
    if classes.min() < 0 or classes.max() >= num_classes:
        raise ValueError(f"box classes must lie in 0..{num_classes - 1}: check num_classes.")
    if corners.min() < 0 or corners.max() >= image_size:
        raise ValueError(
            f"box corners must lie in 0..{image_size - 1} (inclusive pixels): check image_size."
        )
    if (corners[:, 2] < corners[:, 0]).any() or (corners[:, 3] < corners[:, 1]).any():
        raise ValueError("a box has x_max < x_min or y_max < y_min: corners are (x0, y0, x1, y1).")
    return boxes.astype(np.int64)


def encode_yolo_targets(boxes, image_size, grid_size=8, boxes_per_cell=2, num_classes=10):
    """YOLO targets, float32 (N, S, S, 5B + C), from inclusive pixel boxes.

    ``boxes`` is a list of N (k, 5) arrays ``(class, x_min, y_min, x_max, y_max)``. A box is
    ``x_max - x_min + 1`` pixels wide and centred at ``(x_min + x_max + 1) / 2``; the cell
    holding its centre gets, in each of its B slots, ``(x, y, w, h, 1)``: ``x, y`` the centre's
    offset inside the cell in [0, 1), ``w, h`` the box's size as a fraction of ``image_size``,
    1 the object indicator; then C one-hot class scores. Cells without a centre are all zeros.
    When two centres fall in one cell, the larger box (by area; the earlier one on a tie) wins
    and the other is dropped.
    """
    cell = image_size / grid_size
    slots = 5 * boxes_per_cell
    targets = np.zeros((len(boxes), grid_size, grid_size, slots + num_classes), np.float32)
    for index, image_boxes in enumerate(boxes):
        image_boxes = _checked_boxes(image_boxes, image_size, num_classes)
        widths = image_boxes[:, 3] - image_boxes[:, 1] + 1
        heights = image_boxes[:, 4] - image_boxes[:, 2] + 1
        # Largest first, so that a smaller box meeting a taken cell is the one dropped.
        for row_index in np.argsort(-widths * heights, kind="stable"):
            digit, x_min, y_min, x_max, y_max = image_boxes[row_index]
            centre_x, centre_y = (x_min + x_max + 1) / 2, (y_min + y_max + 1) / 2
            column = min(int(centre_x // cell), grid_size - 1)
            row = min(int(centre_y // cell), grid_size - 1)
            if targets[index, row, column, 4] > 0:
                continue
            box = [
                centre_x / cell - column,
                centre_y / cell - row,
                widths[row_index] / image_size,
                heights[row_index] / image_size,
                1.0,
            ]
            targets[index, row, column, :slots] = box * boxes_per_cell
            targets[index, row, column, slots + digit] = 1.0
    return targets


def decode_yolo_targets(
    targets, image_size, grid_size=None, boxes_per_cell=2, num_classes=10, threshold=0.5
):
    """Boxes back from YOLO targets: a list of N float32 arrays (k, 5), the inverse of encoding.

    Rows are ``(class, x_min, y_min, x_max, y_max)`` in inclusive pixel coordinates (floats; round
    them to recover integer boxes), one per cell whose object indicator (its largest slot's
    fifth number) exceeds ``threshold``, in row-major cell order. The grid size is read from
    ``targets`` (``grid_size``, if given, must match it).
    """
    targets = np.asarray(targets, dtype=np.float32)
    depth = 5 * boxes_per_cell + num_classes
    if targets.ndim != 4 or targets.shape[1] != targets.shape[2] or targets.shape[3] != depth:
        raise ValueError(
            f"targets have shape {targets.shape}: expected (N, S, S, 5B + C) = (N, S, S, {depth}) "
            "for these boxes_per_cell and num_classes."
        )
    cells = targets.shape[1]
    if grid_size is not None and grid_size != cells:
        raise ValueError(f"targets hold a {cells} x {cells} grid, not grid_size={grid_size}.")
    count, grid_size = targets.shape[:2]
    cell = image_size / grid_size
    slots = targets[..., : 5 * boxes_per_cell].reshape(count, grid_size, grid_size, -1, 5)
    best = slots[..., 4].argmax(axis=-1)[..., None, None]
    chosen = np.take_along_axis(slots, best, axis=3)[..., 0, :]
    rows, columns = np.meshgrid(np.arange(grid_size), np.arange(grid_size), indexing="ij")
    widths, heights = chosen[..., 2] * image_size, chosen[..., 3] * image_size
    x_min = (columns + chosen[..., 0]) * cell - widths / 2
    y_min = (rows + chosen[..., 1]) * cell - heights / 2
    classes = targets[..., 5 * boxes_per_cell :].argmax(axis=-1)
    decoded = np.stack(
        [classes, x_min, y_min, x_min + widths - 1, y_min + heights - 1], axis=-1
    ).astype(np.float32)
    keep = chosen[..., 4] > threshold
    return [decoded[index][keep[index]] for index in range(count)]


def _split(tensor, boxes_per_cell, num_classes):
    """Split a (N, S, S, 5B + C) array into slots (N, S, S, B, 5) and classes (N, S, S, C)."""
    tensor = np.asarray(tensor, dtype=np.float64)
    expected = yolo_channels(boxes_per_cell, num_classes)
    if tensor.ndim != 4 or tensor.shape[-1] != expected or tensor.shape[1] != tensor.shape[2]:
        raise ValueError(
            f"a YOLO tensor should have shape (N, S, S, {expected}) for B={boxes_per_cell}, "
            f"C={num_classes}, got {tensor.shape}."
        )
    slots = tensor[..., : 5 * boxes_per_cell].reshape(tensor.shape[:3] + (boxes_per_cell, 5))
    return slots, tensor[..., 5 * boxes_per_cell :]


def grid_boxes(predictions, image_size, boxes_per_cell=2, num_classes=10):
    """Every predicted box of a YOLO tensor in continuous pixel corners.

    Returns ``boxes`` (N, S, S, B, 4), ``confidences`` (N, S, S, B) and ``class_scores``
    (N, S, S, C).
    """
    slots, class_scores = _split(predictions, boxes_per_cell, num_classes)
    grid = slots.shape[1]
    rows, columns = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    # the cell offset of every slot, broadcast over images and box slots
    x_centre = (columns[None, :, :, None] + slots[..., 0]) / grid * image_size
    y_centre = (rows[None, :, :, None] + slots[..., 1]) / grid * image_size
    width, height = slots[..., 2] * image_size, slots[..., 3] * image_size
    centres = np.stack([x_centre, y_centre, width, height], axis=-1)
    return detection.centres_to_corners(centres), slots[..., 4], class_scores


def decode_predictions(
    predictions,
    image_size,
    boxes_per_cell=2,
    num_classes=10,
    score_threshold=0.05,
    iou_threshold=0.5,
    max_detections=100,
):
    """YOLO tensors (N, S, S, 5B + C) to one ``Detections`` per image (continuous pixels).

    A box's score is its confidence times its best class score (YOLO's class-specific
    confidence); boxes under ``score_threshold`` go, then NMS runs per class.
    """
    boxes, confidences, class_scores = grid_boxes(
        predictions, image_size, boxes_per_cell, num_classes
    )
    classes = np.argmax(class_scores, axis=-1)
    scores = confidences * np.max(class_scores, axis=-1)[..., None]
    classes = np.broadcast_to(classes[..., None], scores.shape)
    results = []
    for image in range(len(boxes)):
        image_boxes = boxes[image].reshape(-1, 4)
        image_scores, image_classes = scores[image].reshape(-1), classes[image].reshape(-1)
        keep = np.flatnonzero(image_scores >= score_threshold)
        # boxes that spill over the image are cut at its edges before they are compared
        image_boxes = np.clip(image_boxes[keep], 0, image_size)
        image_scores, image_classes = image_scores[keep], image_classes[keep]
        chosen = detection.non_max_suppression_per_class(
            image_boxes, image_scores, image_classes, iou_threshold, max_detections
        )
        found = (image_boxes[chosen], image_scores[chosen], image_classes[chosen].astype(int))
        results.append(detection.Detections(*found))
    return results


def show_yolo_grid(image, boxes, grid_size=8, boxes_per_cell=2, num_classes=10):
    """One scene under its YOLO grid, beside the grid's object indicators and classes.

    Left: the image, the S x S cells, the boxes, their centres (+) and, shaded, the cell that
    holds each centre. Right: each cell's object indicator 1_i^obj, with the class it must predict.
    """
    import matplotlib.pyplot as plt
    from matplotlib import patches

    from course_utils import plots

    image = np.squeeze(np.asarray(image))
    boxes = np.asarray(boxes).reshape(-1, 5)
    size = image.shape[0]
    cell = size / grid_size
    targets = encode_yolo_targets([boxes], size, grid_size, boxes_per_cell, num_classes)[0]
    figure, (left, right) = plt.subplots(1, 2, figsize=(8.4, 4.2))
    left.imshow(image, cmap="gray", vmin=0, vmax=1)
    for line in np.arange(1, grid_size) * cell - 0.5:  # pixel centres sit on integers
        left.axhline(line, color="0.55", linewidth=0.6)
        left.axvline(line, color="0.55", linewidth=0.6)
    slots = 5 * boxes_per_cell
    for row, column in zip(*np.nonzero(targets[..., 4])):
        digit = targets[row, column, slots:].argmax()
        colour = plots.mask_to_rgb(digit + 1, num_classes=num_classes + 1)
        corner = (column * cell - 0.5, row * cell - 0.5)
        left.add_patch(patches.Rectangle(corner, cell, cell, color=colour, alpha=0.35))
        right.text(column, row, str(digit), ha="center", va="center", fontsize=9)
    plots.draw_boxes(left, boxes[:, 1:], labels=boxes[:, 0])
    centres_x = (boxes[:, 1] + boxes[:, 3] + 1) / 2 - 0.5
    centres_y = (boxes[:, 2] + boxes[:, 4] + 1) / 2 - 0.5
    left.plot(centres_x, centres_y, "+", color="red", markersize=10, markeredgewidth=2)
    left.set_xticks([])
    left.set_yticks([])
    left.set_title(f"{grid_size} x {grid_size} grid, cells of {cell:g} pixels", fontsize=10)
    plots.show_matrix(targets[..., 4], ax=right, annotate=False, cmap="Greens", vmin=0, vmax=2)
    right.set_title("object indicator $1_i^{obj}$ (shaded) and class", fontsize=10)
    figure.tight_layout()
    return figure
