"""Checks of topic 05: identity block, projection block, a residual stage, parameter counts.

A block is checked by what it computes, not by how it is written: the check builds a model
around the student's block, gives its convolutions random kernels and every batch norm the same
known affine map ``g * z + b``, and compares the output with the block computed independently
from those weights. Every correct way to write the block (functional calls, a ``Sequential``
residual path, ``x + y`` or ``Add``, ``ReLU`` layers or ``keras.ops.relu``) computes the same
function; each classic mistake computes a different one, which is how it is named.
"""

import numpy as np

from course_utils import checks, resnet

# The affine map every batch norm is set to: a shift that is not zero makes its place matter.
BN_SCALE, BN_SHIFT = 1.5, -0.2


def _build(exercise, block, input_shape, *args, what="the block"):
    """Call ``block(keras.Input(input_shape), *args)`` and wrap it in a model, or fail clearly."""
    import keras

    inputs = keras.Input(input_shape)
    try:
        outputs = block(inputs, *args)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - a crash of student code becomes a hint
        text = str(error).lower()
        if "shape" in text and ("add" in text or "broadcast" in text or "incompatible" in text):
            fail_shapes(exercise, input_shape, args)
        checks.fail(exercise, f"{what} raised {type(error).__name__}: {error}".split("\n")[0])
    if not isinstance(outputs, keras.KerasTensor):
        checks.fail(
            exercise,
            f"{what} should return the output tensor of its last layer, got "
            f"{type(outputs).__name__}; end with `return x`.",
        )
    return keras.Model(inputs, outputs)


def fail_shapes(exercise, input_shape, args):
    """The shortcut and the residual disagree in shape: say what the shortcut needs."""
    checks.fail(
        exercise,
        f"adding the shortcut failed for an input of shape {tuple(input_shape)} and arguments "
        f"{args}: the shortcut and the residual path must have the same shape; when the "
        f"channels or the stride change, project the shortcut with a 1x1 Conv2D with those "
        f"filters and strides.",
    )


def _kernels(model):
    """The convolution layers of a model, in order, with their kernels."""
    import keras

    return [layer for layer in checks.flat_layers(model) if isinstance(layer, keras.layers.Conv2D)]


