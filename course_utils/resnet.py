"""Residual blocks, plain and residual networks of the same depth, and gradient norms.

The blocks are the basic (two 3x3 convolutions) blocks of He et al. 2016, in their original
post-activation form: ``ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x))``. Networks follow the
paper's CIFAR layout, ``6n + 2`` layers: one stem convolution, three stages of ``n`` blocks with
widths ``w, 2w, 4w`` (the first block of stages 2 and 3 halves the resolution), global average
pooling and one dense layer. Projection shortcuts are not counted as layers, as in the paper.
"""

import time

import numpy as np

STAGES = 3


def conv_bn(x, filters, kernel_size=3, strides=1, name=None):
    """Convolution without bias (batch norm has its own shift) followed by batch norm."""
    import keras

    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=None if name is None else f"{name}_conv",
    )(x)
    # momentum 0.9 (Keras: 0.99) so the inference statistics keep up in runs of a few epochs.
    return keras.layers.BatchNormalization(
        momentum=0.9, name=None if name is None else f"{name}_bn"
    )(x)


def _residual_path(x, filters, strides, name):
    """The two convolutions of a basic block, without the final ReLU."""
    import keras

    first = None if name is None else f"{name}_a"
    second = None if name is None else f"{name}_b"
    x = conv_bn(x, filters, 3, strides, first)
    x = keras.layers.ReLU(name=None if name is None else f"{name}_a_relu")(x)
    return conv_bn(x, filters, 3, 1, second)


def identity_block(x, filters=None, name=None):
    """Basic block whose shortcut is the input itself: same shape in and out."""
    import keras

    channels = x.shape[-1]
    filters = channels if filters is None else filters
    if filters != channels:
        raise ValueError(
            f"an identity block keeps {channels} channels, asked for {filters}: "
            f"use projection_block() when the channels or the stride change."
        )
    residual = _residual_path(x, filters, 1, name)
    x = keras.layers.Add(name=None if name is None else f"{name}_add")([residual, x])
    return keras.layers.ReLU(name=None if name is None else f"{name}_out")(x)


def projection_block(x, filters, strides=2, name=None):
    """Basic block whose shortcut is a strided 1x1 convolution (plus batch norm) to match shapes."""
    import keras

    residual = _residual_path(x, filters, strides, name)
    shortcut = conv_bn(x, filters, 1, strides, None if name is None else f"{name}_proj")
    x = keras.layers.Add(name=None if name is None else f"{name}_add")([residual, shortcut])
    return keras.layers.ReLU(name=None if name is None else f"{name}_out")(x)


def residual_block(x, filters, strides=1, name=None):
    """An identity block where shapes allow it, else a projection block."""
    if strides == 1 and x.shape[-1] == filters:
        return identity_block(x, filters, name)
    return projection_block(x, filters, strides, name)


def plain_block(x, filters, strides=1, name=None):
    """The same two convolutions as a basic block, with no shortcut."""
    import keras

    x = _residual_path(x, filters, strides, name)
    return keras.layers.ReLU(name=None if name is None else f"{name}_out")(x)


def blocks_per_stage(depth):
    """``n`` of a ``6n + 2``-layer network (20 -> 3, 56 -> 9, 110 -> 18)."""
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 (8, 14, 20, 32, 56, ...), got {depth!r}.")
    return (depth - 2) // 6


def build_network(
    depth=20,
    residual=True,
    width=16,
    num_classes=10,
    input_shape=(28, 28, 1),
    first_strides=2,
    name=None,
):
    """A ``6n + 2``-layer classifier, residual (ResNet-depth) or plain (the same without shortcuts).

    ``first_strides=2`` lets the stem halve 28x28 inputs to 14x14, which cuts the cost of every
    later layer by four at a small price in accuracy.
    """
    import keras

    count = blocks_per_stage(depth)
    block = residual_block if residual else plain_block
    inputs = keras.Input(input_shape)
    x = conv_bn(inputs, width, 3, first_strides, name="stem")
    x = keras.layers.ReLU(name="stem_relu")(x)
    for stage in range(STAGES):
        filters = width * 2**stage
        for index in range(count):
            strides = 2 if stage > 0 and index == 0 else 1
            x = block(x, filters, strides, name=f"stage{stage + 1}_block{index + 1}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    kind = "resnet" if residual else "plain"
    return keras.Model(inputs, outputs, name=name or f"{kind}{depth}")


def kernel_layers(model):
    """The layers of ``model`` that hold a kernel, in order (projection shortcuts left out)."""
    import keras

    return [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)
        and not layer.name.endswith("_proj_conv")
    ]


def gradient_norms(model, images, labels):
    """L2 norm of the loss gradient with respect to each layer's kernel, input side first.

    Batch norm runs in training mode, as in the first step of training.
    """
    import keras
    import tensorflow as tf

    layers = kernel_layers(model)
    loss_function = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_function(labels, model(images, training=True))
    gradients = tape.gradient(loss, [layer.kernel for layer in layers])
    return np.array([float(tf.norm(gradient)) for gradient in gradients])


def zero_kernels(model):
    """Set every convolution and dense kernel (and bias) of ``model`` to zero, in place."""
    for layer in model.layers:
        for weight in getattr(layer, "weights", []):
            if weight.path.endswith(("kernel", "bias")):
                weight.assign(np.zeros(weight.shape, dtype=weight.dtype))
    return model


def block_parameters(in_channels, filters, strides=1):
    """Trainable parameters of a basic block: two 3x3 convolutions, a projection if needed.

    Convolutions carry no bias; each batch norm adds 2 trainable numbers per channel
    (gamma and beta; its moving mean and variance are not trained).
    """
    count = 9 * in_channels * filters + 9 * filters * filters + 2 * (2 * filters)
    if strides != 1 or in_channels != filters:
        count += in_channels * filters + 2 * filters
    return count


def prepare_images(images):
    """uint8 ``(N, 28, 28)`` images to float32 ``(N, 28, 28, 1)`` in [0, 1]."""
    return (np.asarray(images, dtype=np.float32) / 255.0)[..., None]


def cosine_optimizer(steps, learning_rate=0.05, momentum=0.9):
    """SGD with momentum whose learning rate falls along a half cosine to zero over ``steps``."""
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1))
    return keras.optimizers.SGD(schedule, momentum=momentum, nesterov=True)


def fit_classifier(
    model,
    images,
    labels,
    epochs,
    batch_size=128,
    learning_rate=0.05,
    validation_data=None,
    description=None,
):
    """Train with the course's classifier recipe (SGD, cosine schedule); return (history, s)."""
    from course_utils import progress  # imports Keras: only when training, after config.setup()

    steps = epochs * int(np.ceil(len(images) / batch_size))
    model.compile(
        optimizer=cosine_optimizer(steps, learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(
        images,
        labels,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        verbose=0,
        callbacks=[progress.EpochBar(description or model.name)],
    )
    return history, time.perf_counter() - start


def layer_table(model):
    """``[(name, kind, output shape, parameters)]`` of a model's layers, input first."""
    rows = []
    for layer in model.layers:
        shape = tuple(layer.output.shape[1:])
        rows.append((layer.name, type(layer).__name__, shape, layer.count_params()))
    return rows


def print_layer_table(model):
    """Print :func:`layer_table` as aligned text, with the total."""
    for name, kind, shape, count in layer_table(model):
        print(f"{name:<22}{kind:<20}{str(shape):<16}{count:>8,}")
    print(f"{'total':<58}{model.count_params():>8,}")
