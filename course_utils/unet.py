"""U-Net with concatenated skips, joint augmentation of image and mask, dilated convolutions.

* :func:`build_unet`: the contracting path (two 3x3 convolutions, then 2x2 max pooling, the
  width doubling at each level), a bottleneck, and the expanding path (2x2 transposed
  convolution, concatenation with the skip of the same resolution, two 3x3 convolutions), then
  a 1x1 convolution to class probabilities. ``padding="same"`` keeps sizes aligned, so no
  cropping is needed; :func:`center_crop` is the original paper's valid-padding alternative.
* :func:`shape_table`: what each level outputs, for the "shapes through both paths" slide.
* :func:`augment_pair` and :func:`augmented_dataset`: one random transform applied to an image
  and its mask alike (nearest-neighbour for the mask, so labels stay labels).
* :func:`context_module` (Yu and Koltun's basic module, dilations 1, 1, 2, 4, 8, 16, 1 then a
  1x1), :func:`dilated_fields`, :func:`conv_macs`, and :func:`pooling_network` /
  :func:`dilated_network`, the same convolutions with pooling or with dilation.
"""

import time

import numpy as np

from course_utils import arith

CONTEXT_DILATIONS = (1, 1, 2, 4, 8, 16, 1)


def conv_pair(x, filters, batch_norm=True, name=None):
    """Two 3x3 same-padded convolutions, each followed by (batch norm and) ReLU."""
    import keras

    for index in (1, 2):
        layer_name = None if name is None else f"{name}_conv{index}"
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=not batch_norm, name=layer_name
        )(x)
        if batch_norm:
            # momentum 0.9 so the inference statistics keep up in runs of a few epochs.
            bn_name = None if name is None else f"{name}_bn{index}"
            x = keras.layers.BatchNormalization(momentum=0.9, name=bn_name)(x)
        x = keras.layers.ReLU(name=None if name is None else f"{name}_relu{index}")(x)
    return x


def encoder_level(x, filters, batch_norm=True, name=None):
    """One contracting level: returns ``(skip, down)``, the full-resolution features and pooled."""
    import keras

    skip = conv_pair(x, filters, batch_norm, name)
    down = keras.layers.MaxPooling2D(2, name=None if name is None else f"{name}_pool")(skip)
    return skip, down


def decoder_level(x, skip, filters, batch_norm=True, name=None):
    """One expanding level: upsample by 2, concatenate the skip on channels, two convolutions."""
    import keras

    up = keras.layers.Conv2DTranspose(
        filters, 2, strides=2, name=None if name is None else f"{name}_up"
    )(x)
    x = keras.layers.Concatenate(axis=-1, name=None if name is None else f"{name}_concat")(
        [up, skip]
    )
    return conv_pair(x, filters, batch_norm, name)


def _check_unet_arguments(input_shape, levels, width):
    """One-line errors for sizes a U-Net cannot take."""
    if not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a positive integer, got {levels!r}.")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}.")
    factor = 2**levels
    for size in input_shape[:2]:
        if size is not None and size % factor:
            raise ValueError(
                f"input size {tuple(input_shape[:2])} must be a multiple of 2**levels = {factor} "
                f"({levels} poolings): pad or crop the images, or use fewer levels."
            )


def unet_widths(levels=4, width=8):
    """The classic widths: ``width * 2**level`` for each level, then the bottleneck's."""
    return tuple(width * 2**level for level in range(levels + 1))


def build_unet(
    num_classes=11,
    input_shape=(64, 64, 1),
    levels=4,
    width=8,
    widths=None,
    batch_norm=True,
    name="unet",
):
    """A U-Net: ``levels`` poolings, concatenated skips.

    Widths double at each level from ``width`` (``widths`` sets them all, bottleneck last: the
    full-resolution level is the costly one, so it pays to keep it narrow).
    """
    import keras

    widths = unet_widths(levels, width) if widths is None else tuple(widths)
    levels = len(widths) - 1
    _check_unet_arguments(input_shape, levels, min(widths))
    inputs = keras.Input(input_shape, name="image")
    x, skips = inputs, []
    for level in range(levels):
        skip, x = encoder_level(x, widths[level], batch_norm, name=f"down{level + 1}")
        skips.append(skip)
    x = conv_pair(x, widths[-1], batch_norm, name="bottleneck")
    for level in reversed(range(levels)):
        x = decoder_level(x, skips[level], widths[level], batch_norm, name=f"up{level + 1}")
    outputs = keras.layers.Conv2D(num_classes, 1, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name=name)


