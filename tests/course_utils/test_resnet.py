"""Residual blocks and networks of topic 05: the lecture's networks and the library's helpers."""

import keras
import numpy as np
import pytest

from course_utils import resnet
from course_utils.lectures import resnet_blocks as lecture


def block_model(block, input_shape, *args):
    """A model around one block."""
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, block(inputs, *args))


def test_identity_block_keeps_the_shape_and_zero_weights_give_relu():
    model = block_model(lecture.identity_block, (6, 6, 8))
    assert model.output_shape == (None, 6, 6, 8)
    resnet.zero_kernels(model)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 8)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), np.maximum(x, 0), atol=1e-6)


def test_plain_block_with_zero_weights_forgets_its_input():
    model = block_model(lecture.plain_block, (6, 6, 8), 8)
    resnet.zero_kernels(model)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 8)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), 0, atol=1e-6)


def test_identity_block_refuses_a_change_of_channels():
    with pytest.raises(ValueError, match="use projection_block"):
        block_model(lecture.identity_block, (6, 6, 8), 16)


@pytest.mark.parametrize("in_channels, filters, strides", [(16, 16, 1), (16, 32, 2), (8, 24, 1)])
def test_block_parameters_match_keras(in_channels, filters, strides):
    model = block_model(lecture.residual_block, (8, 8, in_channels), filters, strides)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert resnet.block_parameters(in_channels, filters, strides) == trainable
    assert model.output_shape == (None, 8 // strides, 8 // strides, filters)


def test_projection_block_halves_the_resolution():
    model = block_model(lecture.projection_block, (7, 7, 4), 8, 2)
    assert model.output_shape == (None, 4, 4, 8)


@pytest.mark.parametrize("depth, blocks", [(8, 1), (20, 3), (56, 9), (110, 18)])
def test_blocks_per_stage(depth, blocks):
    assert lecture.blocks_per_stage(depth) == blocks


@pytest.mark.parametrize("depth", [19, 2, "20", 20.0])
def test_blocks_per_stage_names_the_rule(depth):
    with pytest.raises(ValueError, match=r"6n \+ 2"):
        lecture.blocks_per_stage(depth)


@pytest.mark.parametrize("residual", [True, False])
def test_networks_have_the_stated_depth(residual):
    model = lecture.build_network(20, residual=residual, width=4)
    assert len(resnet.kernel_layers(model)) == 20
    assert model.output_shape == (None, 10)
    projections = [layer for layer in model.layers if layer.name.endswith("_proj_conv")]
    assert len(projections) == (2 if residual else 0)


def test_gradient_norms_one_per_layer_and_finite():
    model = lecture.build_network(14, width=4)
    rng = np.random.default_rng(0)
    images = rng.random((8, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, 8)
    norms = resnet.gradient_norms(model, images, labels)
    assert norms.shape == (14,)
    assert np.all(np.isfinite(norms)) and np.all(norms > 0)


def test_prepare_images_scales_and_adds_a_channel():
    images = resnet.prepare_images(np.full((3, 28, 28), 255, np.uint8))
    assert images.shape == (3, 28, 28, 1) and images.dtype == np.float32
    assert images.max() == 1.0


def test_fit_classifier_learns_a_trivial_task():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 128)
    images = np.zeros((128, 28, 28, 1), np.float32)
    images[labels == 1, :14] = 1.0  # class 1: top half bright
    model = lecture.build_network(8, width=4, num_classes=2)
    history, seconds = resnet.fit_classifier(model, images, labels, epochs=3, batch_size=32)
    assert seconds > 0
    assert history.history["accuracy"][-1] > 0.9


def test_layer_table_lists_shapes_and_parameters(capsys):
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, lecture.projection_block(inputs, 8, 2, name="block"))
    rows = {name: (shape, count) for name, _, shape, count in resnet.layer_table(model)}
    assert rows["block_proj_conv"] == ((4, 4, 8), 32)
    assert rows["block_add"] == ((4, 4, 8), 0)
    resnet.print_layer_table(model)
    assert f"{model.count_params():>8,}" in capsys.readouterr().out


def test_importing_the_topic_modules_leaves_tensorflow_unloaded():
    """Setup cells import these before config.setup(), which must run before TensorFlow loads."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from course_utils import autoencoder, resnet, unet\n"
        "from course_utils.checks import conv_autoencoder as c, resnet_blocks as a, unet as b\n"
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr[-500:]
