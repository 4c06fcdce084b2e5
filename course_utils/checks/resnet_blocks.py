"""Checks of solutions/05_resnet_blocks.ipynb: identity block, projection block, stage, counts.

A block is checked by what it computes, not by how it is written. The probe only builds a model
around the student's block (``checks.run_builder``); the judge, on that model rebuilt from its
architecture and weights, gives its convolutions random kernels and every batch norm the same
known affine map ``g * z + b``, and compares the output with the block computed independently
from those weights (TensorFlow's convolution, NumPy). Every correct way to write the block
(functional calls, a ``Sequential`` residual path, ``x + y`` or ``Add``, ``ReLU`` layers or
``keras.ops.relu``) computes the same function; each classic mistake computes a different one,
which is how it is named. Parameter counts are judged against a block of the lecture
(``course_utils.lectures.resnet_blocks``), counted by Keras.
"""

import numpy as np

from course_utils import checks
from course_utils.checks import _resnet_blocks_compute as compute
from course_utils.checks.model_judge import each_model

# Keras is imported inside functions: a solutions notebook imports this module before
# config.setup(), which must run before TensorFlow loads.

# Exercise numbers in solutions/05_resnet_blocks.ipynb.
EXERCISES = {"identity_block": 1, "projection_block": 2, "residual_stage": 3, "block_parameters": 4}

# --- exercise 1: the identity block --------------------------------------------------------------


def _judge_identity(exercise, case, model):
    """Shape, kernels, batch norms, the function computed with random weights, zero weights."""
    (height, width, channels), _ = case.args
    seed = case.key[-1]
    shape = (None, height, width, channels)
    if compute.output_shape(model) != shape:
        checks.fail(
            exercise,
            f"an identity block keeps the shape of its input {shape}, got "
            f"{compute.output_shape(model)}: use padding='same', stride 1 and `filters` channels.",
        )
    kernel = (3, 3, channels, channels)
    compute.count_convs(exercise, model, [kernel, kernel], "an identity block")
    compute.check_batch_norms(exercise, model, (2,))
    kernels = compute.set_weights(model, seed)
    x = compute.input((height, width, channels), seed)
    actual = compute.run(model, x)
    # The two kernels have the same shape; either may be the first one the model lists.
    candidates = [(kernels[0], kernels[1]), (kernels[1], kernels[0])]
    if not any(
        checks.close(
            actual, compute.relu(compute.residual_variants(x, *pair)["right"] + x), 1e-3, 1e-3
        )
        for pair in candidates
    ):
        paths = compute.residual_variants(x, *candidates[0])
        checks.diagnose(
            exercise,
            actual,
            compute.relu(paths["right"] + x),
            compute.block_mistakes(paths, x),
            context="with random weights, ",
            atol=1e-3,
            rtol=1e-3,
        )
    checks.diagnose(
        exercise,
        compute.zero_output(model, x),
        compute.relu(x),
        {"with zero weights the block gives 0: is the shortcut missing?": np.zeros_like(x)},
        context="with all kernels zero, ",
    )


check_identity_block, check_identity_block_hidden = checks.exercise(
    EXERCISES["identity_block"],
    "identity_block",
    case=compute.builder_case,
    public=[((7, 9, 8), 8, 1)],
    hidden=[((5, 5, 3), 3, 11), ((4, 6, 16), 16, 12)],  # other sizes and channel counts
    probe=compute.probe_builder("the block"),
    judge=each_model(_judge_identity),
    passed="two 3x3 convolutions, shortcut added before the ReLU; zero weights give ReLU(x).",
    hidden_passed="the identity block is right on {count} hidden cases.",
)


# --- exercise 2: the projection block ------------------------------------------------------------


