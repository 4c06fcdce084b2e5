"""The checks of topic 06 accept every correct answer and name each classic mistake."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import arith, unet
from course_utils.checks import CheckFailed
from course_utils.checks import unet as checks_unet


def conv(filters, kernel_size=3, activation=None, padding="same"):
    """A Conv2D."""
    return keras.layers.Conv2D(filters, kernel_size, padding=padding, activation=activation)


def expect_failure(check, function, exercise, hint):
    """The check fails with a one-line message naming the hint."""
    with pytest.raises(CheckFailed, match=f"^Exercise {exercise}: ") as caught:
        check(function)
    assert hint in str(caught.value)
    assert "\n" not in str(caught.value)


# ---- Exercise 1: encoder level ----


def encoder_course(x, filters):
    """The course's level (batch norm, no bias)."""
    return unet.encoder_level(x, filters)


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


def encoder_valid(x, filters):
    """Mistake: valid padding."""
    skip = conv(filters, activation="relu", padding="valid")(x)
    skip = conv(filters, activation="relu", padding="valid")(skip)
    return skip, keras.layers.MaxPooling2D()(skip)


def encoder_one_output(x, filters):
    """Mistake: only the pooled map."""
    return encoder_plain(x, filters)[1]


@pytest.mark.parametrize("level", [encoder_course, encoder_plain, encoder_sequential])
def test_encoder_check_accepts_correct_levels(level, capsys):
    assert checks_unet.check_encoder_level(level)
    assert checks_unet.check_encoder_level_hidden(level)
    assert "Exercise 1 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "level, hint",
    [
        (encoder_swapped, "are swapped"),
        (encoder_pooled_skip, "the skip is pooled"),
        (encoder_average, "average pooling"),
        (encoder_no_last_relu, "no ReLU after the second convolution"),
        (encoder_valid, "padding='same'"),
        (encoder_one_output, "return two tensors"),
    ],
)
def test_encoder_check_names_each_mistake(level, hint):
    expect_failure(checks_unet.check_encoder_level, level, 1, hint)


# ---- Exercise 2: decoder level ----


def decoder_course(x, skip, filters):
    """Conv2DTranspose, concatenation, two convolutions with batch norm."""
    return unet.decoder_level(x, skip, filters)


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


@pytest.mark.parametrize("level", [decoder_course, decoder_upsampling, decoder_upsampling_only])
def test_decoder_check_accepts_correct_levels(level, capsys):
    assert checks_unet.check_decoder_level(level)
    assert checks_unet.check_decoder_level_hidden(level)
    assert "Exercise 2 passed" in capsys.readouterr().out


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
    ],
)
def test_decoder_check_names_each_mistake(level, hint):
    expect_failure(checks_unet.check_decoder_level, level, 2, hint)


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


@pytest.mark.parametrize("crop", [crop_slicing, crop_layer, crop_tensorflow, unet.center_crop])
def test_crop_check_accepts_correct_crops(crop, capsys):
    assert checks_unet.check_center_crop(crop)
    assert checks_unet.check_center_crop_hidden(crop)
    assert "Exercise 3 passed" in capsys.readouterr().out


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
    expect_failure(checks_unet.check_center_crop, crop, 3, hint)


def test_crop_hidden_check_catches_swapped_axes():
    checks_unet.check_center_crop(crop_swapped)  # square cases cannot tell
    expect_failure(checks_unet.check_center_crop_hidden, crop_swapped, 3, "swapped")


# ---- Exercise 4: Dice loss ----


def dice_keras(y_true, y_pred, smooth=1.0):
    """The course's loss."""
    return unet.soft_dice_loss(y_pred.shape[-1], smooth)(y_true, y_pred)


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
    return unet.dice_numpy(np.asarray(y_true), np.asarray(y_pred), smooth)


def dice_per_pixel_map(y_true, y_pred, smooth=1.0):
    """Mistake: returns a map, not a number."""
    truth = keras.ops.one_hot(y_true, y_pred.shape[-1])
    return 1 - (2 * truth * y_pred + smooth) / (truth + y_pred + smooth)


@pytest.mark.parametrize("dice", [dice_keras, dice_tensorflow, dice_squared])
def test_dice_check_accepts_correct_losses(dice, capsys):
    assert checks_unet.check_dice_loss(dice)
    assert checks_unet.check_dice_loss_hidden(dice)
    assert "Exercise 4 passed" in capsys.readouterr().out


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
        (dice_per_pixel_map, "should be one number"),
    ],
)
def test_dice_check_names_each_mistake(dice, hint):
    expect_failure(checks_unet.check_dice_loss, dice, 4, hint)


# ---- Exercise 5: receptive fields ----


def fields_arith(layers):
    """Through course_utils.arith."""
    return arith.receptive_fields([(kernel, 1, dilation) for kernel, dilation in layers])


def fields_loop(layers):
    """A loop, returned as a NumPy array."""
    sizes, size = [], 1
    for kernel, dilation in layers:
        size += dilation * (kernel - 1)
        sizes.append(size)
    return np.array(sizes)


def fields_with(step, start=1):
    """Receptive fields with a wrong growth rule."""

    def fields(layers):
        sizes, size = [], start
        for kernel, dilation in layers:
            size = step(size, kernel, dilation)
            sizes.append(size)
        return sizes

    return fields


def fields_product(layers):
    """Mistake: multiplies the spans."""
    spans = [kernel + (kernel - 1) * (dilation - 1) for kernel, dilation in layers]
    return list(np.cumprod(spans))


def fields_as_stride(layers):
    """Mistake: dilation treated as a stride."""
    return arith.receptive_fields([(kernel, dilation, 1) for kernel, dilation in layers])


def fields_last_only(layers):
    """Mistake: only the final field."""
    return fields_loop(layers)[-1]


@pytest.mark.parametrize(
    "function", [fields_arith, fields_loop, lambda layers: tuple(fields_loop(layers))]
)
def test_fields_check_accepts_correct_answers(function, capsys):
    assert checks_unet.check_dilated_receptive_fields(function)
    assert checks_unet.check_dilated_receptive_fields_hidden(function)
    assert "Exercise 5 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "function, hint",
    [
        (fields_with(lambda size, k, d: size + k * d - 1), "not k * d"),
        (fields_with(lambda size, k, d: size + d * (k - 1), start=0), "one short"),
        (fields_product, "not multiplied"),
        (fields_with(lambda size, k, d: size + k + (k - 1) * (d - 1), start=0), "not k_eff"),
        (fields_as_stride, "treated as a stride"),
        (fields_last_only, "should have 1 dimensions"),
    ],
)
def test_fields_check_names_each_mistake(function, hint):
    expect_failure(checks_unet.check_dilated_receptive_fields, function, 5, hint)
