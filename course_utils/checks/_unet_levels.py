"""Topic 06's checks of the U-Net levels (exercises 1 and 2): probes, independent answers, judges.

The probe only builds a model around the student's level; the judge, on that model rebuilt from
its architecture and weights, gives its convolutions random kernels and every batch norm the
identity, and compares with the level computed independently (TensorFlow's convolution and
pooling), so a level written with or without batch norm, with layers or ``keras.ops``, passes.
"""

import numpy as np

from course_utils import checks
from course_utils.checks import model_judge, plain

# Keras and TensorFlow are imported inside functions: a solutions notebook imports this module
# before config.setup(), which must run before TensorFlow loads.

LEVEL_SHAPE_HINT = (
    "concatenate the upsampled map and the skip on the channel axis (axis=-1) after upsampling "
    "x by 2."
)


# ---- helpers of the level judges ----


def convs(model):
    """The Conv2D layers of a model, in order (not transposed convolutions)."""
    import keras

    return [layer for layer in checks.flat_layers(model) if isinstance(layer, keras.layers.Conv2D)]


def identity_batch_norms(model):
    """Make every batch norm the identity in inference mode."""
    import keras

    for layer in checks.flat_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            for weight, value in (
                (layer.gamma, 1.0),
                (layer.beta, 0.0),
                (layer.moving_mean, 0.0),
                # variance 1 - epsilon makes the normalisation exactly the identity.
                (layer.moving_variance, 1.0 - layer.epsilon),
            ):
                if weight is not None:
                    weight.assign(np.full(weight.shape, value))


def _random_kernels(model, seed):
    """Random kernels and zero biases for every convolution; returns the kernels in order."""
    rng = np.random.default_rng(seed)
    kernels = []
    for layer in convs(model):
        fan_in = np.prod(layer.kernel.shape[:-1])
        kernel = rng.normal(0, np.sqrt(2 / fan_in), layer.kernel.shape).astype(np.float32)
        layer.kernel.assign(kernel)
        if layer.use_bias:
            layer.bias.assign(np.zeros(layer.bias.shape))
        kernels.append(kernel)
    identity_batch_norms(model)
    return kernels


def conv(x, kernel):
    """Same-padded stride-1 convolution (TensorFlow, not the student)."""
    import tensorflow as tf

    return tf.nn.conv2d(np.asarray(x, np.float32), kernel, strides=1, padding="SAME").numpy()


def _pool(x, kind="max"):
    """2x2 pooling with stride 2."""
    import tensorflow as tf

    op = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d
    return op(np.asarray(x, np.float32), 2, 2, "VALID").numpy()


def relu(z):
    """ReLU."""
    return np.maximum(z, 0)


def each_level(judge_level):
    """A judge of all cases from ``judge_level(exercise, case, model)``, on each rebuilt model."""
    return model_judge.each_model(judge_level, built="level", result="the level's result")


def level_case(key):
    """``key = (input shapes, filters, seed)``: the level's inputs (the seed is the judge's)."""
    shapes, filters, _seed = key
    return checks.Case((tuple(tuple(shape) for shape in shapes), filters), {}, key)


# ---- Exercise 1: an encoder level ----


def probe_encoder(exercise, function, case):
    """The student's level on a symbolic input: a model with outputs (skip, down), or a hint."""
    import keras

    (shape,), filters = case.args
    inputs = keras.Input(shape)
    result = checks.run(exercise, function, inputs, filters)
    if isinstance(result, plain.Crashed):
        return plain.Crashed(f"encoder_level(x, filters) failed: {result.message}")
    tensors = list(result) if isinstance(result, tuple | list) else [result]
    if len(tensors) != 2 or not all(isinstance(t, keras.KerasTensor) for t in tensors):
        return plain.Crashed(
            "return two tensors, (skip, down): the features before pooling and the pooled features."
        )
    return keras.Model(inputs, tensors)


