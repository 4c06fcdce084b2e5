"""The checks of topic 06 accept every correct answer and name each classic mistake, in the
notebook and in grading alike (through the shared harness)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from check_harness import fails_with, passes

from course_utils.checks import _unet_arrays as checks_arrays
from course_utils.checks import _unet_segnet as checks_segnet
from course_utils.checks import unet as checks_unet
from course_utils.lectures import conv2d_transpose
from course_utils.lectures import unet as lecture


def conv(filters, kernel_size=3, activation=None, padding="same"):
    """A Conv2D."""
    return keras.layers.Conv2D(filters, kernel_size, padding=padding, activation=activation)


def both(check_pair, answer):
    """The public and the hidden check both pass, in the notebook and in grading."""
    public, hidden = check_pair
    return passes(public, answer) and passes(hidden, answer)


ENCODER_CHECKS = (checks_unet.check_encoder_level, checks_unet.check_encoder_level_hidden)
DECODER_CHECKS = (checks_unet.check_decoder_level, checks_unet.check_decoder_level_hidden)
CROP_CHECKS = (checks_unet.check_center_crop, checks_unet.check_center_crop_hidden)
DICE_CHECKS = (checks_unet.check_dice_loss, checks_unet.check_dice_loss_hidden)
STAGE_CHECKS = (
    checks_unet.check_segnet_decoder_stage,
    checks_unet.check_segnet_decoder_stage_hidden,
)


# ---- Exercise 1: encoder level ----


def encoder_lecture(x, filters):
    """The lecture's level (batch norm, no bias)."""
    return lecture.encoder_level(x, filters, "level")


def encoder_plain(x, filters):
    """No batch norm, ReLU inside the convolutions."""
    skip = conv(filters, activation="relu")(conv(filters, activation="relu")(x))
    return skip, keras.layers.MaxPooling2D()(skip)


def encoder_sequential(x, filters):
    """The convolutions as a Sequential, keras.ops pooling, a list returned."""
    pair = keras.Sequential(
        [conv(filters), keras.layers.ReLU(), conv(filters), keras.layers.BatchNormalization()]
    )
    skip = keras.ops.relu(pair(x))
    return [skip, keras.ops.max_pool(skip, 2, 2)]


def encoder_swapped(x, filters):
    """Mistake: (down, skip)."""
    skip, down = encoder_plain(x, filters)
    return down, skip


def encoder_pooled_skip(x, filters):
    """Mistake: the skip is taken after pooling."""
    _, down = encoder_plain(x, filters)
    return down, down


def encoder_average(x, filters):
    """Mistake: average pooling."""
    skip = conv(filters, activation="relu")(conv(filters, activation="relu")(x))
    return skip, keras.layers.AveragePooling2D(2)(skip)


def encoder_no_last_relu(x, filters):
    """Mistake: no ReLU after the second convolution."""
    skip = conv(filters)(conv(filters, activation="relu")(x))
    return skip, keras.layers.MaxPooling2D()(skip)


def encoder_no_first_relu(x, filters):
    """Mistake: no ReLU after the first convolution."""
    skip = conv(filters, activation="relu")(conv(filters)(x))
    return skip, keras.layers.MaxPooling2D()(skip)


def encoder_valid(x, filters):
    """Mistake: valid padding."""
    skip = conv(filters, activation="relu", padding="valid")(x)
    skip = conv(filters, activation="relu", padding="valid")(skip)
    return skip, keras.layers.MaxPooling2D()(skip)


def encoder_one_conv(x, filters):
    """Mistake: one convolution."""
    skip = conv(filters, activation="relu")(x)
    return skip, keras.layers.MaxPooling2D()(skip)


def encoder_one_output(x, filters):
    """Mistake: only the pooled map."""
    return encoder_plain(x, filters)[1]


def encoder_lambda(x, filters):
    """Mistake for grading: a Lambda layer the grader must not rebuild."""
    skip = conv(filters, activation="relu")(conv(filters, activation="relu")(x))
    return skip, keras.layers.Lambda(lambda t: keras.ops.max_pool(t, 2, 2))(skip)


def encoder_crashes(x, filters):
    """Mistake: a typo that raises."""
    return keras.layers.Conv2D(filters, 3, paddin="same")(x), x


@pytest.mark.parametrize("level", [encoder_lecture, encoder_plain, encoder_sequential])
def test_encoder_check_accepts_correct_levels(level):
    assert both(ENCODER_CHECKS, level)


