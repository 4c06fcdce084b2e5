"""The checks of topic 04 accept every correct answer and name each classic mistake."""

import check_harness
import keras
import numpy as np
import pytest

from course_utils import segmentation
from course_utils.checks import fcn_vgg as checks_fcn
from course_utils.lectures import fcn_vgg


def expect_failure(check, function, exercise, hint):
    """The check fails with one line that starts with the exercise and names the mistake.

    The harness also asserts that the grader, judging the outputs afresh, says the same.
    """
    message = check_harness.fails_with(check, function, hint)
    assert message.startswith(f"Exercise {exercise}: "), message


def accepts(check, hidden, answer, exercise, capsys):
    """A correct answer passes the check and the hidden test, in the notebook and graded."""
    assert check_harness.passes(check, answer)
    assert check_harness.passes(hidden, answer)
    assert capsys.readouterr().out.startswith(f"Exercise {exercise} passed")


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
    kernel = fcn_vgg.bilinear_kernel(2 * factor, 1)[:, :, 0, 0].astype(np.float64)
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


@pytest.mark.parametrize("answer", [weights_loop, weights_einsum, fcn_vgg.bilinear_kernel])
def test_upsampling_weights_accepts(answer, capsys):
    """Correct answers pass, the course's own (kernel size, channels) function too."""
    function = answer
    if answer is fcn_vgg.bilinear_kernel:

        def function(factor, num_classes):
            """The module's function, called with the kernel size."""
            return fcn_vgg.bilinear_kernel(2 * factor, num_classes)

    accepts(
        checks_fcn.check_upsampling_weights,
        checks_fcn.check_upsampling_weights_hidden,
        function,
        1,
        capsys,
    )


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
        [fcn_vgg.bilinear_upsampling(num_classes, 2)(scores5), score(num_classes)(maxp4)]
    )
    fused3 = keras.layers.Add()(
        [fcn_vgg.bilinear_upsampling(num_classes, 2)(fused4), score(num_classes)(maxp3)]
    )
    return fcn_vgg.bilinear_upsampling(num_classes, 8)(fused3)


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
    fused4 = fcn_vgg.bilinear_upsampling(num_classes, 2)(scores5) + score(num_classes)(maxp4)
    fused3 = fcn_vgg.bilinear_upsampling(num_classes, 2)(fused4) + score(num_classes)(maxp3)
    return fcn_vgg.bilinear_upsampling(num_classes, 16)(fused3)


def fusion_unscored_skip(scores5, maxp4, maxp3, num_classes):
    """Mistake: the skip is added before its score layer."""
    fused4 = keras.layers.Add()([fcn_vgg.bilinear_upsampling(num_classes, 2)(scores5), maxp4])
    fused3 = fcn_vgg.bilinear_upsampling(num_classes, 2)(fused4) + score(num_classes)(maxp3)
    return fcn_vgg.bilinear_upsampling(num_classes, 8)(fused3)


def fusion_concatenated(scores5, maxp4, maxp3, num_classes):
    """Mistake: concatenation instead of addition."""
    fused4 = keras.layers.Concatenate()(
        [fcn_vgg.bilinear_upsampling(num_classes, 2)(scores5), score(num_classes)(maxp4)]
    )
    fused3 = keras.layers.Concatenate()(
        [keras.layers.UpSampling2D(2, interpolation="bilinear")(fused4), score(num_classes)(maxp3)]
    )
    return keras.layers.UpSampling2D(8, interpolation="bilinear")(fused3)


def fusion_random_scores(scores5, maxp4, maxp3, num_classes):
    """Mistake: skip score layers not zero-initialised."""
    fused4 = fcn_vgg.bilinear_upsampling(num_classes, 2)(scores5) + score(
        num_classes, "glorot_uniform"
    )(maxp4)
    fused3 = fcn_vgg.bilinear_upsampling(num_classes, 2)(fused4) + score(
        num_classes, "glorot_uniform"
    )(maxp3)
    return fcn_vgg.bilinear_upsampling(num_classes, 8)(fused3)


