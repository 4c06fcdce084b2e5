"""The VGG16-layout backbone: never random, Keras' layer names, frozen, offline."""

import keras
import numpy as np
import pytest

from course_utils import backbone, digit_scenes


@pytest.fixture(autouse=True)
def no_imagenet(monkeypatch, tmp_path):
    """No ImageNet weights anywhere: the course's own backbone is the one used."""
    monkeypatch.delenv("VGG16_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


def test_course_backbone_is_pretrained_frozen_and_named_like_vgg16():
    """The shipped weights load into the VGG16 layout with Keras' names, frozen."""
    model, description = backbone.load_vgg16_backbone((64, 64, 1))
    assert "course's VGG16-layout backbone" in description
    assert "test accuracy" in description
    assert not model.trainable and not model.trainable_weights
    names = [layer.name for layer in model.layers]
    for name in backbone.layer_names(model) + [f"block{b}_pool" for b in range(1, 6)]:
        assert name in names
    assert model.get_layer("block3_pool").output.shape[1:] == (8, 8, 64)
    assert model.get_layer("block4_pool").output.shape[1:] == (4, 4, 128)
    assert model.get_layer("block5_pool").output.shape[1:] == (2, 2, 128)
    stored = np.load(backbone.COURSE_WEIGHTS)
    kernel = model.get_layer("block3_conv2").get_weights()[0]
    np.testing.assert_array_equal(kernel, stored["block3_conv2/kernel"].astype(np.float32))


def test_grey_and_colour_inputs_agree():
    """A grey image gives the same features as the same image repeated to 3 channels."""
    grey_model, _ = backbone.load_vgg16_backbone((32, 32, 1))
    colour_model, _ = backbone.load_vgg16_backbone((32, 32, 3))
    image = np.random.default_rng(0).random((2, 32, 32, 1)).astype(np.float32)
    grey = grey_model.predict(image, verbose=0)
    colour = colour_model.predict(np.repeat(image, 3, axis=-1), verbose=0)
    np.testing.assert_allclose(grey, colour, atol=1e-5)


def test_features_have_unit_scale_on_scenes():
    """Balanced pools: maxp3, maxp4, maxp5 of digit scenes are all of order 1."""
    from course_utils import segmentation

    model, _ = backbone.load_vgg16_backbone((64, 64, 1))
    scenes = digit_scenes.make_digit_scenes(64, split="test")
    for features in segmentation.backbone_features(model, scenes.images):
        rms = float(np.sqrt(np.mean(features**2)))
        assert 0.2 < rms < 5, rms


def test_balancing_keeps_predictions():
    """Rescaling blocks changes feature scales but not what a ReLU network computes."""
    keras.utils.set_random_seed(0)
    model = backbone.build_vgg16_layout((32, 32, 1), (4, 4, 8, 8, 8))
    images = np.random.default_rng(1).random((8, 32, 32, 1)).astype(np.float32)
    before = model.predict(images, verbose=0)
    scales = backbone.balance_feature_scales(model, images)
    after = model.predict(images, verbose=0)
    np.testing.assert_allclose(after, before / scales[-1], rtol=1e-4, atol=1e-6)
    pool3 = keras.Model(model.input, model.get_layer("block3_pool").output)
    assert np.sqrt(np.mean(pool3.predict(images, verbose=0) ** 2)) == pytest.approx(1, rel=1e-3)


def test_imagenet_weights_are_used_when_present(monkeypatch, tmp_path):
    """A VGG16_WEIGHTS file wins over the course backbone (first kernel flipped to RGB)."""
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    reference.save_weights(path)
    monkeypatch.setenv("VGG16_WEIGHTS", str(path))
    assert backbone.imagenet_weights_path() == path
    model, description = backbone.load_vgg16_backbone((32, 32, 1))
    assert "ImageNet" in description
    assert not model.trainable
    np.testing.assert_array_equal(
        model.get_layer("block1_conv1").get_weights()[0],
        reference.get_layer("block1_conv1").get_weights()[0][:, :, ::-1],
    )
    image = np.full((1, 32, 32, 3), 0.5, np.float32)
    preprocessed = model.get_layer("preprocess")(image)
    np.testing.assert_allclose(
        np.asarray(preprocessed)[0, 0, 0], 127.5 - np.array(backbone.IMAGENET_MEAN_RGB), atol=1e-3
    )


def test_no_download_outside_full_mode():
    """Asking for ImageNet weights offline fails in one line that names the fix."""
    with pytest.raises(FileNotFoundError, match="VGG16_WEIGHTS"):
        backbone.load_vgg16_backbone((32, 32, 3), weights="imagenet")


@pytest.mark.parametrize(
    ("shape", "match"), [((60, 60, 1), "multiple of 32"), ((64, 64, 2), "1 or 3")]
)
def test_bad_shapes_name_the_fix(shape, match):
    """Shapes the layout cannot take fail in one line."""
    with pytest.raises(ValueError, match=match):
        backbone.load_vgg16_backbone(shape)


def test_bad_weights_argument():
    """An unknown weights name is a one-line error."""
    with pytest.raises(ValueError, match="'auto', 'imagenet' or 'course'"):
        backbone.load_vgg16_backbone(weights="random")
