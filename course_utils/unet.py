"""Topic 06's helpers that are not its networks: joint augmentation, shape tables and costs.

The U-Net, SegNet, the Dice loss, the context module and the training recipe are written in
``notebooks/06_unet.ipynb`` and exported to :mod:`course_utils.lectures.unet`; this module has
what the lecture uses around them:

* :func:`augment_pair` and :func:`augmented_dataset`: one random transform applied to an image
  and its mask alike (the mask moved pixel for pixel, so labels stay labels), or a random window
  of both (training on crops);
* :func:`shape_table`: what each level of a U-Net or SegNet outputs, down the U and back up;
* :func:`conv_macs`, :func:`bytes_per_image` and :func:`time_forward`: what a network costs in
  multiply-adds, in memory carried from encoder to decoder, and in time.

The SegNet that default mode loads instead of training is in :mod:`course_utils.shipped_segnet`.
"""

import time

import numpy as np

# Bits a switch needs: which of the 4 positions of its 2x2 window held the maximum.
SWITCH_BITS = 2


# ---------------------------------------------------------------------------------------------
# Joint augmentation


def augment_pair(image, mask, seed, max_shift=6, flip=False, crop=None):
    """One random shift (and optional left-right flip) applied to an image and its mask alike.

    ``image`` (H, W, C) float, ``mask`` (H, W) integer, ``seed`` a pair of ints (stateless ops:
    the same seed gives the same transform). The mask is moved with the image, pixel for pixel;
    where the shift uncovers pixels the image gets zeros and the mask background (0). Mask and
    image travel as one tensor, so they cannot receive different transforms. ``crop`` cuts a
    random ``crop`` x ``crop`` window instead of keeping the whole (shifted) image.
    """
    import tensorflow as tf

    image = tf.convert_to_tensor(image, tf.float32)
    mask = tf.cast(tf.convert_to_tensor(mask), tf.float32)[..., None]
    stacked = tf.concat([image, mask], axis=-1)
    height, width, channels = stacked.shape
    if crop is not None:
        if isinstance(crop, bool) or not isinstance(crop, int) or crop < 1:
            raise ValueError(
                f"crop={crop!r}: pass a window side in pixels, or None for whole images."
            )
        if crop > min(height, width):
            raise ValueError(
                f"crop={crop} is larger than the {height} x {width} image: pass a smaller crop."
            )
        height = width = crop
    padded = tf.pad(stacked, [[max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    stacked = tf.image.stateless_random_crop(padded, (height, width, channels), seed=seed)
    if flip:
        stacked = tf.image.stateless_random_flip_left_right(stacked, seed=seed)
    return stacked[..., :-1], tf.cast(tf.round(stacked[..., -1]), tf.uint8)


def augmented_dataset(images, masks, batch_size, seed=0, max_shift=6, flip=False, crop=None):
    """A shuffled ``tf.data.Dataset`` of jointly augmented (image, mask) batches, new each epoch.

    With ``crop``, each example is a random ``crop`` x ``crop`` window of its image and mask.
    """
    import tensorflow as tf

    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images but {len(masks)} masks: pass matching arrays.")
    dataset = tf.data.Dataset.from_tensor_slices((images, masks))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    dataset = tf.data.Dataset.zip((dataset, seeds))

    def transform(pair, pair_seed):
        """Augment one example with its own stateless seed."""
        return augment_pair(pair[0], pair[1], pair_seed, max_shift, flip, crop)

    return dataset.map(transform).batch(batch_size).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------------------------
# Shapes and costs


def shape_table(model):
    """``[(layer, output shape)]`` of a U-Net or SegNet of the lecture, down the U and back up.

    One row per level output: the image, each level's last ReLU, each pooling (pooled values
    only), each upsampling and concatenation, and the class probabilities.
    """
    rows = []
    for layer in model.layers:
        name = layer.name
        ends = ("_relu2", "_pool", "_up", "_unpool", "_concat")
        if name in ("image", "classes") or name.endswith(ends):
            output = layer.output[0] if isinstance(layer.output, list | tuple) else layer.output
            rows.append((name, tuple(output.shape[1:])))
    return rows


def skips(model):
    """The maps a lecture U-Net hands from encoder to decoder: each contracting level's output."""
    return [
        layer.output
        for layer in model.layers
        if layer.name.startswith("down") and layer.name.endswith("_relu2")
    ]


def switches(model):
    """The switches a lecture SegNet hands from encoder to decoder: each pooling's indices."""
    return [
        layer.output[1]
        for layer in model.layers
        if layer.name.endswith("_pool") and isinstance(layer.output, list | tuple)
    ]


def level_view(model):
    """The same model with each level's layers grouped into one nested model, to be drawn.

    A level is the layers whose names share the part before the first ``_`` (``down1``,
    ``bottleneck``, ``up1``, ``classes``); the grouped model shares the original's layers, so a
    drawing of it shows the levels and the tensors that pass between them, skips included.
    """
    import keras

    groups = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.InputLayer):
            groups.setdefault(layer.name.split("_")[0], []).append(layer)
    made_by = {}
    for prefix, layers in groups.items():
        for layer in layers:
            for tensor in keras.tree.flatten(layer.output):
                made_by[id(tensor)] = prefix
    image = keras.Input(model.input.shape[1:], name=model.input.name)
    renamed = {id(model.input): image}
    for prefix, layers in groups.items():
        inputs = _group_inputs(layers, made_by, prefix)
        outputs = _group_outputs(model, groups, layers, made_by, prefix)
        level = keras.Model(inputs, outputs, name=prefix)
        results = keras.tree.flatten(level([renamed[id(tensor)] for tensor in inputs]))
        renamed.update({id(tensor): result for tensor, result in zip(outputs, results)})
    return keras.Model(image, renamed[id(model.output)], name=f"{model.name}_levels")


def _consumed(layer):
    """The tensors a layer was called on, in order."""
    import keras

    return keras.tree.flatten(layer._inbound_nodes[0].input_tensors)


def _group_inputs(layers, made_by, prefix):
    """Tensors a level reads that another level (or the image) made, each once, in order."""
    inputs = []
    for layer in layers:
        for tensor in _consumed(layer):
            if made_by.get(id(tensor)) != prefix and all(tensor is not t for t in inputs):
                inputs.append(tensor)
    return inputs


def _group_outputs(model, groups, layers, made_by, prefix):
    """Tensors a level makes that another level reads or that the model returns."""
    read_elsewhere = [
        tensor
        for other, members in groups.items()
        if other != prefix
        for layer in members
        for tensor in _consumed(layer)
        if made_by.get(id(tensor)) == prefix
    ]
    outputs = []
    for layer in layers:
        import keras

        for tensor in keras.tree.flatten(layer.output):
            wanted = tensor is model.output or any(tensor is t for t in read_elsewhere)
            if wanted and all(tensor is not t for t in outputs):
                outputs.append(tensor)
    return outputs


def conv_macs(model):
    """Multiply-accumulates of one forward pass through every Conv2D of ``model``, per image."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            height, width, _ = layer.output.shape[1:]
            total += height * width * int(np.prod(layer.kernel.shape))
    return int(total)


def bytes_per_image(tensors, bits=None):
    """Memory one image's ``tensors`` (symbolic, batch axis first) take, in bytes.

    By the tensors' own dtypes, or at ``bits`` per value when given (a switch needs 2 bits).
    """
    total = 0.0
    for tensor in tensors:
        values = int(np.prod(tensor.shape[1:]))
        size = np.dtype(str(tensor.dtype)).itemsize if bits is None else bits / 8
        total += values * size
    return int(np.ceil(total))


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
