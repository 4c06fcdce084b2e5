"""Local stand-ins for full mode's downloads: a tfds copy of Oxford-IIIT Pet and VGG16 weights.

Full mode downloads 800 MB of Oxford-IIIT Pet through ``tfds.load`` and 58 MB of ImageNet VGG16
weights through Keras. The tests make small stand-ins offline and hand them to the same code
paths, the way a user with their own copies would:

* ``write_pet_archives`` writes ``images.tar.gz`` and ``annotations.tar.gz`` in the official
  layout (JPEG photos of many sizes, PNG trimaps 1 pet, 2 background, 3 border, the
  ``trainval.txt``/``test.txt`` lists) where tfds keeps its verified downloads; tfds's own
  ``oxford_iiit_pet`` builder then prepares them (``prepare_pets``), and ``TFDS_DATA_DIR``
  points ``tfds.load`` at the result.
* ``write_vgg16_weights`` writes ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` in the
  HDF5 layout of the file Keras downloads: VGG16's exact layer names, weight names and shapes,
  random values. ``VGG16_WEIGHTS`` hands it to ``course_utils.backbone``.
"""

import pathlib
import tarfile

import numpy as np

from course_utils import backbone, config, data
from course_utils.lectures import fcn_vgg

# Oxford-IIIT Pet's file names are "<Breed>_<n>"; cats' breeds are capitalised (species 1),
# dogs' are not (species 2). A few dozen examples, every fourth one in the test list.
PET_COUNT = 48
IMAGENET_FILE = backbone.IMAGENET_FILE


def pet_picture(index, rng):
    """A photo-like picture of varied size and its trimap: an ellipse 'pet' on a textured ground."""
    height, width = int(rng.integers(96, 200)), int(rng.integers(96, 200))
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    centre = rng.uniform(0.35, 0.65, 2) * (height, width)
    radii = rng.uniform(0.2, 0.4, 2) * (height, width)
    distance = np.hypot((rows - centre[0]) / radii[0], (cols - centre[1]) / radii[1])
    ground = rng.uniform(0, 1, 3) * 0.5 + 0.25 * np.sin(rows / 7 + index)[..., None]
    fur = rng.uniform(0, 1, 3)
    image = np.where((distance < 1)[..., None], fur, ground)
    image = image + rng.normal(0, 0.05, image.shape)
    trimap = np.full((height, width), 2, np.uint8)  # background
    trimap[distance < 1.08] = 3  # the "not sure" ring along the outline
    trimap[distance < 0.92] = 1  # pet
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), trimap


def pet_names(builder, count=PET_COUNT):
    """``(file name, class id 1..37, species 1 cat or 2 dog)`` for ``count`` examples."""
    breeds = builder.info.features["label"].names  # the official names, cats capitalised
    examples = []
    for index in range(count):
        label = index % len(breeds)
        species = 1 if breeds[label][0].isupper() else 2
        examples.append((f"{breeds[label]}_{index + 1}", label + 1, species))
    return examples


def write_pet_archives(source, builder, count=PET_COUNT, seed=0):
    """Write the two archives where ``builder`` looks for its verified downloads."""
    from PIL import Image
    from tensorflow_datasets.core.download import resource

    rng = np.random.default_rng(seed)
    (source / "images").mkdir(parents=True)
    (source / "annotations" / "trimaps").mkdir(parents=True)
    examples = pet_names(builder, count)
    for index, (name, _, _) in enumerate(examples):
        image, trimap = pet_picture(index, rng)
        Image.fromarray(image).save(source / "images" / f"{name}.jpg", quality=90)
        Image.fromarray(trimap).save(source / "annotations" / "trimaps" / f"{name}.png")
    listings = {"trainval": examples[1::4] + examples[2::4] + examples[3::4], "test": examples[::4]}
    for listing, members in listings.items():
        lines = [f"{name} {label} {species} 1\n" for name, label, species in members]
        (source / "annotations" / f"{listing}.txt").write_text("".join(lines))
    header = "#Image CLASS-ID SPECIES BREED ID\n"
    lines = [f"{name} {label} {species} 1\n" for name, label, species in examples]
    (source / "annotations" / "list.txt").write_text(header + "".join(lines))
    # tfds trusts a download that sits under its expected name with an INFO file beside it.
    downloads = pathlib.Path(builder.data_dir_root) / "downloads" / builder.name
    downloads.mkdir(parents=True, exist_ok=True)
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
    return {listing: len(members) for listing, members in listings.items()}


def prepare_pets(root, count=PET_COUNT):
    """A tfds data folder under ``root`` with Oxford-IIIT Pet prepared from local archives."""
    import tensorflow_datasets as tfds

    tfds.disable_progress_bar()  # its bars would fill the test log
    tfds_dir = pathlib.Path(root) / "tensorflow_datasets"
    builder = data._pets_builder(str(tfds_dir))
    write_pet_archives(pathlib.Path(root) / "source", builder, count)
    builder.download_and_prepare()
    return tfds_dir


def vgg16_layers():
    """VGG16's no-top layers in the downloaded file's order: ``(name, kernel shape or None)``."""
    layers, channels = [("input_1", None)], 3
    for block, (width, count) in enumerate(
        zip(fcn_vgg.VGG16_WIDTHS, fcn_vgg.CONVOLUTIONS_PER_BLOCK), start=1
    ):
        for conv in range(1, count + 1):
            layers.append((f"block{block}_conv{conv}", (3, 3, channels, width)))
            channels = width
        layers.append((f"block{block}_pool", None))
    return layers


def write_vgg16_weights(folder, seed=0):
    """VGG16's no-top weights file, random He-scaled values; returns its path."""
    import h5py

    rng = np.random.default_rng(seed)
    path = pathlib.Path(folder) / IMAGENET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as weights:
        layers = vgg16_layers()
        weights.attrs["layer_names"] = [name.encode() for name, _ in layers]
        weights.attrs["backend"] = b"tensorflow"
        weights.attrs["keras_version"] = b"2.0.8"
        for name, shape in layers:
            group = weights.create_group(name)
            if shape is None:
                group.attrs["weight_names"] = []
                continue
            names = [f"{name}_W_1:0", f"{name}_b_1:0"]
            group.attrs["weight_names"] = [weight.encode() for weight in names]
            fan_in = shape[0] * shape[1] * shape[2]
            kernel = rng.standard_normal(shape, dtype=np.float32) * np.sqrt(2 / fan_in)
            group.create_dataset(names[0], data=kernel.astype(np.float32))
            group.create_dataset(names[1], data=np.zeros(shape[-1], np.float32))
    return path


def full_mode_environment(pets_dir, weights_path, base=None):
    """Variables for a kernel in full mode with fast sizes on the stand-ins, and no network.

    A proxy that refuses every connection makes any download (tfds, Keras, pip) fail at once
    instead of reaching out or hanging.
    """
    variables = config.environment("full", base, sizes="fast")
    variables.update(TFDS_DATA_DIR=str(pets_dir), VGG16_WEIGHTS=str(weights_path))
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        variables[proxy] = "http://127.0.0.1:9"
    variables["no_proxy"] = variables["NO_PROXY"] = ""
    return variables