def _encoder_shapes(exercise, model, shape, filters):
    """Fail on wrong output shapes, naming swapped or pooled skips."""
    height, width, channels = shape
    skip_shape = (None, height, width, filters)
    down_shape = (None, height // 2, width // 2, filters)
    shapes = tuple(tuple(tensor.shape) for tensor in model.outputs)
    if shapes == (down_shape, skip_shape):
        checks.fail(
            exercise,
            "(skip, down) are swapped: return the full-resolution features first, then the "
            "pooled ones.",
        )
    if shapes == (down_shape, down_shape):
        checks.fail(
            exercise,
            "the skip is pooled: take the skip before pooling, at full resolution, so the "
            "decoder gets back the detail pooling throws away.",
        )
    if shapes != (skip_shape, down_shape):
        checks.fail(
            exercise,
            f"from {tuple(shape)} with filters={filters} expected skip {skip_shape} and down "
            f"{down_shape}, got {shapes[0]} and {shapes[1]}: two 3x3 convolutions with "
            f"padding='same', then MaxPooling2D(2).",
        )


def judge_encoder(exercise, case, model):
    """One contracting level: shapes, two 3x3 convolutions, then the values it computes."""
    ((shape,), filters), seed = case.args, case.key[-1]
    _encoder_shapes(exercise, model, shape, filters)
    kernel_shapes = [tuple(layer.kernel.shape) for layer in convs(model)]
    wanted = [(3, 3, shape[-1], filters), (3, 3, filters, filters)]
    if kernel_shapes != wanted:
        checks.fail(
            exercise,
            f"expected two 3x3 convolutions ({shape[-1]}->{filters}, {filters}->{filters}), "
            f"found kernels {kernel_shapes}.",
        )
    first, second = _random_kernels(model, seed)
    x = np.random.default_rng(seed).normal(0, 1, (2, *shape)).astype("float32")
    skip, down = (np.asarray(a, dtype=np.float64) for a in model(x, training=False))
    expected = relu(conv(relu(conv(x, first)), second))
    mistakes = {
        "no ReLU after the second convolution.": conv(relu(conv(x, first)), second),
        "no ReLU after the first convolution.": relu(conv(conv(x, first), second)),
    }
    checks.diagnose(exercise, skip, expected, mistakes, context="the skip: ", atol=1e-3, rtol=1e-3)
    average = {"average pooling: U-Net pools with the maximum.": _pool(expected, "avg")}
    checks.diagnose(
        exercise, down, _pool(expected), average, "the pooled output: ", atol=1e-3, rtol=1e-3
    )


ENCODER_KEYS = [(((16, 16, 1),), 8, 1)]
ENCODER_KEYS_HIDDEN = [(((8, 12, 3),), 16, 11), (((6, 6, 5),), 4, 12)]


# ---- Exercise 2: a decoder level ----


def probe_decoder(exercise, function, case):
    """The student's level on symbolic (x, skip): the model, or a one-line hint."""
    import keras

    (x_shape, skip_shape), filters = case.args
    return checks.run_builder(
        exercise,
        function,
        [keras.Input(x_shape), keras.Input(skip_shape)],
        filters,
        what="decoder_level(x, skip, filters)",
        shape_hint=LEVEL_SHAPE_HINT,
    )


def _decoder_shape(exercise, model, x_shape, filters):
    """Fail on a wrong output shape, naming the axis the maps were joined on."""
    height, width = x_shape[:2]
    wanted = (None, 2 * height, 2 * width, filters)
    got = tuple(model.output.shape)
    if got == wanted:
        return
    hint = "upsample x by 2, concatenate with the skip on channels, two 3x3 convolutions."
    if got[1:3] == (4 * height, 2 * width):
        hint = "the maps were concatenated along the height (axis=1): use axis=-1, channels."
    elif got[1:3] == (2 * height, 4 * width):
        hint = "the maps were concatenated along the width (axis=2): use axis=-1, channels."
    checks.fail(exercise, f"expected an output of shape {wanted}, got {got}: {hint}")


def judge_decoder(exercise, case, model):
    """One expanding level: shape, concatenation on channels, two 3x3 convolutions, wiring."""
    ((x_shape, skip_shape), filters), seed = case.args, case.key[-1]
    _decoder_shape(exercise, model, x_shape, filters)
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (2, *x_shape)).astype("float32")
    skip = rng.normal(0, 1, (2, *skip_shape)).astype("float32")
    result = np.asarray(model([x, skip], training=False))
    if result.shape[0] != 2:
        checks.fail(
            exercise,
            f"2 examples in gave {result.shape[0]} out: the maps were concatenated along the "
            f"batch axis (axis=0): use axis=-1.",
        )
    three = [tuple(layer.kernel.shape) for layer in convs(model) if layer.kernel.shape[0] == 3]
    if not [shape for shape in three if shape[2] > skip_shape[-1]]:
        checks.fail(
            exercise,
            f"no 3x3 convolution reads more than the skip's {skip_shape[-1]} channels: the skip "
            f"was added (FCN style); U-Net concatenates it with the upsampled map (axis=-1).",
        )
    if len(three) != 2 or three[-1][3] != filters:
        checks.fail(
            exercise,
            f"after concatenating, a decoder level has two 3x3 convolutions with {filters} "
            f"filters; found 3x3 kernels {three}.",
        )
    _check_skip_alignment(exercise, model, np.abs(x), np.abs(skip), seed)


def _positive_weights(model, seed):
    """Positive kernels and biases: on positive inputs every ReLU stays active."""
    rng = np.random.default_rng(seed)
    for layer in checks.flat_layers(model):
        if getattr(layer, "kernel", None) is None:
            continue
        layer.kernel.assign(np.abs(rng.normal(0, 0.1, layer.kernel.shape)).astype("float32"))
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(np.full(layer.bias.shape, 0.1, "float32"))
    identity_batch_norms(model)


def _check_skip_alignment(exercise, model, x, skip, seed):
    """The skip must reach the output where it was: a change at one pixel stays near it."""
    import tensorflow as tf

    # Random kernels can leave every unit near the centre dead, and a zero gradient would blame
    # a correct level; positive weights on positive inputs keep them all active (whatever the
    # seed), so only the wiring is probed. The model is the judge's rebuilt copy.
    _positive_weights(model, seed)
    skip_variable = tf.Variable(skip)
    with tf.GradientTape() as tape:
        output = model([tf.constant(x), skip_variable], training=False)
        centre_row, centre_col = output.shape[1] // 2, output.shape[2] // 2
        total = tf.reduce_sum(output[0, centre_row, centre_col, :])
    gradient = tape.gradient(total, skip_variable)
    if gradient is None or not np.any(np.asarray(gradient)):
        checks.fail(exercise, "the output does not depend on the skip: concatenate it.")
    rows, cols = np.nonzero(np.abs(np.asarray(gradient[0])).sum(axis=-1))
    # Two 3x3 convolutions after the merge: the skip's influence is the 5x5 window around it.
    if (
        rows.min() < centre_row - 2
        or rows.max() > centre_row + 2
        or cols.min() < centre_col - 2
        or cols.max() > centre_col + 2
    ):
        checks.fail(
            exercise,
            "an output pixel depends on skip pixels more than 2 away: the skip must be "
            "concatenated as it is, aligned with the upsampled map.",
        )


DECODER_KEYS = [(((4, 4, 16), (8, 8, 8)), 8, 4)]
DECODER_KEYS_HIDDEN = [(((3, 5, 32), (6, 10, 16)), 16, 3), (((4, 4, 8), (8, 8, 12)), 4, 5)]
