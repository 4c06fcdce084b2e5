"""Cases, probes and judges of exercises 1, 2 and 6 of topic 04: networks built with Keras.

The bilinear upsampling weights (against ``tf.image.resize`` and the lecture's kernel), the
FCN-8s fusion (the student's rebuilt layers recomputed in NumPy) and the hypercolumns
(``tf.image.resize`` or the FCN's bilinear kernel, then concatenation). The exercises are made in
:mod:`course_utils.checks.fcn_vgg`; Keras is imported inside functions.
"""

import numpy as np

from course_utils import checks, oracle
from course_utils.checks import plain


def _bilinear_ramp(kernel_size):
    """The lecture's 1-D bilinear triangle."""
    from course_utils.lectures import fcn_vgg

    return fcn_vgg.bilinear_ramp(kernel_size)


# --- exercise 1: bilinear upsampling weights for Conv2DTranspose ---------------------------------

UPSAMPLING_KEYS = ((2, 3, 1), (8, 2, 2))  # (factor, classes, seed of the resize test)
UPSAMPLING_KEYS_HIDDEN = ((4, 5, 3), (16, 1, 4), (32, 2, 5))


def upsampling_case(key):
    """``upsampling_weights(factor, num_classes)``."""
    factor, channels, _ = key
    return checks.Case((factor, channels), {}, key)


def _ramp(size, centre, factor):
    """A 1-D triangle of ``size`` taps centred at ``centre`` with half-width ``factor``."""
    return np.clip(1 - np.abs(np.arange(size) - centre) / factor, 0, None)


def _weights_from_ramp(ramp, channels, diagonal=True):
    """(k, k, C, C) weights from a 1-D ramp: on the channel diagonal, or everywhere."""
    kernel2d = np.outer(ramp, ramp)
    if not diagonal:
        return np.broadcast_to(kernel2d[:, :, None, None], kernel2d.shape + (channels, channels))
    weights = np.zeros(kernel2d.shape + (channels, channels))
    weights[:, :, np.arange(channels), np.arange(channels)] = kernel2d[..., None]
    return weights


def _upsampling_mistakes(factor, channels):
    """Wrong weights of the upsampling exercise, each with its hint."""
    size = 2 * factor
    right = _bilinear_ramp(size)
    return {
        "every class feeds every class: put the kernel only where input channel == output "
        "channel (weights[:, :, c, c]), so class scores are upsampled, not mixed.": (
            _weights_from_ramp(right, channels, diagonal=False)
        ),
        "the kernel is off-centre: for an even size 2f its centre is f - 0.5 (between two taps), "
        "not f.": _weights_from_ramp(_ramp(size, factor, factor), channels),
        "the kernel is off-centre: for an even size 2f its centre is f - 0.5, not f - 1.": (
            _weights_from_ramp(_ramp(size, factor - 1, factor), channels)
        ),
        "the kernel sums to 1: bilinear weights are 1 - |distance| / factor, each output is "
        "already a weighted average, no normalising.": (
            _weights_from_ramp(right, channels) / np.outer(right, right).sum()
        ),
        "the triangle is twice too wide: its half-width is the factor f, not the kernel size "
        "2f.": _weights_from_ramp(_ramp(size, factor - 0.5, size), channels),
    }


