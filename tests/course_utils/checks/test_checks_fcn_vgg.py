"""The checks of topic 04 accept every correct answer and name each classic mistake."""

import keras
import numpy as np
import pytest

from course_utils import segmentation
from course_utils.checks import CheckFailed
from course_utils.checks import fcn_vgg as checks_fcn


def expect_failure(check, function, exercise, hint):
    """The check fails with a one-line message containing the hint."""
    with pytest.raises(CheckFailed, match=f"^Exercise {exercise}: ") as caught:
        check(function)
    assert hint in str(caught.value), str(caught.value)
    assert "\n" not in str(caught.value)


# ---- Exercise 1: upsampling weights ----


def weights_loop(factor, num_classes):
    """The course's answer, class by class."""
    size = 2 * factor
    ramp = 1 - np.abs(np.arange(size) - (factor - 0.5)) / factor
    weights = np.zeros((size, size, num_classes, num_classes), np.float32)
    for channel in range(num_classes):
        weights[:, :, channel, channel] = np.outer(ramp, ramp)
    return weights


def weights_einsum(factor, num_classes):
    """Another answer: the kernel times the identity, as a list of lists of float64."""
    kernel = segmentation.bilinear_kernel(2 * factor, 1)[:, :, 0, 0].astype(np.float64)
    return np.einsum("ij,cd->ijcd", kernel, np.eye(num_classes)).tolist()


def weights_full(factor, num_classes):
    """Mistake: every class feeds every class."""
    return np.broadcast_to(
        weights_loop(factor, 1), (2 * factor, 2 * factor, num_classes, num_classes)
    ).copy()


def weights_off_centre(factor, num_classes):
    """Mistake: centre at f."""
    size = 2 * factor
    ramp = np.clip(1 - np.abs(np.arange(size) - factor) / factor, 0, None)
    return np.einsum("i,j,cd->ijcd", ramp, ramp, np.eye(num_classes))


def weights_normalised(factor, num_classes):
    """Mistake: the kernel sums to 1."""
    weights = weights_loop(factor, num_classes)
    return weights / weights[:, :, 0, 0].sum()


def weights_too_wide(factor, num_classes):
    """Mistake: half-width 2f."""
    size = 2 * factor
    ramp = 1 - np.abs(np.arange(size) - (factor - 0.5)) / size
    return np.einsum("i,j,cd->ijcd", ramp, ramp, np.eye(num_classes))


def weights_small(factor, num_classes):
    """Mistake: kernel size f."""
    ramp = 1 - np.abs(np.arange(factor) - (factor - 1) / 2) / factor
    return np.einsum("i,j,cd->ijcd", ramp, ramp, np.eye(num_classes))


def weights_channels_first(factor, num_classes):
    """Mistake: (C, C, k, k)."""
    return np.transpose(weights_loop(factor, num_classes), (2, 3, 0, 1))


@pytest.mark.parametrize("answer", [weights_loop, weights_einsum, segmentation.bilinear_kernel])
def test_upsampling_weights_accepts(answer, capsys):
    """Correct answers pass, the course's own (kernel size, channels) function too."""
    function = answer
    if answer is segmentation.bilinear_kernel:

        def function(factor, num_classes):
            """The module's function, called with the kernel size."""
            return segmentation.bilinear_kernel(2 * factor, num_classes)

    assert checks_fcn.check_upsampling_weights(function)
    assert checks_fcn.check_upsampling_weights_hidden(function)
    assert capsys.readouterr().out.startswith("Exercise 1 passed")


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (weights_full, "every class feeds every class"),
        (weights_off_centre, "off-centre"),
        (weights_normalised, "sums to 1"),
        (weights_too_wide, "twice too wide"),
        (weights_small, "kernel_size 2f"),
        (weights_channels_first, "spatial axes first"),
    ],
)
def test_upsampling_weights_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    expect_failure(checks_fcn.check_upsampling_weights, mistake, 1, hint)


# ---- Exercise 2: FCN-8s fusion ----


def score(num_classes, initializer="zeros", activation=None):
    """A 1x1 score layer."""
    return keras.layers.Conv2D(
        num_classes, 1, kernel_initializer=initializer, activation=activation
    )


def fusion_course(scores5, maxp4, maxp3, num_classes):
    """The course's answer."""
    fused4 = keras.layers.Add()(
        [segmentation.upsampling_layer(num_classes, 2)(scores5), score(num_classes)(maxp4)]
    )
    fused3 = keras.layers.Add()(
        [segmentation.upsampling_layer(num_classes, 2)(fused4), score(num_classes)(maxp3)]
    )
    return segmentation.upsampling_layer(num_classes, 8)(fused3)