def fusion_random_upsampling(scores5, maxp4, maxp3, num_classes):
    """Mistake: randomly initialised upsampling."""
    fused4 = fcn_vgg.bilinear_upsampling(num_classes, 2, initializer="glorot_uniform")(
        scores5
    ) + score(num_classes)(maxp4)
    fused3 = fcn_vgg.bilinear_upsampling(num_classes, 2, initializer="glorot_uniform")(
        fused4
    ) + score(num_classes)(maxp3)
    return fcn_vgg.bilinear_upsampling(num_classes, 8, initializer="glorot_uniform")(fused3)


def fusion_relu_scores(scores5, maxp4, maxp3, num_classes):
    """Mistake: ReLU on the score layers (the keras.io example's pool5 score)."""
    fused4 = fcn_vgg.bilinear_upsampling(num_classes, 2)(scores5) + score(
        num_classes, activation="relu"
    )(maxp4)
    fused3 = fcn_vgg.bilinear_upsampling(num_classes, 2)(fused4) + score(
        num_classes, activation="relu"
    )(maxp3)
    return fcn_vgg.bilinear_upsampling(num_classes, 8)(fused3)


def fusion_no_maxp4(scores5, maxp4, maxp3, num_classes):
    """Mistake: maxp4 scored but never added."""
    score(num_classes)(maxp4)
    up4 = fcn_vgg.bilinear_upsampling(num_classes, 4)(scores5)
    return fcn_vgg.bilinear_upsampling(num_classes, 8)(up4 + score(num_classes)(maxp3))


def fusion_softmax(scores5, maxp4, maxp3, num_classes):
    """Mistake: a softmax on the output."""
    return keras.layers.Softmax()(fusion_course(scores5, maxp4, maxp3, num_classes))


@pytest.mark.parametrize("answer", [fusion_course, fusion_operators])
def test_fusion_accepts(answer, capsys):
    """Correct answers pass."""
    accepts(checks_fcn.check_fcn8s_fusion, checks_fcn.check_fcn8s_fusion_hidden, answer, 2, capsys)


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


@pytest.mark.parametrize(
    "answer", [confusion_bincount, confusion_loop, segmentation.confusion_matrix]
)
def test_confusion_accepts(answer, capsys):
    """Correct answers pass, and so does the module's function."""
    accepts(
        checks_fcn.check_confusion_matrix,
        checks_fcn.check_confusion_matrix_hidden,
        answer,
        3,
        capsys,
    )


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
    accepts(checks_fcn.check_mean_iou, checks_fcn.check_mean_iou_hidden, answer, 4, capsys)


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
    """Another answer: the lecture's loss, without class weights."""
    return fcn_vgg.weighted_crossentropy()(y_true, y_pred)


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
    accepts(
        checks_fcn.check_masked_crossentropy,
        checks_fcn.check_masked_crossentropy_hidden,
        answer,
        5,
        capsys,
    )


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


# ---- Exercise 6: hypercolumns ----


def hypercolumn_upsampling(maxp3, maxp4, maxp5, output_stride, mistake=None):
    """The course's answer with UpSampling2D; ``mistake`` switches on one classic error."""
    interpolation = "nearest" if mistake == "nearest" else "bilinear"
    maps = []
    for pooled, stride in zip((maxp3, maxp4, maxp5), (8, 16, 32)):
        factor = stride if mistake == "own stride" else stride // output_stride
        if factor > 1:
            pooled = keras.layers.UpSampling2D(factor, interpolation=interpolation)(pooled)
        maps.append(pooled)
    if mistake == "reversed":
        maps = maps[::-1]
    if mistake == "added":
        return keras.layers.Add()(maps)
    if mistake == "not upsampled maxp3":
        maps[0] = maxp3
    return keras.layers.Concatenate()(maps)


def hypercolumn_resizing(maxp3, maxp4, maxp5, output_stride):
    """Another answer: Resizing layers to the size of the output grid."""
    size = maxp3.shape[1] * 8 // output_stride
    maps = [keras.layers.Resizing(size, size, "bilinear")(m) for m in (maxp3, maxp4, maxp5)]
    return keras.layers.Concatenate(axis=-1)(maps)


def hypercolumn_transposed(maxp3, maxp4, maxp5, output_stride):
    """Another answer: the FCN's bilinear transposed convolutions (they fade at the borders)."""
    maps = []
    for pooled, stride in zip((maxp3, maxp4, maxp5), (8, 16, 32)):
        factor = stride // output_stride
        if factor > 1:
            pooled = fcn_vgg.bilinear_upsampling(pooled.shape[-1], factor)(pooled)
        maps.append(pooled)
    return keras.layers.Concatenate()(maps)


