"""The checks of topic 05 accept every correct block and name each classic mistake."""

import check_harness
import keras
import pytest

from course_utils.checks import resnet_blocks as checks_resnet
from course_utils.lectures import resnet_blocks as resnet


def expect_failure(check, answer, exercise, hint):
    """The check fails with one line naming the hint, in the notebook and when graded."""
    message = check_harness.fails_with(check, answer, hint)
    assert message.startswith(f"Exercise {exercise}: "), message


# ---- building pieces for right and wrong blocks ----


def conv(filters, kernel_size=3, strides=1, use_bias=False, padding="same"):
    """A Conv2D as the blocks use it."""
    return keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias
    )


def bn():
    """A BatchNormalization layer."""
    return keras.layers.BatchNormalization()


def relu(x):
    """ReLU through a layer."""
    return keras.layers.ReLU()(x)


def path(x, filters, strides=1, inner_relu=True, relu_first=False, late_stride=False):
    """The two-convolution residual path, optionally with a mistake."""
    y = conv(filters, strides=1 if late_stride else strides)(x)
    if relu_first:
        y = bn()(relu(y))
    else:
        y = bn()(y)
        y = relu(y) if inner_relu else y
    return bn()(conv(filters, strides=strides if late_stride else 1)(y))


# ---- identity blocks ----


def identity_functional(x, filters):
    """The course's own block."""
    return resnet.identity_block(x, filters)


def identity_sequential(x, filters):
    """Residual path as a Sequential, shortcut first in Add, Activation layers, conv biases."""
    residual = keras.Sequential(
        [
            keras.layers.Conv2D(filters, 3, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.Conv2D(filters, (3, 3), padding="same"),
            keras.layers.BatchNormalization(),
        ]
    )
    return keras.layers.Activation("relu")(keras.layers.Add()([x, residual(x)]))


def identity_ops(x, filters):
    """Operators and keras.ops instead of layers."""
    y = keras.ops.relu(bn()(conv(filters)(x)))
    y = bn()(conv(filters)(y))
    return keras.ops.relu(y + x)


def identity_after_relu(x, filters):
    """Mistake: the shortcut is added after the final ReLU."""
    return relu(path(x, filters)) + x


def identity_no_final_relu(x, filters):
    """Mistake: no ReLU after the addition."""
    return keras.layers.Add()([path(x, filters), x])


def identity_no_shortcut(x, filters):
    """Mistake: a plain block."""
    return relu(path(x, filters))


def identity_no_inner_relu(x, filters):
    """Mistake: no ReLU between the convolutions."""
    return relu(path(x, filters, inner_relu=False) + x)


def identity_relu_before_bn(x, filters):
    """Mistake: conv, ReLU, batch norm."""
    return relu(path(x, filters, relu_first=True) + x)


def identity_inner_shortcut(x, filters):
    """Mistake: the shortcut is taken after the first convolution."""
    hidden = relu(bn()(conv(filters)(x)))
    return relu(bn()(conv(filters)(hidden)) + hidden)


def identity_one_conv(x, filters):
    """Mistake: a single convolution."""
    return relu(bn()(conv(filters)(x)) + x)


def identity_valid_padding(x, filters):
    """Mistake: valid padding shrinks the residual, so the addition fails."""
    y = relu(bn()(conv(filters, padding="valid")(x)))
    y = bn()(conv(filters, padding="valid")(y))
    return relu(y + x)


def identity_no_batch_norm(x, filters):
    """Mistake: no batch norm."""
    return relu(conv(filters)(relu(conv(filters)(x))) + x)


def identity_returns_model(x, filters):
    """Mistake: returns a Model, not the output tensor."""
    return keras.Model(x, resnet.identity_block(x, filters))


@pytest.mark.parametrize("block", [identity_functional, identity_sequential, identity_ops])
def test_identity_check_accepts_every_correct_block(block, capsys):
    assert check_harness.passes(checks_resnet.check_identity_block, block)
    assert check_harness.passes(checks_resnet.check_identity_block_hidden, block)
    assert "Exercise 1 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "block, hint",
    [
        (identity_after_relu, "added after the final ReLU"),
        (identity_no_final_relu, "ends without a ReLU"),
        (identity_no_shortcut, "shortcut is missing"),
        (identity_no_inner_relu, "no ReLU between the two convolutions"),
        (identity_relu_before_bn, "ReLU comes before batch normalisation"),
        (identity_inner_shortcut, "comes from inside the block"),
        (identity_one_conv, "should have convolutions 3x3 (8->8), 3x3 (8->8); found 3x3 (8->8)"),
        (identity_valid_padding, "must have the same shape"),
        (identity_no_batch_norm, "found 0 BatchNormalization"),
        (identity_returns_model, "should return the output tensor"),
    ],
)
def test_identity_check_names_each_mistake(block, hint):
    expect_failure(checks_resnet.check_identity_block, block, 1, hint)


