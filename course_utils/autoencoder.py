"""Topic 03's helpers around the lecture's networks: noise, PSNR, collages, colour, dependence.

The networks themselves (the convolutional autoencoder, the denoiser, the dense-bottleneck
autoencoder, the colouriser and the pixel classifier) are written in
``notebooks/03_conv_autoencoder.ipynb`` and exported to ``course_utils.lectures.conv_autoencoder``.
Here is what they need around them:

* :func:`add_noise` and :func:`psnr` for the denoising autoencoder;
* :func:`tile` to make one larger, non-square image out of several small ones;
* :func:`to_lab`, :func:`from_lab`, :func:`checkerboard_blocks` and :func:`random_patches` for
  colourisation: lightness in, the two colour channels of CIE Lab out, on squares of
  scikit-image's bundled photos split into training and test squares like a checkerboard;
* :func:`dependence_maps` and :func:`window_size`: which input pixels an output pixel depends on.
"""

import numpy as np

# Colour photos scikit-image ships (``data.photo``); ``camera`` is grey and left out.
COLOUR_PHOTOS = ("astronaut", "chelsea", "coffee")
# Lab's colour channels a and b lie within about +-110; divided by this they fit tanh's range.
AB_SCALE = 128.0


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


def tile(images, rows, columns):
    """``rows * columns`` images of shape (H, W, C) side by side: one (rows H, columns W, C)."""
    images = np.asarray(images)[: rows * columns]
    if len(images) < rows * columns:
        raise ValueError(
            f"{rows} x {columns} tiles need {rows * columns} images, got {len(images)}."
        )
    height, width, channels = images.shape[1:]
    grid = images.reshape(rows, columns, height, width, channels).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * height, columns * width, channels)


# --- colour ------------------------------------------------------------------------------------


def to_lab(rgb):
    """RGB in [0, 1], (..., 3) -> lightness in [0, 1], (..., 1), and colour a, b / 128, (..., 2)."""
    import skimage.color

    lab = skimage.color.rgb2lab(np.asarray(rgb, dtype=np.float64), channel_axis=-1)
    lightness = (lab[..., :1] / 100.0).astype(np.float32)
    return lightness, (lab[..., 1:] / AB_SCALE).astype(np.float32)


def from_lab(lightness, colour):
    """The inverse of :func:`to_lab`: RGB in [0, 1] from lightness and the scaled a, b channels."""
    import skimage.color

    lab = np.concatenate(
        [np.asarray(lightness, np.float64) * 100.0, np.asarray(colour, np.float64) * AB_SCALE],
        axis=-1,
    )
    return np.clip(skimage.color.lab2rgb(lab, channel_axis=-1), 0.0, 1.0).astype(np.float32)


def crop_to_multiple(image, multiple):
    """The top-left part of ``image`` whose height and width are multiples of ``multiple``."""
    height, width = (side - side % multiple for side in image.shape[:2])
    return image[:height, :width]


def checkerboard_blocks(photo, block=64, part="train"):
    """The ``block`` x ``block`` squares of a photo on the white (train) or black (test) squares
    of a checkerboard: each test square is surrounded by training squares, never inside one."""
    if part not in ("train", "test"):
        raise ValueError(f"part must be 'train' or 'test', got {part!r}.")
    parity = 0 if part == "train" else 1
    rows, columns = photo.shape[0] // block, photo.shape[1] // block
    return [
        photo[row * block : (row + 1) * block, column * block : (column + 1) * block]
        for row in range(rows)
        for column in range(columns)
        if (row + column) % 2 == parity
    ]


def random_patches(blocks, size, count, seed=0):
    """``count`` random square patches of side ``size``, each inside one block; half mirrored."""
    rng = np.random.default_rng(seed)
    patches = np.empty((count, size, size, blocks[0].shape[-1]), np.float32)
    for index in range(count):
        block = blocks[rng.integers(len(blocks))]
        top, left = rng.integers(0, block.shape[0] - size + 1, size=2)
        patch = block[top : top + size, left : left + size]
        patches[index] = patch[:, ::-1] if rng.random() < 0.5 else patch
    return patches


# --- what an output pixel depends on ------------------------------------------------------------


def dependence_maps(model, layer_name, pixels, image_shape):
    """Which input pixels each output pixel ``(row, column)`` of ``layer_name`` depends on.

    One boolean mask per pixel. The structure alone decides it, not the trained weights: on a
    copy of the model every kernel is 1 and every bias 0, so with an input of ones no ReLU is
    ever cut off, and the gradient of an output pixel is non-zero exactly on the input pixels
    connected to it.
    """
    import keras
    import tensorflow as tf

    copy = keras.Model.from_config(model.get_config())  # the layers, not the compiled loss
    copy.set_weights(
        [np.ones_like(w) if w.ndim > 1 else np.zeros_like(w) for w in model.get_weights()]
    )
    scores = keras.Model(copy.inputs, copy.get_layer(layer_name).output)
    image = tf.ones((1, *image_shape))
    masks = []
    for row, column in pixels:
        with tf.GradientTape() as tape:
            tape.watch(image)
            value = scores(image)[0, row, column, 0]
        masks.append(np.asarray(tape.gradient(value, image))[0].max(axis=-1) != 0)
    return masks


def window_size(mask):
    """Height and width of the smallest box around the true pixels of a 2-D mask."""
    rows, columns = np.nonzero(mask)
    if not len(rows):
        return 0, 0
    return int(rows.max() - rows.min() + 1), int(columns.max() - columns.min() + 1)


def gradient_of_pixel(model, image, row, column, channel):
    """|d output[row, column, channel] / d image| of a trained model, summed over input channels."""
    import tensorflow as tf

    image = tf.convert_to_tensor(np.asarray(image, np.float32)[None])
    with tf.GradientTape() as tape:
        tape.watch(image)
        value = model(image, training=False)[0, row, column, channel]
    return np.abs(np.asarray(tape.gradient(value, image))[0]).sum(axis=-1)


def outline_window(image, mask, pixel):
    """A grey image as RGB with the box around ``mask`` drawn in red and ``pixel`` in yellow."""
    image = np.squeeze(np.asarray(image, dtype=np.float32))
    rgb = np.stack([image] * 3, axis=-1)
    rows, columns = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max(), columns.min(), columns.max()
    for row, column in [(top, slice(left, right + 1)), (bottom, slice(left, right + 1))]:
        rgb[row, column] = (1.0, 0.2, 0.2)
    for row, column in [(slice(top, bottom + 1), left), (slice(top, bottom + 1), right)]:
        rgb[row, column] = (1.0, 0.2, 0.2)
    rgb[pixel] = (1.0, 1.0, 0.2)
    return rgb