@pytest.mark.parametrize(
    "level, hint",
    [
        (encoder_swapped, "are swapped"),
        (encoder_pooled_skip, "the skip is pooled"),
        (encoder_average, "average pooling"),
        (encoder_no_last_relu, "no ReLU after the second convolution"),
        (encoder_no_first_relu, "no ReLU after the first convolution"),
        (encoder_valid, "padding='same'"),
        (encoder_one_conv, "expected two 3x3 convolutions"),
        (encoder_one_output, "return two tensors"),
        (encoder_lambda, "the grader cannot rebuild"),
        (encoder_crashes, "encoder_level(x, filters) failed"),
    ],
)
def test_encoder_check_names_each_mistake(level, hint):
    fails_with(checks_unet.check_encoder_level, level, hint)


# ---- Exercise 2: decoder level ----


def decoder_lecture(x, skip, filters):
    """The lecture's level: Conv2DTranspose, concatenation, two convolutions with batch norm."""
    return lecture.decoder_level(x, skip, filters, "level")


def decoder_upsampling(x, skip, filters):
    """UpSampling2D then a 2x2 convolution (the paper's up-convolution), skip first."""
    up = conv(filters, 2)(keras.layers.UpSampling2D(2)(x))
    merged = keras.ops.concatenate([skip, up], axis=3)
    return conv(filters, activation="relu")(conv(filters, activation="relu")(merged))


def decoder_upsampling_only(x, skip, filters):
    """Plain nearest upsampling of all channels, then concatenation and a Sequential pair."""
    merged = keras.layers.Concatenate()([keras.layers.UpSampling2D()(x), skip])
    pair = keras.Sequential([conv(filters, activation="relu"), conv(filters, activation="relu")])
    return pair(merged)


def up(x, filters):
    """A 2x2 stride-2 transposed convolution."""
    return keras.layers.Conv2DTranspose(filters, 2, strides=2)(x)


def decoder_axis(axis):
    """Mistake: concatenation on another axis."""

    def level(x, skip, filters):
        merged = keras.layers.Concatenate(axis=axis)([up(x, filters), skip])
        return conv(filters, activation="relu")(conv(filters, activation="relu")(merged))

    return level


def decoder_add(x, skip, filters):
    """Mistake: FCN-style addition."""
    merged = keras.layers.Add()([up(x, filters), skip])
    return conv(filters, activation="relu")(conv(filters, activation="relu")(merged))


def decoder_one_conv(x, skip, filters):
    """Mistake: one convolution after the merge."""
    merged = keras.layers.Concatenate()([up(x, filters), skip])
    return conv(filters, activation="relu")(merged)


def decoder_shifted_skip(x, skip, filters):
    """Mistake: the skip is misaligned (rolled by three pixels)."""
    merged = keras.layers.Concatenate()([up(x, filters), keras.ops.roll(skip, 3, axis=1)])
    return conv(filters, activation="relu")(conv(filters, activation="relu")(merged))


def decoder_no_upsampling(x, skip, filters):
    """Mistake: concatenates without upsampling x."""
    merged = keras.layers.Concatenate()([x, skip])
    return conv(filters, activation="relu")(conv(filters, activation="relu")(merged))


def decoder_tuple(x, skip, filters):
    """Mistake: returns the output with the skip."""
    return decoder_lecture(x, skip, filters), skip


@pytest.mark.parametrize("level", [decoder_lecture, decoder_upsampling, decoder_upsampling_only])
def test_decoder_check_accepts_correct_levels(level):
    assert both(DECODER_CHECKS, level)


@pytest.mark.parametrize(
    "level, hint",
    [
        (decoder_axis(1), "along the height (axis=1)"),
        (decoder_axis(2), "along the width (axis=2)"),
        (decoder_axis(0), "along the batch axis"),
        (decoder_add, "the skip was added (FCN style)"),
        (decoder_one_conv, "two 3x3 convolutions"),
        (decoder_shifted_skip, "aligned with the upsampled map"),
        (decoder_no_upsampling, "concatenate the upsampled map and the skip on the channel"),
        (decoder_tuple, "should return the output tensor"),
    ],
)
def test_decoder_check_names_each_mistake(level, hint):
    fails_with(checks_unet.check_decoder_level, level, hint)


