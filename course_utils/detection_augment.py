"""Augmentation for detection: flips and crops that move the boxes with the image, and
photometric changes that leave them alone.

An image is (H, W) or (H, W, 1) in [0, 1]; its truth a (k, 5) array of ``(class, x_min, y_min,
x_max, y_max)`` in continuous pixel coordinates (pixel ``i`` covers ``[i, i + 1)``; convert the
scenes' inclusive boxes with :func:`course_utils.detection.truths_to_continuous`). Geometric
changes return a new image and new boxes; a box mostly cut off by a crop is dropped, as SSD's
and YOLO's pipelines do. NumPy only.
"""

import numpy as np

from course_utils import detection


def flip_left_right(image, truth):
    """Mirror the image; a box ``[x_min, x_max)`` becomes ``[W - x_max, W - x_min)``."""
    image, truth = np.asarray(image), detection.truth_array(truth).copy()
    width = image.shape[1]
    truth[:, [1, 3]] = width - truth[:, [3, 1]]
    return image[:, ::-1].copy(), truth


def _bilinear(image, rows, columns):
    """Bilinear samples of a 2-D image at (row, column) positions in pixel-index units."""
    height, width = image.shape
    rows, columns = np.clip(rows, 0, height - 1), np.clip(columns, 0, width - 1)
    top, left = np.floor(rows).astype(int), np.floor(columns).astype(int)
    bottom, right = np.minimum(top + 1, height - 1), np.minimum(left + 1, width - 1)
    down, across = rows - top, columns - left
    upper = (1 - across) * image[top, left] + across * image[top, right]
    lower = (1 - across) * image[bottom, left] + across * image[bottom, right]
    return (1 - down) * upper + down * lower


def crop_and_zoom(image, truth, window, min_visible=0.5):
    """Cut ``window`` = (x_min, y_min, x_max, y_max) out of the image and stretch it back to the
    image's size; boxes are shifted, scaled and clipped, and those with less than
    ``min_visible`` of their area left inside the window are dropped.
    """
    image, truth = np.asarray(image, dtype=np.float64), detection.truth_array(truth)
    grey = image.reshape(image.shape[:2])
    height, width = grey.shape
    x_min, y_min, x_max, y_max = (float(value) for value in window)
    scale_x, scale_y = (x_max - x_min) / width, (y_max - y_min) / height
    # output pixel i's centre (i + 0.5) comes from x_min + (i + 0.5) * scale; index = that - 0.5
    columns = x_min + (np.arange(width) + 0.5) * scale_x - 0.5
    rows = y_min + (np.arange(height) + 0.5) * scale_y - 0.5
    zoomed = _bilinear(grey, rows[:, None], columns[None, :]).reshape(image.shape)
    corners = truth[:, 1:]
    clipped = np.clip(corners, [x_min, y_min, x_min, y_min], [x_max, y_max, x_max, y_max])
    visible = detection.box_area(clipped) / np.maximum(detection.box_area(corners), 1e-9)
    keep = visible >= min_visible
    moved = (clipped[keep] - [x_min, y_min, x_min, y_min]) / [scale_x, scale_y, scale_x, scale_y]
    return zoomed, np.concatenate([truth[keep, :1], moved], axis=1)


def random_window(rng, size, scale=(0.6, 1.0)):
    """A random square window of side ``scale`` x ``size`` inside a ``size`` x ``size`` image."""
    side = rng.uniform(*scale) * size
    x_min, y_min = rng.uniform(0, size - side, 2)
    return x_min, y_min, x_min + side, y_min + side


def photometric(image, brightness=0.0, contrast=1.0, gamma=1.0):
    """Exposure changes of a grey image in [0, 1] (YOLO varies exposure and saturation in HSV;
    grey has only the value channel): gamma, then contrast about the mean, then brightness."""
    image = np.clip(np.asarray(image, dtype=np.float64), 0, 1) ** gamma
    image = (image - image.mean()) * contrast + image.mean() + brightness
    return np.clip(image, 0, 1)


def random_photometric(image, rng, brightness=0.15, contrast=(0.6, 1.4), gamma=(0.7, 1.4)):
    """:func:`photometric` with random brightness, contrast and gamma from the given ranges."""
    return photometric(
        image, rng.uniform(-brightness, brightness), rng.uniform(*contrast), rng.uniform(*gamma)
    )


def augment(image, truth, rng, flip=False, scale=(0.6, 1.0)):
    """One random augmentation: an optional flip, a random crop zoomed back, exposure changes."""
    if flip and rng.random() < 0.5:
        image, truth = flip_left_right(image, truth)
    image, truth = crop_and_zoom(image, truth, random_window(rng, image.shape[1], scale))
    return random_photometric(image, rng), truth
