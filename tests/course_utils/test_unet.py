"""Topic 06: the lecture's U-Net, SegNet, Dice and context module, and the library around them."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import arith, unet
from course_utils.checks import _unet_arrays as dice_arrays
from course_utils.lectures import fcn_vgg
from course_utils.lectures import unet as lecture


def test_unet_keeps_the_resolution_and_concatenates_its_skips():
    model = lecture.build_unet(11, (32, 32, 1), widths=(4, 8, 16, 32))
    assert model.output_shape == (None, 32, 32, 11)
    table = dict(unet.shape_table(model))
    assert table["down1_relu2"] == (32, 32, 4)
    assert table["down3_pool"] == (4, 4, 16)
    assert table["bottleneck_relu2"] == (4, 4, 32)
    assert table["up3_concat"] == (8, 8, 32)  # 16 upsampled + 16 from the skip
    assert table["up1_relu2"] == (32, 32, 4)
    probabilities = model(np.zeros((2, 32, 32, 1), np.float32))
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1.0, atol=1e-5)
    assert [tuple(skip.shape[1:]) for skip in unet.skips(model)] == [
        (32, 32, 4),
        (16, 16, 8),
        (8, 8, 16),
    ]


def test_segnet_unpools_with_switches_and_carries_less():
    model = lecture.build_segnet(5, (16, 16, 1), widths=(4, 8))
    assert model.output_shape == (None, 16, 16, 5)
    switches = unet.switches(model)
    assert [tuple(s.shape[1:]) for s in switches] == [(8, 8, 4), (4, 4, 8)]
    skips = [model.get_layer("down1_relu2").output, model.get_layer("down2_relu2").output]
    # a quarter as many values, at 2 bits instead of 32
    assert unet.bytes_per_image(switches, bits=2) * 4 * 16 == unet.bytes_per_image(skips)
    probabilities = model(np.random.default_rng(0).random((2, 16, 16, 1)).astype("float32"))
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1.0, atol=1e-5)


def test_level_view_groups_levels_and_keeps_the_function():
    model = lecture.build_unet(3, (16, 16, 1), widths=(4, 8))
    grouped = unet.level_view(model)
    names = [layer.name for layer in grouped.layers[1:]]
    assert names == ["down1", "bottleneck", "up1", "classes"]
    images = np.random.default_rng(1).random((2, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(grouped(images), model(images), atol=1e-6)


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


def test_crops_cut_the_same_window_from_image_and_mask():
    rng = np.random.default_rng(2)
    image = rng.random((16, 16, 1)).astype(np.float32)
    mask = (image[..., 0] > 0.5).astype(np.uint8) * 2
    window, window_mask = unet.augment_pair(image, mask, seed=(3, 4), max_shift=0, crop=8)
    window, window_mask = np.asarray(window), np.asarray(window_mask)
    assert window.shape == (8, 8, 1) and window_mask.shape == (8, 8)
    np.testing.assert_array_equal(window_mask, (window[..., 0] > 0.5) * 2)
    matches = [
        (row, column)
        for row in range(9)
        for column in range(9)
        if np.array_equal(image[row : row + 8, column : column + 8], window)
    ]
    assert len(matches) == 1  # a window of the image itself, no padding, no resampling
    with pytest.raises(ValueError, match="smaller crop"):
        unet.augment_pair(image, mask, seed=(3, 4), crop=20)
    for wrong in (0, False, 8.0):
        with pytest.raises(ValueError, match="window side in pixels"):
            unet.augment_pair(image, mask, seed=(3, 4), crop=wrong)


def test_augmented_dataset_crops_every_example():
    images = np.random.default_rng(0).random((6, 16, 16, 1)).astype(np.float32)
    masks = (images[..., 0] > 0.5).astype(np.uint8)
    batches = list(unet.augmented_dataset(images, masks, batch_size=4, max_shift=0, crop=8))
    assert [tuple(batch[0].shape) for batch in batches] == [(4, 8, 8, 1), (2, 8, 8, 1)]
    assert [tuple(batch[1].shape) for batch in batches] == [(4, 8, 8), (2, 8, 8)]


def test_lecture_dice_matches_numpy_and_is_zero_when_perfect():
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 3, (2, 5, 5))
    logits = rng.normal(size=(2, 5, 5, 4))
    probabilities = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    loss = lecture.dice_loss(tf.constant(masks), tf.constant(probabilities))
    expected, _ = dice_arrays.dice_reference(masks, probabilities, 1.0)
    assert float(loss) == pytest.approx(expected, abs=1e-5)
    perfect = np.eye(4, dtype=np.float32)[masks]
    assert float(lecture.dice_loss(masks, perfect)) == pytest.approx(0.0, abs=1e-6)


def test_recipe_adds_dice_to_weighted_crossentropy():
    rng = np.random.default_rng(1)
    masks = rng.integers(0, 3, (2, 4, 4))
    probabilities = np.full((2, 4, 4, 3), 1 / 3, np.float32)
    weights = fcn_vgg.class_weights(masks, 3)
    cross_entropy = fcn_vgg.weighted_crossentropy(weights)
    expected = float(cross_entropy(masks, probabilities)) + float(
        lecture.dice_loss(masks, probabilities)
    )
    combined = lecture.crossentropy_plus_dice(weights)(masks, probabilities)
    assert float(combined) == pytest.approx(expected, 1e-5)


def test_warmup_cosine_rises_then_falls_to_zero():
    schedule = lecture.warmup_cosine(1e-2, epochs=4, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 25, 40)]
    assert rates[0] == pytest.approx(0.0) and rates[2] == pytest.approx(1e-2)
    assert rates[1] < rates[2] and rates[3] < rates[2] and rates[4] == pytest.approx(0, abs=1e-6)


def test_fit_scenes_trains_a_tiny_unet():
    rng = np.random.default_rng(0)
    images = rng.random((16, 16, 16, 1)).astype(np.float32)
    masks = (images[..., 0] > 0.5).astype(np.uint8)
    model = lecture.build_unet(2, (16, 16, 1), widths=(4, 8))
    history, seconds = lecture.fit_scenes(model, images, masks, epochs=2, batch_size=8)
    assert len(history.history["loss"]) == 2 and seconds > 0


def test_fit_scenes_on_crops_trains_a_model_that_takes_whole_scenes():
    rng = np.random.default_rng(0)
    images = rng.random((16, 32, 32, 1)).astype(np.float32)
    masks = (images[..., 0] > 0.5).astype(np.uint8)
    model = lecture.build_unet(2, (None, None, 1), widths=(4, 8))
    before = [np.array(weight) for weight in model.get_weights()]
    history, _ = lecture.fit_scenes(model, images, masks, epochs=1, batch_size=8, crop=16)
    assert len(history.history["loss"]) == 1
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    assert model(images[:2]).shape == (2, 32, 32, 2)  # trained on 16 x 16, predicts 32 x 32
    fixed = lecture.build_unet(2, (32, 32, 1), widths=(4, 8))
    with pytest.raises(ValueError):  # a model built for one size cannot take the windows
        lecture.fit_scenes(fixed, images, masks, epochs=1, batch_size=8, crop=16)


def test_context_module_keeps_resolution_and_channels():
    inputs = keras.Input((20, 24, 6))
    model = keras.Model(inputs, lecture.context_module(inputs))
    assert model.output_shape == (None, 20, 24, 6)
    dilations = [layer.dilation_rate[0] for layer in model.layers[1:]]
    assert dilations == [1, 1, 2, 4, 8, 16, 1, 1]
    module = [(3, 1, d) for d in lecture.CONTEXT_DILATIONS] + [(1, 1, 1)]
    assert arith.receptive_fields(module) == [3, 5, 9, 17, 33, 65, 67, 67]


def test_conv_macs_counts_output_pixels_times_kernel():
    inputs = keras.Input((8, 8, 2))
    outputs = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    assert unet.conv_macs(keras.Model(inputs, outputs)) == 4 * 4 * 3 * 3 * 2 * 4


def test_time_forward_is_positive():
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    assert unet.time_forward(model, np.zeros((4, 8, 8, 1), np.float32), repeats=1) > 0
