"""Tests of course_utils.digit_scenes: deterministic scenes, masks, boxes and their cache."""

import warnings

import numpy as np
import pytest

from course_utils import data, digit_scenes, plots

# ---------------------------------------------------------------------------------------------
# Digit scenes


def same_scenes(first, second):
    """True when two Scenes hold the same bytes."""
    return (
        first.images.tobytes() == second.images.tobytes()
        and first.masks.tobytes() == second.masks.tobytes()
        and len(first.boxes) == len(second.boxes)
        and all(a.tobytes() == b.tobytes() for a, b in zip(first.boxes, second.boxes))
    )


def test_scenes_have_the_documented_types(cache):
    scenes = digit_scenes.make_digit_scenes(20, size=48, max_digits=4)
    assert scenes.images.shape == (20, 48, 48, 1) and scenes.images.dtype == np.float32
    assert scenes.masks.shape == (20, 48, 48) and scenes.masks.dtype == np.uint8
    assert scenes.images.min() >= 0 and scenes.images.max() <= 1
    assert scenes.masks.max() < digit_scenes.NUM_SCENE_CLASSES == 11
    assert len(scenes.boxes) == 20
    counts = [len(boxes) for boxes in scenes.boxes]
    assert min(counts) >= 1 and max(counts) <= 4 and len(set(counts)) > 1
    for boxes in scenes.boxes:
        assert boxes.ndim == 2 and boxes.shape[1] == 5 and boxes.dtype.kind == "i"
    images, masks, boxes = scenes  # a NamedTuple unpacks
    assert images is scenes.images


def test_scenes_are_deterministic_and_seeded(cache):
    first = digit_scenes.make_digit_scenes(30, cache=False)
    again = digit_scenes.make_digit_scenes(30, cache=False)
    assert same_scenes(first, again)
    assert not same_scenes(first, digit_scenes.make_digit_scenes(30, seed=1, cache=False))
    assert not same_scenes(first, digit_scenes.make_digit_scenes(30, split="test", cache=False))


def test_a_smaller_set_is_the_start_of_a_larger_one(cache):
    small = digit_scenes.make_digit_scenes(40, size=32, cache=False)
    large = digit_scenes.make_digit_scenes(digit_scenes.CHUNK + 20, size=32, cache=False)
    assert same_scenes(
        small, digit_scenes.Scenes(large.images[:40], large.masks[:40], large.boxes[:40])
    )


def test_masks_label_exactly_the_drawn_strokes(cache):
    scenes = digit_scenes.make_digit_scenes(60)
    bright = scenes.images[..., 0] >= digit_scenes.STROKE_THRESHOLD
    # every labelled pixel is drawn bright, and every bright pixel is labelled
    np.testing.assert_array_equal(scenes.masks > 0, bright)


def test_boxes_are_tight_around_their_digits_pixels(cache):
    scenes = digit_scenes.make_digit_scenes(60, max_digits=4)
    for mask, boxes in zip(scenes.masks, scenes.boxes):
        covered = np.zeros(mask.shape, bool)
        for digit, x_min, y_min, x_max, y_max in boxes:
            inside = mask[y_min : y_max + 1, x_min : x_max + 1]
            mine = inside == digit + 1
            # tight: the digit's pixels reach all four edges of its box
            assert mine[0].any() and mine[-1].any() and mine[:, 0].any() and mine[:, -1].any()
            # only this digit and background inside its box
            assert set(np.unique(inside)) <= {0, digit + 1}
            assert not covered[y_min : y_max + 1, x_min : x_max + 1].any(), "boxes overlap"
            covered[y_min : y_max + 1, x_min : x_max + 1] = True
        # no labelled pixel outside every box, and each class present has a box
        assert not (mask[~covered] > 0).any()
        assert set(np.unique(mask[mask > 0]) - 1) == set(boxes[:, 0])


def test_train_and_test_scenes_draw_on_disjoint_digits(cache, monkeypatch):
    (x_train, _), (x_test, _) = data.load_digits()
    # Mark the pools: train digits all called 0, test digits all called 9.
    marked = (
        (x_train, np.zeros(len(x_train), np.int64)),
        (x_test, np.full(len(x_test), 9, np.int64)),
    )
    monkeypatch.setattr(data, "load_digits", lambda: marked)
    train = digit_scenes.make_digit_scenes(30, split="train", cache=False)
    test = digit_scenes.make_digit_scenes(30, split="test", cache=False)
    assert {int(box[0]) for boxes in train.boxes for box in boxes} == {0}
    assert {int(box[0]) for boxes in test.boxes for box in boxes} == {9}
    assert set(np.unique(test.masks)) == {0, 10}


