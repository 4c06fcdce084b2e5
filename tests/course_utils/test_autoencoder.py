"""Topic 03's helpers: noise, PSNR, collages, Lab colour, checkerboard split, dependence maps."""

import numpy as np
import pytest

from course_utils import autoencoder, data
from course_utils.lectures import conv_autoencoder as lecture


def test_noise_and_psnr_errors():
    """Bad inputs fail in one line naming the fix."""
    with pytest.raises(ValueError, match="divide uint8 images by 255"):
        autoencoder.add_noise(np.full((1, 4, 4), 200.0))
    with pytest.raises(ValueError, match="shapes differ"):
        autoencoder.psnr(np.zeros((1, 4, 4)), np.zeros((1, 4, 5)))


def test_tile_puts_images_side_by_side():
    images = np.arange(6)[:, None, None, None] * np.ones((6, 2, 3, 1))
    collage = autoencoder.tile(images, rows=2, columns=3)
    assert collage.shape == (4, 9, 1)
    assert collage[0, 0, 0] == 0 and collage[0, 3, 0] == 1 and collage[2, 0, 0] == 3
    with pytest.raises(ValueError, match="need 9 images"):
        autoencoder.tile(images, 3, 3)


def test_lab_round_trip_and_grey_has_no_colour():
    rgb = np.random.default_rng(0).random((2, 5, 4, 3)).astype(np.float32)
    lightness, colour = autoencoder.to_lab(rgb)
    assert lightness.shape == (2, 5, 4, 1) and colour.shape == (2, 5, 4, 2)
    assert lightness.min() >= 0 and lightness.max() <= 1 and np.abs(colour).max() < 1
    np.testing.assert_allclose(autoencoder.from_lab(lightness, colour), rgb, atol=1e-3)
    _, grey_colour = autoencoder.to_lab(np.full((3, 3, 3), 0.4))
    np.testing.assert_allclose(grey_colour, 0, atol=1e-3)


def test_checkerboard_split_never_shares_a_square():
    photo = np.arange(4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)
    train = autoencoder.checkerboard_blocks(photo, block=2, part="train")
    test = autoencoder.checkerboard_blocks(photo, block=2, part="test")
    assert len(train) == len(test) == 3
    seen = {value for block in train for value in block.ravel()}
    assert not seen & {value for block in test for value in block.ravel()}
    patches = autoencoder.random_patches(train, 2, 10, seed=0)
    assert patches.shape == (10, 2, 2, 3)
    assert {value for patch in patches for value in patch.ravel()} <= seen


def test_colour_photos_are_offline():
    for name in autoencoder.COLOUR_PHOTOS:
        assert data.photo(name).shape[-1] == 3


def test_output_pixels_of_the_one_eighth_classifier_see_15_to_23_pixels():
    """A bottleneck cell sees 15; one or two cells 8 apart feed an output pixel: 15 or 23."""
    model = lecture.build_pixel_classifier((64, 64, 1), 11, (16, 32, 64))
    pixels = [(row, column) for row in range(24, 32) for column in (24, 25)]
    masks = autoencoder.dependence_maps(model, "decoder_scores", pixels, (64, 64, 1))
    sides = {side for mask in masks for side in autoencoder.window_size(mask)}
    assert sides == {15, 23}
    (cell,) = autoencoder.dependence_maps(model, "encoder_conv3", [(4, 4)], (64, 64, 1))
    assert autoencoder.window_size(cell) == (15, 15)
    assert autoencoder.window_size(np.zeros((3, 3))) == (0, 0)
