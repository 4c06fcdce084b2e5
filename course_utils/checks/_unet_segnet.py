"""Topic 06's check of a SegNet decoder stage (exercise 5): unpool with the switches, convolve.

The stage uses topic 02's unpooling layer, which the grader cannot rebuild (it is not one of
Keras' own classes), so the probe runs the student's stage where it was built, on fixed inputs
and with the case's kernel installed, and returns plain arrays: the layers' names, the kernels'
shapes and the output. The judge compares the output with unpooling computed as the gradient of
max pooling, then the convolution and ReLU, and with the lecture's hand-worked 4x4 case.
"""

import numpy as np

from course_utils import checks
from course_utils.checks import _unet_levels as levels
from course_utils.checks import plain

# TensorFlow is imported inside functions: a solutions notebook imports this module before
# config.setup(), which must run before TensorFlow loads.


# ---- Exercise 5: a SegNet decoder stage ----

# The lecture's example (topic 02): a 4x4 map, its 2x2 max pooling, and the unpooled pooled
# values, worked by hand (the first of tied values keeps its switch).
LECTURE_MAP = [[4, 4, 6, 8], [0, 1, 7, 8], [2, 2, 7, 3], [2, 7, 2, 3]]
LECTURE_UNPOOLED = [[4, 0, 0, 8], [0, 0, 0, 0], [0, 0, 7, 0], [0, 7, 0, 0]]
STAGE_HINT = (
    "unpool x with topic 02's MaxUnpooling2D()(x, switches, like), then one 3x3 Conv2D with "
    "padding='same' and a ReLU."
)