def fusion_operators(scores5, maxp4, maxp3, num_classes):
    """Another answer: '+', hand-made bilinear Conv2DTranspose layers, no bias on the scores."""

    def up(x, factor):
        """Bilinear transposed convolution built by hand."""
        return keras.layers.Conv2DTranspose(
            num_classes,
            2 * factor,
            strides=factor,
            padding="same",
            use_bias=False,
            kernel_initializer=keras.initializers.Constant(weights_loop(factor, num_classes)),
        )(x)

    skip4 = keras.layers.Conv2D(num_classes, 1, use_bias=False, kernel_initializer="zeros")
    skip3 = keras.layers.Conv2D(num_classes, 1, use_bias=False, kernel_initializer="zeros")
    return up(up(up(scores5, 2) + skip4(maxp4), 2) + skip3(maxp3), 8)


def fusion_wrong_factor(scores5, maxp4, maxp3, num_classes):
    """Mistake: x16 at the end."""
    fused4 = segmentation.upsampling_layer(num_classes, 2)(scores5) + score(num_classes)(maxp4)
    fused3 = segmentation.upsampling_layer(num_classes, 2)(fused4) + score(num_classes)(maxp3)
    return segmentation.upsampling_layer(num_classes, 16)(fused3)


def fusion_unscored_skip(scores5, maxp4, maxp3, num_classes):
    """Mistake: the skip is added before its score layer."""
    fused4 = keras.layers.Add()([segmentation.upsampling_layer(num_classes, 2)(scores5), maxp4])
    fused3 = segmentation.upsampling_layer(num_classes, 2)(fused4) + score(num_classes)(maxp3)
    return segmentation.upsampling_layer(num_classes, 8)(fused3)


def fusion_concatenated(scores5, maxp4, maxp3, num_classes):
    """Mistake: concatenation instead of addition."""
    fused4 = keras.layers.Concatenate()(
        [segmentation.upsampling_layer(num_classes, 2)(scores5), score(num_classes)(maxp4)]
    )
    fused3 = keras.layers.Concatenate()(
        [keras.layers.UpSampling2D(2, interpolation="bilinear")(fused4), score(num_classes)(maxp3)]
    )
    return keras.layers.UpSampling2D(8, interpolation="bilinear")(fused3)


def fusion_random_scores(scores5, maxp4, maxp3, num_classes):
    """Mistake: skip score layers not zero-initialised."""
    fused4 = segmentation.upsampling_layer(num_classes, 2)(scores5) + score(
        num_classes, "glorot_uniform"
    )(maxp4)
    fused3 = segmentation.upsampling_layer(num_classes, 2)(fused4) + score(
        num_classes, "glorot_uniform"
    )(maxp3)
    return segmentation.upsampling_layer(num_classes, 8)(fused3)


def fusion_random_upsampling(scores5, maxp4, maxp3, num_classes):
    """Mistake: randomly initialised upsampling."""
    fused4 = segmentation.upsampling_layer(num_classes, 2, "random")(scores5) + score(num_classes)(
        maxp4
    )
    fused3 = segmentation.upsampling_layer(num_classes, 2, "random")(fused4) + score(num_classes)(
        maxp3
    )
    return segmentation.upsampling_layer(num_classes, 8, "random")(fused3)


def fusion_relu_scores(scores5, maxp4, maxp3, num_classes):
    """Mistake: ReLU on the score layers (the keras.io example's pool5 score)."""
    fused4 = segmentation.upsampling_layer(num_classes, 2)(scores5) + score(
        num_classes, activation="relu"
    )(maxp4)
    fused3 = segmentation.upsampling_layer(num_classes, 2)(fused4) + score(
        num_classes, activation="relu"
    )(maxp3)
    return segmentation.upsampling_layer(num_classes, 8)(fused3)


def fusion_no_maxp4(scores5, maxp4, maxp3, num_classes):
    """Mistake: maxp4 scored but never added."""
    score(num_classes)(maxp4)
    up4 = segmentation.upsampling_layer(num_classes, 4)(scores5)
    return segmentation.upsampling_layer(num_classes, 8)(up4 + score(num_classes)(maxp3))


def fusion_softmax(scores5, maxp4, maxp3, num_classes):
    """Mistake: a softmax on the output."""
    return keras.layers.Softmax()(fusion_course(scores5, maxp4, maxp3, num_classes))


