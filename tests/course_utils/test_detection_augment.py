"""Augmentation for detection: boxes move with the image, photometric changes leave them."""

import numpy as np
import pytest

from course_utils import detection_augment


def scene_with_box(size=32):
    """A black image with one white rectangle and its continuous box (class 4)."""
    image = np.zeros((size, size, 1))
    image[8:14, 3:11] = 1.0  # rows 8..13, columns 3..10
    return image, np.array([[4, 3, 8, 11, 14]], float)


def ink_box(image):
    """The continuous box around the pixels brighter than 0.5."""
    rows, columns = np.nonzero(np.squeeze(image) > 0.5)
    return np.array([columns.min(), rows.min(), columns.max() + 1, rows.max() + 1], float)


def test_a_flip_moves_the_box_onto_the_mirrored_ink():
    """[x_min, x_max) becomes [W - x_max, W - x_min); twice is the identity."""
    image, truth = scene_with_box()
    flipped, moved = detection_augment.flip_left_right(image, truth)
    np.testing.assert_array_equal(moved, [[4, 21, 8, 29, 14]])
    np.testing.assert_array_equal(moved[0, 1:], ink_box(flipped))
    back, again = detection_augment.flip_left_right(flipped, moved)
    np.testing.assert_array_equal(back, image)
    np.testing.assert_array_equal(again, truth)


def test_a_crop_zooms_the_box_with_the_image():
    """A window of half the side doubles every distance from its corner."""
    image, truth = scene_with_box()
    zoomed, moved = detection_augment.crop_and_zoom(image, truth, (2, 4, 18, 20))
    assert zoomed.shape == image.shape
    np.testing.assert_allclose(moved, [[4, 2, 8, 18, 20]])
    np.testing.assert_allclose(ink_box(zoomed), moved[0, 1:], atol=1)


def test_a_crop_clips_boxes_and_drops_those_mostly_outside():
    """Half or more inside: clipped and kept; less: dropped."""
    image, truth = scene_with_box()
    _, kept = detection_augment.crop_and_zoom(image, truth, (7, 0, 31, 24))  # 4 of 8 columns
    np.testing.assert_allclose(kept[:, 1:], [[0, 8 * 32 / 24, 4 * 32 / 24, 14 * 32 / 24]])
    _, dropped = detection_augment.crop_and_zoom(image, truth, (8, 0, 32, 24))  # 3 of 8
    assert dropped.shape == (0, 5)


def test_the_whole_window_changes_nothing():
    """Cropping the whole image is the identity, up to interpolation rounding."""
    image, truth = scene_with_box()
    same, boxes = detection_augment.crop_and_zoom(image, truth, (0, 0, 32, 32))
    np.testing.assert_allclose(same, image, atol=1e-12)
    np.testing.assert_allclose(boxes, truth)


def test_photometric_changes_stay_in_range_and_keep_boxes():
    """Exposure changes give an image in [0, 1]; random augmentation keeps the box count sane."""
    image, truth = scene_with_box()
    assert np.array_equal(detection_augment.photometric(image), image)
    brighter = detection_augment.photometric(image * 0.5, brightness=0.2)
    assert brighter.max() == pytest.approx(0.7)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        changed, boxes = detection_augment.augment(image, truth, rng, flip=True)
        assert changed.shape == image.shape and 0 <= changed.min() <= changed.max() <= 1
        assert len(boxes) <= 1 and np.all(boxes[:, 1:] >= 0) and np.all(boxes[:, 1:] <= 32)
