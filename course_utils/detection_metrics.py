"""Scoring detections: matching them to true boxes, precision and recall, AP and mAP.

Two matching rules, both walking one class's detections from the best score down:

* ``rule="coco"`` (the default, and the rule of every number the course reports): a detection
  takes the best *still-free* truth with IoU >= the threshold; pycocotools does the same.
* ``rule="voc"``: the PASCAL VOC devkit's rule: a detection looks only at its best truth; if
  that one is already taken, the detection is a false positive, even when another free truth
  overlaps it enough.

Either rule accepts ``difficult`` flags per truth (VOC's "difficult" objects): a difficult truth
is not counted among the objects to find, and a detection matched to one is ignored, neither
true nor false positive. Interpolation of AP is a separate choice: ``"all"`` points (VOC 2010
and later), ``"11"`` (VOC 2007) or ``"101"`` (COCO).
"""

import collections

import numpy as np

from course_utils import detection

# COCO's IoU thresholds for mAP@[0.5:0.95]
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RULES = ("coco", "voc")

Matches = collections.namedtuple("Matches", ["hits", "ignored"])
Matches.__doc__ = """One flag per detection: true positive (``hits``), or ``ignored`` (matched to a
difficult truth); a detection that is neither is a false positive."""


# ---------------------------------------------------------------------------------------------
# Precision, recall and AP of one ranking
# ---------------------------------------------------------------------------------------------


