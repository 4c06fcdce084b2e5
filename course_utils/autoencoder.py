"""Convolutional autoencoders of topic 03: builders, noise, PSNR.

* :func:`build_autoencoder`: an encoder of strided ``Conv2D`` and a decoder of strided
  ``Conv2DTranspose``, no dense layer, so it works on any image size divisible by 4;
* :func:`build_pixel_classifier`: the same encoder-decoder ending in a per-pixel softmax, the
  bridge from reconstruction to segmentation;
* :func:`add_noise` and :func:`psnr` for the denoising autoencoder.
"""

import numpy as np


def strided_encoder(x, filters):
    """One 3x3 stride-2 ReLU ``Conv2D`` per width in ``filters``: each halves the size."""
    import keras

    for index, width in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            width, 3, strides=2, padding="same", activation="relu", name=f"encoder_conv{index}"
        )(x)
    return x


def strided_decoder(x, filters):
    """The mirror of :func:`strided_encoder`: stride-2 ``Conv2DTranspose``, widths reversed."""
    import keras

    for index, width in enumerate(reversed(filters), start=1):
        x = keras.layers.Conv2DTranspose(
            width, 3, strides=2, padding="same", activation="relu", name=f"decoder_up{index}"
        )(x)
    return x


def build_autoencoder(input_shape=(28, 28, 1), filters=(32, 64), latent_channels=8):
    """Strided-conv encoder down to ``latent_channels`` maps at 1/4 size, transposed-conv decoder.

    28x28x1 -> 14x14x32 -> 7x7x64 -> 7x7x8 (the code: 392 numbers for 784 pixels) -> 14x14x64
    -> 28x28x32 -> 28x28x1 (sigmoid, pixels in [0, 1]). Layer names start with ``encoder_`` or
    ``decoder_``; ``encoder_code`` is the bottleneck.
    """
    import keras

    height, width, channels = input_shape
    if height % 4 or width % 4:
        raise ValueError(
            f"input_shape {input_shape[:2]} must be divisible by 4 (two stride-2 layers): "
            f"pad or crop the images."
        )
    inputs = keras.Input(shape=input_shape, name="image")
    x = strided_encoder(inputs, filters)
    code = keras.layers.Conv2D(latent_channels, 1, name="encoder_code")(x)
    x = strided_decoder(code, filters)
    outputs = keras.layers.Conv2D(
        channels, 3, padding="same", activation="sigmoid", name="decoder_output"
    )(x)
    return keras.Model(inputs, outputs, name="conv_autoencoder")


def encoder_of(autoencoder):
    """The encoder half of :func:`build_autoencoder`'s model: image -> code."""
    import keras

    return keras.Model(autoencoder.input, autoencoder.get_layer("encoder_code").output)


def build_pixel_classifier(input_shape=(64, 64, 1), num_classes=11, filters=(32, 64, 128)):
    """The autoencoder turned classifier: strided encoder to 1/8, decoder back, per-pixel softmax.

    No skip connection: everything the decoder knows about *where* a stroke is has to pass
    through the 1/8-size bottleneck.
    """
    import keras

    inputs = keras.Input(shape=input_shape, name="image")
    x = strided_decoder(strided_encoder(inputs, filters), filters)
    scores = keras.layers.Conv2D(num_classes, 1, name="decoder_scores")(x)
    outputs = keras.layers.Softmax(name="probabilities")(scores)
    return keras.Model(inputs, outputs, name="pixel_classifier")


def add_noise(images, std=0.3, seed=0):
    """Images plus Gaussian noise of standard deviation ``std``, clipped back to [0, 1]."""
    images = np.asarray(images, dtype=np.float32)
    if images.size and (images.min() < 0 or images.max() > 1):
        raise ValueError("images should be in [0, 1]: divide uint8 images by 255 first.")
    noise = np.random.default_rng(seed).normal(0.0, std, images.shape).astype(np.float32)
    return np.clip(images + noise, 0.0, 1.0)


def psnr(reference, estimate, peak=1.0):
    """Peak signal-to-noise ratio of each image in dB: 10 log10(peak^2 / MSE of that image)."""
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if reference.shape != estimate.shape:
        raise ValueError(f"shapes differ: {reference.shape} and {estimate.shape}.")
    axes = tuple(range(1, reference.ndim))
    mse = np.mean((reference - estimate) ** 2, axis=axes)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(peak**2 / mse)
