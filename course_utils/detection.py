"""Object detection: IoU, non-max suppression, AP and mAP, YOLO decoding and loss, a small detector.

Box conventions used throughout:

* ``corners``: ``(x_min, y_min, x_max, y_max)``;
  ``centres``: ``(x_centre, y_centre, width, height)``.
* Continuous coordinates by default: pixel ``i`` covers ``[i, i + 1)``, so a box's width is
  ``x_max - x_min``. With ``inclusive=True`` the coordinates are integer pixel indices and the box
  covers pixels ``x_min .. x_max`` inclusive, so its width is ``x_max - x_min + 1`` (the PASCAL VOC
  convention, and that of :func:`course_utils.digit_scenes.make_digit_scenes`).
  :func:`inclusive_to_continuous` converts one into the other.

The YOLO tensor has, per grid cell, ``boxes_per_cell`` slots of ``(x, y, w, h, confidence)``
followed by ``num_classes`` class scores: ``x, y`` is the box centre's offset inside its cell in
``[0, 1)``, ``w, h`` the box size as a fraction of the image. Row ``i`` of the grid is the image's
``y`` axis, column ``j`` its ``x`` axis.

NumPy everywhere except the loss and the detector, which use ``keras.ops`` so they train;
Keras is imported only by the functions that need it.
"""

import collections

import numpy as np

Detections = collections.namedtuple("Detections", ["boxes", "scores", "classes"])
Detections.__doc__ = """Detections of one image: corner boxes (k, 4), scores (k,), classes (k,)."""

# COCO's IoU thresholds for mAP@[0.5:0.95]
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


# ---------------------------------------------------------------------------------------------
# Boxes and IoU
# ---------------------------------------------------------------------------------------------


def _boxes(boxes, name="boxes"):
    """``boxes`` as a float array of shape (..., 4), or a one-line error naming the fix."""
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, 4)
    if array.shape[-1:] != (4,):
        raise ValueError(f"{name} should have shape (..., 4), got {array.shape}: one row per box.")
    return array


def centres_to_corners(boxes):
    """``(x_centre, y_centre, width, height)`` boxes to ``(x_min, y_min, x_max, y_max)``."""
    boxes = _boxes(boxes)
    centre, size = boxes[..., :2], boxes[..., 2:]
    return np.concatenate([centre - size / 2, centre + size / 2], axis=-1)


def corners_to_centres(boxes):
    """``(x_min, y_min, x_max, y_max)`` boxes to ``(x_centre, y_centre, width, height)``."""
    boxes = _boxes(boxes)
    low, high = boxes[..., :2], boxes[..., 2:]
    return np.concatenate([(low + high) / 2, high - low], axis=-1)


def inclusive_to_continuous(boxes):
    """Inclusive pixel boxes (``x_max`` is the last pixel) to continuous ones (one past it)."""
    boxes = _boxes(boxes)
    return np.concatenate([boxes[..., :2], boxes[..., 2:] + 1], axis=-1)


def continuous_to_inclusive(boxes):
    """Continuous boxes to inclusive pixel ones (``x_max`` the last pixel), the inverse of
    :func:`inclusive_to_continuous`; fractional coordinates stay fractional."""
    boxes = _boxes(boxes)
    return np.concatenate([boxes[..., :2], boxes[..., 2:] - 1], axis=-1)


def box_area(boxes, inclusive=False):
    """Areas of corner boxes; ``inclusive`` counts both end pixels (width = max - min + 1)."""
    boxes = _boxes(boxes)
    extra = 1.0 if inclusive else 0.0
    widths = np.maximum(boxes[..., 2] - boxes[..., 0] + extra, 0)
    heights = np.maximum(boxes[..., 3] - boxes[..., 1] + extra, 0)
    return widths * heights