@pytest.mark.parametrize("answer", [fusion_course, fusion_operators])
def test_fusion_accepts(answer, capsys):
    """Correct answers pass."""
    assert checks_fcn.check_fcn8s_fusion(answer)
    assert checks_fcn.check_fcn8s_fusion_hidden(answer)
    assert capsys.readouterr().out.startswith("Exercise 2 passed")


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (fusion_wrong_factor, "wrong upsampling factor"),
        (fusion_unscored_skip, "score each skip with its own 1x1"),
        (fusion_concatenated, "not concatenation"),
        (fusion_random_scores, "kernel_initializer='zeros'"),
        (fusion_random_upsampling, "bilinear"),
        (fusion_relu_scores, "no ReLU"),
        (fusion_no_maxp4, "no 1x1 Conv2D scores maxp4"),
        (fusion_softmax, "return the scores"),
    ],
)
def test_fusion_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    expect_failure(checks_fcn.check_fcn8s_fusion, mistake, 2, hint)


# ---- Exercise 3: confusion matrix ----


def confusion_bincount(true_masks, predicted_masks, num_classes):
    """The course's answer."""
    truth = np.asarray(true_masks, np.int64).ravel()
    predicted = np.asarray(predicted_masks, np.int64).ravel()
    counts = np.bincount(truth * num_classes + predicted, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def confusion_loop(true_masks, predicted_masks, num_classes):
    """Another answer: np.add.at into a zero matrix."""
    matrix = np.zeros((num_classes, num_classes), np.int32)
    np.add.at(matrix, (np.ravel(true_masks), np.ravel(predicted_masks)), 1)
    return matrix


def confusion_transposed(true_masks, predicted_masks, num_classes):
    """Mistake: rows are predictions."""
    return confusion_bincount(true_masks, predicted_masks, num_classes).T


def confusion_too_small(true_masks, predicted_masks, num_classes):
    """Mistake: size from the largest label seen."""
    size = int(max(np.max(true_masks), np.max(predicted_masks))) + 1
    return confusion_bincount(true_masks, predicted_masks, size)


def confusion_normalised(true_masks, predicted_masks, num_classes):
    """Mistake: rates, not counts."""
    matrix = confusion_bincount(true_masks, predicted_masks, num_classes)
    return matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)


def confusion_floats(true_masks, predicted_masks, num_classes):
    """Mistake: float counts."""
    return confusion_bincount(true_masks, predicted_masks, num_classes).astype(float)


@pytest.mark.parametrize("answer", [confusion_bincount, confusion_loop])
def test_confusion_accepts(answer, capsys):
    """Correct answers pass, and so does the module's function."""
    assert checks_fcn.check_confusion_matrix(answer)
    assert checks_fcn.check_confusion_matrix_hidden(answer)
    assert checks_fcn.check_confusion_matrix_hidden(segmentation.confusion_matrix)
    assert capsys.readouterr().out.startswith("Exercise 3 passed")


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (confusion_transposed, "rows are the predictions"),
        (confusion_too_small, "minlength"),
        (confusion_normalised, "per-class rates"),
        (confusion_floats, "integers"),
    ],
)
def test_confusion_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    expect_failure(checks_fcn.check_confusion_matrix, mistake, 3, hint)


# ---- Exercise 4: mean IoU ----


def iou_course(confusion):
    """The course's answer."""
    confusion = np.asarray(confusion, float)
    intersection = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    with np.errstate(invalid="ignore"):
        return np.nanmean(intersection / union)


def iou_masked(confusion):
    """Another answer: mean over classes with a non-empty union, as a 0-d tensor-like."""
    confusion = np.asarray(confusion, float)
    intersection = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    present = union > 0
    return np.array(np.mean(intersection[present] / union[present]))


def iou_absent_zero(confusion):
    """Mistake: absent classes count as 0."""
    confusion = np.asarray(confusion, float)
    intersection = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    return np.mean(intersection / np.maximum(union, 1))


def iou_absent_nan(confusion):
    """Mistake: np.mean over NaN."""
    confusion = np.asarray(confusion, float)
    intersection = np.diag(confusion)
    with np.errstate(invalid="ignore"):
        return np.mean(intersection / (confusion.sum(0) + confusion.sum(1) - intersection))


def iou_double_intersection(confusion):
    """Mistake: the union is rows + columns."""
    confusion = np.asarray(confusion, float)
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.diag(confusion) / (confusion.sum(0) + confusion.sum(1)))


def iou_recall(confusion):
    """Mistake: diagonal over row sums."""
    confusion = np.asarray(confusion, float)
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.diag(confusion) / confusion.sum(1))


def iou_accuracy(confusion):
    """Mistake: pixel accuracy."""
    return np.trace(confusion) / np.sum(confusion)