def test_unfinished_exercise_is_not_turned_into_a_hint():
    def unfinished(x, filters):
        raise NotImplementedError("Exercise 1: write the body of identity_block().")

    with pytest.raises(NotImplementedError):
        checks_resnet.check_identity_block(unfinished)


# ---- projection blocks ----


def projection_functional(x, filters, strides):
    """The course's own block (projection with batch norm)."""
    return resnet.projection_block(x, filters, strides)


def projection_without_shortcut_bn(x, filters, strides):
    """A projection without its own batch norm, shortcut first in Add: also right."""
    shortcut = conv(filters, 1, strides)(x)
    return keras.layers.ReLU()(keras.layers.Add()([shortcut, path(x, filters, strides)]))


def projection_sequential(x, filters, strides):
    """The whole residual path and the projection as Sequential models."""
    residual = keras.Sequential(
        [
            conv(filters, 3, strides),
            bn(),
            keras.layers.ReLU(),
            conv(filters),
            bn(),
        ]
    )
    projection = keras.Sequential([conv(filters, 1, strides, use_bias=True), bn()])
    return keras.ops.relu(residual(x) + projection(x))


def projection_missing(x, filters, strides):
    """Mistake: identity shortcut although shapes change."""
    return relu(path(x, filters, strides) + x)


def projection_without_stride(x, filters, strides):
    """Mistake: the projection forgets the stride."""
    return relu(path(x, filters, strides) + bn()(conv(filters, 1)(x)))


def projection_three_by_three(x, filters, strides):
    """Mistake: a 3x3 projection."""
    return relu(path(x, filters, strides) + bn()(conv(filters, 3, strides)(x)))


def projection_late_stride(x, filters, strides):
    """Mistake: the stride is on the second convolution."""
    shortcut = bn()(conv(filters, 1, strides)(x))
    return relu(path(x, filters, strides, late_stride=True) + shortcut)


def projection_after_relu(x, filters, strides):
    """Mistake: the shortcut is added after the final ReLU."""
    return relu(path(x, filters, strides)) + bn()(conv(filters, 1, strides)(x))


@pytest.mark.parametrize(
    "block", [projection_functional, projection_without_shortcut_bn, projection_sequential]
)
def test_projection_check_accepts_every_correct_block(block, capsys):
    assert check_harness.passes(checks_resnet.check_projection_block, block)
    assert check_harness.passes(checks_resnet.check_projection_block_hidden, block)
    assert "Exercise 2 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "block, hint",
    [
        (projection_missing, "project the shortcut with a 1x1 Conv2D"),
        (projection_without_stride, "project the shortcut with a 1x1 Conv2D"),
        (projection_three_by_three, "1x1 convolution, not 3x3"),
        (projection_late_stride, "stride is on the second convolution"),
        (projection_after_relu, "added after the final ReLU"),
    ],
)
def test_projection_check_names_each_mistake(block, hint):
    expect_failure(checks_resnet.check_projection_block, block, 2, hint)


# ---- stages ----


def stage_right(x, filters, blocks, strides):
    """First block takes the stride (and a projection if needed), the rest are identity."""
    for index in range(blocks):
        x = resnet.residual_block(x, filters, strides if index == 0 else 1)
    return x


def stage_explicit(x, filters, blocks, strides):
    """The same with an explicit test of the shapes."""
    if strides != 1 or x.shape[-1] != filters:
        x = resnet.projection_block(x, filters, strides)
    else:
        x = resnet.identity_block(x, filters)
    for _ in range(blocks - 1):
        x = resnet.identity_block(x)
    return x


def stage_projection_everywhere(x, filters, blocks, strides):
    """Mistake: every block projects."""
    for index in range(blocks):
        x = resnet.projection_block(x, filters, strides if index == 0 else 1)
    return x


def stage_stride_everywhere(x, filters, blocks, strides):
    """Mistake: every block strides."""
    for _ in range(blocks):
        x = resnet.residual_block(x, filters, strides)
    return x


def stage_projection_only_for_stride(x, filters, blocks, strides):
    """Mistake: a projection only when the stride changes (not the channels)."""
    x = (
        resnet.projection_block(x, filters, strides)
        if strides != 1
        else resnet.identity_block(x, x.shape[-1])
    )
    for _ in range(blocks - 1):
        x = resnet.identity_block(x)
    return x


def stage_plain(x, filters, blocks, strides):
    """Mistake: plain blocks, no shortcuts."""
    for index in range(blocks):
        x = resnet.plain_block(x, filters, strides if index == 0 else 1)
    return x


def stage_one_block_short(x, filters, blocks, strides):
    """Mistake: range(1, blocks) loses a block."""
    x = resnet.residual_block(x, filters, strides)
    for _ in range(1, blocks - 1):
        x = resnet.identity_block(x)
    return x


