"""Independent answers of the convolution checks: Keras and TensorFlow ops on one channel.

Shared by the checks of topics 01 and 02: ``keras.ops.conv`` and ``conv_transpose`` on a 2-D
array, a plain correlation over an already padded array (with knobs for wrong step counts),
TensorFlow's 'same' padding amounts, upsampling through a ``Conv2DTranspose`` layer against
``tf.image.resize``, and deterministic small-integer test data.
"""

import numpy as np

from course_utils import arith


def random_integers(shape, seed, low=-3, high=4):
    """A deterministic small-integer array, so answers are exact in float32 and float64."""
    return np.random.default_rng(seed).integers(low, high, size=shape).astype(np.float64)


def keras_conv2d(x, kernel, strides=1, padding="valid"):
    """Single-channel cross-correlation by ``keras.ops.conv``: the independent answer."""
    import keras

    output = keras.ops.conv(
        np.asarray(x, np.float32)[None, :, :, None],
        np.asarray(kernel, np.float32)[:, :, None, None],
        strides=strides,
        padding=padding,
    )
    return np.asarray(keras.ops.convert_to_numpy(output), np.float64)[0, :, :, 0]


def pad(x, rows, cols):
    """Zero-pad a 2-D array by ``(before, after)`` rows and columns."""
    return np.pad(np.asarray(x, np.float64), (rows, cols))


def same_amounts(x, kernel, strides):
    """TensorFlow's 'same' padding ``((top, bottom), (left, right))``."""
    return [arith.same_padding_amounts(n, k, strides) for n, k in zip(np.shape(x), kernel.shape)]


def correlate(padded, kernel, strides, counts=None):
    """Slide ``kernel`` over an already padded array; ``counts`` overrides the number of steps."""
    kernel = np.asarray(kernel, np.float64)
    if counts is None:
        counts = [(n - k) // strides + 1 for n, k in zip(padded.shape, kernel.shape)]
    output = np.zeros([max(c, 0) for c in counts])
    for i in range(output.shape[0]):
        for j in range(output.shape[1]):
            top, left = i * strides, j * strides
            window = padded[top : top + kernel.shape[0], left : left + kernel.shape[1]]
            if window.shape == kernel.shape:
                output[i, j] = np.sum(window * kernel)
    return output


def keras_conv2d_transpose(x, kernel, strides=1):
    """Single-channel transposed convolution by ``keras.ops.conv_transpose`` ('valid')."""
    import keras

    output = keras.ops.conv_transpose(
        np.asarray(x, np.float32)[None, :, :, None],
        np.asarray(kernel, np.float32)[:, :, None, None],
        strides=strides,
        padding="valid",
    )
    return np.asarray(keras.ops.convert_to_numpy(output), np.float64)[0, :, :, 0]


def upsample_with_kernel(image, kernel, factor):
    """Upsample a 2-D image with a Conv2DTranspose (stride f, 'same') holding ``kernel``."""
    import keras

    layer = keras.layers.Conv2DTranspose(
        1, kernel.shape, strides=factor, padding="same", use_bias=False
    )
    batch = np.asarray(image, np.float32)[None, :, :, None]
    layer.build(batch.shape)
    layer.set_weights([np.asarray(kernel, np.float32)[:, :, None, None]])
    return np.asarray(layer(batch))[0, :, :, 0].astype(np.float64)


def resize_bilinear(image, factor):
    """``tf.image.resize`` bilinear (half-pixel centres, TensorFlow 2's default)."""
    import tensorflow as tf

    height, width = np.shape(image)
    batch = np.asarray(image, np.float32)[None, :, :, None]
    return tf.image.resize(batch, (height * factor, width * factor), "bilinear").numpy()[0, :, :, 0]