def iou_per_class_returned(confusion):
    """Mistake: the per-class IoUs, not their mean."""
    return segmentation.iou_per_class(confusion)


@pytest.mark.parametrize("answer", [iou_course, iou_masked, segmentation.mean_iou])
def test_mean_iou_accepts(answer, capsys):
    """Correct answers pass."""
    assert checks_fcn.check_mean_iou(answer)
    assert checks_fcn.check_mean_iou_hidden(answer)
    assert capsys.readouterr().out.startswith("Exercise 4 passed")


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (iou_absent_zero, "counted as IoU 0"),
        (iou_absent_nan, "np.nanmean"),
        (iou_double_intersection, "counts the intersection twice"),
        (iou_recall, "mean recall"),
        (iou_accuracy, "pixel accuracy"),
        (iou_per_class_returned, "one number"),
    ],
)
def test_mean_iou_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    expect_failure(checks_fcn.check_mean_iou, mistake, 4, hint)


# ---- Exercise 5: masked cross-entropy ----


def masked_course(y_true, y_pred):
    """The course's answer."""
    labelled = keras.ops.not_equal(y_true, 255)
    safe = keras.ops.where(labelled, y_true, 0)
    pixel = keras.ops.sparse_categorical_crossentropy(safe, y_pred)
    weight = keras.ops.cast(labelled, "float32")
    return keras.ops.sum(pixel * weight) / keras.ops.sum(weight)


def masked_module(y_true, y_pred):
    """Another answer: the module's loss."""
    return segmentation.masked_loss()(y_true, y_pred)


def masked_gather(y_true, y_pred):
    """Another answer: gather the labelled pixels, then take their log-probabilities."""
    import tensorflow as tf

    where = tf.where(y_true != 255)
    labels = tf.gather_nd(y_true, where)
    probabilities = tf.gather_nd(y_pred, where)
    picked = tf.gather(probabilities, labels, batch_dims=1)
    return -tf.reduce_mean(tf.math.log(picked))


def masked_all_pixels(y_true, y_pred):
    """Mistake: divided by every pixel."""
    labelled = keras.ops.not_equal(y_true, 255)
    pixel = keras.ops.sparse_categorical_crossentropy(keras.ops.where(labelled, y_true, 0), y_pred)
    return keras.ops.mean(pixel * keras.ops.cast(labelled, "float32"))


def masked_as_background(y_true, y_pred):
    """Mistake: unlabelled pixels become class 0."""
    labels = keras.ops.where(keras.ops.equal(y_true, 255), 0, y_true)
    return keras.ops.mean(keras.ops.sparse_categorical_crossentropy(labels, y_pred))


def masked_sum(y_true, y_pred):
    """Mistake: the sum."""
    labelled = keras.ops.not_equal(y_true, 255)
    pixel = keras.ops.sparse_categorical_crossentropy(keras.ops.where(labelled, y_true, 0), y_pred)
    return keras.ops.sum(pixel * keras.ops.cast(labelled, "float32"))


def masked_numpy(y_true, y_pred):
    """Mistake: NumPy, no gradient."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labelled = y_true != 255
    picked = np.take_along_axis(y_pred, np.where(labelled, y_true, 0)[..., None], -1)[..., 0]
    return float(-np.log(picked)[labelled].mean())


def masked_per_image(y_true, y_pred):
    """Mistake: one loss per image."""
    labelled = keras.ops.cast(keras.ops.not_equal(y_true, 255), "float32")
    pixel = keras.ops.sparse_categorical_crossentropy(
        keras.ops.where(labelled > 0, y_true, 0), y_pred
    )
    return keras.ops.sum(pixel * labelled, axis=(1, 2)) / keras.ops.sum(labelled, axis=(1, 2))


@pytest.mark.parametrize("answer", [masked_course, masked_module, masked_gather])
def test_masked_accepts(answer, capsys):
    """Correct answers pass."""
    assert checks_fcn.check_masked_crossentropy(answer)
    assert checks_fcn.check_masked_crossentropy_hidden(answer)
    assert capsys.readouterr().out.startswith("Exercise 5 passed")


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (masked_all_pixels, "averaged over all pixels"),
        (masked_as_background, "scored as background"),
        (masked_sum, "the sum, not the mean"),
        (masked_numpy, "no gradient"),
        (masked_per_image, "one number"),
    ],
)
def test_masked_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    expect_failure(checks_fcn.check_masked_crossentropy, mistake, 5, hint)


def test_not_a_function():
    """Passing the result instead of the function is a one-line hint."""
    expect_failure(checks_fcn.check_mean_iou, 0.5, 4, "pass the function itself")
