"""The checks of topic 03 accept every correct answer and name each classic mistake."""

import check_harness
import keras
import numpy as np
import pytest

from course_utils import autoencoder
from course_utils.checks import conv_autoencoder as checks_autoencoder
from course_utils.lectures import conv_autoencoder as lecture


def expect_failure(check, function, exercise, hint):
    """The check fails with one line naming the hint, in the notebook and when graded."""
    message = check_harness.fails_with(check, function, hint)
    assert message.startswith(f"Exercise {exercise}: "), message


# ---- Exercise 1: the autoencoder of the table ----


def layer(kind, filters, activation="relu", strides=2, padding="same"):
    """A 3x3 Conv2D or Conv2DTranspose."""
    return kind(filters, 3, strides=strides, padding=padding, activation=activation)


def autoencoder_course(input_shape):
    """The course's answer."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 16)(inputs)
    x = layer(keras.layers.Conv2D, 32)(x)
    x = layer(keras.layers.Conv2DTranspose, 16)(x)
    outputs = layer(keras.layers.Conv2DTranspose, 1, "sigmoid")(x)
    return keras.Model(inputs, outputs)


def autoencoder_sequential(input_shape):
    """Another answer: a Sequential with separate activation layers."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layer(keras.layers.Conv2D, 16, None),
            keras.layers.ReLU(),
            layer(keras.layers.Conv2D, 32),
            layer(keras.layers.Conv2DTranspose, 16),
            layer(keras.layers.Conv2DTranspose, 1, None),
            keras.layers.Activation("sigmoid"),
        ]
    )


def autoencoder_valid(input_shape):
    """Mistake: valid padding."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 16, padding="valid")(inputs)
    x = layer(keras.layers.Conv2D, 32, padding="valid")(x)
    x = layer(keras.layers.Conv2DTranspose, 16, padding="valid")(x)
    outputs = layer(keras.layers.Conv2DTranspose, 1, "sigmoid", padding="valid")(x)
    return keras.Model(inputs, outputs)


def autoencoder_dense(input_shape):
    """Mistake: a dense bottleneck."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 16)(inputs)
    x = layer(keras.layers.Conv2D, 32)(x)
    shape = x.shape[1:]
    x = keras.layers.Dense(16)(keras.layers.Flatten()(x))
    x = keras.layers.Reshape(shape)(keras.layers.Dense(int(np.prod(shape)))(x))
    x = layer(keras.layers.Conv2DTranspose, 16)(x)
    return keras.Model(inputs, layer(keras.layers.Conv2DTranspose, 1, "sigmoid")(x))


def autoencoder_pooling(input_shape):
    """Mistake: pooling instead of strides."""
    inputs = keras.Input(input_shape)
    x = keras.layers.MaxPooling2D()(layer(keras.layers.Conv2D, 16, strides=1)(inputs))
    x = keras.layers.MaxPooling2D()(layer(keras.layers.Conv2D, 32, strides=1)(x))
    x = layer(keras.layers.Conv2DTranspose, 16)(x)
    return keras.Model(inputs, layer(keras.layers.Conv2DTranspose, 1, "sigmoid")(x))


def autoencoder_upsampling(input_shape):
    """Mistake: UpSampling2D and Conv2D in the decoder."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 16)(inputs)
    x = layer(keras.layers.Conv2D, 32)(x)
    x = layer(keras.layers.Conv2D, 16, strides=1)(keras.layers.UpSampling2D()(x))
    x = keras.layers.UpSampling2D()(x)
    return keras.Model(inputs, layer(keras.layers.Conv2D, 1, "sigmoid", strides=1)(x))


def autoencoder_linear_output(input_shape):
    """Mistake: no sigmoid at the end."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 16)(inputs)
    x = layer(keras.layers.Conv2D, 32)(x)
    x = layer(keras.layers.Conv2DTranspose, 16)(x)
    return keras.Model(inputs, layer(keras.layers.Conv2DTranspose, 1, None)(x))


def autoencoder_no_relu(input_shape):
    """Mistake: linear hidden layers."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 16, None)(inputs)
    x = layer(keras.layers.Conv2D, 32, None)(x)
    x = layer(keras.layers.Conv2DTranspose, 16, None)(x)
    return keras.Model(inputs, layer(keras.layers.Conv2DTranspose, 1, "sigmoid")(x))


def autoencoder_stride_one_decoder(input_shape):
    """Mistake: the last transposed convolution has stride 1."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 16)(inputs)
    x = layer(keras.layers.Conv2D, 32)(x)
    x = layer(keras.layers.Conv2DTranspose, 16)(x)
    return keras.Model(inputs, layer(keras.layers.Conv2DTranspose, 1, "sigmoid", strides=1)(x))