def _batch_norms(model):
    """The batch-normalisation layers of a model."""
    import keras

    return [
        layer
        for layer in checks.flat_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def _set_weights(model, seed):
    """Random kernels, zero biases, every batch norm exactly ``BN_SCALE * z + BN_SHIFT``."""
    rng = np.random.default_rng(seed)
    for layer in _kernels(model):
        fan_in = np.prod(layer.kernel.shape[:-1])
        layer.kernel.assign(rng.normal(0, np.sqrt(2 / fan_in), layer.kernel.shape))
        if layer.use_bias:
            layer.bias.assign(np.zeros(layer.bias.shape))
    for layer in _batch_norms(model):
        for weight, value in (
            (layer.gamma, BN_SCALE),
            (layer.beta, BN_SHIFT),
            (layer.moving_mean, 0.0),
            # variance 1 - epsilon makes the normalisation exactly the identity in inference.
            (layer.moving_variance, 1.0 - layer.epsilon),
        ):
            if weight is not None:
                weight.assign(np.full(weight.shape, value))
    return [np.asarray(layer.kernel) for layer in _kernels(model)]


def _conv(x, kernel, strides=1):
    """Same-padded convolution of NHWC ``x`` with an HWIO kernel (TensorFlow, not the student)."""
    import tensorflow as tf

    return tf.nn.conv2d(x, kernel, strides=strides, padding="SAME").numpy()


def _bn(z):
    """The batch norm the check installed."""
    return BN_SCALE * z + BN_SHIFT


def _relu(z):
    """ReLU."""
    return np.maximum(z, 0)


def _run(model, x):
    """The model's output in inference mode, as a float array."""
    return np.asarray(model(x, training=False), dtype=np.float64)


def _residual_variants(x, first, second, strides=1):
    """The residual path, right and in each classic wrong form: name -> F(x)."""
    conv_a = _conv(x, first, strides)
    hidden = _relu(_bn(conv_a))
    return {
        "right": _bn(_conv(hidden, second)),
        "no inner relu": _bn(_conv(_bn(conv_a), second)),
        "relu before bn": _bn(_conv(_bn(_relu(conv_a)), second)),
        "hidden": hidden,
        "stride late": _bn(_conv(_relu(_bn(_conv(x, first))), second, strides)),
    }


def _block_mistakes(paths, shortcut):
    """Outputs of the classic wrong blocks, each with its one-line hint."""
    residual = paths["right"]
    return {
        "the shortcut is added after the final ReLU: add the input first, then apply the ReLU "
        "(ReLU(F(x) + x), not ReLU(F(x)) + x).": _relu(residual) + shortcut,
        "the block ends without a ReLU: apply ReLU after adding the shortcut.": residual + shortcut,
        "the shortcut is missing: add the block's input to the residual path before the final "
        "ReLU.": _relu(residual),
        "there is no ReLU between the two convolutions: conv, batch norm, ReLU, conv, batch "
        "norm.": _relu(paths["no inner relu"] + shortcut),
        "ReLU comes before batch normalisation: the order is convolution, batch norm, ReLU.": _relu(
            paths["relu before bn"] + shortcut
        ),
        "the shortcut comes from inside the block: add the block's input x, not the first "
        "convolution's output.": _relu(residual + paths["hidden"]),
        "the stride is on the second convolution: put it on the first 3x3 convolution (and on "
        "the projection).": _relu(paths["stride late"] + shortcut),
    }


def _input(shape, seed):
    """A batch of two random inputs with negative values (so a missing ReLU shows)."""
    return np.random.default_rng(seed).normal(0, 1, (2, *shape)).astype(np.float32)


def _count_convs(exercise, model, wanted, what):
    """Fail unless the model's convolution kernels have exactly the wanted shapes."""
    shapes = sorted(tuple(layer.kernel.shape) for layer in _kernels(model))
    if shapes == sorted(wanted):
        return
    sizes = [f"{s[0]}x{s[1]} ({s[2]}->{s[3]})" for s in shapes]
    found = ", ".join(sizes) or "none"
    checks.fail(exercise, f"{what} should have convolutions {_describe(wanted)}; found {found}.")


def _describe(shapes):
    """Kernel shapes as words: '3x3 (8->8), 3x3 (8->8)'."""
    return ", ".join(f"{s[0]}x{s[1]} ({s[2]}->{s[3]})" for s in sorted(shapes))


def _check_batch_norms(exercise, model, allowed):
    """Fail unless the block has one batch norm per convolution (``allowed`` counts)."""
    count = len(_batch_norms(model))
    if count not in allowed:
        checks.fail(
            exercise,
            f"found {count} BatchNormalization layers: put one after each convolution "
            f"(conv, batch norm, ReLU).",
        )


def _check_identity_case(exercise, block, height, width, channels, seed):
    """One identity-block case: shape, kernels, batch norms and the computed function."""
    model = _build(exercise, block, (height, width, channels), channels)
    shape = (None, height, width, channels)
    if tuple(model.output.shape) != shape:
        checks.fail(
            exercise,
            f"an identity block keeps the shape of its input {shape}, got "
            f"{tuple(model.output.shape)}: use padding='same', stride 1 and `filters` channels.",
        )
    kernel = (3, 3, channels, channels)
    _count_convs(exercise, model, [kernel, kernel], "an identity block")
    _check_batch_norms(exercise, model, (2,))
    kernels = _set_weights(model, seed)
    x = _input((height, width, channels), seed)
    actual = _run(model, x)
    # The two kernels have the same shape; either may be the first one the model lists.
    candidates = [(kernels[0], kernels[1]), (kernels[1], kernels[0])]
    for first, second in candidates:
        paths = _residual_variants(x, first, second)
        if checks.close(actual, _relu(paths["right"] + x), atol=1e-3, rtol=1e-3):
            return model
    paths = _residual_variants(x, *candidates[0])
    checks.diagnose(
        exercise,
        actual,
        _relu(paths["right"] + x),
        _block_mistakes(paths, x),
        context="with random weights, ",
        atol=1e-3,
        rtol=1e-3,
    )
    return model


def _zero_output(model, x):
    """The block's output once every convolution kernel is zero."""
    for layer in _kernels(model):
        layer.kernel.assign(np.zeros(layer.kernel.shape))
    for layer in _batch_norms(model):
        if layer.beta is not None:
            layer.beta.assign(np.zeros(layer.beta.shape))
    return _run(model, x)


def check_identity_block(identity_block):
    """Exercise 1: the identity block on 7x9 inputs of 8 channels, and zero weights give ReLU(x)."""
    model = _check_identity_case(1, identity_block, 7, 9, 8, seed=1)
    x = _input((7, 9, 8), seed=2)
    checks.diagnose(
        1,
        _zero_output(model, x),
        _relu(x),
        {"with zero weights the block gives 0: is the shortcut missing?": np.zeros_like(x)},
        context="with all kernels zero, ",
    )
    return checks.passed(
        1, "two 3x3 convolutions, shortcut added before the ReLU; zero weights give ReLU(x)."
    )


def check_identity_block_hidden(identity_block):
    """Exercise 1, hidden: other sizes and channel counts."""
    _check_identity_case(1, identity_block, 5, 5, 3, seed=11)
    _check_identity_case(1, identity_block, 4, 6, 16, seed=12)
    return checks.passed(1, "hidden cases")


def _check_projection_case(exercise, block, height, width, channels, filters, strides, seed):
    """One projection-block case: shape, kernels, batch norms and the computed function."""
    model = _build(exercise, block, (height, width, channels), filters, strides)
    size = (-(-height // strides), -(-width // strides))
    shape = (None, *size, filters)
    if tuple(model.output.shape) != shape:
        checks.fail(
            exercise,
            f"input {(height, width, channels)} with filters={filters}, strides={strides} should "
            f"give {shape}, got {tuple(model.output.shape)}: stride the first convolution and the "
            f"projection, padding='same'.",
        )
    wanted = [(3, 3, channels, filters), (3, 3, filters, filters), (1, 1, channels, filters)]
    shapes = [tuple(layer.kernel.shape) for layer in _kernels(model)]
    no_projection = shapes.count((1, 1, channels, filters)) == 0
    if no_projection and shapes.count((3, 3, channels, filters)) == 2:
        checks.fail(exercise, "the projection shortcut is a 1x1 convolution, not 3x3.")
    _count_convs(exercise, model, wanted, "a projection block")
    _check_batch_norms(exercise, model, (2, 3))
    _set_weights(model, seed)
    by_shape = {tuple(layer.kernel.shape): np.asarray(layer.kernel) for layer in _kernels(model)}
    x = _input((height, width, channels), seed)
    actual = _run(model, x)
    paths = _residual_variants(x, by_shape[wanted[0]], by_shape[wanted[1]], strides)
    projected = _conv(x, by_shape[wanted[2]], strides)
    # The projection may have its own batch norm (Keras' ResNet does) or not: both are right.
    shortcuts = [_bn(projected), projected]
    for shortcut in shortcuts:
        if checks.close(actual, _relu(paths["right"] + shortcut), atol=1e-3, rtol=1e-3):
            return model
    with_bn = len(_batch_norms(model)) == 3
    shortcut = shortcuts[0] if with_bn else shortcuts[1]
    mistakes = _block_mistakes(paths, shortcut)
    mistakes[
        "the shortcut is the input itself: in a projection block it is the 1x1 "
        "convolution of the input."
    ] = None
    checks.diagnose(
        exercise,
        actual,
        _relu(paths["right"] + shortcut),
        mistakes,
        context="with random weights, ",
        atol=1e-3,
        rtol=1e-3,
    )
    return model


def check_projection_block(projection_block):
    """Exercise 2: 8x8x4 -> 4x4x8 (stride 2) and 6x6x4 -> 6x6x8 (stride 1, channels change)."""
    _check_projection_case(2, projection_block, 8, 8, 4, 8, 2, seed=3)
    _check_projection_case(2, projection_block, 6, 6, 4, 8, 1, seed=4)
    return checks.passed(2, "strided 3x3 path and 1x1 projection shortcut, added before the ReLU.")


def check_projection_block_hidden(projection_block):
    """Exercise 2, hidden: odd sizes (ceil division) and more channels."""
    _check_projection_case(2, projection_block, 7, 5, 3, 6, 2, seed=13)
    _check_projection_case(2, projection_block, 4, 4, 16, 32, 2, seed=14)
    return checks.passed(2, "hidden cases")


def _check_stage_case(exercise, stage, height, width, channels, filters, blocks, strides, seed):
    """One residual stage: output shape, one projection only where needed, zero-weight output."""
    model = _build(
        exercise, stage, (height, width, channels), filters, blocks, strides, what="the stage"
    )
    size = (-(-height // strides), -(-width // strides))
    shape = (None, *size, filters)
    if tuple(model.output.shape) != shape:
        got = tuple(model.output.shape)
        if got[-1] != filters:
            hint = (
                "the first block changes the channels to `filters`, with a 1x1 projection "
                "shortcut, even at stride 1."
            )
        elif got[1] < size[0]:
            hint = "only the first block strides; the others keep the resolution."
        else:
            hint = "the first block takes `strides`; the others keep the shape."

        checks.fail(
            exercise,
            f"{blocks} blocks from {(height, width, channels)} with filters={filters}, "
            f"strides={strides} should give {shape}, got {tuple(model.output.shape)}: {hint}",
        )
    kernels = [tuple(layer.kernel.shape) for layer in _kernels(model)]
    three = sum(1 for k in kernels if k[:2] == (3, 3))
    projections = sum(1 for k in kernels if k[:2] == (1, 1))
    needed = int(strides != 1 or channels != filters)
    if three != 2 * blocks:
        checks.fail(
            exercise,
            f"{blocks} blocks have {2 * blocks} 3x3 convolutions, found {three}: "
            f"call a block function once per block.",
        )
    if projections > needed:
        checks.fail(
            exercise,
            f"found {projections} 1x1 projections, expected {needed}: only a block that changes "
            f"the channels or the stride needs one; the others use the identity shortcut.",
        )
    x = _input((height, width, channels), seed)
    zero = _zero_output(model, x)
    expected = _relu(x) if not needed else np.zeros(zero.shape)
    if not checks.close(zero, expected, atol=1e-5):
        checks.fail(
            exercise,
            "with zero weights each block should give ReLU(shortcut): are the shortcuts "
            "missing, or added after the final ReLU?",
        )
    return model


def check_residual_stage(residual_stage):
    """Exercise 3: a stage of 3 blocks that halves 8x8x4 to 4x4x8, and one that keeps 6x6x8."""
    _check_stage_case(3, residual_stage, 8, 8, 4, 8, 3, 2, seed=5)
    _check_stage_case(3, residual_stage, 6, 6, 8, 8, 2, 1, seed=6)
    return checks.passed(3, "one projection where the shape changes, identity shortcuts elsewhere.")


def check_residual_stage_hidden(residual_stage):
    """Exercise 3, hidden: channels change at stride 1; a single block."""
    _check_stage_case(3, residual_stage, 6, 6, 4, 8, 2, 1, seed=15)
    _check_stage_case(3, residual_stage, 5, 5, 8, 16, 1, 2, seed=16)
    return checks.passed(3, "hidden cases")


def _parameter_mistakes(in_channels, filters, strides):
    """Wrong parameter counts of a basic block, each with its hint."""
    right = resnet.block_parameters(in_channels, filters, strides)
    project = strides != 1 or in_channels != filters
    convs = 3 if project else 2
    batch_norms = 3 if project else 2
    projection = in_channels * filters + 2 * filters
    return {
        "you counted convolution biases: the convolutions have use_bias=False (batch norm's "
        "beta does the shifting).": right + convs * filters,
        "you counted the moving mean and variance: they are batch norm's statistics, not "
        "trained parameters.": right + batch_norms * 2 * filters,
        "you left out batch norm's gamma and beta (2 trainable numbers per channel).": right
        - batch_norms * 2 * filters,
        "the projection is missing: when the channels or the stride change, the shortcut is a "
        "1x1 convolution plus batch norm.": right - projection if project else None,
        "the projection is only needed when the channels or the stride change.": None
        if project
        else right + projection,
        "the projection is a 1x1 convolution, not 3x3.": right + 8 * in_channels * filters
        if project
        else None,
        "the second convolution maps filters to filters channels, not in_channels to "
        "filters.": right - 9 * filters * filters + 9 * in_channels * filters
        if in_channels != filters
        else None,
    }


def _check_parameters_case(exercise, function, in_channels, filters, strides):
    """One parameter count, against the count of a block that Keras builds."""
    import keras

    answer = checks.as_int(
        exercise,
        checks.call(exercise, function, in_channels, filters, strides),
        f"block_parameters({in_channels}, {filters}, {strides})",
    )
    inputs = keras.Input((8, 8, in_channels))
    block = keras.Model(inputs, resnet.residual_block(inputs, filters, strides))
    expected = int(sum(np.prod(weight.shape) for weight in block.trainable_weights))
    mistakes = {
        hint: value
        for hint, value in _parameter_mistakes(in_channels, filters, strides).items()
        if value is not None and value != expected
    }
    checks.diagnose(
        exercise,
        answer,
        expected,
        mistakes,
        context=f"block_parameters({in_channels}, {filters}, {strides}) = {answer}: ",
        atol=0,
        rtol=0,
    )


def check_block_parameters(block_parameters):
    """Exercise 4: the identity block of 16 channels and the projection block 16 -> 32."""
    _check_parameters_case(4, block_parameters, 16, 16, 1)
    _check_parameters_case(4, block_parameters, 16, 32, 2)
    return checks.passed(
        4,
        "4,672 parameters for the 16-channel identity block, 14,528 for the "
        "16 -> 32 projection block.",
    )


def check_block_parameters_hidden(block_parameters):
    """Exercise 4, hidden: stride 1 with a channel change, and a wide identity block."""
    _check_parameters_case(4, block_parameters, 8, 24, 1)
    _check_parameters_case(4, block_parameters, 64, 64, 1)
    _check_parameters_case(4, block_parameters, 32, 64, 2)
    return checks.passed(4, "hidden cases")