@pytest.mark.parametrize("seed", range(6))
def test_skip_alignment_holds_over_weight_seeds(seed):
    """A correct level never looks misaligned, whatever weights its layers start with."""
    keras.utils.set_random_seed(seed)
    assert passes(checks_unet.check_decoder_level, decoder_lecture)


# ---- Exercise 3: cropping ----


def crop_slicing(skip, height, width):
    """NumPy slicing."""
    top, left = (skip.shape[1] - height) // 2, (skip.shape[2] - width) // 2
    return skip[:, top : top + height, left : left + width, :]


def crop_layer(skip, height, width):
    """Keras' Cropping2D, whose extra row goes at the bottom."""
    rows, cols = skip.shape[1] - height, skip.shape[2] - width
    cropping = ((rows // 2, rows - rows // 2), (cols // 2, cols - cols // 2))
    return keras.layers.Cropping2D(cropping)(skip)


def crop_tensorflow(skip, height, width):
    """tf.image on a tensor."""
    return tf.image.resize_with_crop_or_pad(tf.constant(skip), height, width)


def crop_corner(skip, height, width):
    """Mistake: from the corner."""
    return skip[:, :height, :width]


def crop_ceil(skip, height, width):
    """Mistake: the extra row at the top."""
    top, left = -(-(skip.shape[1] - height) // 2), -(-(skip.shape[2] - width) // 2)
    return skip[:, top : top + height, left : left + width]


def crop_short(skip, height, width):
    """Mistake: one row and column short."""
    top, left = (skip.shape[1] - height) // 2, (skip.shape[2] - width) // 2
    return skip[:, top : top + height - 1, left : left + width - 1]


def crop_swapped(skip, height, width):
    """Mistake: height offset used for the width and back."""
    top, left = (skip.shape[1] - height) // 2, (skip.shape[2] - width) // 2
    return skip[:, left : left + height, top : top + width]


def crop_wrong_axes(skip, height, width):
    """Mistake: crops axes 0 and 1."""
    return skip[:height, :width]


@pytest.mark.parametrize("crop", [crop_slicing, crop_layer, crop_tensorflow])
def test_crop_check_accepts_correct_crops(crop):
    assert both(CROP_CHECKS, crop)


@pytest.mark.parametrize(
    "crop, hint",
    [
        (crop_corner, "starts at the corner"),
        (crop_ceil, "off by one"),
        (crop_short, "off by one in size"),
        (crop_wrong_axes, "crop axes 1 and 2"),
    ],
)
def test_crop_check_names_each_mistake(crop, hint):
    fails_with(checks_unet.check_center_crop, crop, hint)


def test_crop_hidden_check_catches_swapped_axes():
    assert passes(checks_unet.check_center_crop, crop_swapped)  # square cases cannot tell
    fails_with(checks_unet.check_center_crop_hidden, crop_swapped, "swapped")


# ---- Exercise 4: Dice loss ----


def dice_lecture(y_true, y_pred, smooth=1.0):
    """The lecture's loss."""
    return lecture.dice_loss(y_true, y_pred, smooth)


def dice_tensorflow(y_true, y_pred, smooth=1.0):
    """TensorFlow ops and a per-class loop."""
    truth = tf.one_hot(y_true, y_pred.shape[-1])
    scores = []
    for c in range(y_pred.shape[-1]):
        intersection = tf.reduce_sum(truth[..., c] * y_pred[..., c])
        total = tf.reduce_sum(truth[..., c]) + tf.reduce_sum(y_pred[..., c])
        scores.append((2 * intersection + smooth) / (total + smooth))
    return 1 - tf.reduce_mean(tf.stack(scores))


def dice_squared(y_true, y_pred, smooth=1.0):
    """The V-Net variant with squared terms in the denominator."""
    truth = keras.ops.one_hot(y_true, y_pred.shape[-1])
    intersection = keras.ops.sum(truth * y_pred, axis=(0, 1, 2))
    total = keras.ops.sum(truth**2, axis=(0, 1, 2)) + keras.ops.sum(y_pred**2, axis=(0, 1, 2))
    return 1 - keras.ops.mean((2 * intersection + smooth) / (total + smooth))


def dice_variant(axes=(0, 1, 2), numerator_smooth=True, denominator_smooth=True, loss=True):
    """Dice with one of the classic mistakes."""

    def dice(y_true, y_pred, smooth=1.0):
        truth = keras.ops.one_hot(y_true, y_pred.shape[-1])
        intersection = keras.ops.sum(truth * y_pred, axis=axes)
        total = keras.ops.sum(truth, axis=axes) + keras.ops.sum(y_pred, axis=axes)
        top = 2 * intersection + (smooth if numerator_smooth else 0)
        coefficient = keras.ops.mean(top / (total + (smooth if denominator_smooth else 0)))
        return 1 - coefficient if loss else coefficient

    return dice


def dice_numpy(y_true, y_pred, smooth=1.0):
    """Mistake: NumPy breaks the gradient."""
    return checks_arrays.dice_reference(np.asarray(y_true), np.asarray(y_pred), smooth)[0]


def dice_stopped_gradient(y_true, y_pred, smooth=1.0):
    """Mistake: the right value, but the denominator's gradient is stopped."""
    truth = keras.ops.one_hot(y_true, y_pred.shape[-1])
    intersection = keras.ops.sum(truth * y_pred, axis=(0, 1, 2))
    total = keras.ops.sum(truth, axis=(0, 1, 2)) + keras.ops.sum(y_pred, axis=(0, 1, 2))
    total = keras.ops.stop_gradient(total)
    return 1 - keras.ops.mean((2 * intersection + smooth) / (total + smooth))


def dice_per_pixel_map(y_true, y_pred, smooth=1.0):
    """Mistake: returns a map, not a number."""
    truth = keras.ops.one_hot(y_true, y_pred.shape[-1])
    return 1 - (2 * truth * y_pred + smooth) / (truth + y_pred + smooth)


@pytest.mark.parametrize("dice", [dice_lecture, dice_tensorflow, dice_squared])
def test_dice_check_accepts_correct_losses(dice):
    assert both(DICE_CHECKS, dice)


@pytest.mark.parametrize(
    "dice, hint",
    [
        (dice_variant(loss=False), "returned the Dice coefficient"),
        (dice_variant(numerator_smooth=False, denominator_smooth=False), "add `smooth`"),
        (dice_variant(numerator_smooth=False), "only in the denominator"),
        (dice_variant(axes=(1, 2)), "per image"),
        (dice_variant(axes=(0, 1, 2, 3)), "classes were summed together"),
        (dice_variant(axes=(3,)), "per pixel"),
        (dice_numpy, "no gradient"),
        (dice_stopped_gradient, "the gradient on random probabilities"),
        (dice_per_pixel_map, "should be one number"),
    ],
)
def test_dice_check_names_each_mistake(dice, hint):
    fails_with(checks_unet.check_dice_loss, dice, hint)


def test_dice_reference_gradient_is_tensorflows():
    case = checks_arrays.dice_case(("random", 3, 1.0))
    masks, probabilities = case.args
    variable = tf.Variable(probabilities)
    with tf.GradientTape() as tape:
        value = lecture.dice_loss(tf.constant(masks), variable)
    expected_value, expected_gradient = checks_arrays.dice_reference(masks, probabilities, 1.0)
    assert float(value) == pytest.approx(expected_value, abs=1e-6)
    np.testing.assert_allclose(tape.gradient(value, variable), expected_gradient, atol=1e-6)


# ---- Exercise 5: a SegNet decoder stage ----


def stage_lecture_conv(x, switches, like, filters):
    """Topic 02's layer, then a 3x3 convolution with batch norm and ReLU."""
    unpooled = conv2d_transpose.MaxUnpooling2D()(x, switches, like)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(unpooled)
    return keras.layers.ReLU()(keras.layers.BatchNormalization()(y))


def stage_activation(x, switches, like, filters):
    """Unpooling, then a Conv2D with its own ReLU."""
    unpooled = conv2d_transpose.MaxUnpooling2D()(x, switches, like)
    return conv(filters, activation="relu")(unpooled)


class OwnUnpooling(keras.layers.Layer):
    """A student's own unpooling: gather-free, by a scatter of the pooled values."""

    def call(self, x, switches, like):
        flat = tf.scatter_nd(
            tf.reshape(switches, (-1, 1)), tf.reshape(x, (-1,)), [tf.size(like, tf.int64)]
        )
        return tf.reshape(flat, tf.shape(like))


def stage_own_layer(x, switches, like, filters):
    """The student's own unpooling layer, then the convolution."""
    return conv(filters, activation="relu")(OwnUnpooling()(x, switches, like))


def stage_no_relu(x, switches, like, filters):
    """Mistake: no ReLU."""
    return conv(filters)(conv2d_transpose.MaxUnpooling2D()(x, switches, like))


def stage_nearest(x, switches, like, filters):
    """Mistake: nearest upsampling."""
    return conv(filters, activation="relu")(keras.layers.UpSampling2D(2)(x))


class CornerUnpooling(keras.layers.Layer):
    """Mistake: every value at the top-left of its window (switches ignored)."""

    def call(self, x, switches, like):
        height, width = 2 * x.shape[1], 2 * x.shape[2]
        spread = tf.reshape(tf.stack([x, tf.zeros_like(x)], axis=3), (-1, x.shape[1], width, 1))
        spread = tf.reshape(spread, (-1, x.shape[1], width, x.shape[3]))
        rows = tf.stack([spread, tf.zeros_like(spread)], axis=2)
        rows = tf.reshape(rows, (-1, height, width, x.shape[3]))
        extra = [[0, 0], [0, like.shape[1] - height], [0, like.shape[2] - width], [0, 0]]
        return tf.pad(rows, extra)


def stage_corner(x, switches, like, filters):
    """Mistake: switches ignored, values at the corners."""
    return conv(filters, activation="relu")(CornerUnpooling()(x, switches, like))


def stage_added_like(x, switches, like, filters):
    """Mistake: the encoder's map added (U-Net/FCN thinking)."""
    unpooled = conv2d_transpose.MaxUnpooling2D()(x, switches, like)
    return conv(filters, activation="relu")(keras.layers.Add()([unpooled, like]))


def stage_concatenated_like(x, switches, like, filters):
    """Mistake: the encoder's map concatenated."""
    unpooled = conv2d_transpose.MaxUnpooling2D()(x, switches, like)
    return conv(filters, activation="relu")(keras.layers.Concatenate()([unpooled, like]))


def stage_transposed(x, switches, like, filters):
    """Mistake: a transposed convolution instead of unpooling."""
    upsampled = keras.layers.Conv2DTranspose(x.shape[-1], 2, strides=2)(x)
    return conv(filters, activation="relu")(upsampled)


def stage_conv_first(x, switches, like, filters):
    """Mistake: convolve, then unpool."""
    convolved = conv(filters, activation="relu")(x)
    return conv2d_transpose.MaxUnpooling2D()(convolved, switches, like)


def stage_two_convs(x, switches, like, filters):
    """Mistake here: two convolutions."""
    unpooled = conv2d_transpose.MaxUnpooling2D()(x, switches, like)
    return conv(filters, activation="relu")(conv(filters, activation="relu")(unpooled))


def stage_raw_tensorflow(x, switches, like, filters):
    """Mistake: TensorFlow ops on symbolic Keras tensors."""
    return tf.scatter_nd(tf.reshape(switches, (-1, 1)), tf.reshape(x, (-1,)), [16])


@pytest.mark.parametrize("stage", [stage_lecture_conv, stage_activation, stage_own_layer])
def test_stage_check_accepts_correct_stages(stage):
    assert both(STAGE_CHECKS, stage)


@pytest.mark.parametrize(
    "stage, hint",
    [
        (stage_no_relu, "no ReLU after the convolution"),
        (stage_nearest, "UpSampling2D copies every value"),
        (stage_corner, "top-left corner"),
        (stage_added_like, "the encoder's map was added"),
        (stage_concatenated_like, "that is U-Net"),
        (stage_transposed, "a transposed convolution learns"),
        (stage_two_convs, "expected one 3x3 convolution"),
        (stage_raw_tensorflow, "segnet_decoder_stage(x, switches, like, filters)"),
    ],
)
def test_stage_check_names_each_mistake(stage, hint):
    fails_with(checks_unet.check_segnet_decoder_stage, stage, hint)


def test_stage_check_catches_convolving_first_when_channels_agree():
    fails_with(checks_unet.check_segnet_decoder_stage_hidden, stage_conv_first, "convolved before")


def test_unpooling_by_gradient_is_the_lectures_hand_case():
    x, _, like, _, _ = checks_segnet.stage_inputs("lecture")
    unpooled = checks_segnet.unpool_by_gradient(x, like)[0, :, :, 0]
    np.testing.assert_array_equal(unpooled, checks_segnet.LECTURE_UNPOOLED)
