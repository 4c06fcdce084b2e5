"""Checks of topic 06: U-Net levels, cropping a skip, the soft Dice loss, dilated fields.

Levels are checked by what they compute: the check builds a model around the student's level,
gives its convolutions random kernels and every batch norm the identity map, and compares with
the level computed independently (TensorFlow convolutions and pooling), so a level written with
or without batch norm, with layers or ``keras.ops``, passes; each classic mistake is named.
"""

import numpy as np

from course_utils import arith, checks, unet

LEVEL_SHAPE_HINT = (
    "concatenate the upsampled map and the skip on the channel axis (axis=-1) after upsampling "
    "x by 2."
)


def _convs(model):
    """The Conv2D layers of a model (not transposed convolutions)."""
    import keras

    return [layer for layer in checks.flat_layers(model) if type(layer) is keras.layers.Conv2D]


def _identity_batch_norms(model):
    """Make every batch norm the identity in inference mode."""
    import keras

    for layer in checks.flat_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            for weight, value in (
                (layer.gamma, 1.0),
                (layer.beta, 0.0),
                (layer.moving_mean, 0.0),
                (layer.moving_variance, 1.0 - layer.epsilon),
            ):
                if weight is not None:
                    weight.assign(np.full(weight.shape, value))


def _random_kernels(model, seed):
    """Random kernels and zero biases for every convolution; returns the kernels in order."""
    rng = np.random.default_rng(seed)
    kernels = []
    for layer in _convs(model):
        fan_in = np.prod(layer.kernel.shape[:-1])
        kernel = rng.normal(0, np.sqrt(2 / fan_in), layer.kernel.shape)
        layer.kernel.assign(kernel)
        if layer.use_bias:
            layer.bias.assign(np.zeros(layer.bias.shape))
        kernels.append(kernel.astype(np.float32))
    _identity_batch_norms(model)
    return kernels


def _conv(x, kernel):
    """Same-padded stride-1 convolution (TensorFlow, not the student)."""
    import tensorflow as tf

    return tf.nn.conv2d(x, kernel, strides=1, padding="SAME").numpy()


def _pool(x, kind="max"):
    """2x2 pooling with stride 2."""
    import tensorflow as tf

    op = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d
    return op(x, 2, 2, "VALID").numpy()


def _relu(z):
    """ReLU."""
    return np.maximum(z, 0)


# ---- Exercise 1: an encoder level ----