def iou(boxes_a, boxes_b, box_format="corners", inclusive=False):
    """Pairwise IoU matrix (N, M) of boxes (N, 4) and (M, 4), vectorised by broadcasting."""
    if box_format not in ("corners", "centres"):
        raise ValueError(f"box_format should be 'corners' or 'centres', got {box_format!r}.")
    boxes_a, boxes_b = _boxes(boxes_a, "boxes_a"), _boxes(boxes_b, "boxes_b")
    if box_format == "centres":
        boxes_a, boxes_b = centres_to_corners(boxes_a), centres_to_corners(boxes_b)
    a, b = boxes_a[:, None, :], boxes_b[None, :, :]
    extra = 1.0 if inclusive else 0.0
    # the overlap's sides, clipped at 0 so boxes apart have no (not a negative) intersection
    width = np.maximum(
        np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + extra, 0
    )
    height = np.maximum(
        np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + extra, 0
    )
    intersection = width * height
    union = box_area(boxes_a, inclusive)[:, None] + box_area(boxes_b, inclusive)[None, :]
    union = union - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)


# ---------------------------------------------------------------------------------------------
# Non-max suppression
# ---------------------------------------------------------------------------------------------


def non_max_suppression(boxes, scores, iou_threshold=0.5, max_outputs=None):
    """Greedy NMS: indices of the kept boxes, best score first (a box goes when IoU > threshold)."""
    boxes = _boxes(boxes)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores: give one score per box.")
    # stable sort so equal scores keep their input order, as tf.image.non_max_suppression does
    order = np.argsort(-scores, kind="stable")
    overlaps = iou(boxes, boxes)
    suppressed = np.zeros(len(boxes), dtype=bool)
    kept = []
    for index in order:
        if suppressed[index]:
            continue
        kept.append(int(index))
        if max_outputs is not None and len(kept) >= max_outputs:
            break
        suppressed |= overlaps[index] > iou_threshold
    return np.array(kept, dtype=np.int64)


def non_max_suppression_per_class(boxes, scores, classes, iou_threshold=0.5, max_outputs=None):
    """NMS run separately within each class: kept indices, best score first."""
    classes = np.asarray(classes).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(classes) != len(scores):
        raise ValueError(f"{len(scores)} scores but {len(classes)} classes: one class per box.")
    boxes = _boxes(boxes)
    kept = []
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        kept.extend(members[non_max_suppression(boxes[members], scores[members], iou_threshold)])
    kept = np.array(kept, dtype=np.int64)
    kept = kept[np.argsort(-scores[kept], kind="stable")]
    return kept[:max_outputs] if max_outputs is not None else kept


def tf_non_max_suppression_per_class(boxes, scores, classes, iou_threshold=0.5):
    """Per-class NMS with ``tf.image.non_max_suppression`` (an independent reference)."""
    import tensorflow as tf

    boxes, classes = _boxes(boxes), np.asarray(classes).reshape(-1)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    kept = []
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        # tf wants (y_min, x_min, y_max, x_max); IoU does not care, but stay faithful
        tf_boxes = boxes[members][:, [1, 0, 3, 2]].astype(np.float32)
        chosen = tf.image.non_max_suppression(
            tf_boxes, scores[members], max_output_size=len(members), iou_threshold=iou_threshold
        ).numpy()
        kept.extend(members[chosen])
    kept = np.array(kept, dtype=np.int64)
    return kept[np.argsort(-scores[kept], kind="stable")]


# ---------------------------------------------------------------------------------------------
# Precision, recall, AP and mAP
# ---------------------------------------------------------------------------------------------


