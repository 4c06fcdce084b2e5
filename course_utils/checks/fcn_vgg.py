"""Checks of topic 04: upsampling weights, FCN-8s fusion, confusion matrix, mean IoU, masked loss.

Independent answers: ``tf.image.resize`` (bilinear) and NumPy transposed convolutions for the
upsampling, a NumPy re-computation of FCN-8s from the student's own layer weights for the
fusion, ``keras.metrics.MeanIoU`` and ``np.histogram2d`` for the metrics, and a NumPy
cross-entropy for the masked loss. ``check_*_hidden`` run other cases for grading.
"""

import numpy as np

from course_utils import checks, segmentation

# Keras is imported inside the checks: a solutions notebook imports this module before
# config.setup(), which must run before TensorFlow loads.

# Exercise numbers in solutions/04_fcn_vgg.ipynb.
EXERCISES = {
    "upsampling_weights": 1,
    "fcn8s_fusion": 2,
    "confusion_matrix": 3,
    "mean_iou": 4,
    "masked_crossentropy": 5,
}
IGNORE = segmentation.IGNORE


# --- exercise 1: bilinear upsampling weights for Conv2DTranspose ---------------------------------


def _ramp(size, centre, factor):
    """A 1-D triangle of ``size`` taps centred at ``centre`` with half-width ``factor``."""
    return np.clip(1 - np.abs(np.arange(size) - centre) / factor, 0, None)


def _weights_from_ramp(ramp, channels, diagonal=True):
    """(k, k, C, C) weights from a 1-D ramp: on the channel diagonal, or everywhere."""
    kernel2d = np.outer(ramp, ramp)
    if not diagonal:
        return np.broadcast_to(kernel2d[:, :, None, None], kernel2d.shape + (channels, channels))
    weights = np.zeros(kernel2d.shape + (channels, channels))
    weights[:, :, np.arange(channels), np.arange(channels)] = kernel2d[..., None]
    return weights


def _upsampling_mistakes(factor, channels):
    """Wrong weights of the upsampling exercise, each with its hint."""
    size = 2 * factor
    right = segmentation.bilinear_ramp(size)
    return {
        "every class feeds every class: put the kernel only where input channel == output "
        "channel (weights[:, :, c, c]), so class scores are upsampled, not mixed.": (
            _weights_from_ramp(right, channels, diagonal=False)
        ),
        "the kernel is off-centre: for an even size 2f its centre is f - 0.5 (between two taps), "
        "not f.": _weights_from_ramp(_ramp(size, factor, factor), channels),
        "the kernel is off-centre: for an even size 2f its centre is f - 0.5, not f - 1.": (
            _weights_from_ramp(_ramp(size, factor - 1, factor), channels)
        ),
        "the kernel sums to 1: bilinear weights are 1 - |distance| / factor, each output is "
        "already a weighted average, no normalising.": (
            _weights_from_ramp(right, channels) / np.outer(right, right).sum()
        ),
        "the triangle is twice too wide: its half-width is the factor f, not the kernel size "
        "2f.": _weights_from_ramp(_ramp(size, factor - 0.5, size), channels),
    }


