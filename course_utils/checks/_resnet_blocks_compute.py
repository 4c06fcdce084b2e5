"""Topic 05's checks: the probe that builds the student's block, and its output computed
independently of the student's code.

Every batch norm is set to one known affine map and every convolution to seeded random kernels;
the block is then recomputed with TensorFlow's convolution and NumPy, and each catalogued mistake
(a ReLU in the wrong place, a missing shortcut, an unprojected shortcut) computed alike, so that
a wrong output is named by the mistake that reproduces it. Used by
:mod:`course_utils.checks.resnet_blocks`.
"""

import numpy as np

from course_utils import checks

# The affine map every batch norm is set to: a shift that is not zero makes its place matter.
BN_SCALE, BN_SHIFT = 1.5, -0.2


def shape_hint(input_shape, arguments):
    """What to say when adding the shortcut fails: the shortcut and the residual disagree."""
    return (
        f"for an input of shape {tuple(input_shape)} and arguments {tuple(arguments)}, the "
        f"shortcut and the residual path must have the same shape; when the channels or the "
        f"stride change, project the shortcut with a 1x1 Conv2D with those filters and strides."
    )


def builder_case(key):
    """``key = (input_shape, *arguments, seed)``: the block's inputs (the seed is the judge's)."""
    input_shape, *arguments, _seed = key
    return checks.Case((tuple(input_shape), *arguments), {}, key)


def probe_builder(what):
    """A probe that calls the student's block on a symbolic input of the case's shape."""

    def probe(exercise, function, case):
        import keras

        input_shape, *arguments = case.args
        return checks.run_builder(
            exercise,
            function,
            keras.Input(input_shape),
            *arguments,
            what=what,
            shape_hint=shape_hint(input_shape, arguments),
        )

    return probe


def kernels(model):
    """The convolution layers of a model, in order, with their kernels."""
    import keras

    return [layer for layer in checks.flat_layers(model) if isinstance(layer, keras.layers.Conv2D)]


def batch_norms(model):
    """The batch-normalisation layers of a model."""
    import keras

    return [
        layer
        for layer in checks.flat_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def count_convs(exercise, model, wanted, what):
    """Fail unless the model's convolution kernels have exactly the wanted shapes."""
    shapes = sorted(tuple(layer.kernel.shape) for layer in kernels(model))
    if shapes == sorted(wanted):
        return
    sizes = [f"{s[0]}x{s[1]} ({s[2]}->{s[3]})" for s in shapes]
    found = ", ".join(sizes) or "none"
    checks.fail(exercise, f"{what} should have convolutions {describe(wanted)}; found {found}.")


def describe(shapes):
    """Kernel shapes as words: '3x3 (8->8), 3x3 (8->8)'."""
    return ", ".join(f"{s[0]}x{s[1]} ({s[2]}->{s[3]})" for s in sorted(shapes))


def check_batch_norms(exercise, model, allowed):
    """Fail unless the block has one batch norm per convolution (``allowed`` counts)."""
    count = len(batch_norms(model))
    if count not in allowed:
        checks.fail(
            exercise,
            f"found {count} BatchNormalization layers: put one after each convolution "
            f"(conv, batch norm, ReLU).",
        )


def set_weights(model, seed):
    """Random kernels, zero biases, every batch norm exactly ``BN_SCALE * z + BN_SHIFT``."""
    rng = np.random.default_rng(seed)
    for layer in kernels(model):
        fan_in = np.prod(layer.kernel.shape[:-1])
        layer.kernel.assign(rng.normal(0, np.sqrt(2 / fan_in), layer.kernel.shape))
        if layer.use_bias:
            layer.bias.assign(np.zeros(layer.bias.shape))
    for layer in batch_norms(model):
        for weight, value in (
            (layer.gamma, BN_SCALE),
            (layer.beta, BN_SHIFT),
            (layer.moving_mean, 0.0),
            # variance 1 - epsilon makes the normalisation exactly the identity in inference.
            (layer.moving_variance, 1.0 - layer.epsilon),
        ):
            if weight is not None:
                weight.assign(np.full(weight.shape, value))
    return [np.asarray(layer.kernel) for layer in kernels(model)]


def conv(x, kernel, strides=1):
    """Same-padded convolution of NHWC ``x`` with an HWIO kernel (TensorFlow, not the student)."""
    import tensorflow as tf

    return tf.nn.conv2d(x, kernel, strides=strides, padding="SAME").numpy()


def bn(z):
    """The batch norm the check installed."""
    return BN_SCALE * z + BN_SHIFT


def relu(z):
    """ReLU."""
    return np.maximum(z, 0)


def run(model, x):
    """The model's output in inference mode, as a float array."""
    return np.asarray(model(x, training=False), dtype=np.float64)


def residual_variants(x, first, second, strides=1):
    """The residual path, right and in each classic wrong form: name -> F(x)."""
    conv_a = conv(x, first, strides)
    hidden = relu(bn(conv_a))
    return {
        "right": bn(conv(hidden, second)),
        "no inner relu": bn(conv(bn(conv_a), second)),
        "relu before bn": bn(conv(bn(relu(conv_a)), second)),
        "hidden": hidden,
        "stride late": bn(conv(relu(bn(conv(x, first))), second, strides)),
    }


def block_mistakes(paths, shortcut):
    """Outputs of the classic wrong blocks, each with its one-line hint."""
    residual = paths["right"]
    return {
        "the shortcut is added after the final ReLU: add the input first, then apply the ReLU "
        "(ReLU(F(x) + x), not ReLU(F(x)) + x).": relu(residual) + shortcut,
        "the block ends without a ReLU: apply ReLU after adding the shortcut.": residual + shortcut,
        "the shortcut is missing: add the block's input to the residual path before the final "
        "ReLU.": relu(residual),
        "there is no ReLU between the two convolutions: conv, batch norm, ReLU, conv, batch "
        "norm.": relu(paths["no inner relu"] + shortcut),
        "ReLU comes before batch normalisation: the order is convolution, batch norm, ReLU.": relu(
            paths["relu before bn"] + shortcut
        ),
        "the shortcut comes from inside the block: add the block's input x, not the first "
        "convolution's output.": relu(residual + paths["hidden"]),
        "the stride is on the second convolution: put it on the first 3x3 convolution (and on "
        "the projection).": relu(paths["stride late"] + shortcut),
    }


def input(shape, seed):
    """A batch of two random inputs with negative values (so a missing ReLU shows)."""
    return np.random.default_rng(seed).normal(0, 1, (2, *shape)).astype(np.float32)


def zero_output(model, x):
    """The block's output once every convolution kernel and batch-norm shift is zero."""
    for layer in kernels(model):
        layer.kernel.assign(np.zeros(layer.kernel.shape))
    for layer in batch_norms(model):
        if layer.beta is not None:
            layer.beta.assign(np.zeros(layer.beta.shape))
    return run(model, x)


def output_shape(model):
    """The rebuilt model's output shape, batch axis as None."""
    return (None, *tuple(model.output.shape)[1:])