def precision_recall(scores, is_true_positive, num_ground_truth):
    """Precision and recall after each detection, best score first; also the sorted scores."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    hits = np.asarray(is_true_positive, dtype=bool).reshape(-1)
    if len(scores) != len(hits):
        raise ValueError(f"{len(scores)} scores but {len(hits)} flags: one flag per detection.")
    order = np.argsort(-scores, kind="stable")
    true_positives = np.cumsum(hits[order])
    false_positives = np.cumsum(~hits[order])
    precision = true_positives / np.maximum(true_positives + false_positives, 1)
    recall = true_positives / max(num_ground_truth, 1)
    return precision, recall, scores[order]


def precision_envelope(precision):
    """Interpolated precision: at each rank, the best precision at this recall or beyond."""
    return np.maximum.accumulate(np.asarray(precision, dtype=np.float64)[::-1])[::-1]


def average_precision(precision, recall, interpolation="all"):
    """AP of a precision/recall curve: "all" points (VOC 2010+), "11" (VOC 2007) or "101" (COCO)."""
    precision = np.asarray(precision, dtype=np.float64).reshape(-1)
    recall = np.asarray(recall, dtype=np.float64).reshape(-1)
    if interpolation == "all":
        # the area under the envelope, a rectangle per step in recall
        recall_steps = np.concatenate([[0.0], recall])
        envelope = precision_envelope(precision)
        return float(np.sum(np.diff(recall_steps) * envelope))
    if interpolation in ("11", "101"):
        points = np.linspace(0.0, 1.0, int(interpolation))
        envelope = precision_envelope(precision)
        sampled = [
            envelope[recall >= point][0] if np.any(recall >= point) else 0.0 for point in points
        ]
        return float(np.mean(sampled))
    raise ValueError(f"interpolation should be 'all', '11' or '101', got {interpolation!r}.")


def match_detections(detection_boxes, detection_scores, truth_boxes, iou_threshold=0.5):
    """True-positive flags: best score first, each detection takes the best still-free truth."""
    detection_scores = np.asarray(detection_scores, dtype=np.float64).reshape(-1)
    hits = np.zeros(len(detection_scores), dtype=bool)
    if len(detection_scores) == 0 or len(truth_boxes) == 0:
        return hits
    overlaps = iou(detection_boxes, truth_boxes)
    taken = np.zeros(overlaps.shape[1], dtype=bool)
    for index in np.argsort(-detection_scores, kind="stable"):
        candidates = np.where(taken, -1.0, overlaps[index])
        best = int(np.argmax(candidates))
        if candidates[best] >= iou_threshold:
            hits[index] = taken[best] = True
    return hits


def _truth_array(truth):
    """One image's truth as a (k, 5) array of (class, x_min, y_min, x_max, y_max)."""
    truth = np.asarray(truth, dtype=np.float64)
    if truth.size == 0:
        return truth.reshape(0, 5)
    if truth.ndim != 2 or truth.shape[1] != 5:
        raise ValueError(
            f"each image's truth should be a (k, 5) array of (class, x_min, y_min, x_max, y_max), "
            f"got shape {truth.shape}."
        )
    return truth


def average_precision_per_class(
    detections, truths, num_classes, iou_threshold=0.5, interpolation="all"
):
    """AP of each class (NaN where a class has no ground truth) over a list of images.

    ``detections``: one :class:`Detections` per image; ``truths``: one (k, 5) array per image of
    ``(class, x_min, y_min, x_max, y_max)``, in the same coordinates as the detections.
    """
    if len(detections) != len(truths):
        raise ValueError(f"{len(detections)} images of detections but {len(truths)} of truths.")
    scores = [[] for _ in range(num_classes)]
    hits = [[] for _ in range(num_classes)]
    counts = np.zeros(num_classes, dtype=np.int64)
    for found, truth in zip(detections, truths):
        truth = _truth_array(truth)
        found_classes = np.asarray(found.classes).reshape(-1).astype(int)
        found_boxes = _boxes(found.boxes)
        found_scores = np.asarray(found.scores, dtype=np.float64).reshape(-1)
        for label in range(num_classes):
            mine = found_classes == label
            truth_boxes = truth[truth[:, 0] == label, 1:]
            counts[label] += len(truth_boxes)
            scores[label].append(found_scores[mine])
            hits[label].append(
                match_detections(found_boxes[mine], found_scores[mine], truth_boxes, iou_threshold)
            )
    result = np.full(num_classes, np.nan)
    for label in range(num_classes):
        if counts[label] == 0:
            continue  # as VOC and COCO do: a class nobody drew is not averaged in
        precision, recall, _ = precision_recall(
            np.concatenate(scores[label]), np.concatenate(hits[label]), counts[label]
        )
        result[label] = average_precision(precision, recall, interpolation)
    return result


def mean_average_precision(detections, truths, num_classes, iou_threshold=0.5, interpolation="all"):
    """mAP: the mean over classes (those with ground truth) of AP at one IoU threshold."""
    per_class = average_precision_per_class(
        detections, truths, num_classes, iou_threshold, interpolation
    )
    return float(np.nanmean(per_class)) if np.any(~np.isnan(per_class)) else 0.0


def coco_mean_average_precision(detections, truths, num_classes, interpolation="101"):
    """mAP@[0.5:0.95]: mAP averaged over the IoU thresholds 0.5, 0.55, ..., 0.95."""
    return float(
        np.mean(
            [
                mean_average_precision(detections, truths, num_classes, threshold, interpolation)
                for threshold in COCO_IOU_THRESHOLDS
            ]
        )
    )


