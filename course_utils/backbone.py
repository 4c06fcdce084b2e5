"""The frozen, pretrained VGG16-layout backbone of the FCN and U-Net topics.

``load_vgg16_backbone()`` never returns random weights. It uses, in order:

1. ImageNet VGG16 weights when they are present: the path in :func:`imagenet_weights_path`
   (the ``VGG16_WEIGHTS`` environment variable, else Keras' cache
   ``~/.keras/models/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``), or a download in full
   mode;
2. else the course's own VGG16-layout backbone, a quarter of VGG16's width (16-32-64-128-128
   channels instead of 64-128-256-512-512, about 1M parameters), pretrained on the offline digits
   by ``course_tools/train_backbone.py`` and shipped in ``course_utils/assets/``.

Both have Keras' VGG16 layer names (``block1_conv1`` ... ``block5_pool``), so
``model.get_layer("block3_pool")`` is maxp3 (stride 8) and ``"block4_pool"`` is maxp4 (stride 16).
The layout itself (the five blocks of 3x3 convolutions) is written in the FCN lecture and comes
from ``course_utils.lectures.fcn_vgg``; this module adds the input layers, the weights and the
freezing.

Inputs are images in [0, 1] with 1 or 3 channels. A grey image is repeated to 3 channels inside
the model (layer ``grey_to_rgb``), so the first convolution keeps VGG16's 3-channel kernel and
ImageNet weights load unchanged; the ``preprocess`` layer then applies the normalisation the
weights were trained with (ImageNet: 0-255 minus the channel means, as ``vgg16.preprocess_input``).
"""

import os
import pathlib

import numpy as np

from course_utils import config, shipped_weights

COURSE_WEIGHTS = shipped_weights.ASSETS / "vgg16_quarter_digits.npz"
IMAGENET_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
QUARTER_WIDTHS = (16, 32, 64, 128, 128)  # the course backbone: VGG16's widths divided by 4
# vgg16.preprocess_input ("caffe" mode) subtracts these from 0-255 pixels; RGB order here because
# the first kernel's input channels are flipped from Caffe's BGR when ImageNet weights load.
IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)


def layer_names(model):
    """A VGG16-layout model's convolution names, in order: ``block1_conv1`` ... ``block5_conv3``."""
    names = [layer.name for layer in model.layers]
    return [name for name in names if name.startswith("block") and "_conv" in name]


def block_convolutions(model, block):
    """The names of block ``block``'s convolutions, in order."""
    return [name for name in layer_names(model) if name.startswith(f"block{block}_")]


def imagenet_weights_path():
    """Path of VGG16 ImageNet (no-top) weights on this machine, or None when there are none."""
    candidates = []
    if os.environ.get("VGG16_WEIGHTS"):
        candidates.append(pathlib.Path(os.environ["VGG16_WEIGHTS"]).expanduser())
    keras_home = os.environ.get("KERAS_HOME") or pathlib.Path.home() / ".keras"
    candidates.append(pathlib.Path(keras_home) / "models" / IMAGENET_FILE)
    for path in candidates:
        if path.is_file():
            return path
    return None


def build_vgg16_layout(input_shape=(64, 64, 3), widths=QUARTER_WIDTHS, mean=0.0, scale=1.0):
    """The lecture's VGG16 layout (no top) behind the input layers; random weights.

    A grey input is repeated to 3 channels (``grey_to_rgb``); ``mean`` and ``scale`` (numbers or
    one per RGB channel) set the ``preprocess`` layer: ``(pixels_in_0_1 - mean) * scale``.
    """
    import keras

    from course_utils.lectures import fcn_vgg

    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ValueError(
            f"input_shape must be (height, width, 1 or 3), got {input_shape}: "
            f"pass grey scenes as (H, W, 1) or colour images as (H, W, 3)."
        )
    if input_shape[0] is not None and (input_shape[0] % 32 or input_shape[1] % 32):
        raise ValueError(
            f"input_shape {input_shape[:2]} must be a multiple of 32 (five 2x2 poolings): "
            f"crop or pad the images, e.g. to 64x64 or 128x128."
        )
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if input_shape[-1] == 1:
        x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    mean, scale = np.broadcast_to(mean, 3), np.broadcast_to(scale, 3)
    x = keras.layers.Rescaling(
        scale=[float(s) for s in scale],
        offset=[float(-m * s) for m, s in zip(mean, scale)],
        name="preprocess",
    )(x)
    outputs = fcn_vgg.vgg16_convolutions(x, widths)
    return keras.Model(inputs, outputs, name="vgg16_backbone")


