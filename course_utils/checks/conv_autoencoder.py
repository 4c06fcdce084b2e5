"""Checks of topic 03: the autoencoder's shapes, PSNR, the noise model, the pixel classifier.

Independent answers: the shapes Keras itself computes for the layer table of the exercise,
``tf.image.psnr`` for PSNR, and statistics of the noise for the noise model.
``check_*_hidden`` run other cases for grading.
"""

import numpy as np

from course_utils import checks

# Keras is imported inside the checks: a solutions notebook imports this module before
# config.setup(), which must run before TensorFlow loads.

# Exercise numbers in solutions/03_conv_autoencoder.ipynb.
EXERCISES = {"autoencoder": 1, "psnr": 2, "add_noise": 3, "pixel_classifier": 4}


def _built_model(exercise, function, *args):
    """Call the student's builder; it must return a Keras model."""
    import keras

    model = checks.call(exercise, function, *args)
    if not isinstance(model, keras.Model):
        checks.fail(
            exercise,
            f"expected a keras.Model, got {type(model).__name__}: end with "
            f"return keras.Model(inputs, outputs).",
        )
    return model


def _activation(layer):
    """The name of a layer's activation ('linear' when it has none)."""
    return getattr(getattr(layer, "activation", None), "__name__", "linear")


def _activated(layers, layer, name):
    """True if ``layer`` applies activation ``name`` itself or through the layer after it."""
    if _activation(layer) == name:
        return True
    position = layers.index(layer)
    following = layers[position + 1] if position + 1 < len(layers) else None
    if following is None:
        return False
    if type(following).__name__ == "ReLU":
        return name == "relu"
    return type(following).__name__ in ("Activation", "Softmax") and _activation(following) == name


def _common_structure(exercise, model):
    """No dense layers, pooling or fixed upsamplers: strided convs down, transposed convs up."""
    layers = list(checks.flat_layers(model))
    kinds = {type(layer).__name__ for layer in layers}
    if kinds & {"Dense", "Flatten", "Reshape"}:
        checks.fail(
            exercise,
            "no Dense/Flatten/Reshape: a convolutional autoencoder is fully convolutional, the "
            "code is a stack of small feature maps.",
        )
    if kinds & {"MaxPooling2D", "AveragePooling2D"}:
        checks.fail(
            exercise,
            "the encoder downsamples with strided convolutions (Conv2D(strides=2)), not pooling.",
        )
    if "UpSampling2D" in kinds:
        checks.fail(
            exercise,
            "the decoder upsamples with Conv2DTranspose(strides=2), not UpSampling2D.",
        )
    return layers


# --- exercise 1: the autoencoder with given shapes -----------------------------------------------