def _judge_projection(exercise, case, model):
    """Shape, kernels (the 1x1 projection), batch norms and the function computed."""
    (height, width, channels), filters, strides = case.args
    seed = case.key[-1]
    shape = (None, -(-height // strides), -(-width // strides), filters)
    if compute.output_shape(model) != shape:
        checks.fail(
            exercise,
            f"input {(height, width, channels)} with filters={filters}, strides={strides} should "
            f"give {shape}, got {compute.output_shape(model)}: stride the first convolution and "
            f"the projection, padding='same'.",
        )
    wanted = [(3, 3, channels, filters), (3, 3, filters, filters), (1, 1, channels, filters)]
    shapes = [tuple(layer.kernel.shape) for layer in compute.kernels(model)]
    if (1, 1, channels, filters) not in shapes and shapes.count((3, 3, channels, filters)) == 2:
        checks.fail(exercise, "the projection shortcut is a 1x1 convolution, not 3x3.")
    compute.count_convs(exercise, model, wanted, "a projection block")
    compute.check_batch_norms(exercise, model, (2, 3))
    compute.set_weights(model, seed)
    by_shape = {
        tuple(layer.kernel.shape): np.asarray(layer.kernel) for layer in compute.kernels(model)
    }
    x = compute.input((height, width, channels), seed)
    actual = compute.run(model, x)
    paths = compute.residual_variants(x, by_shape[wanted[0]], by_shape[wanted[1]], strides)
    projected = compute.conv(x, by_shape[wanted[2]], strides)
    # The projection may have its own batch norm (Keras' ResNet does) or not: both are right.
    shortcuts = [compute.bn(projected), projected]
    if any(checks.close(actual, compute.relu(paths["right"] + s), 1e-3, 1e-3) for s in shortcuts):
        return
    shortcut = shortcuts[0] if len(compute.batch_norms(model)) == 3 else shortcuts[1]
    checks.diagnose(
        exercise,
        actual,
        compute.relu(paths["right"] + shortcut),
        compute.block_mistakes(paths, shortcut),
        context="with random weights, ",
        atol=1e-3,
        rtol=1e-3,
    )


check_projection_block, check_projection_block_hidden = checks.exercise(
    EXERCISES["projection_block"],
    "projection_block",
    case=compute.builder_case,
    # 8x8x4 -> 4x4x8 at stride 2, and 6x6x4 -> 6x6x8 at stride 1 (only the channels change).
    public=[((8, 8, 4), 8, 2, 3), ((6, 6, 4), 8, 1, 4)],
    hidden=[((7, 5, 3), 6, 2, 13), ((4, 4, 16), 32, 2, 14)],  # odd sizes, more channels
    probe=compute.probe_builder("the block"),
    judge=each_model(_judge_projection),
    passed="strided 3x3 path and 1x1 projection shortcut, added before the ReLU.",
    hidden_passed="the projection block is right on {count} hidden cases.",
)


# --- exercise 3: a stage -------------------------------------------------------------------------


def _stage_shape_hint(got, size, filters):
    """Why a stage's output has the wrong shape."""
    if got[-1] != filters:
        return (
            "the first block changes the channels to `filters`, with a 1x1 projection "
            "shortcut, even at stride 1."
        )
    if got[1] < size[0]:
        return "only the first block strides; the others keep the resolution."
    return "the first block takes `strides`; the others keep the shape."


def _judge_stage(exercise, case, model):
    """Output shape, one projection only where needed, and each block ReLU(shortcut) at zero."""
    (height, width, channels), filters, blocks, strides = case.args
    size = (-(-height // strides), -(-width // strides))
    shape = (None, *size, filters)
    got = compute.output_shape(model)
    if got != shape:
        checks.fail(
            exercise,
            f"{blocks} blocks from {(height, width, channels)} with filters={filters}, "
            f"strides={strides} should give {shape}, got {got}: "
            f"{_stage_shape_hint(got, size, filters)}",
        )
    kernels = [tuple(layer.kernel.shape) for layer in compute.kernels(model)]
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
    x = compute.input((height, width, channels), case.key[-1])
    zero = compute.zero_output(model, x)
    expected = compute.relu(x) if not needed else np.zeros(zero.shape)
    if not checks.close(zero, expected, atol=1e-5):
        checks.fail(
            exercise,
            "with zero weights each block should give ReLU(shortcut): are the shortcuts "
            "missing, or added after the final ReLU?",
        )


check_residual_stage, check_residual_stage_hidden = checks.exercise(
    EXERCISES["residual_stage"],
    "residual_stage",
    case=compute.builder_case,
    # 3 blocks that halve 8x8x4 to 4x4x8, and 2 that keep 6x6x8.
    public=[((8, 8, 4), 8, 3, 2, 5), ((6, 6, 8), 8, 2, 1, 6)],
    hidden=[((6, 6, 4), 8, 2, 1, 15), ((5, 5, 8), 16, 1, 2, 16)],  # channels change at stride 1
    probe=compute.probe_builder("the stage"),
    judge=each_model(_judge_stage),
    passed="one projection where the shape changes, identity shortcuts elsewhere.",
    hidden_passed="the stage is right on {count} hidden cases.",
)


# --- exercise 4: parameter counts ----------------------------------------------------------------


def _parameter_mistakes(in_channels, filters, strides, right):
    """Wrong parameter counts of a basic block, each with its hint."""
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


def keras_block_parameters(in_channels, filters, strides):
    """Trainable parameters of the lecture's first block of a stage, as Keras counts them."""
    import keras

    from course_utils.lectures import resnet_blocks

    inputs = keras.Input((8, 8, in_channels))
    block = keras.Model(inputs, resnet_blocks.residual_block(inputs, filters, strides))
    return int(sum(np.prod(weight.shape) for weight in block.trainable_weights))


def _judge_parameters(exercise, case, output):
    """One parameter count, against the count of the lecture's block that Keras builds."""
    in_channels, filters, strides = case.args
    where = f"block_parameters({in_channels}, {filters}, {strides})"
    answer = checks.as_int(exercise, output, where)
    expected = keras_block_parameters(in_channels, filters, strides)
    mistakes = {
        hint: value
        for hint, value in _parameter_mistakes(in_channels, filters, strides, expected).items()
        if value is not None and value != expected
    }
    checks.diagnose(
        exercise, answer, expected, mistakes, context=f"{where} = {answer}: ", atol=0, rtol=0
    )


check_block_parameters, check_block_parameters_hidden = checks.exercise(
    EXERCISES["block_parameters"],
    "block_parameters",
    case=checks.literal_case,
    # The identity block of 16 channels and the projection block 16 -> 32.
    public=[((16, 16, 1), {}), ((16, 32, 2), {})],
    # Stride 1 with a channel change, a wide identity block, a wide projection.
    hidden=[((8, 24, 1), {}), ((64, 64, 1), {}), ((32, 64, 2), {})],
    judge=checks.each_case(_judge_parameters),
    passed="4,672 parameters for the 16-channel identity block, 14,528 for the 16 -> 32 "
    "projection block.",
    hidden_passed="block_parameters is right on {count} hidden cases.",
)