def balance_feature_scales(model, images, batch_size=64):
    """Rescale a VGG16-layout model so every ``blockN_pool`` output has unit RMS on ``images``.

    ReLU and max pooling commute with multiplication by a positive number, so dividing a
    block's last convolution (kernel and bias) by ``a`` and multiplying the next block's first
    kernel by ``a`` changes no prediction, only the scale of that block's features. Skip
    connections need this: a 1x1 score layer on features of RMS 0.05 learns 20 times slower under
    Adam than one on features of RMS 1. Returns the RMS of each pool output before balancing.
    """
    import keras

    before = []
    blocks = range(1, 6)
    for block in blocks:
        pool = model.get_layer(f"block{block}_pool").output
        features = keras.Model(model.input, pool).predict(images, batch_size=batch_size, verbose=0)
        rms = float(np.sqrt(np.mean(np.square(features))))
        before.append(rms)
        last = model.get_layer(block_convolutions(model, block)[-1])
        kernel, bias = last.get_weights()
        last.set_weights([kernel / rms, bias / rms])
        if block < blocks[-1]:
            following = model.get_layer(f"block{block + 1}_conv1")
            kernel, bias = following.get_weights()
            following.set_weights([kernel * rms, bias])
    return before


def save_course_weights(model, path=COURSE_WEIGHTS, **info):
    """Save a VGG16-layout model's convolution weights and ``info`` (task, accuracy, mean...)."""
    weights = {}
    for name in layer_names(model):
        weights[f"{name}/kernel"], weights[f"{name}/bias"] = model.get_layer(name).get_weights()
    widths = np.array([model.get_layer(f"block{b}_conv1").filters for b in range(1, 6)])
    return shipped_weights.save_weights(path, weights, info, others={"widths": widths})


def _load_course_backbone(input_shape, path=COURSE_WEIGHTS):
    """The course's pretrained quarter-width backbone, from the shipped ``.npz``."""
    remake = (
        "reinstall course_utils, or run 'python -m course_tools.train_backbone' to make them "
        "(a few minutes of CPU)"
    )
    if not pathlib.Path(path).is_file():
        raise FileNotFoundError(f"the course backbone weights {path} are missing: {remake}.")
    try:
        arrays, info = shipped_weights.load_weights(path)
    except ValueError as error:
        message = f"the course backbone weights are unreadable ({error}): {remake}."
        raise ValueError(message) from None
    widths = tuple(int(width) for width in arrays["widths"])
    model = build_vgg16_layout(input_shape, widths, info["mean"], info["scale"])
    for name in layer_names(model):
        model.get_layer(name).set_weights([arrays[f"{name}/kernel"], arrays[f"{name}/bias"]])
    description = (
        f"the course's VGG16-layout backbone ({'-'.join(map(str, widths))} channels, "
        f"{model.count_params() / 1e6:.2f}M parameters), pretrained on {info['task']} "
        f"(test accuracy {info['test_accuracy']:.1%}); ImageNet VGG16 weights were not found"
    )
    return model, description


def _load_imagenet_backbone(input_shape, weights):
    """VGG16 with ImageNet weights copied into the course layout (grey input, RGB first kernel)."""
    import keras

    from course_utils.lectures import fcn_vgg

    shape3 = tuple(input_shape[:2]) + (3,)
    reference = keras.applications.VGG16(include_top=False, weights=weights, input_shape=shape3)
    model = build_vgg16_layout(
        input_shape, fcn_vgg.VGG16_WIDTHS, np.array(IMAGENET_MEAN_RGB) / 255.0, 255.0
    )
    for name in layer_names(model):
        kernel, bias = reference.get_layer(name).get_weights()
        if name == "block1_conv1":
            kernel = kernel[:, :, ::-1, :]  # Caffe's BGR input channels to RGB
        model.get_layer(name).set_weights([kernel, bias])
    source = "Keras' download" if weights == "imagenet" else str(weights)
    return model, f"VGG16 with ImageNet weights ({source}, 14.7M parameters)"


def load_vgg16_backbone(input_shape=(64, 64, 3), weights="auto"):
    """A frozen, pretrained VGG16-layout backbone and a one-line description of which one.

    ``weights``: ``"auto"`` (ImageNet when present, else the course's), ``"imagenet"`` or
    ``"course"``. Returns ``(model, description)``; ``model.trainable`` is False.
    """
    if weights not in ("auto", "imagenet", "course"):
        raise ValueError(f"weights must be 'auto', 'imagenet' or 'course', got {weights!r}.")
    path = imagenet_weights_path() if weights != "course" else None
    if path is not None:
        model, description = _load_imagenet_backbone(input_shape, str(path))
    elif weights == "imagenet" or (weights == "auto" and config.is_full()):
        # Only full mode may download (about 58 MB); other modes stay offline.
        if not config.is_full():
            raise FileNotFoundError(
                f"no VGG16 ImageNet weights here: put {IMAGENET_FILE} in ~/.keras/models/, set "
                f"VGG16_WEIGHTS to its path, or use full mode (COURSE_SCALE=full) to download it."
            )
        model, description = _load_imagenet_backbone(input_shape, "imagenet")
    else:
        model, description = _load_course_backbone(input_shape)
    model.trainable = False
    return model, description


def feature_extractor(backbone, names):
    """A model from the backbone's input to the named layers' outputs (a U-Net's skips, say).

    The FCN's maxp3, maxp4 and maxp5 are the lecture's ``fcn_vgg.pooling_outputs(backbone)``.
    """
    import keras

    outputs = [backbone.get_layer(name).output for name in names]
    return keras.Model(backbone.input, outputs, name="vgg16_features")
