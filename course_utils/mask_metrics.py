"""Scoring instance masks: mask IoU, matching predicted masks to true ones, mask AP and mAP.

The same protocol as boxes (:mod:`course_utils.detection_metrics`), with the IoU of two masks
(pixels in both over pixels in either) in place of the IoU of two boxes: COCO's matching (best
score first, each prediction takes the best still-free truth of its class with IoU >= the
threshold), AP per class from :func:`detection_metrics.average_precision`, mAP the mean over
classes that have truths, mAP@[0.5:0.95] the mean over COCO's ten thresholds. The tests compare
it with pycocotools on RLE-encoded masks.
"""

import collections

import numpy as np

from course_utils import detection, detection_metrics

Instances = collections.namedtuple("Instances", ["masks", "scores", "classes"])
Instances.__doc__ = """Instances of one image: boolean masks (k, H, W), scores (k,), classes (k,).
True instances have scores too (ignored)."""


def as_instances(masks, scores=None, classes=None):
    """:class:`Instances` with masks as booleans (k, H, W); scores 1 and classes 0 by default."""
    masks = np.asarray(masks).astype(bool)
    count = len(masks)
    scores = np.ones(count) if scores is None else np.asarray(scores, np.float64).reshape(-1)
    classes = np.zeros(count, int) if classes is None else np.asarray(classes).reshape(-1)
    if masks.ndim != 3 or len(scores) != count or len(classes) != count:
        raise ValueError(
            f"masks {masks.shape}, {len(scores)} scores, {len(classes)} classes: give (k, H, W) "
            "masks and one score and one class per mask."
        )
    return Instances(masks, scores, classes.astype(int))


def truth_instances(instance_mask, boxes):
    """One scene's true :class:`Instances` from its instance-id mask (0 background, k + 1 for
    box k) and its (k, 5) boxes ``(digit, ...)``: one mask per box, of the box's digit."""
    boxes = np.asarray(boxes).reshape(-1, 5)
    ids = np.arange(1, len(boxes) + 1).reshape(-1, 1, 1)
    return as_instances(np.asarray(instance_mask)[None] == ids, classes=boxes[:, 0])


def mask_iou(masks_a, masks_b):
    """Pairwise IoU (N, M) of boolean masks (N, H, W) and (M, H, W); 0 where both are empty."""
    masks_a, masks_b = np.asarray(masks_a, dtype=bool), np.asarray(masks_b, dtype=bool)
    pixels = int(np.prod(masks_a.shape[1:]))  # explicit: reshape(0, -1) is ambiguous
    a = masks_a.reshape(len(masks_a), pixels).astype(np.float64)
    b = masks_b.reshape(len(masks_b), pixels).astype(np.float64)
    intersection = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1), 0.0)


def match_masks(overlaps, scores, iou_threshold=0.5):
    """COCO's matching from an IoU matrix (predictions x truths): one hit flag per prediction.

    Best score first (ties in input order), each prediction takes the still-free truth it
    overlaps most, if that IoU reaches ``iou_threshold``; otherwise it is a false positive.
    """
    overlaps = np.asarray(overlaps, dtype=np.float64)
    overlaps = overlaps.reshape(len(scores), overlaps.shape[-1] if overlaps.ndim == 2 else 0)
    hits = np.zeros(len(scores), dtype=bool)
    taken = np.zeros(overlaps.shape[1], dtype=bool)
    for index in detection.score_order(scores):
        candidates = np.where(taken, -1.0, overlaps[index])
        if candidates.size and candidates.max() >= iou_threshold:
            best = int(np.argmax(candidates))
            hits[index] = taken[best] = True
    return hits


def average_precision_per_class(
    predictions, truths, num_classes, iou_threshold=0.5, interpolation="all"
):
    """Mask AP of each class (NaN for a class without truths) over lists of :class:`Instances`."""
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} images of predictions but {len(truths)} of truths.")
    scores = [[] for _ in range(num_classes)]
    hits = [[] for _ in range(num_classes)]
    counts = np.zeros(num_classes, dtype=np.int64)
    for predicted, truth in zip(predictions, truths):
        overlaps = mask_iou(predicted.masks, truth.masks)
        for label in range(num_classes):
            mine, theirs = predicted.classes == label, truth.classes == label
            counts[label] += int(theirs.sum())
            found = match_masks(overlaps[mine][:, theirs], predicted.scores[mine], iou_threshold)
            scores[label].append(predicted.scores[mine])
            hits[label].append(found)
    result = np.full(num_classes, np.nan)
    for label in np.flatnonzero(counts):
        precision, recall, _ = detection_metrics.precision_recall(
            np.concatenate(scores[label]), np.concatenate(hits[label]), counts[label]
        )
        result[label] = detection_metrics.average_precision(precision, recall, interpolation)
    return result


def mean_average_precision(
    predictions, truths, num_classes, iou_threshold=0.5, interpolation="all"
):
    """Mask mAP at one IoU threshold: the mean of AP over the classes that have truths."""
    per_class = average_precision_per_class(
        predictions, truths, num_classes, iou_threshold, interpolation
    )
    return float(np.nanmean(per_class)) if np.any(~np.isnan(per_class)) else 0.0


def coco_mean_average_precision(predictions, truths, num_classes, interpolation="101"):
    """Mask mAP@[0.5:0.95]: mAP averaged over the IoU thresholds 0.5, 0.55, ..., 0.95 (COCO)."""
    values = [
        mean_average_precision(predictions, truths, num_classes, threshold, interpolation)
        for threshold in detection_metrics.COCO_IOU_THRESHOLDS
    ]
    return float(np.mean(values))
