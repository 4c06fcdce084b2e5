"""Two-stage detectors' region features: Fast R-CNN's RoI pooling against Mask R-CNN's RoIAlign.

Boxes are ``(x_min, y_min, x_max, y_max)`` in continuous feature-map coordinates: cell ``i``
covers ``[i, i + 1)`` and its centre is at ``i + 0.5``. NumPy, and ``tf.image.crop_and_resize``
for RoIAlign's bilinear samples (:func:`bilinear_sample` is the plain-NumPy version to test it).
"""

import numpy as np


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