def _check_upsampling_case(exercise, function, factor, channels, seed):
    """One factor: shape, values, and the upsampled map against tf.image.resize."""
    import keras
    import tensorflow as tf

    weights = checks.as_array(
        exercise, checks.call(exercise, function, factor, channels), "the weights", ndim=4
    )
    expected = _weights_from_ramp(segmentation.bilinear_ramp(2 * factor), channels)
    if weights.shape == (channels, channels, 2 * factor, 2 * factor) and channels != 2 * factor:
        checks.fail(
            exercise,
            f"shape {weights.shape}: Conv2DTranspose wants (kernel, kernel, channels, channels), "
            f"spatial axes first.",
        )
    if weights.shape[:2] == (factor, factor) and factor > 1:
        checks.fail(
            exercise,
            f"factor {factor}: the kernel has size {factor}; Conv2DTranspose with strides f needs "
            f"kernel_size 2f so that neighbouring stamps overlap and interpolate.",
        )
    checks.diagnose(
        exercise,
        weights,
        expected,
        _upsampling_mistakes(factor, channels),
        context=f"factor {factor}, {channels} classes: ",
        atol=1e-5,
    )
    scores = np.random.default_rng(seed).random((1, 5, 6, channels)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(
        channels, 2 * factor, strides=factor, padding="same", use_bias=False
    )
    layer.build(scores.shape)
    layer.kernel.assign(weights.astype(np.float32))
    upsampled = np.asarray(layer(scores))
    resized = tf.image.resize(scores, (5 * factor, 6 * factor), "bilinear").numpy()
    inner = slice(factor, -factor)
    if not np.allclose(upsampled[:, inner, inner], resized[:, inner, inner], atol=1e-4):
        checks.fail(exercise, "the upsampled map differs from tf.image.resize inside the border.")


def check_upsampling_weights(function, exercise=EXERCISES["upsampling_weights"]):
    """Exercise: ``upsampling_weights(factor, num_classes)``, bilinear Conv2DTranspose weights."""
    for factor, channels, seed in ((2, 3, 1), (8, 2, 2)):
        _check_upsampling_case(exercise, function, factor, channels, seed)
    return checks.passed(
        exercise, "the weights upsample each class like tf.image.resize, classes kept apart."
    )


def check_upsampling_weights_hidden(function, exercise=EXERCISES["upsampling_weights"]):
    """Hidden test: other factors and class counts."""
    for factor, channels, seed in ((4, 5, 3), (16, 1, 4), (32, 2, 5)):
        _check_upsampling_case(exercise, function, factor, channels, seed)
    return checks.passed(exercise, "hidden factors and class counts are right.")


FUSION_SHAPE_HINT = (
    "score each skip with its own 1x1 Conv2D(num_classes) first, and upsample the coarser "
    "scores by 2 before adding."
)

# --- exercise 2: FCN-8s fusion -------------------------------------------------------------------


def _upsample(scores, factor):
    """Bilinear Conv2DTranspose upsampling in NumPy (the course's reference)."""
    return segmentation.upsample_bilinear(scores, factor)


def _score(features, layer):
    """A 1x1 convolution computed in NumPy from the layer's own weights."""
    kernel = np.asarray(layer.kernel)[0, 0]
    bias = np.asarray(layer.bias) if layer.use_bias else 0.0
    return features @ kernel + bias


def _fusion_case(exercise, function, size, channels, num_classes, seed):
    """Build the fusion, check it at initialisation and with random score weights."""
    import keras

    rng = np.random.default_rng(seed)
    shapes = {
        "scores5": (size // 32, size // 32, num_classes),
        "maxp4": (size // 16, size // 16, channels[1]),
        "maxp3": (size // 8, size // 8, channels[0]),
    }
    inputs = {name: keras.Input(shape, name=name) for name, shape in shapes.items()}
    outputs = checks.call_symbolic(
        exercise,
        function,
        "fcn8s_fusion",
        FUSION_SHAPE_HINT,
        inputs["scores5"],
        inputs["maxp4"],
        inputs["maxp3"],
        num_classes,
    )
    model = keras.Model(list(inputs.values()), outputs)
    expected_shape = (size, size, num_classes)
    got = tuple(model.output_shape[1:])
    if got != expected_shape:
        if got[-1] == num_classes and got[0] in (size // 2, size * 2, size * 4, size // 4):
            checks.fail(
                exercise,
                f"the output is {got}, not {expected_shape}: wrong upsampling factor; after "
                f"fusing at stride 8 (maxp3's grid) upsample by 8.",
            )
        if got[-1] != num_classes:
            checks.fail(
                exercise,
                f"the output has {got[-1]} channels, not {num_classes}: fuse by addition of "
                f"class scores (not concatenation), each skip through its 1x1 score layer.",
            )
        checks.fail(exercise, f"the output shape is {got}, expected {expected_shape}.")
    layers = list(checks.flat_layers(model))
    if any(isinstance(layer, keras.layers.Concatenate) for layer in layers):
        checks.fail(exercise, "FCN fuses by addition (keras.layers.Add), not concatenation.")
    score_layers = {
        layer.kernel.shape[2]: layer
        for layer in layers
        if type(layer) is keras.layers.Conv2D and tuple(layer.kernel.shape[:2]) == (1, 1)
    }
    for name, depth in (("maxp4", channels[1]), ("maxp3", channels[0])):
        if depth not in score_layers:
            checks.fail(
                exercise,
                f"no 1x1 Conv2D scores {name} ({depth} channels): add a "
                f"Conv2D(num_classes, 1) on the skip before adding it (the skip goes through "
                f"its own score layer).",
            )
    for layer in score_layers.values():
        if getattr(layer.activation, "__name__", "linear") != "linear":
            checks.fail(
                exercise, "a score layer has an activation: class scores are linear (no ReLU)."
            )
    data = {
        name: rng.normal(0, 1, (2, *shape)).astype(np.float32) for name, shape in shapes.items()
    }
    arrays = [data[name] for name in inputs]
    coarse = _upsample(_upsample(_upsample(data["scores5"], 2), 2), 8)
    got = np.asarray(model.predict(arrays, verbose=0))
    if not np.allclose(got, coarse, atol=1e-4):
        exponentials = np.exp(coarse - coarse.max(axis=-1, keepdims=True))
        if np.allclose(got, exponentials / exponentials.sum(axis=-1, keepdims=True), atol=1e-4):
            checks.fail(
                exercise,
                "the output went through a softmax: return the scores (logits); the model "
                "adds the softmax after the fusion.",
            )
        if any(not np.allclose(np.asarray(layer.kernel), 0) for layer in score_layers.values()):
            checks.fail(
                exercise,
                "at initialisation FCN-8s should equal FCN-32s: give the skip score layers "
                "kernel_initializer='zeros' (their scores start at 0).",
            )
        checks.fail(
            exercise,
            "with zero skip scores the output is not the bilinear upsampling of scores5: "
            "upsample with segmentation.upsampling_layer (bilinear), x2, x2, then x8.",
        )
    for layer in score_layers.values():
        layer.kernel.assign(rng.normal(0, 0.3, layer.kernel.shape).astype(np.float32))
        if layer.use_bias:
            layer.bias.assign(rng.normal(0, 0.3, layer.bias.shape).astype(np.float32))
    score4 = _score(data["maxp4"], score_layers[channels[1]])
    score3 = _score(data["maxp3"], score_layers[channels[0]])
    fused4 = _upsample(data["scores5"], 2) + score4
    expected = _upsample(_upsample(fused4, 2) + score3, 8)
    got = np.asarray(model.predict(arrays, verbose=0))
    if not np.allclose(got, expected, atol=1e-4):
        checks.fail(
            exercise,
            "with trained score layers the output differs from up8(up2(up2(scores5) + "
            "score4(maxp4)) + score3(maxp3)): check the order of the fusions.",
        )


def check_fcn8s_fusion(function, exercise=EXERCISES["fcn8s_fusion"]):
    """Exercise: ``fcn8s_fusion(scores5, maxp4, maxp3, num_classes)`` for 64x64 images."""
    _fusion_case(exercise, function, 64, (64, 128), 11, seed=7)
    return checks.passed(
        exercise, "FCN-8s fuses scored maxp4 and maxp3 by addition, bilinear x2, x2, x8."
    )


def check_fcn8s_fusion_hidden(function, exercise=EXERCISES["fcn8s_fusion"]):
    """Hidden test: another image size, depths and class count."""
    _fusion_case(exercise, function, 128, (32, 48), 3, seed=8)
    return checks.passed(exercise, "the fusion is right on hidden sizes.")


# --- exercise 3: confusion matrix ----------------------------------------------------------------


def _confusion_reference(truth, predicted, num_classes):
    """Counts by np.histogram2d: rows truth, columns prediction."""
    edges = np.arange(num_classes + 1) - 0.5
    counts, _, _ = np.histogram2d(truth.ravel(), predicted.ravel(), bins=[edges, edges])
    return counts.astype(np.int64)


def _confusion_case(seed, num_classes, shape=(3, 7, 9)):
    """Masks where the last class is absent from both truth and prediction."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, num_classes - 1, shape)
    # Each class kept with its own probability, so recall, precision and accuracy differ.
    kept = rng.random(shape) < 0.3 + 0.5 * truth / num_classes
    predicted = np.where(kept, truth, rng.integers(0, num_classes - 1, shape))
    return truth.astype(np.uint8), predicted.astype(np.int64)


def _check_confusion_case(exercise, function, seed, num_classes):
    """One case: shape, integer counts, rows = truth, absent classes kept."""
    truth, predicted = _confusion_case(seed, num_classes)
    result = checks.call(exercise, function, truth, predicted, num_classes)
    matrix = checks.as_array(exercise, result, "the confusion matrix", ndim=2)
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
    if np.asarray(result).dtype.kind == "f":
        checks.fail(exercise, "the counts are floats: return integers (e.g. np.bincount).")


def check_confusion_matrix(function, exercise=EXERCISES["confusion_matrix"]):
    """Exercise: ``confusion_matrix(true_masks, predicted_masks, num_classes)``."""
    _check_confusion_case(exercise, function, seed=11, num_classes=4)
    return checks.passed(exercise, "rows are true classes, columns predicted, counts of pixels.")


def check_confusion_matrix_hidden(function, exercise=EXERCISES["confusion_matrix"]):
    """Hidden test: more classes and other masks."""
    _check_confusion_case(exercise, function, seed=12, num_classes=11)
    _check_confusion_case(exercise, function, seed=13, num_classes=2)
    return checks.passed(exercise, "hidden confusion matrices are right.")


# --- exercise 4: mean IoU from a confusion matrix ------------------------------------------------


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


def _check_iou_case(exercise, function, seed, num_classes):
    """One case against keras.metrics.MeanIoU, with a class absent from both."""
    truth, predicted = _confusion_case(seed, num_classes)
    confusion = _confusion_reference(truth, predicted, num_classes)
    value = checks.call(exercise, function, confusion.copy())
    value = checks.as_array(exercise, value, "the mean IoU")
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
    expected = _keras_mean_iou(truth, predicted, num_classes)
    checks.diagnose(
        exercise,
        value,
        expected,
        _iou_mistakes(confusion),
        context=f"{num_classes} classes, one absent: ",
        atol=1e-6,
    )


def check_mean_iou(function, exercise=EXERCISES["mean_iou"]):
    """Exercise: ``mean_iou(confusion)``, checked against keras.metrics.MeanIoU."""
    _check_iou_case(exercise, function, seed=21, num_classes=4)
    return checks.passed(
        exercise, "mean IoU matches keras.metrics.MeanIoU; absent classes are left out."
    )


def check_mean_iou_hidden(function, exercise=EXERCISES["mean_iou"]):
    """Hidden test: other matrices."""
    _check_iou_case(exercise, function, seed=22, num_classes=11)
    _check_iou_case(exercise, function, seed=23, num_classes=3)
    return checks.passed(exercise, "hidden mean IoUs are right.")


# --- exercise 5: masked cross-entropy for partial labels -----------------------------------------


def _masked_case(seed, num_classes=4, shape=(2, 5, 6), labelled=0.2):
    """Probabilities and partial labels (most pixels IGNORE), at least one labelled pixel."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (*shape, num_classes))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    labels = rng.integers(0, num_classes, shape)
    keep = rng.random(shape) < labelled
    keep.flat[0] = True
    partial = np.where(keep, labels, IGNORE).astype(np.int32)
    return partial, probabilities.astype(np.float32)


def _masked_mistakes(labels, probabilities):
    """Wrong masked losses, each with its hint."""
    num_classes = probabilities.shape[-1]
    labelled = labels != IGNORE
    safe = np.where(labelled, labels, 0)
    pixel = -np.log(np.take_along_axis(probabilities, safe[..., None], axis=-1)[..., 0])
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


def _check_masked_case(exercise, function, seed, num_classes):
    """One case: a scalar, the right value, a gradient that flows to the probabilities."""
    import tensorflow as tf

    labels, probabilities = _masked_case(seed, num_classes)
    variable = tf.Variable(probabilities)
    with tf.GradientTape() as tape:
        value = checks.call(exercise, function, tf.constant(labels), variable)
    loss = checks.as_array(exercise, value, "the loss")
    if loss.size != 1:
        checks.fail(
            exercise,
            f"the loss should be one number, got shape {loss.shape}: average over the "
            f"labelled pixels of the whole batch.",
        )
    loss = float(loss.reshape(()))
    labelled = labels != IGNORE
    safe = np.where(labelled, labels, 0)
    pixel = -np.log(np.take_along_axis(probabilities, safe[..., None], axis=-1)[..., 0])
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
    gradient = tape.gradient(value, variable) if tf.is_tensor(value) else None
    if gradient is None or not np.any(np.asarray(gradient)):
        checks.fail(
            exercise,
            "the loss has no gradient with respect to y_pred: use keras.ops on the tensors "
            "(not NumPy), so that Keras can train with it.",
        )
    gradient = np.asarray(gradient)
    if np.any(gradient[~labelled] != 0):
        checks.fail(exercise, "unlabelled pixels get a gradient: mask them out of the loss.")


def check_masked_crossentropy(function, exercise=EXERCISES["masked_crossentropy"]):
    """Exercise: ``masked_crossentropy(y_true, y_pred)``, labels 255 are unlabelled."""
    _check_masked_case(exercise, function, seed=31, num_classes=4)
    return checks.passed(
        exercise, "cross-entropy averaged over the labelled pixels only, with a gradient."
    )


def check_masked_crossentropy_hidden(function, exercise=EXERCISES["masked_crossentropy"]):
    """Hidden test: another class count and labelling density."""
    _check_masked_case(exercise, function, seed=32, num_classes=11)
    _check_masked_case(exercise, function, seed=33, num_classes=2)
    return checks.passed(exercise, "hidden masked losses are right.")
