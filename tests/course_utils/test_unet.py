"""U-Net, joint augmentation, Dice loss and dilated convolutions of topic 06."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import arith, unet


def test_unet_keeps_the_resolution_and_doubles_widths():
    model = unet.build_unet(num_classes=11, input_shape=(32, 32, 1), levels=3, width=4)
    assert model.output_shape == (None, 32, 32, 11)
    table = dict(unet.shape_table(model))
    assert table["down1_relu2"] == (32, 32, 4)
    assert table["down3_pool"] == (4, 4, 16)
    assert table["bottleneck_relu2"] == (4, 4, 32)
    assert table["up3_concat"] == (8, 8, 32)  # 16 upsampled + 16 from the skip
    assert table["up1_relu2"] == (32, 32, 4)
    probabilities = model(np.zeros((2, 32, 32, 1), np.float32))
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (60, 60, 1), "levels": 4}, "multiple of 2\\*\\*levels = 16"),
        ({"levels": 0}, "levels must be a positive integer"),
        ({"width": 2.5}, "width must be a positive integer"),
    ],
)
def test_unet_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        unet.build_unet(**kwargs)


def test_center_crop_matches_keras_cropping():
    skip = np.arange(2 * 9 * 8 * 1, dtype=np.float32).reshape(2, 9, 8, 1)
    expected = keras.layers.Cropping2D(((1, 2), (1, 2)))(skip)
    np.testing.assert_array_equal(unet.center_crop(skip, 6, 5), expected)
    with pytest.raises(ValueError, match="crop the skip"):
        unet.center_crop(skip, 10, 8)


def test_joint_augmentation_moves_image_and_mask_together():
    rng = np.random.default_rng(0)
    image = np.zeros((16, 16, 1), np.float32)
    image[4:9, 6:12] = rng.uniform(0.6, 1.0, (5, 6, 1))
    mask = (image[..., 0] > 0.5).astype(np.uint8) * 3
    moved_image, moved_mask = unet.augment_pair(image, mask, seed=(1, 2), max_shift=3, flip=True)
    moved_image, moved_mask = np.asarray(moved_image), np.asarray(moved_mask)
    assert moved_image.shape == image.shape and moved_mask.dtype == np.uint8
    np.testing.assert_array_equal(moved_mask, (moved_image[..., 0] > 0.5) * 3)
    assert set(np.unique(moved_mask)) <= {0, 3}  # labels stay labels
    again = unet.augment_pair(image, mask, seed=(1, 2), max_shift=3, flip=True)
    np.testing.assert_array_equal(again[1], moved_mask)  # same seed, same transform


def test_augmented_dataset_batches_and_checks_lengths():
    images = np.random.default_rng(0).random((10, 8, 8, 1)).astype(np.float32)
    masks = (images[..., 0] > 0.5).astype(np.uint8)
    batches = list(unet.augmented_dataset(images, masks, batch_size=4, max_shift=2))
    assert [len(batch[0]) for batch in batches] == [4, 4, 2]
    for batch_images, batch_masks in batches:
        np.testing.assert_array_equal(
            np.asarray(batch_masks), np.asarray(batch_images)[..., 0] > 0.5
        )
    with pytest.raises(ValueError, match="matching arrays"):
        unet.augmented_dataset(images, masks[:5], batch_size=4)


def test_soft_dice_loss_matches_numpy_and_is_zero_when_perfect():
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 3, (2, 5, 5))
    logits = rng.normal(size=(2, 5, 5, 4))
    probabilities = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    loss = unet.soft_dice_loss(4)(tf.constant(masks), tf.constant(probabilities))
    assert float(loss) == pytest.approx(unet.dice_numpy(masks, probabilities), abs=1e-5)
    perfect = np.eye(4, dtype=np.float32)[masks]
    assert float(unet.soft_dice_loss(4)(masks, perfect)) == pytest.approx(0.0, abs=1e-6)


def test_dilated_fields_of_the_lecture():
    assert unet.dilated_fields([1, 2, 4]) == [3, 7, 15]
    module = [(3, 1, d) for d in unet.CONTEXT_DILATIONS] + [(1, 1, 1)]
    assert arith.receptive_fields(module) == [3, 5, 9, 17, 33, 65, 67, 67]


def test_context_module_keeps_resolution_and_channels():
    inputs = keras.Input((20, 24, 6))
    model = keras.Model(inputs, unet.context_module(inputs))
    assert model.output_shape == (None, 20, 24, 6)
    dilations = [layer.dilation_rate[0] for layer in model.layers[1:]]
    assert dilations == [1, 1, 2, 4, 8, 16, 1, 1]


def test_conv_macs_counts_output_pixels_times_kernel():
    inputs = keras.Input((8, 8, 2))
    outputs = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    assert unet.conv_macs(keras.Model(inputs, outputs)) == 4 * 4 * 3 * 3 * 2 * 4


def test_dilation_instead_of_pooling_keeps_size_and_costs_more():
    pooled = unet.pooling_network((32, 32, 1), width=4)
    dilated = unet.dilated_network((32, 32, 1), width=4)
    assert pooled.output_shape == (None, 8, 8, 4)
    assert dilated.output_shape == (None, 32, 32, 4)
    assert unet.conv_macs(dilated) > 3 * unet.conv_macs(pooled)
    images = np.zeros((4, 32, 32, 1), np.float32)
    assert unet.time_forward(dilated, images, repeats=1) > 0


def test_fit_augmented_trains_a_tiny_unet():
    rng = np.random.default_rng(0)
    images = rng.random((16, 16, 16, 1)).astype(np.float32)
    masks = (images[..., 0] > 0.5).astype(np.uint8)
    model = unet.build_unet(num_classes=2, input_shape=(16, 16, 1), levels=2, width=4)
    history, seconds = unet.fit_augmented(model, images, masks, epochs=2, batch_size=8)
    assert len(history.history["loss"]) == 2 and seconds > 0


def test_unet_widths_can_be_set_level_by_level():
    model = unet.build_unet(num_classes=3, input_shape=(16, 16, 1), widths=(4, 12, 24))
    table = dict(unet.shape_table(model))
    assert table["down2_relu2"] == (8, 8, 12)
    assert table["bottleneck_relu2"] == (4, 4, 24)
    assert model.output_shape == (None, 16, 16, 3)
    assert unet.unet_widths(3, 8) == (8, 16, 32, 64)


def test_combined_loss_adds_dice_to_weighted_crossentropy():
    from course_utils.lectures import fcn_vgg

    rng = np.random.default_rng(1)
    masks = rng.integers(0, 3, (2, 4, 4))
    probabilities = np.full((2, 4, 4, 3), 1 / 3, np.float32)
    cross_entropy = fcn_vgg.weighted_crossentropy(fcn_vgg.class_weights(masks, 3))
    expected = float(cross_entropy(masks, probabilities)) + unet.dice_numpy(masks, probabilities)
    assert float(unet.combined_loss(masks, 3)(masks, probabilities)) == pytest.approx(
        expected, 1e-5
    )
