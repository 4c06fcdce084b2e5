"""Topic 05's helpers around the lecture's networks: gradient norms, parameter counts, training.

The blocks and networks themselves (``conv_bn``, ``identity_block``, ``projection_block``,
``plain_block``, ``residual_block``, ``build_network``) are written in
``notebooks/05_resnet_blocks.ipynb`` and exported to ``course_utils.lectures.resnet_blocks``:
basic blocks of He et al. 2016 in their original post-activation form, in the paper's CIFAR
layout of ``6n + 2`` layers. Here is what the lecture does with them: per-layer gradient norms,
zeroed kernels, the parameter count of a block, the classifier's training recipe, layer tables.
"""

import time

import numpy as np


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
