"""course_utils.instances and the instance masks of course_utils.digit_scenes."""

import numpy as np
import pytest

from course_utils import detection, digit_scenes, instances, roi


def test_pixel_box_gives_back_a_true_box_converted_to_corners():
    inclusive = np.array([[3, 5, 12, 20], [0, 0, 0, 0], [50, 40, 63, 63]])
    for box in inclusive:
        corners = detection.inclusive_to_continuous(box[None])[0]
        assert instances.pixel_box(corners, 64) == tuple(box)


def test_pixel_box_takes_the_pixels_whose_centres_lie_inside_and_clips():
    assert instances.pixel_box((2.4, 2.6, 5.4, 7.49), 64) == (2, 3, 4, 6)
    assert instances.pixel_box((-3.0, 60.0, 10.0, 70.0), 64) == (0, 60, 9, 63)


def test_paste_mask_fills_its_box_and_nothing_else():
    soft = np.zeros((4, 4))
    soft[:, 2:] = 1.0  # the right half of the box
    pasted = instances.paste_mask(soft, (2, 3, 9, 6), 12)
    assert pasted.shape == (12, 12) and pasted.dtype == bool
    expected = np.zeros((12, 12), bool)
    expected[3:7, 6:10] = True
    np.testing.assert_array_equal(pasted, expected)


def test_paste_mask_of_a_full_mask_is_its_box():
    pasted = instances.paste_mask(np.ones((7, 7)), (1, 2, 1, 9), 10)
    assert pasted.sum() == 8 and pasted[2:10, 1].all()


def test_roi_align_equals_crop_and_resize_on_a_linear_map():
    """On a map linear in x and y, each bin's average is the map at the bin's centre."""
    rows, columns = np.mgrid[0:8, 0:8]
    feature_map = 3.0 * columns + 2.0 * rows
    box = (1.3, 2.2, 6.1, 5.7)
    aligned = roi.roi_align(feature_map, box, output_size=2, sampling_ratio=2)
    centres_x = box[0] + (np.arange(2) + 0.5) * (box[2] - box[0]) / 2 - 0.5
    centres_y = box[1] + (np.arange(2) + 0.5) * (box[3] - box[1]) / 2 - 0.5
    np.testing.assert_allclose(aligned, 3 * centres_x[None] + 2 * centres_y[:, None], rtol=1e-5)


def test_group_pixels_separates_two_clusters_of_embeddings():
    embeddings = np.zeros((6, 6, 2))
    embeddings[:, 3:] = [4.0, 0.0]
    embeddings += np.random.default_rng(0).normal(0, 0.05, embeddings.shape)
    foreground = np.ones((6, 6), bool)
    foreground[0, 0] = False
    groups = instances.group_pixels(embeddings, foreground, min_pixels=4)
    assert groups[0, 0] == 0
    assert len(np.unique(groups[:, :3][foreground[:, :3]])) == 1
    assert len(np.unique(groups[:, 3:])) == 1 and groups[0, 3] != groups[1, 1]
    truth = np.where(foreground, np.where(np.arange(6) < 3, 1, 2)[None], 0)
    assert instances.instances_found(groups, truth) == (2, 2, 0)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return digit_scenes.make_digit_scenes(60, cache=False)


def test_instance_masks_split_the_class_mask_one_id_per_box(scenes):
    """Each id's pixels carry its box's digit, lie in its box and fill it tightly; together the
    instances cover exactly the labelled pixels."""
    ids = scenes.instances
    assert ids.dtype == np.uint8 and ids.shape == scenes.masks.shape
    np.testing.assert_array_equal(ids > 0, scenes.masks > 0)
    for scene, boxes in enumerate(scenes.boxes):
        assert ids[scene].max() == len(boxes)
        for index, (digit, x_min, y_min, x_max, y_max) in enumerate(boxes):
            rows, columns = np.nonzero(ids[scene] == index + 1)
            assert (columns.min(), rows.min(), columns.max(), rows.max()) == (
                x_min,
                y_min,
                x_max,
                y_max,
            )
            assert np.all(scenes.masks[scene][rows, columns] == digit + 1)


def test_instances_leave_the_cached_arrays_as_they_were(cache):
    """Instances are derived: the cache file holds images, masks and boxes only, as before."""
    digit_scenes.make_digit_scenes(12, size=32)
    with np.load(digit_scenes.scene_cache_path(12, size=32)) as stored:
        assert not any("instance" in name for name in stored.files)
