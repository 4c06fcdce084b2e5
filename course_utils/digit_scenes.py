"""Digit scenes: real handwritten digits composed into images, with a class per pixel and boxes.

One deterministic generator feeds segmentation (``masks``), detection (``boxes``) and instance
segmentation (``instances``, one mask per digit) alike, and caches what it made on disk
(checksummed; a corrupt file is set aside and made again). Boxes are
``(digit, x_min, y_min, x_max, y_max)`` in *inclusive* pixel coordinates: ``x_max`` is the last
pixel column of the digit, so a box is ``x_max - x_min + 1`` pixels wide and its centre is at
``(x_min + x_max + 1) / 2`` (pixel ``i`` covers ``[i, i + 1)``).
"""

import functools
import hashlib
import os
import warnings
import zipfile
from typing import NamedTuple

import numpy as np

from course_utils import config, data

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


class Scenes(NamedTuple):
    """Digit scenes: images, per-pixel classes and boxes (see :func:`make_digit_scenes`)."""

    images: np.ndarray
    masks: np.ndarray
    boxes: list

    @property
    def instances(self):
        """Instance ids, uint8 (N, size, size): 0 background, ``k + 1`` on digit ``boxes[n][k]``."""
        return instance_masks(self.masks, self.boxes)


def instance_masks(masks, boxes):
    """One id per digit: uint8 (N, size, size), 0 for background, ``k + 1`` on the pixels of the
    digit whose box is row ``k`` of ``boxes[n]``.

    Exact from the class masks and the boxes alone: a box is tight around its digit's strokes and
    boxes keep a background pixel between them, so the labelled pixels inside box ``k`` are its
    digit's and no other's. Derived from the cached arrays, so it needs no cache of its own.
    """
    masks = np.asarray(masks)
    instances = np.zeros(masks.shape, np.uint8)
    for scene, scene_boxes in enumerate(boxes):
        for index, (_, x_min, y_min, x_max, y_max) in enumerate(np.asarray(scene_boxes)):
            window = (scene, slice(y_min, y_max + 1), slice(x_min, x_max + 1))
            instances[window][masks[window] > 0] = index + 1
    return instances


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
    (x_train, y_train), (x_test, y_test) = data.load_digits()
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
      pixel coordinates, tight around that digit's mask pixels;
    * ``instances`` (a property, computed from masks and boxes): uint8 (N, size, size), 0 for
      background and ``k + 1`` on the pixels of the digit of box ``k`` (:func:`instance_masks`).

    Digits come from ``data.load_digits()``: its train split for ``split="train"``, its test
    split for ``"test"``, so test scenes hold only digits no train scene shows. Digits never
    overlap: each is placed where its tight box keeps a background pixel from every other box (after
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