def stage_inputs(key):
    """``key``: "lecture", or ``(batch, height, width, channels, filters, seed)``.

    Returns ``(x, switches, like, filters, kernel)``: ``like`` the encoder's map, its switches,
    ``x`` the values coming up from below (pooled size) and the kernel the probe installs.
    """
    import tensorflow as tf

    if key == "lecture":
        like = np.array(LECTURE_MAP, np.float32)[None, :, :, None]
        kernel = np.zeros((3, 3, 1, 1), np.float32)
        kernel[1, 1, 0, 0] = 1.0  # the identity: the output is the unpooled map itself
        x, switches = tf.nn.max_pool_with_argmax(like, 2, 2, "VALID", include_batch_in_index=True)
        return np.asarray(x), np.asarray(switches), like, 1, kernel
    batch, height, width, channels, filters, seed = key
    rng = np.random.default_rng(seed)
    like = rng.normal(0, 1, (batch, height, width, channels)).astype(np.float32)
    _, switches = tf.nn.max_pool_with_argmax(like, 2, 2, "VALID", include_batch_in_index=True)
    x = rng.normal(0, 1, (batch, height // 2, width // 2, channels)).astype(np.float32)
    kernel = rng.normal(0, 0.5, (3, 3, channels, filters)).astype(np.float32)
    return x, np.asarray(switches), like, filters, kernel


def stage_case(key):
    """The stage's inputs for one key (the kernel is the probe's, see :func:`stage_inputs`)."""
    x, switches, like, filters, _ = stage_inputs(key)
    return checks.Case((x, switches, like, filters), {}, key)


def probe_segnet_stage(exercise, function, case):
    """The stage's layers and its output on the case's inputs, with the case's kernel installed.

    Topic 02's unpooling layer is not one of Keras' own, so the grader could not rebuild the
    model: the probe runs it here, on fixed inputs and weights, and returns plain arrays.
    """
    import keras

    x, switches, like, filters = case.args
    inputs = [
        keras.Input(x.shape[1:], name="x"),
        keras.Input(switches.shape[1:], dtype="int64", name="switches"),
        keras.Input(like.shape[1:], name="like"),
    ]
    model = checks.run_builder(
        exercise,
        function,
        inputs,
        filters,
        what="segnet_decoder_stage(x, switches, like, filters)",
        shape_hint=STAGE_HINT,
    )
    if isinstance(model, plain.Crashed):
        return model
    kernel = stage_inputs(case.key)[4]
    convolutions = levels.convs(model)
    for layer in convolutions:
        if tuple(layer.kernel.shape) == kernel.shape:
            layer.kernel.assign(kernel)
        if layer.use_bias:
            layer.bias.assign(np.zeros(layer.bias.shape))
    levels.identity_batch_norms(model)
    output = checks.run(exercise, lambda: model([x, switches, like], training=False))
    if isinstance(output, plain.Crashed):
        return plain.Crashed(
            f"running the stage on {x.shape} values up from below: {output.message}"
        )
    return {
        "layers": [type(layer).__name__ for layer in checks.flat_layers(model)],
        "kernels": [list(layer.kernel.shape) for layer in convolutions],
        "output": np.asarray(output),
    }


def unpool_by_gradient(x, like):
    """Max unpooling computed as the gradient of max pooling: d/d like of sum(maxpool(like) x)."""
    import tensorflow as tf

    like = tf.constant(like)
    with tf.GradientTape() as tape:
        tape.watch(like)
        total = tf.reduce_sum(tf.nn.max_pool2d(like, 2, 2, "VALID") * x)
    return tape.gradient(total, like).numpy()


def _stage_mistakes(x, like, kernel):
    """What the classic wrong stages compute, each with its hint."""
    unpooled = unpool_by_gradient(x, like)
    height, width = 2 * x.shape[1], 2 * x.shape[2]  # an odd row or column of like is not pooled
    corner = np.zeros_like(like)
    corner[:, :height:2, :width:2] = x
    nearest = np.zeros_like(like)
    nearest[:, :height, :width] = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    mistakes = {
        "no ReLU after the convolution.": levels.conv(unpooled, kernel),
        "every value was copied to its whole 2x2 window (nearest upsampling): unpooling puts "
        "it only where the maximum was, at its switch, and zeros elsewhere.": levels.relu(
            levels.conv(nearest, kernel)
        ),
        "every value went to the top-left corner of its window: the switches say where the "
        "maximum was; unpool with them.": levels.relu(levels.conv(corner, kernel)),
        "the encoder's map was added to the unpooled one: SegNet passes only the switches; "
        "`like` gives the size, not values.": levels.relu(levels.conv(unpooled + like, kernel)),
    }
    if kernel.shape[2] == kernel.shape[3]:
        first = levels.relu(levels.conv(x, kernel))
        mistakes["convolved before unpooling: unpool first, then convolve the unpooled map."] = (
            unpool_by_gradient(first, like)
        )
    return mistakes


def _stage_structure(exercise, output, kernel):
    """Fail on a stage that does not unpool and convolve once with the expected kernel."""
    layers, kernels = output.get("layers", []), [tuple(k) for k in output.get("kernels", [])]
    if any("Transpose" in name for name in layers):
        checks.fail(
            exercise,
            "a transposed convolution learns to upsample; SegNet's decoder unpools with the "
            "encoder's switches instead (MaxUnpooling2D), then convolves.",
        )
    if "UpSampling2D" in layers:
        checks.fail(
            exercise,
            "UpSampling2D copies every value to its whole window; unpool with the encoder's "
            "switches (MaxUnpooling2D), which puts each value where the maximum was.",
        )
    if "Concatenate" in layers:
        checks.fail(
            exercise,
            "the encoder's map was concatenated: that is U-Net; SegNet passes only the "
            "switches, and `like` gives the size.",
        )
    if kernels != [kernel.shape]:
        described = ", ".join(f"{k[0]}x{k[1]} ({k[2]}->{k[3]})" for k in kernels) or "none"
        wanted = f"{kernel.shape[0]}x{kernel.shape[1]} ({kernel.shape[2]}->{kernel.shape[3]})"
        checks.fail(
            exercise,
            f"expected one 3x3 convolution {wanted} after unpooling; found {described}.",
        )


def judge_segnet_stage(exercise, case, output):
    """The stage against unpooling by the gradient of max pooling (and the hand-worked case)."""
    if not isinstance(output, dict):
        checks.fail(exercise, "the recorded outputs do not match the check's cases.")
    x, _, like, filters = case.args
    kernel = stage_inputs(case.key)[4]
    _stage_structure(exercise, output, kernel)
    actual = checks.as_array(exercise, output.get("output"), "the stage's output", ndim=4)
    wanted = (like.shape[0], like.shape[1], like.shape[2], filters)
    if actual.shape != wanted:
        checks.fail(
            exercise,
            f"expected an output of shape {wanted} (like's size, {filters} filters), got "
            f"{actual.shape}: {STAGE_HINT}",
        )
    if case.key == "lecture":
        expected = np.array(LECTURE_UNPOOLED, np.float64)[None, :, :, None]
        context = "the lecture's 4x4 example with an identity kernel: "
    else:
        expected = levels.relu(levels.conv(unpool_by_gradient(x, like), kernel))
        context = "against the gradient of max pooling: "
    checks.diagnose(
        exercise,
        actual,
        expected,
        _stage_mistakes(x, like, kernel),
        context=context,
        atol=1e-4,
        rtol=1e-4,
    )


STAGE_KEYS = ["lecture", (2, 8, 8, 3, 4, 21)]
STAGE_KEYS_HIDDEN = [(3, 6, 10, 2, 2, 22), (1, 8, 4, 5, 3, 23), (2, 7, 6, 2, 3, 24)]
