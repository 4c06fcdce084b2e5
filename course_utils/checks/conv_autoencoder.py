"""Checks of solutions/03_conv_autoencoder.ipynb: the autoencoder, PSNR, noise, pixel classifier.

Independent answers: the shapes Keras itself computes for the exercise's layer table (judged on
the model rebuilt from its architecture and weights), ``tf.image.psnr`` for PSNR, and the
statistics of the noise for the noise model. Each exercise's public and hidden checks are made
by :func:`course_utils.checks.exercise` from one case function and two lists of case keys; the
builders' probe returns the student's model, which the judge sees rebuilt from Keras' classes.
"""

import numpy as np

from course_utils import checks
from course_utils.checks import model_judge as model_judge

# Keras and TensorFlow are imported inside functions: a solutions notebook imports this module
# before config.setup(), which must run before TensorFlow loads.

# Exercise numbers in solutions/03_conv_autoencoder.ipynb.
EXERCISES = {"autoencoder": 1, "psnr": 2, "add_noise": 3, "pixel_classifier": 4}


# --- exercise 1: the autoencoder with given shapes -----------------------------------------------


def autoencoder_shapes(height, width):
    """The exercise's table: output shape of each layer for an (height, width, 1) image."""
    return [
        ("Conv2D", (height // 2, width // 2, 16)),
        ("Conv2D", (height // 4, width // 4, 32)),
        ("Conv2DTranspose", (height // 2, width // 2, 16)),
        ("Conv2DTranspose", (height, width, 1)),
    ]


def image_size_case(key):
    """The inputs of a builder for ``key = (height, width)`` grey images."""
    height, width = key
    return checks.Case(((height, width, 1),), {}, key)


def _wrong_shape(exercise, index, layer, shape, want_shape):
    """Fail on a layer whose output shape is not the table's, naming padding or strides."""
    if shape[:2] != want_shape[:2] and want_shape[0] % 2 == 0:
        if getattr(layer, "padding", "") != "same":
            checks.fail(
                exercise,
                f"layer {index + 1} outputs {shape}, expected {want_shape}: use "
                f"padding='same' so that stride 2 exactly halves (or doubles) the size.",
            )
        if tuple(getattr(layer, "strides", (1, 1))) != (2, 2):
            checks.fail(
                exercise,
                f"layer {index + 1} outputs {shape}, expected {want_shape}: every layer "
                f"has strides=2.",
            )
    checks.fail(exercise, f"layer {index + 1} outputs {shape}, expected {want_shape} (the table).")


def _judge_autoencoder(exercise, case, model):
    """Layer kinds and shapes as in the table, ReLU inside, sigmoid out, values in [0, 1]."""
    height, width, _ = case.args[0]
    layers = model_judge.common_structure(exercise, model)
    expected = autoencoder_shapes(height, width)
    weighted = [layer for layer in layers if type(layer).__name__ in ("Conv2D", "Conv2DTranspose")]
    got = [(type(layer).__name__, tuple(layer.output.shape[1:])) for layer in weighted]
    if len(got) != len(expected):
        checks.fail(
            exercise,
            f"expected 4 layers (2 Conv2D, 2 Conv2DTranspose) as in the table, got "
            f"{[kind for kind, _ in got]}.",
        )
    for index, ((kind, shape), (want_kind, want_shape)) in enumerate(zip(got, expected)):
        if kind != want_kind:
            checks.fail(
                exercise,
                f"layer {index + 1} is a {kind}: the encoder is Conv2D(strides=2), the decoder "
                f"Conv2DTranspose(strides=2).",
            )
        if shape != want_shape:
            _wrong_shape(exercise, index, weighted[index], shape, want_shape)
    for index, layer in enumerate(weighted[:-1]):
        if not model_judge.activated(layers, layer, "relu"):
            checks.fail(
                exercise,
                f"layer {index + 1} has activation {model_judge.activation(layer)!r}: "
                "hidden layers use ReLU.",
            )
    if not model_judge.activated(layers, weighted[-1], "sigmoid"):
        checks.fail(
            exercise,
            "the output layer should use a sigmoid, so that reconstructions are pixels in [0, 1].",
        )
    images = np.random.default_rng(0).normal(0, 3, (2, height, width, 1)).astype(np.float32)
    outputs = np.asarray(model(images, training=False))
    if outputs.min() < 0 or outputs.max() > 1:
        checks.fail(exercise, "outputs leave [0, 1]: end with a sigmoid.")


check_autoencoder, check_autoencoder_hidden = checks.exercise(
    EXERCISES["autoencoder"],
    "autoencoder",
    case=image_size_case,
    public=[(28, 28)],
    hidden=[(32, 32), (16, 24)],  # other sizes: the model is fully convolutional
    probe=model_judge.probe_model,
    judge=model_judge.each_model(_judge_autoencoder),
    passed="28x28x1 -> 14x14x16 -> 7x7x32 -> 14x14x16 -> 28x28x1, no dense layer.",
    hidden_passed="the autoencoder builds for {count} hidden image sizes.",
)


# --- exercise 2: PSNR ----------------------------------------------------------------------------


def psnr_case(key):
    """Clean images and estimates with a different noise level in each image; ``key = (seed,
    peak)``, the peak passed only when it is not the default 1."""
    seed, peak = key
    rng = np.random.default_rng(seed)
    clean = rng.random((3, 8, 9, 1)) * peak
    levels = np.array([0.02, 0.05, 0.2])[:, None, None, None] * peak
    estimate = np.clip(clean + rng.normal(0, 1, clean.shape) * levels, 0, peak)
    kwargs = {} if peak == 1.0 else {"peak": peak}
    return checks.Case((clean.astype(np.float32), estimate.astype(np.float32)), kwargs, key)


def _psnr_mistakes(clean, estimate, peak):
    """Wrong PSNRs, each with its hint."""
    mse = np.mean((clean.astype(float) - estimate) ** 2, axis=(1, 2, 3))
    batch_mse = np.mean((clean.astype(float) - estimate) ** 2)
    return {
        "natural logarithm: PSNR uses log10.": 10 * np.log(peak**2 / mse),
        "the peak was ignored: use the peak argument (1 for images in [0, 1], 255 for uint8), "
        "not a fixed 255.": 10 * np.log10(255.0**2 / mse),
        "the peak was ignored: use the peak argument (255 for uint8 images), not a fixed 1.": (
            10 * np.log10(1.0 / mse)
        ),
        "the peak is not squared: PSNR = 10 log10(peak^2 / MSE) (or 20 log10(peak / RMSE)).": (
            10 * np.log10(peak / mse)
        ),
        "20 log10 of peak^2 / MSE: 20 goes with amplitudes (peak / RMSE), 10 with powers "
        "(peak^2 / MSE).": 20 * np.log10(peak**2 / mse),
        "10 log10(peak / RMSE): with the root-mean-square error the factor is 20.": 10
        * np.log10(peak / np.sqrt(mse)),
        "the ratio is upside down: peak^2 / MSE, so that a smaller error gives more dB.": 10
        * np.log10(mse / peak**2),
        "missing factor 10: PSNR is in decibels, 10 log10(...).": np.log10(peak**2 / mse),
        "one PSNR for the whole batch: compute the MSE of each image (mean over its pixels).": (
            np.full(len(mse), 10 * np.log10(peak**2 / batch_mse))
        ),
        "the mean of the PSNRs over the batch: return one PSNR per image.": np.full(
            len(mse), np.mean(10 * np.log10(peak**2 / mse))
        ),
    }


def _judge_psnr(exercise, case, output):
    """One case against tf.image.psnr."""
    import tensorflow as tf

    (clean, estimate), peak = case.args, case.kwargs.get("peak", 1.0)
    result = checks.as_array(exercise, output, "the PSNR")
    expected = tf.image.psnr(clean, estimate, max_val=peak).numpy().astype(np.float64)
    mistakes = _psnr_mistakes(clean, estimate, peak)
    if result.size == 1 and len(expected) > 1:
        result = np.full(len(expected), float(result.reshape(())))
        checks.diagnose(exercise, result, expected, mistakes, atol=1e-3)
    if result.shape != expected.shape:
        checks.fail(
            exercise,
            f"expected one PSNR per image, shape {expected.shape}, got {result.shape}: average "
            f"the squared error over each image's pixels only.",
        )
    checks.diagnose(exercise, result, expected, mistakes, context=f"peak {peak:g}: ", atol=1e-3)


check_psnr, check_psnr_hidden = checks.exercise(
    EXERCISES["psnr"],
    "psnr",
    case=psnr_case,
    public=[(1, 1.0)],
    hidden=[(2, 255.0), (3, 1.0)],  # 8-bit images, and other noise
    judge=checks.each_case(_judge_psnr),
    passed="PSNR per image matches tf.image.psnr.",
    hidden_passed="PSNR is right for hidden peaks and images ({count} cases).",
)


# --- exercise 3: the noise model -----------------------------------------------------------------

# Each setting is called three times: a seed, the same seed again, the next seed.
NOISE_SETTINGS = [(0.1, 5), (0.4, 6)]
NOISE_SETTINGS_HIDDEN = [(0.25, 7)]


def noise_case(key):
    """``("grey", std, seed)``: four mid-grey 32x32 images; ``("unchanged", 0, 0)``: random
    images with std 0, which must come back as they were."""
    kind, std, seed = key
    if kind == "unchanged":
        clean = np.random.default_rng(8).random((2, 8, 8, 1)).astype(np.float32)
    else:
        clean = np.full((4, 32, 32, 1), 0.5, np.float32)
    return checks.Case((clean, std, seed), {}, key)


def _noise_keys(settings):
    """Three calls per (std, seed): the seed, the same seed again, the next seed."""
    return [("grey", std, s) for std, seed in settings for s in (seed, seed, seed + 1)]


def _noisy(exercise, case, output):
    """The noisy images of one call, checked for shape."""
    clean = case.args[0]
    noisy = checks.as_array(exercise, output, "the noisy images")
    if noisy.shape != clean.shape:
        checks.fail(
            exercise,
            f"the noisy images have shape {noisy.shape}, expected {clean.shape} (the input's).",
        )
    return noisy


def _judge_noise_setting(exercise, cases, outputs):
    """Clipping, spread, zero mean, independence between images, determinism, use of the seed."""
    clean, std, _ = cases[0].args
    noisy, again, other = (_noisy(exercise, c, o) for c, o in zip(cases, outputs))
    if noisy.min() < 0 or noisy.max() > 1:
        checks.fail(exercise, "values leave [0, 1]: clip the noisy images (np.clip(x, 0, 1)).")
    noise = (noisy - clean).reshape(len(clean), -1)
    measured = noise.std()
    # Clipping at 0 and 1 narrows the noise a little for large std: compare with a clipped normal.
    reference = np.clip(0.5 + np.random.default_rng(99).normal(0, std, 200_000), 0, 1) - 0.5
    expected = reference.std()
    if abs(measured - std**2) < 0.1 * std**2 and std != 1:
        checks.fail(
            exercise,
            f"the noise has standard deviation {measured:.3g}, the square of std: np.random's "
            f"scale is the standard deviation, not the variance.",
        )
    if abs(measured - expected / np.sqrt(3)) < 0.1 * expected:
        checks.fail(
            exercise,
            "the noise looks uniform in [-std, std] (its spread is std / sqrt 3): draw Gaussian "
            "noise, rng.normal(0, std, shape).",
        )
    if abs(measured - expected) > 0.08 * expected:
        checks.fail(
            exercise,
            f"the noise has standard deviation {measured:.3g}, expected about {expected:.3g} "
            f"(std={std}).",
        )
    if abs(noise.mean()) > 0.1 * std + 1e-6:
        checks.fail(exercise, f"the noise has mean {noise.mean():.3g}: it should be centred on 0.")
    if np.allclose(noise[0], noise[1]):
        checks.fail(
            exercise,
            "every image got the same noise: draw noise of the images' full shape, not one image.",
        )
    if not np.array_equal(again, noisy):
        checks.fail(
            exercise, "two calls with the same seed differ: draw from np.random.default_rng(seed)."
        )
    if np.array_equal(other, noisy):
        checks.fail(exercise, "another seed gives the same noise: use the seed argument.")


def _judge_noise(exercise, cases, outputs):
    """Each setting's three calls together; images with std 0 must come back unchanged."""
    outputs = [checks.unwrap(exercise, output) for output in outputs]
    index = 0
    while index < len(cases):
        if cases[index].key[0] == "unchanged":
            unchanged = checks.as_array(exercise, outputs[index], "the noisy images")
            if not checks.close(unchanged, cases[index].args[0], atol=1e-6):
                checks.fail(exercise, "with std=0 the images should come back unchanged.")
            index += 1
        else:
            _judge_noise_setting(exercise, cases[index : index + 3], outputs[index : index + 3])
            index += 3


check_add_noise, check_add_noise_hidden = checks.exercise(
    EXERCISES["add_noise"],
    "add_noise",
    case=noise_case,
    public=_noise_keys(NOISE_SETTINGS),
    hidden=_noise_keys(NOISE_SETTINGS_HIDDEN) + [("unchanged", 0.0, 0)],
    judge=_judge_noise,
    passed="Gaussian noise of the right spread, clipped, reproducible.",
    hidden_passed="the noise model is right on hidden cases.",
)


# --- exercise 4: from autoencoder to per-pixel classifier ----------------------------------------


def classifier_case(key):
    """The inputs of the pixel classifier's builder for ``key = (height, width, classes)``."""
    height, width, num_classes = key
    return checks.Case(((height, width, 1), num_classes), {}, key)


def _judge_classifier(exercise, case, model):
    """Per-pixel probabilities at full size from a bottleneck at most 1/4 the size."""
    (height, width, _), num_classes = case.args
    layers = model_judge.common_structure(exercise, model)
    want = (height, width, num_classes)
    got = tuple(model.output_shape[1:])
    if got != want:
        if got[:2] == want[:2]:
            checks.fail(
                exercise,
                f"the output is {got}: one score per class at every pixel, shape {want} "
                f"(the last layer has num_classes filters).",
            )
        checks.fail(
            exercise,
            f"the output is {got}, expected {want}: upsample back to the input size with as "
            f"many Conv2DTranspose(strides=2) as the encoder has strided Conv2D.",
        )
    smallest = min(
        int(np.prod(layer.output.shape[1:3]))
        for layer in layers
        if type(layer).__name__ in ("Conv2D", "Conv2DTranspose")
    )
    if smallest > height * width // 16:
        checks.fail(
            exercise,
            "the feature maps never get smaller than 1/4 of the image side: the encoder needs "
            "at least two Conv2D(strides=2).",
        )
    if not any(type(layer).__name__ == "Conv2DTranspose" for layer in layers):
        checks.fail(exercise, "the decoder upsamples with Conv2DTranspose(strides=2).")
    images = np.random.default_rng(1).random((2, height, width, 1)).astype(np.float32)
    probabilities = np.asarray(model(images, training=False))
    if probabilities.min() < 0 or not np.allclose(probabilities.sum(axis=-1), 1, atol=1e-4):
        checks.fail(
            exercise,
            "the outputs are not probabilities over classes at each pixel: end with a softmax "
            "over the last axis (not a sigmoid).",
        )


check_pixel_classifier, check_pixel_classifier_hidden = checks.exercise(
    EXERCISES["pixel_classifier"],
    "pixel_classifier",
    case=classifier_case,
    public=[(64, 64, 11)],
    hidden=[(32, 48, 3)],  # another size and class count
    probe=model_judge.probe_model,
    judge=model_judge.each_model(_judge_classifier),
    passed="per-pixel softmax over 11 classes at 64x64, through a small bottleneck.",
    hidden_passed="the pixel classifier builds for hidden sizes.",
)