def autoencoder_wrong_widths(input_shape):
    """Mistake: 32 then 16 filters."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 32)(inputs)
    x = layer(keras.layers.Conv2D, 16)(x)
    x = layer(keras.layers.Conv2DTranspose, 32)(x)
    return keras.Model(inputs, layer(keras.layers.Conv2DTranspose, 1, "sigmoid")(x))


def autoencoder_returns_layer(input_shape):
    """Mistake: returns the output tensor."""
    return autoencoder_course(input_shape).output


@pytest.mark.parametrize("answer", [autoencoder_course, autoencoder_sequential])
def test_autoencoder_accepts(answer, capsys):
    """Correct answers pass."""
    assert check_harness.passes(checks_autoencoder.check_autoencoder, answer)
    assert check_harness.passes(checks_autoencoder.check_autoencoder_hidden, answer)
    assert capsys.readouterr().out.startswith("Exercise 1 passed")


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (autoencoder_valid, "padding='same'"),
        (autoencoder_dense, "no Dense"),
        (autoencoder_pooling, "not pooling"),
        (autoencoder_upsampling, "not UpSampling2D"),
        (autoencoder_linear_output, "sigmoid"),
        (autoencoder_no_relu, "ReLU"),
        (autoencoder_stride_one_decoder, "strides=2"),
        (autoencoder_wrong_widths, "(the table)"),
        (autoencoder_returns_layer, "keras.Model"),
    ],
)
def test_autoencoder_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    expect_failure(checks_autoencoder.check_autoencoder, mistake, 1, hint)


# ---- Exercise 2: PSNR ----


def psnr_course(reference, estimate, peak=1.0):
    """The course's answer."""
    return autoencoder.psnr(reference, estimate, peak)


def psnr_rmse(reference, estimate, peak=1.0):
    """Another answer: 20 log10(peak / RMSE), in a loop, as a list."""
    values = []
    for clean, noisy in zip(reference, estimate):
        rmse = np.sqrt(np.mean((np.asarray(clean, float) - noisy) ** 2))
        values.append(20 * np.log10(peak / rmse))
    return values


def psnr_tf(reference, estimate, peak=1.0):
    """Another answer: TensorFlow, returning a tensor."""
    import tensorflow as tf

    return tf.image.psnr(reference, estimate, max_val=peak)


def psnr_ln(reference, estimate, peak=1.0):
    """Mistake: natural log."""
    mse = np.mean((reference - estimate) ** 2, axis=(1, 2, 3))
    return 10 * np.log(peak**2 / mse)