def shape_table(model):
    """``[(level, output shape)]`` of a :func:`build_unet` model, down the U and back up."""
    rows = []
    for layer in model.layers:
        name = layer.name
        if name in ("image", "classes") or name.endswith(("_relu2", "_pool", "_up", "_concat")):
            rows.append((name, tuple(layer.output.shape[1:])))
    return rows


def center_crop(skip, height, width):
    """The central ``height`` x ``width`` window of NHWC ``skip`` (the paper's valid U-Net).

    When the difference is odd the extra row or column is cut at the bottom or right, as
    ``Cropping2D`` and ``tf.image.resize_with_crop_or_pad`` do.
    """
    top = (skip.shape[1] - height) // 2
    left = (skip.shape[2] - width) // 2
    if top < 0 or left < 0:
        raise ValueError(
            f"cannot crop {tuple(skip.shape[1:3])} to a larger {(height, width)}: "
            f"crop the skip, not the upsampled map."
        )
    return skip[:, top : top + height, left : left + width, :]


# ---------------------------------------------------------------------------------------------
# Joint augmentation


def augment_pair(image, mask, seed, max_shift=6, flip=False):
    """One random shift (and optional left-right flip) applied to an image and its mask alike.

    ``image`` (H, W, C) float, ``mask`` (H, W) integer, ``seed`` a pair of ints (stateless ops:
    the same seed gives the same transform). The mask is moved with the image, pixel for pixel;
    where the shift uncovers pixels the image gets zeros and the mask background (0). Mask and
    image travel as one tensor, so they cannot receive different transforms.
    """
    import tensorflow as tf

    image = tf.convert_to_tensor(image, tf.float32)
    mask = tf.cast(tf.convert_to_tensor(mask), tf.float32)[..., None]
    stacked = tf.concat([image, mask], axis=-1)
    height, width, channels = stacked.shape
    padded = tf.pad(stacked, [[max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    stacked = tf.image.stateless_random_crop(padded, (height, width, channels), seed=seed)
    if flip:
        stacked = tf.image.stateless_random_flip_left_right(stacked, seed=seed)
    return stacked[..., :-1], tf.cast(tf.round(stacked[..., -1]), tf.uint8)


def augmented_dataset(images, masks, batch_size, seed=0, max_shift=6, flip=False):
    """A shuffled ``tf.data.Dataset`` of jointly augmented (image, mask) batches, new each epoch."""
    import tensorflow as tf

    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images but {len(masks)} masks: pass matching arrays.")
    dataset = tf.data.Dataset.from_tensor_slices((images, masks))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    dataset = tf.data.Dataset.zip((dataset, seeds))

    def transform(pair, pair_seed):
        """Augment one example with its own stateless seed."""
        return augment_pair(pair[0], pair[1], pair_seed, max_shift, flip)

    return dataset.map(transform).batch(batch_size).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------------------------
# Losses


def soft_dice_loss(num_classes, smooth=1.0):
    """1 - mean over classes of the soft Dice coefficient, summed over batch and pixels."""
    import keras

    def loss(y_true, y_pred):
        """Soft Dice loss of integer masks against class probabilities."""
        y_true = keras.ops.cast(keras.ops.reshape(y_true, keras.ops.shape(y_pred)[:-1]), "int32")
        truth = keras.ops.one_hot(y_true, num_classes)
        axes = (0, 1, 2)
        intersection = keras.ops.sum(truth * y_pred, axis=axes)
        total = keras.ops.sum(truth, axis=axes) + keras.ops.sum(y_pred, axis=axes)
        dice = (2.0 * intersection + smooth) / (total + smooth)
        return 1.0 - keras.ops.mean(dice)

    loss.__name__ = "soft_dice"
    return loss


def combined_loss(masks, num_classes, smooth=1.0):
    """The course's weighted cross-entropy (sqrt inverse frequency) plus the soft Dice loss."""
    from course_utils.lectures import fcn_vgg

    cross_entropy = fcn_vgg.weighted_crossentropy(fcn_vgg.class_weights(masks, num_classes))
    dice = soft_dice_loss(num_classes, smooth)

    def loss(y_true, y_pred):
        """Cross-entropy keeps every pixel right; Dice keeps the small classes in view."""
        return cross_entropy(y_true, y_pred) + dice(y_true, y_pred)

    loss.__name__ = "crossentropy_plus_dice"
    return loss


def dice_numpy(masks, probabilities, smooth=1.0):
    """Reference soft Dice loss in NumPy (masks (N, H, W) ints, probabilities (N, H, W, C))."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    truth = np.eye(probabilities.shape[-1])[np.asarray(masks, dtype=int)]
    intersection = np.sum(truth * probabilities, axis=(0, 1, 2))
    total = np.sum(truth, axis=(0, 1, 2)) + np.sum(probabilities, axis=(0, 1, 2))
    return float(1.0 - np.mean((2 * intersection + smooth) / (total + smooth)))


# ---------------------------------------------------------------------------------------------
# Training


def cosine_schedule(initial, epochs, examples, batch_size):
    """Cosine decay from ``initial`` to zero over every step of the run."""
    import keras

    steps = max(epochs * int(np.ceil(examples / batch_size)), 1)
    return keras.optimizers.schedules.CosineDecay(initial, decay_steps=steps)


def fit_augmented(
    model, images, masks, epochs, batch_size=32, learning_rate=3e-3, seed=0, flip=False
):
    """The course recipe (Adam, sqrt class weights, cosine schedule) on augmented batches.

    Returns ``(history, seconds)`` like ``segmentation.fit_segmenter``.
    """
    import keras

    from course_utils import progress
    from course_utils.lectures import fcn_vgg

    num_classes = int(model.output_shape[-1])
    weights = fcn_vgg.class_weights(masks, num_classes)
    schedule = cosine_schedule(learning_rate, epochs, len(images), batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule), loss=fcn_vgg.weighted_crossentropy(weights)
    )
    dataset = augmented_dataset(images, masks, batch_size, seed, flip=flip)
    started = time.perf_counter()
    history = model.fit(
        dataset, epochs=epochs, shuffle=False, verbose=0, callbacks=[progress.EpochBar()]
    )  # the dataset shuffles itself; shuffle=False only tells Keras not to warn
    return history, time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# Dilated convolutions


def dilated_fields(dilations, kernel_size=3):
    """Receptive field after each stride-1 convolution of a dilated stack."""
    return arith.receptive_fields([(kernel_size, 1, dilation) for dilation in dilations])


def context_module(x, channels=None, dilations=CONTEXT_DILATIONS, name="context"):
    """Yu and Koltun's basic context module: dilated 3x3 convolutions and a 1x1, same size out."""
    import keras

    channels = x.shape[-1] if channels is None else channels
    for index, dilation in enumerate(dilations, start=1):
        x = keras.layers.Conv2D(
            channels,
            3,
            padding="same",
            dilation_rate=dilation,
            activation="relu",
            name=f"{name}_{index}_d{dilation}",
        )(x)
    return keras.layers.Conv2D(channels, 1, name=f"{name}_{len(dilations) + 1}_1x1")(x)


def conv_macs(model):
    """Multiply-accumulates of one forward pass through every Conv2D of ``model``, per image."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            height, width, _ = layer.output.shape[1:]
            kernel = layer.kernel.shape
            total += height * width * int(np.prod(kernel))
    return int(total)


def pooling_network(input_shape=(64, 64, 1), width=16, blocks=3):
    """Convolutions with 2x2 max pooling between them: the map shrinks, the field grows."""
    import keras

    inputs = keras.Input(input_shape)
    x = inputs
    for block in range(blocks):
        if block:
            x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{block}")(x)
    return keras.Model(inputs, x, name="pooling")


def dilated_network(input_shape=(64, 64, 1), width=16, blocks=3):
    """The same convolutions with pooling removed and dilation 2**block instead: full size out."""
    import keras

    inputs = keras.Input(input_shape)
    x = inputs
    for block in range(blocks):
        x = keras.layers.Conv2D(
            width,
            3,
            padding="same",
            dilation_rate=2**block,
            activation="relu",
            name=f"conv{block}_d{2**block}",
        )(x)
    return keras.Model(inputs, x, name="dilated")


def time_forward(model, images, repeats=3):
    """Best wall time of ``repeats`` forward passes over ``images`` (seconds).

    The model is called directly (no ``predict``): no per-call tracing, nothing to warn about.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images)
    model(images[:2], training=False)  # build once
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        model(images, training=False)
        best = min(best, time.perf_counter() - started)
    return best