def _check_encoder_case(exercise, encoder_level, height, width, channels, filters, seed):
    """One contracting level: (skip, down) shapes, two 3x3 convolutions, the computed values."""
    import keras

    inputs = keras.Input((height, width, channels))
    result = checks.call_symbolic(
        exercise, encoder_level, "encoder_level", LEVEL_SHAPE_HINT, inputs, filters
    )
    if not isinstance(result, tuple | list) or len(result) != 2:
        checks.fail(
            exercise,
            "return two tensors, (skip, down): the features before pooling "
            "and the pooled features.",
        )
    skip_shape = (None, height, width, filters)
    down_shape = (None, height // 2, width // 2, filters)
    shapes = tuple(tuple(tensor.shape) for tensor in result)
    if shapes == (down_shape, skip_shape):
        checks.fail(
            exercise,
            "(skip, down) are swapped: return the full-resolution features "
            "first, then the pooled ones.",
        )
    if shapes == (down_shape, down_shape):
        checks.fail(
            exercise,
            "the skip is pooled: take the skip before pooling, at full "
            "resolution, so the decoder gets back the detail pooling throws away.",
        )
    if shapes != (skip_shape, down_shape):
        checks.fail(
            exercise,
            f"from {(height, width, channels)} with filters={filters} expected skip {skip_shape} "
            f"and down {down_shape}, got {shapes[0]} and {shapes[1]}: two 3x3 convolutions with "
            f"padding='same', then MaxPooling2D(2).",
        )
    model = keras.Model(inputs, list(result))
    kernel_shapes = [tuple(layer.kernel.shape) for layer in _convs(model)]
    wanted = [(3, 3, channels, filters), (3, 3, filters, filters)]
    if kernel_shapes != wanted:
        checks.fail(
            exercise,
            f"expected two 3x3 convolutions ({channels}->{filters}, {filters}->{filters}), found "
            f"kernels {kernel_shapes}.",
        )
    first, second = _random_kernels(model, seed)
    x = np.random.default_rng(seed).normal(0, 1, (2, height, width, channels)).astype("float32")
    skip, down = (np.asarray(a, dtype=np.float64) for a in model(x, training=False))
    expected = _relu(_conv(_relu(_conv(x, first)), second))
    checks.diagnose(
        exercise,
        skip,
        expected,
        {
            "no ReLU after the second convolution.": _conv(_relu(_conv(x, first)), second),
            "no ReLU after the first convolution.": _relu(_conv(_conv(x, first), second)),
        },
        context="the skip: ",
        atol=1e-3,
        rtol=1e-3,
    )
    checks.diagnose(
        exercise,
        down,
        _pool(expected.astype(np.float32)),
        {
            "average pooling: U-Net pools with the maximum.": _pool(
                expected.astype(np.float32), "avg"
            )
        },
        context="the pooled output: ",
        atol=1e-3,
        rtol=1e-3,
    )


def check_encoder_level(encoder_level):
    """Exercise 1: 16x16x1 -> skip 16x16x8 and down 8x8x8."""
    _check_encoder_case(1, encoder_level, 16, 16, 1, 8, seed=1)
    return checks.passed(1, "skip 16x16x8 before pooling, down 8x8x8 after it.")


def check_encoder_level_hidden(encoder_level):
    """Exercise 1, hidden: non-square, more channels."""
    _check_encoder_case(1, encoder_level, 8, 12, 3, 16, seed=11)
    return checks.passed(1, "hidden cases")


# ---- Exercise 2: a decoder level ----


def _check_decoder_case(exercise, decoder_level, height, width, channels, skip_channels, filters):
    """One expanding level: output shape, concatenation on channels, two 3x3 convolutions."""
    import keras

    x_input = keras.Input((height, width, channels))
    skip_input = keras.Input((2 * height, 2 * width, skip_channels))
    output = checks.call_symbolic(
        exercise, decoder_level, "decoder_level", LEVEL_SHAPE_HINT, x_input, skip_input, filters
    )
    if not isinstance(output, keras.KerasTensor):
        checks.fail(exercise, f"return the output tensor, got {type(output).__name__}.")
    wanted = (None, 2 * height, 2 * width, filters)
    got = tuple(output.shape)
    if got != wanted:
        hint = "upsample x by 2, concatenate with the skip on channels, two 3x3 convolutions."
        if got[1:3] == (4 * height, 2 * width):
            hint = "the maps were concatenated along the height (axis=1): use axis=-1, channels."
        elif got[1:3] == (2 * height, 4 * width):
            hint = "the maps were concatenated along the width (axis=2): use axis=-1, channels."
        checks.fail(exercise, f"expected an output of shape {wanted}, got {got}: {hint}")
    model = keras.Model([x_input, skip_input], output)
    rng = np.random.default_rng(height)
    x = rng.normal(0, 1, (2, height, width, channels)).astype("float32")
    skip = rng.normal(0, 1, (2, 2 * height, 2 * width, skip_channels)).astype("float32")
    result = np.asarray(model([x, skip], training=False))
    if result.shape[0] != 2:
        checks.fail(
            exercise,
            f"2 examples in gave {result.shape[0]} out: the maps were "
            f"concatenated along the batch axis (axis=0): use axis=-1.",
        )
    three = [tuple(layer.kernel.shape) for layer in _convs(model) if layer.kernel.shape[0] == 3]
    merged = [shape for shape in three if shape[2] > skip_channels]
    if not merged:
        checks.fail(
            exercise,
            f"no 3x3 convolution reads more than the skip's {skip_channels} channels: the skip "
            f"was added (FCN style); U-Net concatenates it with the upsampled map (axis=-1).",
        )
    if len(three) != 2 or three[-1][3] != filters:
        checks.fail(
            exercise,
            f"after concatenating, a decoder level has two 3x3 convolutions with {filters} "
            f"filters; found 3x3 kernels {three}.",
        )
    _check_skip_alignment(exercise, model, x, skip)


def _check_skip_alignment(exercise, model, x, skip):
    """The skip must reach the output where it was: a change at one pixel stays near it."""
    import tensorflow as tf

    # Random ReLU layers can leave every centre unit dead, and a zero gradient would blame a
    # correct level. Positive kernels on positive inputs keep every unit active, so only the
    # wiring is probed. The model was built by this check, so the student loses nothing.
    rng = np.random.default_rng(0)
    for layer in checks.flat_layers(model):
        if getattr(layer, "kernel", None) is None:
            continue
        layer.kernel.assign(np.abs(rng.normal(0, 0.1, layer.kernel.shape)).astype("float32"))
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(np.full(layer.bias.shape, 0.1, "float32"))
    x, skip = np.abs(x), np.abs(skip)
    skip_variable = tf.Variable(skip)
    with tf.GradientTape() as tape:
        output = model([tf.constant(x), skip_variable], training=False)
        centre = output[0, output.shape[1] // 2, output.shape[2] // 2, :]
        total = tf.reduce_sum(centre)
    gradient = tape.gradient(total, skip_variable)
    if gradient is None or not np.any(np.asarray(gradient)):
        checks.fail(exercise, "the output does not depend on the skip: concatenate it.")
    influence = np.abs(np.asarray(gradient[0])).sum(axis=-1)
    rows, cols = np.nonzero(influence)
    centre_row, centre_col = output.shape[1] // 2, output.shape[2] // 2
    # Two 3x3 convolutions after the merge: the skip's influence is the 5x5 window around it.
    if (
        rows.min() < centre_row - 2
        or rows.max() > centre_row + 2
        or cols.min() < (centre_col - 2)
        or cols.max() > centre_col + 2
    ):
        checks.fail(
            exercise,
            "an output pixel depends on skip pixels more than 2 away: the skip must be "
            "concatenated as it is, aligned with the upsampled map.",
        )


def check_decoder_level(decoder_level):
    """Exercise 2: x 4x4x16 and skip 8x8x8 -> 8x8x8."""
    _check_decoder_case(2, decoder_level, 4, 4, 16, 8, 8)
    return checks.passed(2, "upsampled to 8x8, concatenated with the skip on channels, 8x8x8 out.")


def check_decoder_level_hidden(decoder_level):
    """Exercise 2, hidden: non-square maps, a skip wider than the filters."""
    _check_decoder_case(2, decoder_level, 3, 5, 32, 16, 16)
    _check_decoder_case(2, decoder_level, 4, 4, 8, 12, 4)
    return checks.passed(2, "hidden cases")


# ---- Exercise 3: cropping a skip ----


def _crop_mistakes(skip, height, width):
    """Wrong crops, each with its hint (None where that mistake would give the right answer)."""
    h, w = skip.shape[1:3]
    top, left = (h - height) // 2, (w - width) // 2
    late_top, late_left = h - height - top, w - width - left
    mistakes = {
        "the crop starts at the corner: cut (skip - target) // 2 from the top and left, the "
        "rest from the bottom and right.": skip[:, :height, :width],
        "off by one: with an odd difference the extra row and column go at the bottom and "
        "right; start at (skip - target) // 2.": skip[
            :, late_top : late_top + height, late_left : late_left + width
        ],
        "height and width swapped: crop the height by the height difference and the width by "
        "the width difference.": skip[:, left : left + height, top : top + width]
        if left + height <= h and top + width <= w
        else None,
    }
    return mistakes


def _check_crop_case(exercise, center_crop, shape, height, width, seed):
    """One crop: compared with NumPy slicing of the central window."""
    skip = np.random.default_rng(seed).normal(0, 1, shape).astype("float32")
    call = f"center_crop(<skip {shape}>, {height}, {width})"
    answer = checks.as_array(
        exercise, checks.call(exercise, center_crop, skip, height, width), call
    )
    wanted = (shape[0], height, width, shape[3])
    if answer.shape != wanted:
        hint = "crop axes 1 and 2 (height and width) of the NHWC batch, to exactly the target."
        if answer.shape[1:3] in ((height - 1, width - 1), (height + 1, width + 1)):
            hint = "the window is off by one in size: slice [top : top + height]."
        checks.fail(exercise, f"{call} should have shape {wanted}, got {answer.shape}: {hint}")
    top, left = (shape[1] - height) // 2, (shape[2] - width) // 2
    expected = skip[:, top : top + height, left : left + width]
    checks.diagnose(
        exercise, answer, expected, _crop_mistakes(skip, height, width), context=f"{call}: "
    )


def check_center_crop(center_crop):
    """Exercise 3: the paper's 136x136 skip cropped to 104x104, and an odd difference."""
    _check_crop_case(3, center_crop, (1, 136, 136, 2), 104, 104, seed=3)
    _check_crop_case(3, center_crop, (2, 9, 9, 3), 6, 6, seed=4)
    return checks.passed(3, "136 -> 104 cuts 16 rows at each side; 9 -> 6 cuts 1 above, 2 below.")


def check_center_crop_hidden(center_crop):
    """Exercise 3, hidden: different odd differences in height and width, and no crop at all."""
    _check_crop_case(3, center_crop, (2, 11, 8, 1), 6, 5, seed=13)
    _check_crop_case(3, center_crop, (1, 7, 7, 2), 7, 7, seed=14)
    return checks.passed(3, "hidden cases")


# ---- Exercise 4: the soft Dice loss ----


def _dice_reference(masks, probabilities, smooth, axes=(0, 1, 2), squared=False):
    """Soft Dice loss computed over ``axes`` (then averaged over what is left)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    truth = np.eye(probabilities.shape[-1])[np.asarray(masks, dtype=int)]
    intersection = np.sum(truth * probabilities, axis=axes)
    if squared:
        total = np.sum(truth**2, axis=axes) + np.sum(probabilities**2, axis=axes)
    else:
        total = np.sum(truth, axis=axes) + np.sum(probabilities, axis=axes)
    return float(1.0 - np.mean((2 * intersection + smooth) / (total + smooth)))


def _dice_mistakes(masks, probabilities, smooth):
    """Wrong Dice losses, each with its hint."""
    right = _dice_reference(masks, probabilities, smooth)
    truth = np.eye(probabilities.shape[-1])[masks]
    intersection = np.sum(truth * probabilities, axis=(0, 1, 2))
    total = np.sum(truth, axis=(0, 1, 2)) + np.sum(probabilities, axis=(0, 1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        unsmoothed = 1 - np.mean(2 * intersection / total)
    return {
        "you returned the Dice coefficient: the loss is 1 - Dice.": 1 - right,
        "no smoothing: add `smooth` to the numerator and the denominator (a class absent from "
        "both truth and prediction is then a perfect 1, not 0/0).": unsmoothed,
        "`smooth` only in the denominator: add it to the numerator too, so a perfect "
        "prediction gives a loss of 0.": 1 - np.mean((2 * intersection) / (total + smooth)),
        "Dice computed per image (axes 1, 2): sum over the batch too, axes (0, 1, 2), then "
        "average over classes.": _dice_reference(masks, probabilities, smooth, axes=(1, 2)),
        "the classes were summed together (axes 0, 1, 2, 3): compute one Dice per class "
        "(axes 0, 1, 2), then average.": _dice_reference(
            masks, probabilities, smooth, axes=(0, 1, 2, 3)
        ),
        "Dice computed per pixel (over the class axis): sum over the batch and the pixels, "
        "axes (0, 1, 2).": _dice_reference(masks, probabilities, smooth, axes=(3,)),
    }


def _dice_case(kind, seed, classes=4):
    """Masks and probabilities of one test case."""
    rng = np.random.default_rng(seed)
    masks = rng.integers(0, classes - 1, (2, 6, 5))  # the last class never occurs
    if kind == "random":
        logits = rng.normal(0, 2, (2, 6, 5, classes))
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    else:  # a perfect one-hot prediction: the absent class is absent from both
        probabilities = np.eye(classes)[masks]
    return masks, probabilities.astype(np.float32)


def _check_dice_case(exercise, dice_loss, kind, seed, smooth=1.0):
    """One Dice case, with a gradient that must flow to the probabilities."""

    import tensorflow as tf

    masks, probabilities = _dice_case(kind, seed)
    variable = tf.Variable(probabilities)
    with tf.GradientTape() as tape:
        value = checks.call(
            exercise, dice_loss, tf.constant(masks, tf.int32), variable, smooth=smooth
        )
    loss = checks.as_array(exercise, value, "the loss")
    if loss.size != 1:
        checks.fail(
            exercise,
            f"the loss should be one number, got shape {loss.shape}: average "
            f"the per-class Dice over classes.",
        )
    loss = float(loss.reshape(()))
    expected = _dice_reference(masks, probabilities, smooth)
    squared = _dice_reference(masks, probabilities, smooth, squared=True)
    if not (np.isclose(loss, expected, atol=1e-5) or np.isclose(loss, squared, atol=1e-5)):
        if not np.isfinite(loss):
            checks.fail(
                exercise,
                f"the loss is {loss} on a prediction where one class is absent "
                f"from truth and prediction: 0/0; add `smooth` to the numerator and the "
                f"denominator.",
            )
        checks.diagnose(
            exercise,
            loss,
            expected,
            _dice_mistakes(masks, probabilities, smooth),
            context=f"on {kind} probabilities, ",
            atol=1e-5,
        )
    gradient = tape.gradient(value, variable) if tf.is_tensor(value) else None
    if kind == "random" and (gradient is None or not np.any(np.asarray(gradient))):
        checks.fail(
            exercise,
            "the loss has no gradient with respect to the probabilities: "
            "use keras.ops (not NumPy, not argmax) on y_pred.",
        )


def check_dice_loss(dice_loss):
    """Exercise 4: soft Dice on random probabilities and on a perfect prediction."""
    _check_dice_case(4, dice_loss, "random", seed=4)
    _check_dice_case(4, dice_loss, "perfect", seed=5)
    return checks.passed(4, "one Dice per class over batch and pixels, smoothed; perfect gives 0.")


def check_dice_loss_hidden(dice_loss):
    """Exercise 4, hidden: another smoothing value and other data."""
    _check_dice_case(4, dice_loss, "random", seed=14, smooth=0.5)
    _check_dice_case(4, dice_loss, "perfect", seed=15, smooth=2.0)
    return checks.passed(4, "hidden cases")


# ---- Exercise 5: receptive field of a dilated stack ----


def _field_mistakes(layers):
    """Wrong receptive fields, each with its hint."""
    right = np.array(arith.receptive_fields([(k, 1, d) for k, d in layers]))
    fields, size = [], 1
    for kernel, dilation in layers:
        size += kernel * dilation - 1
        fields.append(size)
    spans = [arith.effective_kernel_size(kernel, dilation) for kernel, dilation in layers]
    return {
        "the span of a dilated kernel is k + (k - 1)(d - 1), not k * d.": fields,
        "the field starts at 1 pixel (the output pixel itself): yours is one short.": right - 1,
        "each layer adds its span minus one to the field; the spans are not "
        "multiplied.": np.cumprod(spans),
        "a stride-1 layer adds (k_eff - 1), not k_eff: fields of a 3x3 stack grow 3, 5, "
        "7.": np.cumsum(spans),
        "the dilation was treated as a stride: stride-1 dilated layers add their span, they "
        "do not multiply later steps.": np.array(
            arith.receptive_fields([(k, d, 1) for k, d in layers])
        ),
    }


def _check_fields_case(exercise, function, layers):
    """One stack's receptive fields, against course_utils.arith."""
    call = f"dilated_receptive_fields({layers})"
    answer = checks.as_array(exercise, checks.call(exercise, function, layers), call, ndim=1)
    expected = np.array(arith.receptive_fields([(k, 1, d) for k, d in layers]))
    if answer.shape != expected.shape:
        checks.fail(
            exercise,
            f"{call} should give one field per layer ({len(layers)}), got {answer.shape[0]}.",
        )
    checks.diagnose(exercise, answer, expected, _field_mistakes(layers), context=f"{call}: ")


def check_dilated_receptive_fields(function):
    """Exercise 5: 1-2-4 dilated 3x3 stack (3, 7, 15) and Yu and Koltun's context module."""
    _check_fields_case(5, function, [(3, 1), (3, 2), (3, 4)])
    module = [(3, d) for d in unet.CONTEXT_DILATIONS] + [(1, 1)]
    _check_fields_case(5, function, module)
    return checks.passed(5, "3, 7, 15 for dilations 1-2-4; the context module reaches 67x67.")


def check_dilated_receptive_fields_hidden(function):
    """Exercise 5, hidden: 5x5 kernels, dilation 3, a single layer."""
    _check_fields_case(5, function, [(5, 1), (3, 3), (5, 2)])
    _check_fields_case(5, function, [(3, 2)])
    return checks.passed(5, "hidden cases")