def psnr_fixed_255(reference, estimate, peak=1.0):
    """Mistake: 255 whatever the peak."""
    mse = np.mean((reference - estimate) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(255**2 / mse)


def psnr_unsquared(reference, estimate, peak=1.0):
    """Mistake: the peak not squared (hidden at peak 255)."""
    mse = np.mean((reference - estimate) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(peak / mse)


def psnr_twenty(reference, estimate, peak=1.0):
    """Mistake: 20 log10(peak^2 / MSE)."""
    mse = np.mean((reference - estimate) ** 2, axis=(1, 2, 3))
    return 20 * np.log10(peak**2 / mse)


def psnr_upside_down(reference, estimate, peak=1.0):
    """Mistake: MSE / peak^2."""
    mse = np.mean((reference - estimate) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(mse / peak**2)


def psnr_batch(reference, estimate, peak=1.0):
    """Mistake: one PSNR for the batch."""
    return 10 * np.log10(peak**2 / np.mean((reference - estimate) ** 2))


def psnr_rmse_ten(reference, estimate, peak=1.0):
    """Mistake: 10 log10(peak / RMSE)."""
    mse = np.mean((reference - estimate) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(peak / np.sqrt(mse))


@pytest.mark.parametrize("answer", [psnr_course, psnr_rmse, psnr_tf])
def test_psnr_accepts(answer, capsys):
    """Correct answers pass."""
    assert check_harness.passes(checks_autoencoder.check_psnr, answer)
    assert check_harness.passes(checks_autoencoder.check_psnr_hidden, answer)
    assert capsys.readouterr().out.startswith("Exercise 2 passed")


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (psnr_ln, "log10"),
        (psnr_fixed_255, "not a fixed 255"),
        (psnr_twenty, "20 goes with amplitudes"),
        (psnr_upside_down, "upside down"),
        (psnr_batch, "one PSNR for the whole batch"),
        (psnr_rmse_ten, "the factor is 20"),
    ],
)
def test_psnr_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    expect_failure(checks_autoencoder.check_psnr, mistake, 2, hint)


def test_psnr_hidden_catches_the_peak():
    """Peak mistakes that agree at peak 1 are caught by the hidden 8-bit case."""
    assert check_harness.passes(checks_autoencoder.check_psnr, psnr_unsquared)
    expect_failure(checks_autoencoder.check_psnr_hidden, psnr_unsquared, 2, "not squared")


# ---- Exercise 3: noise ----


def noise_course(images, std, seed):
    """The course's answer."""
    return autoencoder.add_noise(images, std, seed)


def noise_legacy(images, std, seed):
    """Another answer: the legacy RandomState API."""
    noise = np.random.RandomState(seed).normal(0, std, np.shape(images))
    return np.clip(images + noise, 0, 1)


def noise_variance(images, std, seed):
    """Mistake: std squared as the scale."""
    noise = np.random.default_rng(seed).normal(0, std**2, np.shape(images))
    return np.clip(images + noise, 0, 1)


def noise_unclipped(images, std, seed):
    """Mistake: no clipping."""
    return images + np.random.default_rng(seed).normal(0, std, np.shape(images))


def noise_uniform(images, std, seed):
    """Mistake: uniform noise."""
    noise = np.random.default_rng(seed).uniform(-std, std, np.shape(images))
    return np.clip(images + noise, 0, 1)


def noise_one_image(images, std, seed):
    """Mistake: the same noise on every image."""
    noise = np.random.default_rng(seed).normal(0, std, np.shape(images)[1:])
    return np.clip(images + noise, 0, 1)


def noise_unseeded(images, std, seed):
    """Mistake: the seed is ignored."""
    return np.clip(images + np.random.normal(0, std, np.shape(images)), 0, 1)


def noise_fixed_seed(images, std, seed):
    """Mistake: a fixed seed."""
    return noise_course(images, std, 0)


@pytest.mark.parametrize("answer", [noise_course, noise_legacy])
def test_noise_accepts(answer, capsys):
    """Correct answers pass."""
    assert check_harness.passes(checks_autoencoder.check_add_noise, answer)
    assert check_harness.passes(checks_autoencoder.check_add_noise_hidden, answer)
    assert capsys.readouterr().out.startswith("Exercise 3 passed")


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (noise_variance, "not the variance"),
        (noise_unclipped, "clip"),
        (noise_uniform, "uniform"),
        (noise_one_image, "same noise"),
        (noise_unseeded, "same seed differ"),
        (noise_fixed_seed, "use the seed argument"),
    ],
)
def test_noise_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    expect_failure(checks_autoencoder.check_add_noise, mistake, 3, hint)


def noise_floor(images, std, seed):
    """Mistake: a minimum noise level, so std=0 still adds noise (caught by the hidden test)."""
    return noise_course(images, max(std, 0.05), seed)


def test_noise_hidden_wants_std_zero_to_change_nothing():
    assert check_harness.passes(checks_autoencoder.check_add_noise, noise_floor)
    expect_failure(checks_autoencoder.check_add_noise_hidden, noise_floor, 3, "unchanged")


def test_builder_returning_a_lambda_layer_is_not_run_by_the_judge():
    """A model the grader cannot rebuild from Keras' own classes fails in one line."""

    def with_lambda(input_shape):
        model = autoencoder_course(input_shape)
        outputs = keras.layers.Lambda(lambda x: x)(model.output)
        return keras.Model(model.input, outputs)

    expect_failure(
        checks_autoencoder.check_autoencoder,
        with_lambda,
        1,
        "cannot rebuild a model with custom layers",
    )


# ---- Exercise 4: pixel classifier ----


def classifier_course(input_shape, num_classes):
    """The lecture's pixel classifier."""
    return lecture.build_pixel_classifier(input_shape, num_classes)


def classifier_small(input_shape, num_classes):
    """Another answer: two levels, softmax in the last convolution."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 8)(inputs)
    x = layer(keras.layers.Conv2D, 16)(x)
    x = layer(keras.layers.Conv2DTranspose, 8)(x)
    x = layer(keras.layers.Conv2DTranspose, 8)(x)
    return keras.Model(inputs, keras.layers.Conv2D(num_classes, 1, activation="softmax")(x))


def classifier_sigmoid(input_shape, num_classes):
    """Mistake: sigmoid."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 8)(inputs)
    x = layer(keras.layers.Conv2D, 16)(x)
    x = layer(keras.layers.Conv2DTranspose, 8)(x)
    x = layer(keras.layers.Conv2DTranspose, 8)(x)
    return keras.Model(inputs, keras.layers.Conv2D(num_classes, 1, activation="sigmoid")(x))


