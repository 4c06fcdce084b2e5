"""Boxes for detection: the two pixel conventions, conversions, IoU and non-max suppression.

Box conventions used throughout the detection modules:

* ``corners``: ``(x_min, y_min, x_max, y_max)``;
  ``centres``: ``(x_centre, y_centre, width, height)``.
* Continuous coordinates by default: pixel ``i`` covers ``[i, i + 1)``, so a box's width is
  ``x_max - x_min``. With ``inclusive=True`` the coordinates are integer pixel indices and the box
  covers pixels ``x_min .. x_max`` inclusive, so its width is ``x_max - x_min + 1`` (the PASCAL VOC
  convention, and that of :func:`course_utils.digit_scenes.make_digit_scenes`).
  :func:`inclusive_to_continuous` converts one into the other.

AP and mAP are in :mod:`course_utils.detection_metrics`, the YOLO grid in
:mod:`course_utils.yolo`, RoI pooling and RoIAlign in :mod:`course_utils.roi`, figures in
:mod:`course_utils.detection_plots`. NumPy only; TensorFlow only for the ``tf.image`` reference.
"""

import collections

import numpy as np

Detections = collections.namedtuple("Detections", ["boxes", "scores", "classes"])
Detections.__doc__ = """Detections of one image: corner boxes (k, 4), scores (k,), classes (k,)."""


def as_boxes(boxes, name="boxes"):
    """``boxes`` as a float array of shape (..., 4), or a one-line error naming the fix."""
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, 4)
    if array.shape[-1:] != (4,):
        raise ValueError(f"{name} should have shape (..., 4), got {array.shape}: one row per box.")
    return array


def truth_array(truth):
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


# ---------------------------------------------------------------------------------------------
# Conversions
# ---------------------------------------------------------------------------------------------


def centres_to_corners(boxes):
    """``(x_centre, y_centre, width, height)`` boxes to ``(x_min, y_min, x_max, y_max)``."""
    boxes = as_boxes(boxes)
    centre, size = boxes[..., :2], boxes[..., 2:]
    return np.concatenate([centre - size / 2, centre + size / 2], axis=-1)


def corners_to_centres(boxes):
    """``(x_min, y_min, x_max, y_max)`` boxes to ``(x_centre, y_centre, width, height)``."""
    boxes = as_boxes(boxes)
    low, high = boxes[..., :2], boxes[..., 2:]
    return np.concatenate([(low + high) / 2, high - low], axis=-1)


def inclusive_to_continuous(boxes):
    """Inclusive pixel boxes (``x_max`` is the last pixel) to continuous ones (one past it)."""
    boxes = as_boxes(boxes)
    return np.concatenate([boxes[..., :2], boxes[..., 2:] + 1], axis=-1)


def continuous_to_inclusive(boxes):
    """Continuous boxes to inclusive pixel ones (``x_max`` the last pixel), the inverse of
    :func:`inclusive_to_continuous`; fractional coordinates stay fractional."""
    boxes = as_boxes(boxes)
    return np.concatenate([boxes[..., :2], boxes[..., 2:] - 1], axis=-1)


def truths_to_continuous(boxes):
    """A list of (k, 5) inclusive-pixel truths (class, corners) to continuous corners."""
    converted = []
    for truth in boxes:
        truth = truth_array(truth)
        converted.append(np.concatenate([truth[:, :1], inclusive_to_continuous(truth[:, 1:])], 1))
    return converted


# ---------------------------------------------------------------------------------------------
# Areas and IoU
# ---------------------------------------------------------------------------------------------


def box_area(boxes, inclusive=False):
    """Areas of corner boxes; ``inclusive`` counts both end pixels (width = max - min + 1)."""
    boxes = as_boxes(boxes)
    extra = 1.0 if inclusive else 0.0
    widths = np.maximum(boxes[..., 2] - boxes[..., 0] + extra, 0)
    heights = np.maximum(boxes[..., 3] - boxes[..., 1] + extra, 0)
    return widths * heights


def iou(boxes_a, boxes_b, box_format="corners", inclusive=False):
    """Pairwise IoU matrix (N, M) of boxes (N, 4) and (M, 4), vectorised by broadcasting."""
    if box_format not in ("corners", "centres"):
        raise ValueError(f"box_format should be 'corners' or 'centres', got {box_format!r}.")
    boxes_a, boxes_b = as_boxes(boxes_a, "boxes_a"), as_boxes(boxes_b, "boxes_b")
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


def score_order(scores):
    """Indices from the best score down; equal scores keep their input order (a stable sort).

    ``tf.image.non_max_suppression`` breaks ties the same way, and so must every ranking that
    is compared with it: NumPy's default sort is not stable, and on some CPUs reorders ties.
    """
    return np.argsort(-np.asarray(scores, dtype=np.float64).reshape(-1), kind="stable")


def non_max_suppression(boxes, scores, iou_threshold=0.5, max_outputs=None):
    """Greedy NMS: indices of the kept boxes, best score first (a box goes when IoU > threshold)."""
    boxes = as_boxes(boxes)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores: give one score per box.")
    overlaps = iou(boxes, boxes)
    suppressed = np.zeros(len(boxes), dtype=bool)
    kept = []
    for index in score_order(scores):
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
    boxes = as_boxes(boxes)
    kept = []
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        kept.extend(members[non_max_suppression(boxes[members], scores[members], iou_threshold)])
    kept = np.array(kept, dtype=np.int64)
    kept = kept[score_order(scores[kept])]
    return kept[:max_outputs] if max_outputs is not None else kept


def tf_non_max_suppression_per_class(boxes, scores, classes, iou_threshold=0.5):
    """Per-class NMS with ``tf.image.non_max_suppression`` (an independent reference)."""
    import tensorflow as tf

    boxes, classes = as_boxes(boxes), np.asarray(classes).reshape(-1)
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
    return kept[score_order(scores[kept])]