@pytest.mark.parametrize("stage", [stage_right, stage_explicit])
def test_stage_check_accepts_correct_stages(stage, capsys):
    assert check_harness.passes(checks_resnet.check_residual_stage, stage)
    assert check_harness.passes(checks_resnet.check_residual_stage_hidden, stage)
    assert "Exercise 3 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "stage, hint",
    [
        (stage_projection_everywhere, "only a block that changes the channels or the stride"),
        (stage_stride_everywhere, "only the first block strides"),
        (stage_plain, "are the shortcuts missing"),
        (stage_one_block_short, "call a block function once per block"),
    ],
)
def test_stage_check_names_each_mistake(stage, hint):
    expect_failure(checks_resnet.check_residual_stage, stage, 3, hint)


def test_stage_hidden_check_catches_a_missing_projection_when_only_channels_change():
    # The visible cases pass; the hidden one changes the channels at stride 1.
    assert check_harness.passes(
        checks_resnet.check_residual_stage, stage_projection_only_for_stride
    )
    expect_failure(
        checks_resnet.check_residual_stage_hidden,
        stage_projection_only_for_stride,
        3,
        "changes the channels to `filters`, with a 1x1",
    )


# ---- parameter counts ----


def parameters_right(in_channels, filters, strides):
    """Counted layer by layer."""
    total = 9 * in_channels * filters + 2 * filters  # first conv and its batch norm
    total += 9 * filters * filters + 2 * filters  # second conv and its batch norm
    if strides > 1 or in_channels != filters:
        total += in_channels * filters + 2 * filters  # 1x1 projection and its batch norm
    return total


def with_biases(in_channels, filters, strides):
    """Mistake: counts conv biases."""
    project = strides > 1 or in_channels != filters
    return parameters_right(in_channels, filters, strides) + (3 if project else 2) * filters


def with_moving_statistics(in_channels, filters, strides):
    """Mistake: counts the moving mean and variance."""
    project = strides > 1 or in_channels != filters
    return parameters_right(in_channels, filters, strides) + (3 if project else 2) * 2 * filters


def without_batch_norm(in_channels, filters, strides):
    """Mistake: leaves out gamma and beta."""
    project = strides > 1 or in_channels != filters
    return parameters_right(in_channels, filters, strides) - (3 if project else 2) * 2 * filters


def without_projection(in_channels, filters, strides):
    """Mistake: forgets the projection."""
    return 9 * in_channels * filters + 9 * filters * filters + 4 * filters


def projection_always(in_channels, filters, strides):
    """Mistake: projects even in an identity block."""
    return without_projection(in_channels, filters, strides) + in_channels * filters + 2 * filters


def three_by_three_projection(in_channels, filters, strides):
    """Mistake: a 3x3 projection."""
    extra = 8 * in_channels * filters if strides > 1 or in_channels != filters else 0
    return parameters_right(in_channels, filters, strides) + extra


def second_conv_from_input(in_channels, filters, strides):
    """Mistake: the second convolution counted from in_channels."""
    right = parameters_right(in_channels, filters, strides)
    return right - 9 * filters * filters + 9 * in_channels * filters


def returns_float_string(in_channels, filters, strides):
    """Mistake: a string."""
    return str(parameters_right(in_channels, filters, strides))


def test_parameter_check_accepts_right_counts(capsys):
    assert check_harness.passes(checks_resnet.check_block_parameters, parameters_right)
    assert check_harness.passes(checks_resnet.check_block_parameters_hidden, parameters_right)
    assert check_harness.passes(
        checks_resnet.check_block_parameters, lambda *a: float(parameters_right(*a))
    )
    assert "Exercise 4 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "function, hint",
    [
        (with_biases, "counted convolution biases"),
        (with_moving_statistics, "moving mean and variance"),
        (without_batch_norm, "left out batch norm's gamma and beta"),
        (without_projection, "the projection is missing"),
        (three_by_three_projection, "1x1 convolution, not 3x3"),
        (second_conv_from_input, "maps filters to filters channels"),
        (returns_float_string, "should be an integer"),
    ],
)
def test_parameter_check_names_each_mistake(function, hint):
    expect_failure(checks_resnet.check_block_parameters, function, 4, hint)


def test_parameter_check_catches_a_projection_in_an_identity_block():
    expect_failure(
        checks_resnet.check_block_parameters,
        projection_always,
        4,
        "only needed when the channels or the stride change",
    )


def test_a_block_with_a_lambda_layer_is_refused_not_run():
    """The judge rebuilds the block from Keras' own classes only: a Lambda is named, not run."""

    def identity_lambda(x, filters):
        return keras.layers.Lambda(lambda y: y)(resnet.identity_block(x, filters))

    expect_failure(checks_resnet.check_identity_block, identity_lambda, 1, "no Lambda")