def test_scenes_come_back_from_the_cache(cache, monkeypatch):
    fresh = digit_scenes.make_digit_scenes(25, size=32)
    path = digit_scenes.scene_cache_path(25, size=32)
    assert path.exists() and not list(cache.glob("*.partial"))

    def fail(*args):
        raise AssertionError("regenerated instead of reading the cache")

    monkeypatch.setattr(digit_scenes, "_generate_scenes", fail)
    assert same_scenes(fresh, digit_scenes.make_digit_scenes(25, size=32))


def truncate(path):
    """Cut a file to half its length."""
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])


def garble(path):
    """Replace a file with garbage bytes."""
    path.write_bytes(b"not a cache file" * 100)


def tamper(path):
    """Change one mask pixel but keep the stored checksum: a silently wrong file."""
    with np.load(path) as stored:
        arrays = {name: stored[name].copy() for name in stored.files}
    arrays["masks"][0, 0, 0] = 7
    np.savez(path, **arrays)


@pytest.mark.parametrize("damage", [truncate, garble, tamper])
def test_a_damaged_cache_is_regenerated_with_a_warning(cache, damage):
    fresh = digit_scenes.make_digit_scenes(25, size=32, cache=False)
    digit_scenes.make_digit_scenes(25, size=32)
    path = digit_scenes.scene_cache_path(25, size=32)
    damage(path)
    with pytest.warns(UserWarning, match="damaged.*regenerating"):
        repaired = digit_scenes.make_digit_scenes(25, size=32)
    assert same_scenes(fresh, repaired)
    # the file was rewritten: the next call reads it without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert same_scenes(fresh, digit_scenes.make_digit_scenes(25, size=32))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"count": 0}, "positive whole number"),
        ({"count": 5, "size": 8}, "size >= 16"),
        ({"count": 5, "max_digits": 0}, "at least 1 digit"),
        ({"count": 5, "split": "validation"}, "'train' or 'test'"),
    ],
)
def test_scene_arguments_are_checked(arguments, message):
    with pytest.raises(ValueError, match=message):
        digit_scenes.make_digit_scenes(**arguments)


def test_scenes_dataset_batches_everything_and_shuffles_by_seed(cache):
    scenes = digit_scenes.make_digit_scenes(10, size=32)
    dataset = digit_scenes.scenes_dataset(scenes.images, scenes.masks, batch_size=4)
    batches = list(dataset.as_numpy_iterator())
    assert [len(images) for images, _ in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([m for _, m in batches]), scenes.masks)

    def order(seed):
        shuffled = digit_scenes.scenes_dataset(
            scenes.images, np.arange(10), 10, shuffle=True, seed=seed
        )
        return next(iter(shuffled.as_numpy_iterator()))[1].tolist()

    assert sorted(order(0)) == list(range(10)) and order(0) != list(range(10))
    assert order(0) == order(0) and order(0) != order(1)


def test_pixel_class_fractions_sum_to_one():
    masks = np.array([[[0, 0], [1, 10]]], np.uint8)
    np.testing.assert_allclose(
        digit_scenes.pixel_class_fractions(masks)[[0, 1, 10]], [0.5, 0.25, 0.25]
    )


def test_show_scenes_draws_one_box_per_digit(cache):
    from matplotlib import patches, pyplot

    scenes = digit_scenes.make_digit_scenes(6, size=32)
    figure = plots.show_scenes(scenes, count=4, columns=2)
    rectangles = [
        [artist for artist in ax.patches if isinstance(artist, patches.Rectangle)]
        for ax in figure.axes
    ]
    assert [len(found) for found in rectangles] == [len(boxes) for boxes in scenes.boxes[:4]]
    pyplot.close(figure)


def test_show_class_balance_titles_the_background_share():
    from matplotlib import pyplot

    fractions = digit_scenes.pixel_class_fractions(np.array([[[0, 0, 0, 4]]], np.uint8))
    figure = plots.show_class_balance(fractions, digit_scenes.SCENE_CLASSES)
    assert "75.0%" in figure.axes[0].get_title()
    pyplot.close(figure)