def hypercolumn_lambda(maxp3, maxp4, maxp5, output_stride):
    """A Lambda layer: refused, as the grader never runs a student's code."""
    size = maxp3.shape[1] * 8 // output_stride
    maps = [keras.layers.Resizing(size, size)(m) for m in (maxp3, maxp4, maxp5)]
    return keras.layers.Lambda(lambda x: keras.ops.concatenate(x, axis=-1))(maps)


@pytest.mark.parametrize(
    "answer", [hypercolumn_upsampling, hypercolumn_resizing, hypercolumn_transposed]
)
def test_hypercolumn_accepts(answer, capsys):
    """Correct answers pass, whatever bilinear upsampling they use."""
    accepts(checks_fcn.check_hypercolumn, checks_fcn.check_hypercolumn_hidden, answer, 6, capsys)


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        ("nearest", "nearest neighbour"),
        ("reversed", "another order"),
        ("added", "concatenate along the channel axis"),
        ("own stride", "bring every map to the grid of output_stride"),
        ("not upsampled maxp3", "bring every map to the grid of output_stride"),
    ],
)
def test_hypercolumn_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    answer = check_harness.with_mistake(hypercolumn_upsampling, mistake)
    expect_failure(checks_fcn.check_hypercolumn, answer, 6, hint)


def test_hypercolumn_refuses_lambda_layers():
    """A model the grader could not rebuild from Keras' own classes fails with a hint."""
    expect_failure(checks_fcn.check_hypercolumn, hypercolumn_lambda, 6, "Keras layers only")


# ---- Exercise 7: the CRF energy ----


def energy_loops(labels, unary, kernel, mistake=None):
    """The definition, pair by pair; ``mistake`` switches on one classic error."""
    flat = np.ravel(labels)
    total = (
        0.0
        if mistake == "no unary"
        else float(
            np.sum(unary)
            if mistake == "all unaries"
            else np.take_along_axis(unary, labels[..., None], -1).sum()
        )
    )
    for i in range(len(flat)):
        for j in range(len(flat)):
            counted = j != i if mistake == "twice" else j > i
            differ = flat[i] == flat[j] if mistake == "same" else flat[i] != flat[j]
            if counted and differ and mistake != "no pairwise":
                total += -kernel[i, j] if mistake == "subtracted" else kernel[i, j]
    return total


def energy_vectorised(labels, unary, kernel):
    """Another answer: a matrix of disagreements, halved."""
    flat = labels.ravel()
    disagree = flat[:, None] != flat[None, :]
    unaries = np.take_along_axis(unary.reshape(len(flat), -1), flat[:, None], axis=1).sum()
    return np.float32(unaries + 0.5 * np.sum(kernel * disagree))


def energy_lecture_kernel(labels, unary, kernel):
    """Another answer: the upper triangle, as a 0-d array."""
    flat = labels.ravel()
    upper = np.triu(kernel * (flat[:, None] != flat[None, :]), k=1)
    return np.array(np.take_along_axis(unary, labels[..., None], -1).sum() + upper.sum())


@pytest.mark.parametrize("answer", [energy_loops, energy_vectorised, energy_lecture_kernel])
def test_crf_energy_accepts(answer, capsys):
    """Correct answers pass."""
    accepts(checks_fcn.check_crf_energy, checks_fcn.check_crf_energy_hidden, answer, 7, capsys)


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        ("twice", "counted twice"),
        ("same", "same label"),
        ("no unary", "unary term is missing"),
        ("no pairwise", "pairwise term is missing"),
        ("all unaries", "sums every class"),
        ("subtracted", "subtracted"),
    ],
)
def test_crf_energy_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    answer = check_harness.with_mistake(energy_loops, mistake)
    expect_failure(checks_fcn.check_crf_energy, answer, 7, hint)


def test_crf_energy_of_one_number():
    """An energy per pixel is not an energy."""
    expect_failure(
        checks_fcn.check_crf_energy, lambda labels, unary, kernel: unary.sum(-1), 7, "one number"
    )
