"""Anchors of a two-stage detector: generated over a feature map, assigned to true boxes by IoU,
and the box-regression targets (tx, ty, tw, th) that move an anchor onto its box, and back.

Boxes are corner boxes ``(x_min, y_min, x_max, y_max)`` in continuous image pixels (pixel ``i``
covers ``[i, i + 1)``), as in :mod:`course_utils.detection`. An anchor's aspect ratio is
height / width. NumPy only: these are the independent answers of topic 08's checks.
"""

import collections

import numpy as np

from course_utils import detection

POSITIVE, NEGATIVE, IGNORED = 1, 0, -1

Assignment = collections.namedtuple("Assignment", ["labels", "matched", "overlaps"])
Assignment.__doc__ = """Per anchor: ``labels`` (1 positive, 0 negative, -1 ignored), ``matched``
(the index of the true box it overlaps most) and ``overlaps`` (that IoU)."""


def anchor_shapes(scales, aspect_ratios):
    """Widths and heights (A, 2) of the anchors of one location: every scale, then every ratio.

    A scale ``s`` and a ratio ``r = height / width`` give a ``s / sqrt(r)`` by ``s * sqrt(r)``
    box: its area stays ``s ** 2`` whatever the ratio.
    """
    scales = np.asarray(scales, dtype=np.float64).reshape(-1, 1)
    roots = np.sqrt(np.asarray(aspect_ratios, dtype=np.float64)).reshape(1, -1)
    widths, heights = scales / roots, scales * roots
    return np.stack([widths.ravel(), heights.ravel()], axis=1)


def generate_anchors(feature_height, feature_width, stride, scales, aspect_ratios):
    """All anchors of a feature map, (H * W * A, 4) continuous corners.

    Cell ``(row, column)`` covers image pixels ``[column * stride, (column + 1) * stride)`` along
    x and likewise along y, so its anchors are centred at ``((column + 0.5) * stride,
    (row + 0.5) * stride)``. Order: row by row, column by column, and the A shapes of one
    location together (scales outer, ratios inner), which is the order of a head's output
    ``(H, W, A)`` reshaped to one row per anchor.
    """
    shapes = anchor_shapes(scales, aspect_ratios)
    rows, columns = np.meshgrid(np.arange(feature_height), np.arange(feature_width), indexing="ij")
    centres = np.stack([(columns + 0.5) * stride, (rows + 0.5) * stride], axis=-1).reshape(-1, 1, 2)
    half = shapes.reshape(1, -1, 2) / 2
    return np.concatenate([centres - half, centres + half], axis=-1).reshape(-1, 4)


def assign_anchors(anchors, truth_boxes, positive_iou=0.7, negative_iou=0.3):
    """Faster R-CNN's rule: which anchors are positive, negative or ignored (:class:`Assignment`).

    * positive: IoU >= ``positive_iou`` with some true box, or the best anchor of a true box
      (every anchor tied at that best IoU, when it is above 0): no box is left without one;
    * negative: IoU < ``negative_iou`` with every true box, unless positive by the rule above;
    * ignored: the rest, in between: too unsure to train on either way.
    """
    anchors = detection.as_boxes(anchors, "anchors")
    truth_boxes = detection.as_boxes(truth_boxes, "truth_boxes")
    labels = np.full(len(anchors), IGNORED, dtype=np.int64)
    if len(truth_boxes) == 0:
        labels[:] = NEGATIVE
        return Assignment(labels, np.full(len(anchors), -1), np.zeros(len(anchors)))
    overlaps = detection.iou(anchors, truth_boxes)
    best_overlap = overlaps.max(axis=1)
    labels[best_overlap < negative_iou] = NEGATIVE
    labels[best_overlap >= positive_iou] = POSITIVE
    best_of_each_truth = overlaps.max(axis=0)
    best_anchors = np.any((overlaps == best_of_each_truth) & (best_of_each_truth > 0), axis=1)
    labels[best_anchors] = POSITIVE  # after the negatives: a box's best anchor always counts
    return Assignment(labels, overlaps.argmax(axis=1), best_overlap)


def _centres_and_sizes(boxes):
    """Centres x, y and sizes w, h of corner boxes, as four arrays."""
    boxes = detection.as_boxes(boxes)
    width, height = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + width / 2, boxes[..., 1] + height / 2, width, height


def encode_boxes(anchors, boxes):
    """Regression targets (K, 4) that move each anchor onto its box, Faster R-CNN's:
    ``tx = (x - x_a) / w_a``, ``ty = (y - y_a) / h_a``, ``tw = log(w / w_a)``,
    ``th = log(h / h_a)``,
    with ``(x, y)`` box centres and ``(w, h)`` sizes."""
    anchor_x, anchor_y, anchor_w, anchor_h = _centres_and_sizes(anchors)
    x, y, w, h = _centres_and_sizes(boxes)
    return np.stack(
        [(x - anchor_x) / anchor_w, (y - anchor_y) / anchor_h, np.log(w / anchor_w),
         np.log(h / anchor_h)],
        axis=-1,
    )  # fmt: skip


def decode_boxes(anchors, deltas):
    """The boxes (K, 4) that regression targets describe: the exact inverse of :func:`encode_boxes`.

    ``x = x_a + tx * w_a``, ``w = w_a * exp(tw)``, and likewise along y; back to corners.
    """
    anchor_x, anchor_y, anchor_w, anchor_h = _centres_and_sizes(anchors)
    deltas = np.asarray(deltas, dtype=np.float64)
    x, y = anchor_x + deltas[..., 0] * anchor_w, anchor_y + deltas[..., 1] * anchor_h
    w, h = anchor_w * np.exp(deltas[..., 2]), anchor_h * np.exp(deltas[..., 3])
    return np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=-1)


def clip_boxes(boxes, image_size):
    """Corner boxes cut at the image's edges, ``[0, image_size]`` on both axes."""
    return np.clip(detection.as_boxes(boxes), 0, image_size)


def anchors_inside(anchors, image_size):
    """True for the anchors that lie wholly inside the image (Faster R-CNN trains only on those)."""
    anchors = detection.as_boxes(anchors)
    return np.all((anchors >= 0) & (anchors <= image_size), axis=1)