def judge_upsampling_case(exercise, case, output):
    """One factor: shape, values, and the upsampled map against tf.image.resize."""
    import keras
    import tensorflow as tf

    factor, channels, seed = case.key
    weights = checks.as_array(exercise, output, "the weights", ndim=4)
    expected = _weights_from_ramp(_bilinear_ramp(2 * factor), channels)
    if weights.shape == (channels, channels, 2 * factor, 2 * factor) and channels != 2 * factor:
        checks.fail(
            exercise,
            f"shape {weights.shape}: Conv2DTranspose wants (kernel, kernel, channels, channels), "
            f"spatial axes first.",
        )
    if weights.shape[:2] == (factor, factor) and factor > 1:
        checks.fail(
            exercise,
            f"factor {factor}: the kernel has size {factor}; Conv2DTranspose with strides f needs "
            f"kernel_size 2f so that neighbouring stamps overlap and interpolate.",
        )
    checks.diagnose(
        exercise,
        weights,
        expected,
        _upsampling_mistakes(factor, channels),
        context=f"factor {factor}, {channels} classes: ",
        atol=1e-5,
    )
    scores = np.random.default_rng(seed).random((1, 5, 6, channels)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(
        channels, 2 * factor, strides=factor, padding="same", use_bias=False
    )
    layer.build(scores.shape)
    layer.kernel.assign(weights.astype(np.float32))
    upsampled = np.asarray(layer(scores))
    resized = tf.image.resize(scores, (5 * factor, 6 * factor), "bilinear").numpy()
    inner = slice(factor, -factor)
    if not np.allclose(upsampled[:, inner, inner], resized[:, inner, inner], atol=1e-4):
        checks.fail(exercise, "the upsampled map differs from tf.image.resize inside the border.")


# --- exercise 2: FCN-8s fusion -------------------------------------------------------------------

FUSION_SHAPE_HINT = (
    "score each skip with its own 1x1 Conv2D(num_classes) first, and upsample the coarser "
    "scores by 2 before adding."
)
FUSION_KEYS = ((64, (64, 128), 11, 7),)  # (image size, (maxp3, maxp4) channels, classes, seed)
FUSION_KEYS_HIDDEN = ((128, (32, 48), 3, 8),)
FUSION_INPUTS = ("scores5", "maxp4", "maxp3")


def _fusion_shapes(key):
    """The shapes of scores5 (stride 32), maxp4 (stride 16) and maxp3 (stride 8)."""
    size, (channels3, channels4), num_classes, _ = key
    return {
        "scores5": (size // 32, size // 32, num_classes),
        "maxp4": (size // 16, size // 16, channels4),
        "maxp3": (size // 8, size // 8, channels3),
    }


def fusion_case(key):
    """``fcn8s_fusion(scores5, maxp4, maxp3, num_classes)`` on Keras inputs of these shapes."""
    return checks.Case((_fusion_shapes(key), key[2]), {}, key)


def probe_fusion(exercise, function, case):
    """The student's fusion as a model from (scores5, maxp4, maxp3), or its crash."""
    import keras

    shapes, num_classes = case.args
    inputs = [keras.Input(shapes[name], name=name) for name in FUSION_INPUTS]
    return checks.run_builder(
        exercise,
        function,
        inputs,
        num_classes,
        what="fcn8s_fusion",
        shape_hint=FUSION_SHAPE_HINT,
    )


def _score(features, layer):
    """A 1x1 convolution computed in NumPy from the layer's own weights."""
    kernel = np.asarray(layer.kernel)[0, 0]
    bias = np.asarray(layer.bias) if layer.use_bias else 0.0
    return features @ kernel + bias


def _fusion_structure(exercise, model, key):
    """Shape, fusion by addition, one linear 1x1 score layer per skip: the score layers."""
    import keras

    size, channels, num_classes, _ = key
    expected_shape = (size, size, num_classes)
    got = tuple(model.output_shape[1:])
    if got != expected_shape:
        if got[-1] == num_classes and got[0] in (size // 2, size * 2, size * 4, size // 4):
            checks.fail(
                exercise,
                f"the output is {got}, not {expected_shape}: wrong upsampling factor; after "
                f"fusing at stride 8 (maxp3's grid) upsample by 8.",
            )
        if got[-1] != num_classes:
            checks.fail(
                exercise,
                f"the output has {got[-1]} channels, not {num_classes}: fuse by addition of "
                f"class scores (not concatenation), each skip through its 1x1 score layer.",
            )
        checks.fail(exercise, f"the output shape is {got}, expected {expected_shape}.")
    layers = list(checks.flat_layers(model))
    if any(isinstance(layer, keras.layers.Concatenate) for layer in layers):
        checks.fail(exercise, "FCN fuses by addition (keras.layers.Add), not concatenation.")
    score_layers = {
        layer.kernel.shape[2]: layer
        for layer in layers
        if type(layer) is keras.layers.Conv2D and tuple(layer.kernel.shape[:2]) == (1, 1)
    }
    for name, depth in (("maxp4", channels[1]), ("maxp3", channels[0])):
        if depth not in score_layers:
            checks.fail(
                exercise,
                f"no 1x1 Conv2D scores {name} ({depth} channels): add a "
                f"Conv2D(num_classes, 1) on the skip before adding it (the skip goes through "
                f"its own score layer).",
            )
    for layer in score_layers.values():
        if getattr(layer.activation, "__name__", "linear") != "linear":
            checks.fail(
                exercise, "a score layer has an activation: class scores are linear (no ReLU)."
            )
    return score_layers


def each_model_case(judge_case, what, layers):
    """A judge of all cases from a judge of one rebuilt model; a refused model fails first."""

    def judge(exercise, cases, outputs):
        for case, model in zip(cases, outputs):
            if isinstance(model, plain.Unsupported):
                checks.fail(
                    exercise,
                    f"{what} builds {model.type_name}: use Keras layers only ({layers}), no "
                    f"Lambda or layer of your own.",
                )
            judge_case(exercise, case, checks.unwrap(exercise, model, what))
        return len(cases)

    return judge


def judge_fusion_case(exercise, case, model):
    """The rebuilt fusion at initialisation, then with random score weights, against NumPy."""
    shapes, _ = case.args
    _, channels, _, seed = case.key
    score_layers = _fusion_structure(exercise, model, case.key)
    rng = np.random.default_rng(seed)
    data = {name: rng.normal(0, 1, (2, *shapes[name])).astype(np.float32) for name in shapes}
    arrays = [data[name] for name in FUSION_INPUTS]
    up = oracle.upsample_bilinear
    coarse = up(up(up(data["scores5"], 2), 2), 8)
    got = np.asarray(model(arrays, training=False))
    if not np.allclose(got, coarse, atol=1e-4):
        exponentials = np.exp(coarse - coarse.max(axis=-1, keepdims=True))
        if np.allclose(got, exponentials / exponentials.sum(axis=-1, keepdims=True), atol=1e-4):
            checks.fail(
                exercise,
                "the output went through a softmax: return the scores (logits); the model "
                "adds the softmax after the fusion.",
            )
        if any(not np.allclose(np.asarray(layer.kernel), 0) for layer in score_layers.values()):
            checks.fail(
                exercise,
                "at initialisation FCN-8s should equal FCN-32s: give the skip score layers "
                "kernel_initializer='zeros' (their scores start at 0).",
            )
        checks.fail(
            exercise,
            "with zero skip scores the output is not the bilinear upsampling of scores5: "
            "upsample with the lecture's bilinear_upsampling (bilinear), x2, x2, then x8.",
        )
    for layer in score_layers.values():
        layer.kernel.assign(rng.normal(0, 0.3, layer.kernel.shape).astype(np.float32))
        if layer.use_bias:
            layer.bias.assign(rng.normal(0, 0.3, layer.bias.shape).astype(np.float32))
    score4 = _score(data["maxp4"], score_layers[channels[1]])
    score3 = _score(data["maxp3"], score_layers[channels[0]])
    expected = up(up(up(data["scores5"], 2) + score4, 2) + score3, 8)
    got = np.asarray(model(arrays, training=False))
    if not np.allclose(got, expected, atol=1e-4):
        checks.fail(
            exercise,
            "with trained score layers the output differs from up8(up2(up2(scores5) + "
            "score4(maxp4)) + score3(maxp3)): check the order of the fusions.",
        )


# --- exercise 6: hypercolumns at an output stride -----------------------------------------------

STAGE_STRIDES = (8, 16, 32)  # maxp3, maxp4, maxp5
HYPERCOLUMN_SHAPE_HINT = (
    "bring every map to the grid of output_stride first (upsample maxp3 by 8 // output_stride, "
    "maxp4 by 16 // output_stride, maxp5 by 32 // output_stride), then concatenate along the "
    "channel axis (keras.layers.Concatenate, not Add)."
)
# (image size, channels of maxp3, maxp4, maxp5, output stride, seed)
HYPERCOLUMN_KEYS = ((64, (4, 6, 5), 8, 41), (64, (4, 6, 5), 4, 42))
HYPERCOLUMN_KEYS_HIDDEN = ((128, (3, 2, 4), 2, 43), (96, (5, 3, 2), 8, 44), (64, (2, 2, 2), 1, 45))


def hypercolumn_case(key):
    """``hypercolumn(maxp3, maxp4, maxp5, output_stride)`` on Keras inputs of these shapes."""
    size, channels, output_stride, _ = key
    shapes = [(size // s, size // s, c) for s, c in zip(STAGE_STRIDES, channels)]
    return checks.Case((shapes, output_stride), {}, key)


def probe_hypercolumn(exercise, function, case):
    """The student's hypercolumns as a model from (maxp3, maxp4, maxp5), or its crash."""
    import keras

    shapes, output_stride = case.args
    inputs = [
        keras.Input(shape, name=name) for shape, name in zip(shapes, ("maxp3", "maxp4", "maxp5"))
    ]
    return checks.run_builder(
        exercise,
        function,
        inputs,
        output_stride,
        what="hypercolumn",
        shape_hint=HYPERCOLUMN_SHAPE_HINT,
    )


def _resized(maps, factor, method):
    """(N, h, w, C) maps upsampled by ``factor`` with ``tf.image.resize``."""
    import tensorflow as tf

    if factor == 1:
        return maps
    height, width = maps.shape[1:3]
    return tf.image.resize(maps, (height * factor, width * factor), method).numpy()


def _hypercolumns(maps, output_stride, method="bilinear", factors=None, order=(0, 1, 2)):
    """The reference, and its variants: another interpolation, other factors, another order."""
    factors = factors or [stride // output_stride for stride in STAGE_STRIDES]
    upsampled = [_resized(maps[i], factors[i], method) for i in range(3)]
    return np.concatenate([upsampled[i] for i in order], axis=-1)


def _bilinear_either_way(got, maps, output_stride):
    """True when each map's channels are its bilinear upsampling, by resize or by the FCN's kernel.

    ``tf.image.resize`` (UpSampling2D, Resizing) clamps at the borders; the FCN's bilinear
    Conv2DTranspose fades there (zero padding): both are bilinear interpolation.
    """
    start = 0
    for pooled, stride in zip(maps, STAGE_STRIDES):
        factor = stride // output_stride
        part = got[..., start : start + pooled.shape[-1]]
        start += pooled.shape[-1]
        resized = _resized(pooled, factor, "bilinear")
        stamped = pooled if factor == 1 else oracle.upsample_bilinear(pooled, factor)
        if not (checks.close(part, resized) or checks.close(part, stamped)):
            return False
    return True


def _hypercolumn_mistakes(maps, output_stride):
    """Wrong hypercolumns, each with its hint (computed only when needed)."""
    return {
        "the maps were upsampled by nearest neighbour: use bilinear interpolation "
        "(UpSampling2D(..., interpolation='bilinear')).": lambda: _hypercolumns(
            maps, output_stride, "nearest"
        ),
        "the maps are concatenated in another order: maxp3's channels first, then maxp4's, "
        "then maxp5's.": lambda: _hypercolumns(maps, output_stride, order=(2, 1, 0)),
    }


def judge_hypercolumn_case(exercise, case, model):
    """The rebuilt hypercolumns on random maps against tf.image.resize (bilinear) and concat."""
    shapes, output_stride = case.args
    size, channels, _, seed = case.key
    rng = np.random.default_rng(seed)
    maps = [rng.normal(0, 1, (2, *shape)).astype(np.float32) for shape in shapes]
    side = size // output_stride
    expected_shape = (side, side, sum(channels))
    got_shape = tuple(model.output_shape[1:])
    if got_shape != expected_shape:
        if got_shape[-1] != sum(channels):
            checks.fail(
                exercise,
                f"output_stride {output_stride}: {got_shape[-1]} channels, expected "
                f"{sum(channels)} (all of maxp3's, maxp4's and maxp5's): concatenate along the "
                f"channel axis, do not add.",
            )
        checks.fail(
            exercise,
            f"output_stride {output_stride}: the hypercolumns are {got_shape}, expected "
            f"{expected_shape}: {HYPERCOLUMN_SHAPE_HINT}",
        )
    got = np.asarray(model(maps, training=False))
    expected = _hypercolumns(maps, output_stride)
    if _bilinear_either_way(got, maps, output_stride):
        return
    checks.diagnose(
        exercise,
        got,
        expected,
        _hypercolumn_mistakes(maps, output_stride),
        context=f"output_stride {output_stride}: ",
        atol=1e-4,
    )
