"""Instance segmentation's plumbing: boxes of many scenes in one table, small masks pasted back
into their boxes, and pixels grouped into instances by their embeddings.

Boxes come in two conventions (see :mod:`course_utils.detection`): the scenes' inclusive pixel
boxes, and continuous corners. A mask is pasted into the pixels whose centres lie inside its box.
"""

import collections

import numpy as np

from course_utils import detection, mask_metrics

BoxTable = collections.namedtuple("BoxTable", ["scenes", "boxes", "classes", "scores"])
BoxTable.__doc__ = """Boxes of many scenes, one row each: the scene they belong to (K,), continuous
corners (K, 4), classes (K,) and scores (K,)."""


def truth_table(scene_boxes):
    """The true boxes of a list of scenes ((k, 5) inclusive rows each) as one :class:`BoxTable`."""
    rows = [np.asarray(boxes).reshape(-1, 5) for boxes in scene_boxes]
    scenes = np.concatenate([np.full(len(boxes), index) for index, boxes in enumerate(rows)])
    boxes = np.concatenate(rows) if rows else np.zeros((0, 5))
    corners = detection.inclusive_to_continuous(boxes[:, 1:])
    return BoxTable(scenes.astype(int), corners, boxes[:, 0].astype(int), np.ones(len(boxes)))


def detection_table(found):
    """Detections of many scenes (a list of :class:`detection.Detections`) as one table."""
    scenes = np.concatenate([np.full(len(item.scores), index) for index, item in enumerate(found)])
    return BoxTable(
        scenes.astype(int),
        np.concatenate([detection.as_boxes(item.boxes) for item in found]),
        np.concatenate([np.asarray(item.classes).reshape(-1) for item in found]).astype(int),
        np.concatenate([np.asarray(item.scores).reshape(-1) for item in found]),
    )


def pixel_box(box, image_size):
    """The inclusive pixel box ``(x_min, y_min, x_max, y_max)`` of the pixels whose centres lie in
    a continuous box, cut at the image; at least one pixel wide and high.

    Pixel ``i``'s centre is ``i + 0.5``: the first inside is ``ceil(x_min - 0.5)``, the last
    ``floor(x_max - 0.5)``. A true box converted to continuous corners comes back unchanged.
    """
    x_min, y_min, x_max, y_max = np.asarray(box, dtype=np.float64).reshape(4)
    first = np.ceil(np.array([x_min, y_min]) - 0.5)
    last = np.floor(np.array([x_max, y_max]) - 0.5)
    first = np.clip(first, 0, image_size - 1)
    last = np.clip(np.maximum(last, first), 0, image_size - 1)
    return tuple(int(value) for value in (*first, *last))


def resize_mask(mask, height, width):
    """A soft mask (m, m) resized to (height, width), bilinear with pixel centres aligned."""
    import tensorflow as tf

    mask = np.asarray(mask, dtype=np.float32)[..., None]
    return tf.image.resize(mask, (height, width), method="bilinear").numpy()[..., 0]


def paste_mask(mask, box, image_size, threshold=0.5):
    """A boolean (image_size, image_size) mask: the soft ``mask`` resized into the inclusive pixel
    ``box`` ``(x_min, y_min, x_max, y_max)`` and thresholded (>= ``threshold``); zero elsewhere."""
    x_min, y_min, x_max, y_max = (int(value) for value in box)
    resized = resize_mask(mask, y_max - y_min + 1, x_max - x_min + 1)
    pasted = np.zeros((image_size, image_size), dtype=bool)
    pasted[y_min : y_max + 1, x_min : x_max + 1] = resized >= threshold
    return pasted


def predicted_instances(table, soft_masks, scene_count, image_size, threshold=0.5):
    """Per scene :class:`course_utils.mask_metrics.Instances` from a :class:`BoxTable` and one soft
    mask (m, m) per row, each pasted into its box's pixels (:func:`pixel_box`)."""
    masks = [[] for _ in range(scene_count)]
    for scene, box, soft in zip(table.scenes, table.boxes, soft_masks):
        masks[scene].append(paste_mask(soft, pixel_box(box, image_size), image_size, threshold))
    empty = np.zeros((0, image_size, image_size), dtype=bool)
    return [
        mask_metrics.as_instances(
            np.stack(masks[scene]) if masks[scene] else empty,
            table.scores[table.scenes == scene],
            table.classes[table.scenes == scene],
        )
        for scene in range(scene_count)
    ]


def mask_confidence(soft_mask, threshold=0.5):
    """A mask's own score: the mean probability of the pixels it claims (0 when it claims none)."""
    soft_mask = np.asarray(soft_mask, dtype=np.float64)
    claimed = soft_mask >= threshold
    return float(soft_mask[claimed].mean()) if claimed.any() else 0.0


# ---------------------------------------------------------------------------------------------
# Grouping pixels by their embeddings


def pair_similarity(squared_distances):
    """The similarity of two pixels from their embeddings' squared distance: 2 / (1 + exp(d^2)),
    1 for equal embeddings, 0.5 at d^2 = log 3, towards 0 far apart."""
    return 2.0 / (1.0 + np.exp(np.minimum(squared_distances, 60.0)))


def group_pixels(embeddings, foreground, min_pixels=8):
    """Instance ids (H, W) from per-pixel embeddings (H, W, D): 0 off the foreground.

    Greedy: the free foreground pixel with the most free pixels similar to it (similarity > 0.5)
    seeds a group; every free pixel similar to the mean embedding of those pixels joins it.
    Repeat until no pixel is free; groups smaller than ``min_pixels`` are dropped (left 0).
    """
    rows, columns = np.nonzero(foreground)
    vectors = np.asarray(embeddings, dtype=np.float64)[rows, columns]
    squared = ((vectors[:, None, :] - vectors[None, :, :]) ** 2).sum(axis=-1)
    similar = pair_similarity(squared) > 0.5
    free = np.ones(len(vectors), dtype=bool)
    labels = np.zeros(np.shape(foreground), dtype=np.int32)
    while free.any():
        counts = np.where(free, (similar & free[None, :]).sum(axis=1), -1)
        seed = similar[int(np.argmax(counts))] & free
        centre = vectors[seed].mean(axis=0)
        members = free & (pair_similarity(((vectors - centre) ** 2).sum(axis=-1)) > 0.5)
        members |= seed
        free &= ~members
        if members.sum() >= min_pixels:
            labels[rows[members], columns[members]] = labels.max() + 1
    return labels


def instances_found(groups, instance_mask, iou_threshold=0.5):
    """How many true instances a grouping recovers (one group each, IoU >= the threshold), of how
    many, and how many groups match none."""
    group_masks = groups[None] == np.arange(1, groups.max() + 1).reshape(-1, 1, 1)
    truth_ids = np.arange(1, int(instance_mask.max()) + 1).reshape(-1, 1, 1)
    overlaps = mask_metrics.mask_iou(group_masks, instance_mask[None] == truth_ids)
    # larger groups first: the order in which groups claim the instances they overlap
    hits = mask_metrics.match_masks(overlaps, group_masks.sum(axis=(1, 2)), iou_threshold)
    return int(hits.sum()), len(truth_ids), int((~hits).sum())
