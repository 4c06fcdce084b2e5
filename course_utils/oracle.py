"""The oracle ceiling of topic 04: the best mean IoU a score map at a given stride can reach.

The truth is averaged over each stride x stride cell (class fractions: the best score map a model
at that stride could hold), upsampled back with the FCN's bilinear transposed convolution, and
read as the most present digit where enough of the upsampled cell is foreground (background
elsewhere). NumPy only; the bilinear ramp is the lecture's (``lectures.fcn_vgg.bilinear_ramp``),
imported when first needed, after ``config.setup()``.
"""

import numpy as np

from course_utils import segmentation

# Foreground thresholds the oracle tries (see oracle_ceiling).
THRESHOLDS = tuple(np.round(np.arange(0.05, 0.65, 0.05), 2))


def coarse_scores(masks, stride, num_classes):
    """Class fractions of every ``stride`` x ``stride`` cell: the best stride-s score map."""
    scores = segmentation.one_hot(masks, num_classes)
    count, height, width, _ = scores.shape
    if height % stride or width % stride:
        raise ValueError(f"mask size {height}x{width} is not a multiple of stride {stride}.")
    cells = scores.reshape(count, height // stride, stride, width // stride, stride, num_classes)
    return cells.mean(axis=(2, 4))


def upsampling_matrix(size, factor):
    """(size * factor, size) matrix of 1-D bilinear upsampling as Conv2DTranspose does it.

    The same numbers as the lecture's ``bilinear_upsampling(num_classes, factor)``: input cell
    ``r`` stamps the 1-D ramp at ``r * factor - factor // 2``, so the map's borders fade (zero
    padding) where ``tf.image.resize`` would clamp.
    """
    from course_utils.lectures import fcn_vgg

    kernel_size = 2 * factor
    ramp = fcn_vgg.bilinear_ramp(kernel_size)
    matrix = np.zeros((size * factor, size), dtype=np.float32)
    for cell in range(size):
        start = cell * factor - factor // 2
        rows = np.arange(start, start + kernel_size)
        inside = (rows >= 0) & (rows < size * factor)
        matrix[rows[inside], cell] = ramp[inside]
    return matrix


def upsample_bilinear(scores, factor):
    """Upsample (N, h, w, C) score maps by ``factor`` with the FCN's bilinear transposed conv."""
    scores = np.asarray(scores, dtype=np.float32)
    rows = upsampling_matrix(scores.shape[1], factor)
    cols = upsampling_matrix(scores.shape[2], factor)
    return np.einsum("ir,nrsc,js->nijc", rows, scores, cols, optimize=True)


def _seen(masks, stride, num_classes):
    """The upsampled foreground fraction and the most present digit of every pixel."""
    upsampled = upsample_bilinear(coarse_scores(masks, stride, num_classes), stride)
    return upsampled[..., 1:].sum(axis=-1), upsampled[..., 1:].argmax(axis=-1) + 1


def oracle_masks(masks, stride, num_classes, threshold):
    """The truth seen at ``stride``: cell class fractions, bilinear-upsampled, thresholded.

    Where the upsampled foreground fraction exceeds ``threshold`` the pixel takes the most
    present non-background class, elsewhere background (class 0).
    """
    foreground, digit = _seen(masks, stride, num_classes)
    return np.where(foreground > threshold, digit, 0)


def oracle(masks, stride, num_classes, thresholds=THRESHOLDS):
    """``(mean IoU, threshold)`` of the best oracle map at ``stride`` (see oracle_ceiling)."""
    masks = segmentation.as_masks(masks, "masks")
    if stride == 1:
        return segmentation.mean_iou(segmentation.confusion_matrix(masks, masks, num_classes)), 0.5
    foreground, digit = _seen(masks, stride, num_classes)  # once for every threshold
    scored = []
    for threshold in thresholds:
        seen = np.where(foreground > threshold, digit, 0)
        confusion = segmentation.confusion_matrix(masks, seen, num_classes)
        scored.append((segmentation.mean_iou(confusion), threshold))
    return max(scored)


def oracle_ceiling(masks, stride, num_classes, thresholds=THRESHOLDS):
    """Mean IoU of the ground truth itself seen at ``stride``: the ceiling of an FCN-``stride``s.

    The oracle keeps the threshold (of ``thresholds``) with the best mean IoU: thin strokes never
    fill half a coarse cell, so a plain argmax would say "background" almost everywhere. Class 0
    is the background.
    """
    return oracle(masks, stride, num_classes, thresholds)[0]