def autoencoder_shapes(height, width):
    """The exercise's table: output shape of each layer for an (height, width, 1) image."""
    return [
        ("Conv2D", (height // 2, width // 2, 16)),
        ("Conv2D", (height // 4, width // 4, 32)),
        ("Conv2DTranspose", (height // 2, width // 2, 16)),
        ("Conv2DTranspose", (height, width, 1)),
    ]


def _check_autoencoder_case(exercise, function, height, width):
    """Layer kinds and shapes as in the table, ReLU inside, sigmoid out, values in [0, 1]."""
    model = _built_model(exercise, function, (height, width, 1))
    layers = _common_structure(exercise, model)
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
            if shape[:2] != want_shape[:2] and want_shape[0] % 2 == 0:
                padding = getattr(weighted[index], "padding", "")
                strides = getattr(weighted[index], "strides", (1, 1))
                if padding != "same":
                    checks.fail(
                        exercise,
                        f"layer {index + 1} outputs {shape}, expected {want_shape}: use "
                        f"padding='same' so that stride 2 exactly halves (or doubles) the size.",
                    )
                if tuple(strides) != (2, 2):
                    checks.fail(
                        exercise,
                        f"layer {index + 1} outputs {shape}, expected {want_shape}: every layer "
                        f"has strides=2.",
                    )
            checks.fail(
                exercise, f"layer {index + 1} outputs {shape}, expected {want_shape} (the table)."
            )
    for index, layer in enumerate(weighted[:-1]):
        if not _activated(layers, layer, "relu"):
            checks.fail(
                exercise,
                f"layer {index + 1} has activation {_activation(layer)!r}: hidden layers use ReLU.",
            )
    images = np.random.default_rng(0).normal(0, 3, (2, height, width, 1)).astype(np.float32)
    outputs = np.asarray(model.predict(images, verbose=0))
    if not _activated(layers, weighted[-1], "sigmoid"):
        checks.fail(
            exercise,
            "the output layer should use a sigmoid, so that reconstructions are pixels in [0, 1].",
        )
    if outputs.min() < 0 or outputs.max() > 1:
        checks.fail(exercise, "outputs leave [0, 1]: end with a sigmoid.")


def check_autoencoder(function, exercise=EXERCISES["autoencoder"]):
    """Exercise: ``build_conv_autoencoder(input_shape)`` following the layer table."""
    _check_autoencoder_case(exercise, function, 28, 28)
    return checks.passed(
        exercise, "28x28x1 -> 14x14x16 -> 7x7x32 -> 14x14x16 -> 28x28x1, no dense layer."
    )


def check_autoencoder_hidden(function, exercise=EXERCISES["autoencoder"]):
    """Hidden test: other image sizes (the model is fully convolutional)."""
    _check_autoencoder_case(exercise, function, 32, 32)
    _check_autoencoder_case(exercise, function, 16, 24)
    return checks.passed(exercise, "the autoencoder builds for hidden image sizes.")


# --- exercise 2: PSNR ----------------------------------------------------------------------------


def _psnr_case(seed, peak):
    """Clean images and estimates with a different noise level in each image."""
    rng = np.random.default_rng(seed)
    clean = rng.random((3, 8, 9, 1)) * peak
    levels = np.array([0.02, 0.05, 0.2])[:, None, None, None] * peak
    estimate = np.clip(clean + rng.normal(0, 1, clean.shape) * levels, 0, peak)
    return clean.astype(np.float32), estimate.astype(np.float32)


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


def _check_psnr_case(exercise, function, seed, peak):
    """One case against tf.image.psnr."""
    import tensorflow as tf

    clean, estimate = _psnr_case(seed, peak)
    kwargs = {} if peak == 1.0 else {"peak": peak}
    result = checks.as_array(
        exercise, checks.call(exercise, function, clean, estimate, **kwargs), "the PSNR"
    )
    expected = tf.image.psnr(clean, estimate, max_val=peak).numpy().astype(np.float64)
    if result.size == 1 and len(expected) > 1:
        mistakes = _psnr_mistakes(clean, estimate, peak)
        result = np.full(len(expected), float(result.reshape(())))
        checks.diagnose(exercise, result, expected, mistakes, atol=1e-3)
    if result.shape != expected.shape:
        checks.fail(
            exercise,
            f"expected one PSNR per image, shape {expected.shape}, got {result.shape}: average "
            f"the squared error over each image's pixels only.",
        )
    checks.diagnose(
        exercise,
        result,
        expected,
        _psnr_mistakes(clean, estimate, peak),
        context=f"peak {peak:g}: ",
        atol=1e-3,
    )


def check_psnr(function, exercise=EXERCISES["psnr"]):
    """Exercise: ``psnr(reference, estimate, peak=1.0)``, one value in dB per image."""
    _check_psnr_case(exercise, function, seed=1, peak=1.0)
    return checks.passed(exercise, "PSNR per image matches tf.image.psnr.")


def check_psnr_hidden(function, exercise=EXERCISES["psnr"]):
    """Hidden test: 8-bit images (peak 255) and other noise."""
    _check_psnr_case(exercise, function, seed=2, peak=255.0)
    _check_psnr_case(exercise, function, seed=3, peak=1.0)
    return checks.passed(exercise, "PSNR is right for hidden peaks and images.")


# --- exercise 3: the noise model -----------------------------------------------------------------


def _noise_statistics(exercise, function, std, seed):
    """Noisy mid-grey images; the noise's standard deviation, mean and per-image correlation."""
    clean = np.full((4, 32, 32, 1), 0.5, np.float32)
    noisy = checks.as_array(
        exercise, checks.call(exercise, function, clean, std, seed), "the noisy images"
    )
    if noisy.shape != clean.shape:
        checks.fail(
            exercise,
            f"the noisy images have shape {noisy.shape}, expected {clean.shape} (the input's).",
        )
    return clean, noisy


def _check_noise_case(exercise, function, std, seed):
    """Clipping, standard deviation, zero mean, independence between images, determinism."""
    clean, noisy = _noise_statistics(exercise, function, std, seed)
    if noisy.min() < 0 or noisy.max() > 1:
        checks.fail(exercise, "values leave [0, 1]: clip the noisy images (np.clip(x, 0, 1)).")
    noise = (noisy - clean).reshape(len(clean), -1)
    measured = noise.std()
    # Clipping at 0 and 1 narrows the noise a little for large std: compare with a clipped normal.
    reference = np.clip(0.5 + np.random.default_rng(99).normal(0, std, 200_000), 0, 1) - 0.5
    expected = reference.std()
    if std > 0 and abs(measured - std**2) < 0.1 * std**2 and std != 1:
        checks.fail(
            exercise,
            f"the noise has standard deviation {measured:.3g}, the square of std: np.random's "
            f"scale is the standard deviation, not the variance.",
        )
    if std > 0 and abs(measured - expected / np.sqrt(3)) < 0.1 * expected:
        checks.fail(
            exercise,
            "the noise looks uniform in [-std, std] (its spread is std / sqrt 3): draw Gaussian "
            "noise, rng.normal(0, std, shape).",
        )
    if std > 0 and abs(measured - expected) > 0.08 * expected:
        checks.fail(
            exercise,
            f"the noise has standard deviation {measured:.3g}, expected about {expected:.3g} "
            f"(std={std}).",
        )
    if abs(noise.mean()) > 0.1 * std + 1e-6:
        checks.fail(exercise, f"the noise has mean {noise.mean():.3g}: it should be centred on 0.")
    if std > 0 and np.allclose(noise[0], noise[1]):
        checks.fail(
            exercise,
            "every image got the same noise: draw noise of the images' full shape, not one image.",
        )
    _, again = _noise_statistics(exercise, function, std, seed)
    if not np.array_equal(again, noisy):
        checks.fail(
            exercise,
            "two calls with the same seed differ: draw from np.random.default_rng(seed).",
        )
    _, other = _noise_statistics(exercise, function, std, seed + 1)
    if std > 0 and np.array_equal(other, noisy):
        checks.fail(exercise, "another seed gives the same noise: use the seed argument.")


def check_add_noise(function, exercise=EXERCISES["add_noise"]):
    """Exercise: ``add_noise(images, std, seed)``, Gaussian noise clipped to [0, 1]."""
    _check_noise_case(exercise, function, std=0.1, seed=5)
    _check_noise_case(exercise, function, std=0.4, seed=6)
    return checks.passed(exercise, "Gaussian noise of the right spread, clipped, reproducible.")


def check_add_noise_hidden(function, exercise=EXERCISES["add_noise"]):
    """Hidden test: other strengths, no noise at all."""
    _check_noise_case(exercise, function, std=0.25, seed=7)
    clean = np.random.default_rng(8).random((2, 8, 8, 1)).astype(np.float32)
    unchanged = checks.as_array(exercise, checks.call(exercise, function, clean, 0.0, 0))
    if not np.allclose(unchanged, clean, atol=1e-6):
        checks.fail(exercise, "with std=0 the images should come back unchanged.")
    return checks.passed(exercise, "the noise model is right on hidden cases.")


# --- exercise 4: from autoencoder to per-pixel classifier ----------------------------------------


def _check_classifier_case(exercise, function, height, width, num_classes):
    """Per-pixel probabilities at full size from a bottleneck at most 1/4 the size."""
    model = _built_model(exercise, function, (height, width, 1), num_classes)
    layers = _common_structure(exercise, model)
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
    probabilities = np.asarray(model.predict(images, verbose=0))
    if probabilities.min() < 0 or not np.allclose(probabilities.sum(axis=-1), 1, atol=1e-4):
        checks.fail(
            exercise,
            "the outputs are not probabilities over classes at each pixel: end with a softmax "
            "over the last axis (not a sigmoid).",
        )


def check_pixel_classifier(function, exercise=EXERCISES["pixel_classifier"]):
    """Exercise: ``build_pixel_classifier(input_shape, num_classes)``."""
    _check_classifier_case(exercise, function, 64, 64, 11)
    return checks.passed(
        exercise, "per-pixel softmax over 11 classes at 64x64, through a small bottleneck."
    )


def check_pixel_classifier_hidden(function, exercise=EXERCISES["pixel_classifier"]):
    """Hidden test: another size and class count."""
    _check_classifier_case(exercise, function, 32, 48, 3)
    return checks.passed(exercise, "the pixel classifier builds for hidden sizes.")