# ---------------------------------------------------------------------------------------------
# YOLO: decoding predictions, the loss, a small detector
# ---------------------------------------------------------------------------------------------


def yolo_channels(boxes_per_cell, num_classes):
    """Numbers per grid cell of a YOLO output: 5 per box slot, plus one per class."""
    return 5 * boxes_per_cell + num_classes


def _split_yolo(tensor, boxes_per_cell, num_classes):
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
    slots, class_scores = _split_yolo(predictions, boxes_per_cell, num_classes)
    grid = slots.shape[1]
    rows, columns = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    # the cell offset of every slot, broadcast over images and box slots
    x_centre = (columns[None, :, :, None] + slots[..., 0]) / grid * image_size
    y_centre = (rows[None, :, :, None] + slots[..., 1]) / grid * image_size
    width, height = slots[..., 2] * image_size, slots[..., 3] * image_size
    centres = np.stack([x_centre, y_centre, width, height], axis=-1)
    return centres_to_corners(centres), slots[..., 4], class_scores


def decode_predictions(
    predictions,
    image_size,
    boxes_per_cell=2,
    num_classes=10,
    score_threshold=0.05,
    iou_threshold=0.5,
    max_detections=100,
):
    """YOLO tensors (N, S, S, 5B + C) to one :class:`Detections` per image (continuous pixels).

    A box's score is its confidence times its best class score (YOLO's class-specific
    confidence); boxes under ``score_threshold`` go, then NMS runs per class.
    """
    boxes, confidences, class_scores = grid_boxes(
        predictions, image_size, boxes_per_cell, num_classes
    )
    classes = np.argmax(class_scores, axis=-1)
    best_class_score = np.max(class_scores, axis=-1)
    scores = confidences * best_class_score[..., None]
    classes = np.broadcast_to(classes[..., None], scores.shape)
    results = []
    for image in range(len(boxes)):
        image_boxes = boxes[image].reshape(-1, 4)
        image_scores, image_classes = scores[image].reshape(-1), classes[image].reshape(-1)
        keep = np.flatnonzero(image_scores >= score_threshold)
        image_boxes, image_scores = image_boxes[keep], image_scores[keep]
        image_classes = image_classes[keep]
        # boxes that spill over the image are cut at its edges before they are compared
        image_boxes = np.clip(image_boxes, 0, image_size)
        chosen = non_max_suppression_per_class(
            image_boxes, image_scores, image_classes, iou_threshold, max_detections
        )
        results.append(
            Detections(image_boxes[chosen], image_scores[chosen], image_classes[chosen].astype(int))
        )
    return results


def truths_to_continuous(boxes):
    """A list of (k, 5) inclusive-pixel truths (class, corners) to continuous corners."""
    converted = []
    for truth in boxes:
        truth = _truth_array(truth)
        converted.append(np.concatenate([truth[:, :1], inclusive_to_continuous(truth[:, 1:])], 1))
    return converted


def cell_iou(boxes_a, boxes_b, grid_size):
    """Elementwise IoU (keras.ops) of ``(x, y, w, h)`` YOLO boxes that sit in the same cell."""
    from keras import ops

    # x, y are offsets inside the cell (a cell is 1/S of the image); w, h fractions of the image.
    # Both boxes share the cell, so its position cancels out of the IoU.
    def corners(boxes):
        centre_x, centre_y = boxes[..., 0] / grid_size, boxes[..., 1] / grid_size
        half_width, half_height = boxes[..., 2] / 2, boxes[..., 3] / 2
        return (
            centre_x - half_width,
            centre_y - half_height,
            centre_x + half_width,
            centre_y + half_height,
        )

    a_x0, a_y0, a_x1, a_y1 = corners(boxes_a)
    b_x0, b_y0, b_x1, b_y1 = corners(boxes_b)
    width = ops.maximum(ops.minimum(a_x1, b_x1) - ops.maximum(a_x0, b_x0), 0.0)
    height = ops.maximum(ops.minimum(a_y1, b_y1) - ops.maximum(a_y0, b_y0), 0.0)
    intersection = width * height
    area_a = ops.maximum(a_x1 - a_x0, 0.0) * ops.maximum(a_y1 - a_y0, 0.0)
    area_b = ops.maximum(b_x1 - b_x0, 0.0) * ops.maximum(b_y1 - b_y0, 0.0)
    union = area_a + area_b - intersection
    return intersection / ops.maximum(union, 1e-9)


