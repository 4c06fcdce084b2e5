"""Cases, probes and judges of exercises 3, 4, 5 and 7 of topic 04: numbers from masks.

The confusion matrix (``np.histogram2d``), the mean IoU (``keras.metrics.MeanIoU``), the masked
cross-entropy (NumPy, and the loss's gradient probed in the student's kernel) and the energy of a
labelling under a fully connected CRF (a loop over the pairs of pixels). The exercises are made in
:mod:`course_utils.checks.fcn_vgg`; Keras is imported inside functions.
"""

import numpy as np

from course_utils import checks
from course_utils.checks import plain

IGNORE = 255  # unlabelled pixels, as in the lecture's loss


# --- exercise 3: confusion matrix ----------------------------------------------------------------

CONFUSION_KEYS = ((11, 4),)  # (seed, classes): the last class absent from truth and prediction
CONFUSION_KEYS_HIDDEN = ((12, 11), (13, 2))


def _masks_pair(seed, num_classes, shape=(3, 7, 9)):
    """Masks where the last class is absent from both truth and prediction."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, num_classes - 1, shape)
    # Each class kept with its own probability, so recall, precision and accuracy differ.
    kept = rng.random(shape) < 0.3 + 0.5 * truth / num_classes
    predicted = np.where(kept, truth, rng.integers(0, num_classes - 1, shape))
    return truth.astype(np.uint8), predicted.astype(np.int64)


def confusion_case(key):
    """``confusion_matrix(true_masks, predicted_masks, num_classes)``."""
    seed, num_classes = key
    return checks.Case((*_masks_pair(seed, num_classes), num_classes), {}, key)


def _confusion_reference(truth, predicted, num_classes):
    """Counts by np.histogram2d: rows truth, columns prediction."""
    edges = np.arange(num_classes + 1) - 0.5
    counts, _, _ = np.histogram2d(truth.ravel(), predicted.ravel(), bins=[edges, edges])
    return counts.astype(np.int64)


def judge_confusion_case(exercise, case, output):
    """One case: shape, integer counts, rows = truth, absent classes kept."""
    truth, predicted, num_classes = case.args
    matrix = checks.as_array(exercise, output, "the confusion matrix", ndim=2)
    expected = _confusion_reference(truth, predicted, num_classes)
    if matrix.shape == (num_classes - 1, num_classes - 1):
        checks.fail(
            exercise,
            f"shape {matrix.shape}: the matrix is num_classes x num_classes "
            f"({num_classes} x {num_classes}) even when a class never occurs (minlength).",
        )
    checks.diagnose(
        exercise,
        matrix,
        expected,
        {
            "rows are the predictions: row = true class, column = predicted class.": expected.T,
            "the counts are normalised: return pixel counts (integers).": expected
            / max(expected.sum(), 1),
            "rows are normalised: return pixel counts, not per-class rates.": expected
            / np.maximum(expected.sum(axis=1, keepdims=True), 1),
        },
        context=f"{num_classes} classes: ",
        atol=1e-9,
    )
    if np.asarray(output).dtype.kind == "f":
        checks.fail(exercise, "the counts are floats: return integers (e.g. np.bincount).")


# --- exercise 4: mean IoU from a confusion matrix ------------------------------------------------

IOU_KEYS = ((21, 4),)  # (seed, classes), one class absent
IOU_KEYS_HIDDEN = ((22, 11), (23, 3))


def iou_case(key):
    """``mean_iou(confusion)`` of the confusion matrix of two masks."""
    seed, num_classes = key
    return checks.Case(
        (_confusion_reference(*_masks_pair(seed, num_classes), num_classes),), {}, key
    )


def _keras_mean_iou(truth, predicted, num_classes):
    """keras.metrics.MeanIoU on the same masks (the independent answer)."""
    import keras

    metric = keras.metrics.MeanIoU(num_classes)
    metric.update_state(truth.ravel(), predicted.ravel())
    return float(metric.result())


def _iou_mistakes(confusion):
    """Wrong mean IoUs from one confusion matrix, each with its hint."""
    confusion = confusion.astype(np.float64)
    intersection = np.diag(confusion)
    rows, columns = confusion.sum(axis=1), confusion.sum(axis=0)
    union = rows + columns - intersection
    present = union > 0
    iou = intersection[present] / union[present]
    return {
        "a class absent from both truth and prediction counted as IoU 0: leave it out of the "
        "mean (np.nanmean over NaN for 0/0).": np.sum(iou) / len(confusion),
        "a class absent from both truth and prediction counted as IoU 1: leave it out of the "
        "mean (it has no pixels to score).": (np.sum(iou) + np.sum(~present)) / len(confusion),
        "the union counts the intersection twice: union = row sum + column sum - diagonal.": (
            np.mean(intersection[present] / (rows + columns)[present])
        ),
        "that is the mean recall (diagonal / row sum): IoU divides by the union of truth and "
        "prediction.": np.nanmean(np.where(rows > 0, intersection / np.maximum(rows, 1), np.nan)),
        "that is the mean precision (diagonal / column sum): IoU divides by the union.": (
            np.nanmean(np.where(columns > 0, intersection / np.maximum(columns, 1), np.nan))
        ),
        "that is the pixel accuracy (trace / total): mean IoU averages one IoU per class.": (
            np.trace(confusion) / confusion.sum()
        ),
        "the Dice score (2 x intersection / (rows + columns)), not IoU.": np.mean(
            2 * intersection[present] / (rows + columns)[present]
        ),
    }


def judge_iou_case(exercise, case, output):
    """One case against keras.metrics.MeanIoU, with a class absent from both."""
    seed, num_classes = case.key
    (confusion,) = case.args
    value = checks.as_array(exercise, output, "the mean IoU")
    if value.size != 1:
        checks.fail(
            exercise,
            f"the mean IoU should be one number, got shape {value.shape}: average the "
            f"per-class IoUs.",
        )
    value = float(value.reshape(()))
    if not np.isfinite(value):
        checks.fail(
            exercise,
            "the mean IoU is NaN: a class absent from truth and prediction gives 0/0; "
            "average with np.nanmean so it is left out.",
        )
    expected = _keras_mean_iou(*_masks_pair(seed, num_classes), num_classes)
    checks.diagnose(
        exercise,
        value,
        expected,
        _iou_mistakes(confusion),
        context=f"{num_classes} classes, one absent: ",
        atol=1e-6,
    )


# --- exercise 5: masked cross-entropy for partial labels -----------------------------------------

MASKED_KEYS = ((31, 4),)  # (seed, classes)
MASKED_KEYS_HIDDEN = ((32, 11), (33, 2))


def masked_case(key, shape=(2, 5, 6), labelled=0.2):
    """Partial labels (most pixels IGNORE, at least one labelled) and probabilities."""
    seed, num_classes = key
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (*shape, num_classes))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    labels = rng.integers(0, num_classes, shape)
    keep = rng.random(shape) < labelled
    keep.flat[0] = True
    partial = np.where(keep, labels, IGNORE).astype(np.int32)
    return checks.Case((partial, probabilities.astype(np.float32)), {}, key)


def probe_loss_and_gradient(exercise, function, case):
    """The loss on tensors, and its gradient with respect to ``y_pred`` (None when there is none).

    Returns ``{"loss": array, "gradient": array or None}``, or the crash.
    """
    import tensorflow as tf

    labels, probabilities = case.args
    variable = tf.Variable(probabilities)
    with tf.GradientTape() as tape:
        value = checks.run(exercise, function, tf.constant(labels), variable)
    if isinstance(value, plain.Crashed):
        return value
    gradient = tape.gradient(value, variable) if tf.is_tensor(value) else None
    loss = value.numpy() if tf.is_tensor(value) else value
    return {"loss": loss, "gradient": None if gradient is None else gradient.numpy()}


def _masked_pixel_losses(labels, probabilities):
    """-log p of the true class at every pixel (unlabelled ones scored as class 0)."""
    safe = np.where(labels != IGNORE, labels, 0)
    return -np.log(np.take_along_axis(probabilities, safe[..., None], axis=-1)[..., 0])


def _masked_mistakes(labels, probabilities):
    """Wrong masked losses, each with its hint."""
    num_classes = probabilities.shape[-1]
    labelled = labels != IGNORE
    pixel = _masked_pixel_losses(labels, probabilities)
    clipped = np.minimum(labels, num_classes - 1)
    pixel_clipped = -np.log(np.take_along_axis(probabilities, clipped[..., None], -1)[..., 0])
    return {
        "averaged over all pixels: divide by the number of labelled pixels, not by every "
        "pixel (unlabelled ones contribute nothing).": np.sum(pixel * labelled) / labels.size,
        "unlabelled pixels were scored as background (class 0): leave them out of the sum and "
        "of the count.": np.mean(pixel),
        "unlabelled pixels (255) were clipped to the last class: leave them out of the sum and "
        "of the count.": np.mean(pixel_clipped),
        "the sum, not the mean: divide by the number of labelled pixels.": np.sum(pixel * labelled),
        "the mean of the probabilities, not of the cross-entropy -log(p).": np.sum(
            np.exp(-pixel) * labelled
        )
        / labelled.sum(),
    }


def judge_masked_case(exercise, case, output):
    """One case: a scalar, the right value, a gradient that flows to labelled pixels only."""
    labels, probabilities = case.args
    if not isinstance(output, dict) or set(output) != {"loss", "gradient"}:
        checks.fail(exercise, "the recorded outputs do not match the check's cases.")
    loss = checks.as_array(exercise, output["loss"], "the loss")
    if loss.size != 1:
        checks.fail(
            exercise,
            f"the loss should be one number, got shape {loss.shape}: average over the "
            f"labelled pixels of the whole batch.",
        )
    loss = float(loss.reshape(()))
    labelled = labels != IGNORE
    pixel = _masked_pixel_losses(labels, probabilities)
    expected = float(np.sum(pixel * labelled) / labelled.sum())
    if not np.isfinite(loss):
        checks.fail(
            exercise,
            "the loss is not finite: compute the cross-entropy of labelled pixels only "
            "(replace 255 by a valid class before taking log-probabilities, then mask).",
        )
    checks.diagnose(
        exercise,
        loss,
        expected,
        _masked_mistakes(labels, probabilities),
        context=f"{labelled.sum()} labelled pixels of {labels.size}: ",
        atol=1e-4,
    )
    gradient = output["gradient"]
    if gradient is None or not np.any(np.asarray(gradient)):
        checks.fail(
            exercise,
            "the loss has no gradient with respect to y_pred: use keras.ops on the tensors "
            "(not NumPy), so that Keras can train with it.",
        )
    if np.any(np.asarray(gradient)[~labelled] != 0):
        checks.fail(exercise, "unlabelled pixels get a gradient: mask them out of the loss.")


# --- exercise 7: the energy of a labelling under a fully connected CRF ---------------------------

CRF_KEYS = ((51, 3, (3, 4)),)  # (seed, classes, image shape)
CRF_KEYS_HIDDEN = ((52, 2, (4, 4)), (53, 5, (2, 6)))


def crf_case(key):
    """``crf_energy(labels, unary, kernel)``: labels (H, W), unary (H, W, C), kernel (P, P)."""
    seed, num_classes, shape = key
    rng = np.random.default_rng(seed)
    pixels = shape[0] * shape[1]
    labels = rng.integers(0, num_classes, shape)
    unary = rng.uniform(0, 3, (*shape, num_classes))
    half = rng.uniform(0, 1, (pixels, pixels))
    kernel = half + half.T  # symmetric, as every CRF kernel is
    np.fill_diagonal(kernel, rng.uniform(0.5, 1, pixels))  # never counts under Potts
    return checks.Case((labels, unary, kernel), {}, key)


def _pairwise_loop(labels, kernel, same=False, ordered=False):
    """Sum of k(i, j) over the pairs i < j (or i != j) whose labels differ (or agree)."""
    flat = labels.ravel()
    total = 0.0
    for i in range(len(flat)):
        for j in range(len(flat)):
            if (j > i or (ordered and j != i)) and (flat[i] == flat[j]) == same:
                total += kernel[i, j]
    return total


def _crf_energy_reference(labels, unary, kernel):
    """The energy by its definition: unaries, plus k(i, j) for each pair i < j that disagrees."""
    unaries = np.take_along_axis(unary, labels[..., None], axis=-1).sum()
    return float(unaries + _pairwise_loop(labels, kernel))


def _crf_mistakes(labels, unary, kernel):
    """Wrong energies, each with its hint."""
    unaries = float(np.take_along_axis(unary, labels[..., None], axis=-1).sum())
    pairs = _pairwise_loop(labels, kernel)
    return {
        "every pair was counted twice (i != j): sum over the pairs i < j, or halve.": (
            unaries + _pairwise_loop(labels, kernel, ordered=True)
        ),
        "the pairwise term penalises pairs with the same label: Potts penalises pairs whose "
        "labels differ, [x_i != x_j].": unaries + _pairwise_loop(labels, kernel, same=True),
        "the unary term is missing: add U_i(x_i) of every pixel.": pairs,
        "the pairwise term is missing: add k(i, j) for every pair with different labels.": (
            unaries
        ),
        "the unary term sums every class: take U_i(x_i), the cost of the pixel's own label "
        "only.": float(unary.sum()) + pairs,
        "the pairwise term was subtracted: agreement is not rewarded, disagreement is "
        "penalised (+ k(i, j)).": unaries - pairs,
    }


def judge_crf_case(exercise, case, output):
    """One labelling's energy against the loop over pairs."""
    labels, unary, kernel = case.args
    value = checks.as_array(exercise, output, "the energy")
    if value.size != 1:
        checks.fail(
            exercise,
            f"the energy should be one number, got shape {value.shape}: sum the unary and the "
            f"pairwise terms over the whole image.",
        )
    checks.diagnose(
        exercise,
        float(value.reshape(())),
        _crf_energy_reference(labels, unary, kernel),
        _crf_mistakes(labels, unary, kernel),
        context=f"a {labels.shape[0]}x{labels.shape[1]} labelling, {unary.shape[-1]} classes: ",
        atol=1e-6,
        rtol=1e-6,
    )