def precision_recall(scores, is_true_positive, num_ground_truth):
    """Precision and recall after each detection, best score first; also the sorted scores."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    hits = np.asarray(is_true_positive, dtype=bool).reshape(-1)
    if len(scores) != len(hits):
        raise ValueError(f"{len(scores)} scores but {len(hits)} flags: one flag per detection.")
    order = detection.score_order(scores)
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


# ---------------------------------------------------------------------------------------------
# Matching detections to truths
# ---------------------------------------------------------------------------------------------


def match_detections(
    detection_boxes,
    detection_scores,
    truth_boxes,
    iou_threshold=0.5,
    rule="coco",
    difficult=None,
    inclusive=False,
):
    """Match one image's detections of one class to its truths: :class:`Matches` flags.

    Best score first. ``rule="coco"``: a detection takes the best still-free truth (free
    ordinary truths first, then free difficult ones); ``rule="voc"``: its best truth, or nothing
    when that truth is taken. ``difficult``: one flag per truth (default none).
    """
    if rule not in RULES:
        raise ValueError(f"rule should be one of {RULES}, got {rule!r}.")
    scores = np.asarray(detection_scores, dtype=np.float64).reshape(-1)
    truth_boxes = detection.as_boxes(truth_boxes, "truth_boxes")
    difficult = _difficult_flags(difficult, len(truth_boxes))
    hits = np.zeros(len(scores), dtype=bool)
    ignored = np.zeros(len(scores), dtype=bool)
    if len(scores) == 0 or len(truth_boxes) == 0:
        return Matches(hits, ignored)
    overlaps = detection.iou(detection_boxes, truth_boxes, inclusive=inclusive)
    taken = np.zeros(len(truth_boxes), dtype=bool)
    choose = _coco_choice if rule == "coco" else _voc_choice
    for index in detection.score_order(scores):
        best = choose(overlaps[index], taken, difficult, iou_threshold)
        if best is None:
            continue  # a false positive
        if difficult[best]:
            ignored[index] = True
            if rule == "coco":
                taken[best] = True  # COCO matches an ignored (non-crowd) truth only once
        elif not taken[best]:
            hits[index] = taken[best] = True
    return Matches(hits, ignored)


def _coco_choice(overlaps, taken, difficult, iou_threshold):
    """The best free truth over the threshold, ordinary truths before difficult ones, or None."""
    for group in (~difficult, difficult):
        candidates = np.where(group & ~taken, overlaps, -1.0)
        best = int(np.argmax(candidates))
        if candidates[best] >= iou_threshold:
            return best
    return None


def _voc_choice(overlaps, taken, difficult, iou_threshold):
    """The devkit's choice: the best truth, taken or not, if over the threshold; else None.

    A taken (non-difficult) best truth makes the caller count a false positive.
    """
    best = int(np.argmax(overlaps))
    return best if overlaps[best] >= iou_threshold else None


def _difficult_flags(difficult, count):
    """Per-truth difficult flags as a boolean array (all False when not given)."""
    if difficult is None:
        return np.zeros(count, dtype=bool)
    flags = np.asarray(difficult, dtype=bool).reshape(-1)
    if len(flags) != count:
        raise ValueError(f"{count} truths but {len(flags)} difficult flags: one flag per truth.")
    return flags


# ---------------------------------------------------------------------------------------------
# AP per class and mAP over images
# ---------------------------------------------------------------------------------------------


def average_precision_per_class(
    detections,
    truths,
    num_classes,
    iou_threshold=0.5,
    interpolation="all",
    rule="coco",
    difficult=None,
):
    """AP of each class (NaN where a class has no ground truth) over a list of images.

    ``detections``: one :class:`course_utils.detection.Detections` per image; ``truths``: one
    (k, 5) array per image of ``(class, x_min, y_min, x_max, y_max)``, in the same coordinates as
    the detections; ``difficult``: None, or one array of k flags per image.
    """
    if len(detections) != len(truths):
        raise ValueError(f"{len(detections)} images of detections but {len(truths)} of truths.")
    if difficult is not None and len(difficult) != len(truths):
        raise ValueError(f"{len(truths)} images of truths but {len(difficult)} of flags.")
    scores = [[] for _ in range(num_classes)]
    hits = [[] for _ in range(num_classes)]
    counts = np.zeros(num_classes, dtype=np.int64)
    for image, (found, truth) in enumerate(zip(detections, truths)):
        truth = detection.truth_array(truth)
        flags = _difficult_flags(None if difficult is None else difficult[image], len(truth))
        found_classes = np.asarray(found.classes).reshape(-1).astype(int)
        found_boxes = detection.as_boxes(found.boxes)
        found_scores = np.asarray(found.scores, dtype=np.float64).reshape(-1)
        for label in range(num_classes):
            mine, theirs = found_classes == label, truth[:, 0] == label
            counts[label] += int(np.sum(theirs & ~flags))  # difficult objects need not be found
            matches = match_detections(
                found_boxes[mine],
                found_scores[mine],
                truth[theirs, 1:],
                iou_threshold,
                rule,
                flags[theirs],
            )
            scores[label].append(found_scores[mine][~matches.ignored])
            hits[label].append(matches.hits[~matches.ignored])
    result = np.full(num_classes, np.nan)
    for label in range(num_classes):
        if counts[label] == 0:
            continue  # as VOC and COCO do: a class nobody drew is not averaged in
        precision, recall, _ = precision_recall(
            np.concatenate(scores[label]), np.concatenate(hits[label]), counts[label]
        )
        result[label] = average_precision(precision, recall, interpolation)
    return result


def mean_average_precision(
    detections,
    truths,
    num_classes,
    iou_threshold=0.5,
    interpolation="all",
    rule="coco",
    difficult=None,
):
    """mAP: the mean over classes (those with ground truth) of AP at one IoU threshold."""
    per_class = average_precision_per_class(
        detections, truths, num_classes, iou_threshold, interpolation, rule, difficult
    )
    return float(np.nanmean(per_class)) if np.any(~np.isnan(per_class)) else 0.0


def coco_mean_average_precision(detections, truths, num_classes, interpolation="101"):
    """mAP@[0.5:0.95]: mAP averaged over the IoU thresholds 0.5, 0.55, ..., 0.95 (COCO's rule)."""
    return float(
        np.mean(
            [
                mean_average_precision(detections, truths, num_classes, threshold, interpolation)
                for threshold in COCO_IOU_THRESHOLDS
            ]
        )
    )