def yolo_loss_terms(
    y_true, y_pred, boxes_per_cell=2, num_classes=10, lambda_coord=5.0, lambda_noobj=0.5
):
    """The four weighted terms of the YOLO v1 loss, each of shape (N,): coordinates, object
    confidence, no-object confidence, classes."""
    from keras import ops

    y_true = ops.convert_to_tensor(y_true, dtype="float32")
    y_pred = ops.convert_to_tensor(y_pred, dtype="float32")
    grid = ops.shape(y_pred)[1]
    box_channels = 5 * boxes_per_cell
    slots = ops.reshape(y_pred[..., :box_channels], (-1, grid, grid, boxes_per_cell, 5))
    truth_box = y_true[..., None, 0:4]  # every slot of an object cell holds the same box
    has_object = y_true[..., 4]  # 1_i^obj, shape (N, S, S)
    overlaps = ops.stop_gradient(cell_iou(truth_box, slots[..., :4], grid))  # (N, S, S, B)
    # 1_ij^obj: in a cell with an object, the slot whose box overlaps the truth most
    responsible = ops.one_hot(ops.argmax(overlaps, axis=-1), boxes_per_cell) * has_object[..., None]

    def sqrt(value):
        """Square root that stays finite for a (barely) negative prediction."""
        return ops.sqrt(ops.maximum(value, 1e-12))

    coordinates = (
        ops.square(truth_box[..., 0] - slots[..., 0])
        + ops.square(truth_box[..., 1] - slots[..., 1])
        + ops.square(sqrt(truth_box[..., 2]) - sqrt(slots[..., 2]))
        + ops.square(sqrt(truth_box[..., 3]) - sqrt(slots[..., 3]))
    )
    confidence = slots[..., 4]
    classes = ops.sum(ops.square(y_true[..., box_channels:] - y_pred[..., box_channels:]), axis=-1)

    def per_image(term):
        """Sum a per-cell (or per-slot) term over the grid, one number per image."""
        return ops.sum(ops.reshape(term, (ops.shape(term)[0], -1)), axis=-1)

    return {
        "coordinates": lambda_coord * per_image(responsible * coordinates),
        "object": per_image(responsible * ops.square(overlaps - confidence)),
        "no_object": lambda_noobj * per_image((1.0 - responsible) * ops.square(confidence)),
        "classes": per_image(has_object * classes),
    }


def yolo_loss(boxes_per_cell=2, num_classes=10, lambda_coord=5.0, lambda_noobj=0.5):
    """The YOLO v1 loss as a Keras loss function ``loss(y_true, y_pred)``: one number per image."""

    def loss(y_true, y_pred):
        """Sum of the YOLO v1 terms for each image of the batch."""
        terms = yolo_loss_terms(
            y_true, y_pred, boxes_per_cell, num_classes, lambda_coord, lambda_noobj
        )
        return terms["coordinates"] + terms["object"] + terms["no_object"] + terms["classes"]

    loss.__name__ = "yolo_loss"
    return loss