def classifier_one_channel(input_shape, num_classes):
    """Mistake: the autoencoder's single output channel."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 8)(inputs)
    x = layer(keras.layers.Conv2D, 16)(x)
    x = layer(keras.layers.Conv2DTranspose, 8)(x)
    return keras.Model(inputs, layer(keras.layers.Conv2DTranspose, 1, "sigmoid")(x))


def classifier_short(input_shape, num_classes):
    """Mistake: one fewer upsampling."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 8)(inputs)
    x = layer(keras.layers.Conv2D, 16)(x)
    x = layer(keras.layers.Conv2DTranspose, 8)(x)
    return keras.Model(inputs, keras.layers.Conv2D(num_classes, 1, activation="softmax")(x))


def classifier_shallow(input_shape, num_classes):
    """Mistake: no real bottleneck."""
    inputs = keras.Input(input_shape)
    x = layer(keras.layers.Conv2D, 8)(inputs)
    x = layer(keras.layers.Conv2DTranspose, 8)(x)
    return keras.Model(inputs, keras.layers.Conv2D(num_classes, 1, activation="softmax")(x))


def classifier_dense(input_shape, num_classes):
    """Mistake: a dense code (a Dense classifier per pixel is fine, a flattened one is not)."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(layer(keras.layers.Conv2D, 4)(layer(keras.layers.Conv2D, 4)(inputs)))
    x = keras.layers.Dense(8)(x)
    x = keras.layers.Dense(input_shape[0] * input_shape[1] * num_classes)(x)
    x = keras.layers.Reshape((input_shape[0], input_shape[1], num_classes))(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


@pytest.mark.parametrize("answer", [classifier_course, classifier_small])
def test_classifier_accepts(answer, capsys):
    """Correct answers pass."""
    assert check_harness.passes(checks_autoencoder.check_pixel_classifier, answer)
    assert check_harness.passes(checks_autoencoder.check_pixel_classifier_hidden, answer)
    assert capsys.readouterr().out.startswith("Exercise 4 passed")


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (classifier_sigmoid, "softmax"),
        (classifier_one_channel, "one score per class"),
        (classifier_short, "as many Conv2DTranspose"),
        (classifier_shallow, "at least two Conv2D(strides=2)"),
        (classifier_dense, "no Dense"),
    ],
)
def test_classifier_rejects(mistake, hint):
    """Each classic mistake fails with its hint."""
    expect_failure(checks_autoencoder.check_pixel_classifier, mistake, 4, hint)


# ---- the module ----


def test_lecture_autoencoder_shapes():
    """The lecture's autoencoder: code of 7x7x8 for 28x28 images, same size out, any size."""
    model = lecture.build_autoencoder()
    assert model.output_shape == (None, 28, 28, 1)
    code = model.get_layer("encoder_code").output
    assert tuple(code.shape) == (None, 7, 7, 8)
    assert not any(isinstance(layer, keras.layers.Dense) for layer in model.layers)
    any_size = lecture.build_autoencoder((None, None, 1))
    any_size.set_weights(model.get_weights())
    assert any_size(np.zeros((1, 56, 84, 1), np.float32)).shape == (1, 56, 84, 1)


def test_lecture_dense_autoencoder_refuses_other_sizes():
    """The dense bottleneck ties the model to its input size; the lecture shows the refusal."""
    dense = lecture.build_dense_autoencoder((28, 28, 1))
    with pytest.raises(ValueError, match="incompatible"):
        dense(np.zeros((1, 56, 84, 1), np.float32))
    with pytest.raises(ValueError):
        lecture.build_dense_autoencoder((None, None, 1))


def test_lecture_colouriser_and_classifier_shapes():
    """Two colour channels in (-1, 1) per pixel; one probability vector per pixel."""
    colour = lecture.build_colouriser()(np.ones((1, 40, 24, 1), np.float32))
    assert colour.shape == (1, 40, 24, 2) and np.abs(np.asarray(colour)).max() < 1
    probabilities = lecture.build_pixel_classifier((32, 32, 1), 5)(np.ones((2, 32, 32, 1)))
    np.testing.assert_allclose(np.asarray(probabilities).sum(axis=-1), 1, atol=1e-5)


def test_module_noise_and_psnr_errors():
    """Bad inputs fail in one line naming the fix."""
    with pytest.raises(ValueError, match="divide uint8 images by 255"):
        autoencoder.add_noise(np.full((1, 4, 4), 200.0))
    with pytest.raises(ValueError, match="shapes differ"):
        autoencoder.psnr(np.zeros((1, 4, 4)), np.zeros((1, 4, 5)))