def yolo_loss_reference(
    y_true, y_pred, boxes_per_cell=2, num_classes=10, lambda_coord=5.0, lambda_noobj=0.5
):
    """The YOLO v1 loss written as explicit loops in NumPy, term by term (slow; a reference)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    count, grid = y_true.shape[0], y_true.shape[1]
    losses = np.zeros(count)
    for image in range(count):
        total = 0.0
        for row in range(grid):
            for column in range(grid):
                truth, guess = y_true[image, row, column], y_pred[image, row, column]
                has_object = truth[4] == 1
                responsible = -1
                if has_object:
                    best = -1.0
                    for slot in range(boxes_per_cell):
                        overlap = _cell_iou_scalar(truth[0:4], guess[5 * slot : 5 * slot + 4], grid)
                        if overlap > best:
                            best, responsible = overlap, slot
                for slot in range(boxes_per_cell):
                    x, y, w, h, c = guess[5 * slot : 5 * slot + 5]
                    if slot == responsible:
                        tx, ty, tw, th = truth[0:4]
                        total += lambda_coord * (
                            (tx - x) ** 2
                            + (ty - y) ** 2
                            + (np.sqrt(tw) - np.sqrt(max(w, 1e-12))) ** 2
                            + (np.sqrt(th) - np.sqrt(max(h, 1e-12))) ** 2
                        )
                        total += (best - c) ** 2
                    else:
                        total += lambda_noobj * c**2
                if has_object:
                    for label in range(num_classes):
                        index = 5 * boxes_per_cell + label
                        total += (truth[index] - guess[index]) ** 2
        losses[image] = total
    return losses


def _cell_iou_scalar(box_a, box_b, grid_size):
    """IoU of two (x, y, w, h) YOLO boxes of one cell, plain Python (for the loop reference)."""
    (ax, ay, aw, ah), (bx, by, bw, bh) = box_a, box_b
    a = (
        ax / grid_size - aw / 2,
        ay / grid_size - ah / 2,
        ax / grid_size + aw / 2,
        ay / grid_size + ah / 2,
    )
    b = (
        bx / grid_size - bw / 2,
        by / grid_size - bh / 2,
        bx / grid_size + bw / 2,
        by / grid_size + bh / 2,
    )
    width = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    height = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    intersection = width * height
    union = max(aw, 0) * max(ah, 0) + max(bw, 0) * max(bh, 0) - intersection
    return intersection / max(union, 1e-9)


def build_detector(
    image_size=64, grid_size=8, boxes_per_cell=2, num_classes=10, width=32, name="tiny_yolo"
):
    """A small YOLO-style detector: strided convolutions down to an S x S grid, then two heads.

    Box slots go through a sigmoid (x, y in the cell, w, h as image fractions, confidence are all
    in [0, 1]); class scores through a softmax. Output: (N, S, S, 5B + C).
    """
    import keras

    if image_size % grid_size:
        raise ValueError(
            f"image_size {image_size} is not a multiple of grid_size {grid_size}: pick sizes "
            f"whose ratio is a power of two."
        )
    downsamplings = int(np.log2(image_size // grid_size))
    if 2**downsamplings != image_size // grid_size:
        raise ValueError(
            f"image_size / grid_size = {image_size // grid_size} should be a power of two."
        )
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = inputs
    filters = width
    for level in range(downsamplings):
        x = keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{level}a")(x)
        x = keras.layers.BatchNormalization(name=f"bn{level}a")(x)
        x = keras.layers.LeakyReLU(0.1, name=f"leaky{level}a")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{level}")(x)
        filters = min(filters * 2, 4 * width)
    # a few layers at grid resolution so each cell sees a whole digit (and its neighbours)
    for index in range(2):
        x = keras.layers.Conv2D(filters, 3, padding="same", name=f"grid_conv{index}")(x)
        x = keras.layers.BatchNormalization(name=f"grid_bn{index}")(x)
        x = keras.layers.LeakyReLU(0.1, name=f"grid_leaky{index}")(x)
    boxes = keras.layers.Conv2D(5 * boxes_per_cell, 1, activation="sigmoid", name="boxes")(x)
    classes = keras.layers.Conv2D(num_classes, 1, activation="softmax", name="classes")(x)
    outputs = keras.layers.Concatenate(name="yolo")([boxes, classes])
    return keras.Model(inputs, outputs, name=name)


# ---------------------------------------------------------------------------------------------
# Two-stage detectors: RoI pooling against RoIAlign
# ---------------------------------------------------------------------------------------------


def roi_pool(feature_map, box, output_size=2):
    """Fast R-CNN's RoI pooling of a 2-D map: the box and its bins rounded to whole cells, max.

    ``box`` is ``(x_min, y_min, x_max, y_max)`` in continuous feature-map coordinates.
    """
    feature_map = np.asarray(feature_map, dtype=np.float64)
    x_min, y_min, x_max, y_max = (int(round(value)) for value in box)
    # at least one cell per side, or an empty box would have nothing to pool
    x_max, y_max = max(x_max, x_min + 1), max(y_max, y_min + 1)
    output = np.zeros((output_size, output_size))
    for row in range(output_size):
        top = y_min + int(np.floor(row * (y_max - y_min) / output_size))
        bottom = y_min + int(np.ceil((row + 1) * (y_max - y_min) / output_size))
        for column in range(output_size):
            left = x_min + int(np.floor(column * (x_max - x_min) / output_size))
            right = x_min + int(np.ceil((column + 1) * (x_max - x_min) / output_size))
            output[row, column] = feature_map[top:bottom, left:right].max()
    return output


def roi_align_points(box, output_size=2, sampling_ratio=2):
    """The (x, y) points RoIAlign samples, in pixel-centre coordinates (cell i's centre is i)."""
    x_min, y_min, x_max, y_max = (float(value) for value in box)
    count = output_size * sampling_ratio
    # evenly spaced in the box; -0.5 as cell i covers [i, i + 1), its centre at i + 0.5
    xs = x_min + (np.arange(count) + 0.5) * (x_max - x_min) / count - 0.5
    ys = y_min + (np.arange(count) + 0.5) * (y_max - y_min) / count - 0.5
    return xs, ys


def roi_align(feature_map, box, output_size=2, sampling_ratio=2):
    """Mask R-CNN's RoIAlign: bilinear samples (``tf.image.crop_and_resize``) averaged per bin."""
    import tensorflow as tf

    feature_map = np.asarray(feature_map, dtype=np.float32)
    height, width = feature_map.shape[:2]
    xs, ys = roi_align_points(box, output_size, sampling_ratio)
    # crop_and_resize places its first and last samples at box * (size - 1): aim them at ours
    normalised = [
        [ys[0] / (height - 1), xs[0] / (width - 1), ys[-1] / (height - 1), xs[-1] / (width - 1)]
    ]
    count = output_size * sampling_ratio
    samples = tf.image.crop_and_resize(
        feature_map[None, :, :, None], normalised, [0], [count, count], method="bilinear"
    ).numpy()[0, :, :, 0]
    bins = samples.reshape(output_size, sampling_ratio, output_size, sampling_ratio)
    return bins.mean(axis=(1, 3))


def bilinear_sample(feature_map, x, y):
    """Bilinear interpolation of a 2-D map at (x, y) in pixel-centre coordinates (plain NumPy)."""
    feature_map = np.asarray(feature_map, dtype=np.float64)
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    x1, y1 = min(x0 + 1, feature_map.shape[1] - 1), min(y0 + 1, feature_map.shape[0] - 1)
    fx, fy = x - x0, y - y0
    top = (1 - fx) * feature_map[y0, x0] + fx * feature_map[y0, x1]
    bottom = (1 - fx) * feature_map[y1, x0] + fx * feature_map[y1, x1]
    return (1 - fy) * top + fy * bottom


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def draw_grid(ax, image_size, grid_size, colour="0.55"):
    """Draw the S x S grid of a YOLO output over an image shown with ``imshow``."""
    # imshow puts pixel centres at integers, so pixel edges (and cell edges) sit at k - 0.5
    for edge in np.arange(1, grid_size) * image_size / grid_size - 0.5:
        ax.axhline(edge, color=colour, linewidth=0.6)
        ax.axvline(edge, color=colour, linewidth=0.6)
    return ax


def draw_continuous_boxes(ax, boxes, labels=None, scores=None, colour="yellow"):
    """:func:`course_utils.plots.draw_boxes` for continuous boxes (it expects inclusive pixels)."""
    from course_utils import plots

    return plots.draw_boxes(ax, continuous_to_inclusive(boxes), labels, scores, colour)


def show_detections(
    images, truths=None, detections=None, titles=None, columns=4, size=2.6, labels=True
):
    """Scenes with true boxes (green) and detections (yellow, with class and score if ``labels``).

    ``truths``: (k, 5) arrays of (class, corners); ``detections``: :class:`Detections`; both in
    continuous pixel coordinates (see :func:`truths_to_continuous`).
    """
    from course_utils import plots

    figure = plots.show_images(images, titles=titles, columns=columns, size=size)
    for index, ax in enumerate(figure.axes[: len(images)]):
        if truths is not None:
            draw_continuous_boxes(ax, _truth_array(truths[index])[:, 1:], colour="lime")
        if detections is not None:
            found = detections[index]
            if labels:
                draw_continuous_boxes(ax, found.boxes, found.classes, found.scores, "yellow")
            else:
                draw_continuous_boxes(ax, found.boxes, colour="yellow")
    return figure
