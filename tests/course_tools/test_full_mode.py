"""Full mode, top to bottom, on local stand-ins: every notebook that branches on the mode.

Full mode (``COURSE_SCALE=full``) trains on Oxford-IIIT Pet and ImageNet VGG16, which need the
internet. Here the kernel runs full mode's own code (``config.is_full()`` is True, the Pet loader
goes through ``tfds.load``, the backbone loads a VGG16 weights file through
``keras.applications.VGG16``) with fast mode's sizes, and only the data and the weights are
stand-ins (``full_mode_fixtures``). A notebook branches on the mode when it asks the mode or
calls a library function that does (found by reading the library's code).
"""

import ast
import json
import pathlib
import re
import resource
import subprocess
import sys
import time

import full_mode_fixtures
import nbclient
import numpy as np
import pytest

from course_tools import notebooks
from course_utils import config

# What behaves differently in full mode: a test of the mode, and the loaders whose source depends
# on it. Printing the mode is no branch.
MODE_TESTS = re.compile(r"config\.is_(full|fast)\(\)|config\.mode\(\)\s*(==|!=|in\b|not in\b)")
MODE_FUNCTIONS = {"is_full", "is_fast", "load_pets", "load_vgg16_backbone"}
# Asks the mode only whether a missing file may be downloaded: the same data either way.
SAME_IN_EVERY_MODE = {"_downloads_allowed"}


def called_names(function):
    """The bare names a function calls: ``f(...)`` and ``module.f(...)`` both give ``f``."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            target = node.func
            names.add(getattr(target, "attr", None) or getattr(target, "id", None))
    return names


def mode_dependent_functions():
    """Library functions that branch on the mode, directly or through another library function.

    Notebooks reach full mode's code through them too (a helper that loads the backbone
    when given none would), so a notebook calling one of them branches on the mode.
    """
    functions = []
    for path in (notebooks.ROOT / "course_utils").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                tests_mode = bool(MODE_TESTS.search(ast.get_source_segment(source, node) or ""))
                functions.append((node.name, called_names(node), tests_mode))
    dependent = set(MODE_FUNCTIONS) | {name for name, _, tests_mode in functions if tests_mode}
    dependent -= SAME_IN_EVERY_MODE
    while True:
        more = {name for name, calls, _ in functions if calls & dependent} - dependent
        if not more:
            return dependent
        dependent |= more


def mode_dependent_notebooks():
    """Lecture and solutions notebooks whose code branches on the mode, here or in the library."""
    names = "|".join(sorted(mode_dependent_functions()))
    calls = re.compile(rf"\.({names})\(")
    found = []
    for folder in ("notebooks", "solutions"):
        for path in notebooks.notebook_paths(folder):
            code = "\n".join(c.source for c in notebooks.read(path).cells if c.cell_type == "code")
            if MODE_TESTS.search(code) or calls.search(code):
                found.append(path)
    return found


NOTEBOOKS = mode_dependent_notebooks()
# Twice make test's cell limit: not every full-mode cell takes its sizes from config.pick
# (notebooks/06 trains its Pet U-Net for a fixed 20 epochs at 128x128).
CELL_TIMEOUT = 1200


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """The prepared Pet copy and the VGG16 weights file, made once for this module."""
    root = tmp_path_factory.mktemp("full_mode")
    pets_dir = full_mode_fixtures.prepare_pets(root / "pets")
    weights = full_mode_fixtures.write_vgg16_weights(root / "weights")
    return pets_dir, weights


@pytest.fixture
def full_mode(monkeypatch, stand_ins):
    """This process in full mode with fast sizes, on the stand-ins (as the kernels run)."""
    pets_dir, weights = stand_ins
    for name in config.MODE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in full_mode_fixtures.full_mode_environment(pets_dir, weights, {}).items():
        monkeypatch.setenv(name, value)
    return stand_ins


def test_the_notebooks_that_branch_on_the_mode_are_found():
    names = {f"{path.parent.name}/{path.name}" for path in NOTEBOOKS}
    assert {"notebooks/04_fcn_vgg.ipynb", "notebooks/06_unet.ipynb"} <= names
    assert MODE_TESTS.search("if config.mode() == 'full':")
    assert not MODE_TESTS.search('print("mode:", config.mode())')
    assert {"load_pets", "load_vgg16_backbone"} <= mode_dependent_functions()


def test_full_mode_with_fast_sizes(monkeypatch):
    for name in config.MODE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in config.environment("full", {}, sizes="fast").items():
        monkeypatch.setenv(name, value)
    assert config.mode() == "full" and config.is_full() and not config.is_fast()
    assert config.sizes() == "fast" and config.pick(fast=1, default=2, full=3) == 1
    assert not config.enforces_targets()


@pytest.mark.slow
def test_the_weights_stand_in_loads_as_imagenet_vgg16(full_mode):
    """Keras' VGG16 takes the file by its layers; the backbone says ImageNet and uses its values."""
    import h5py
    import keras

    from course_utils import backbone

    _, weights = full_mode
    reference = keras.applications.VGG16(
        include_top=False, weights=str(weights), input_shape=(64, 64, 3)
    )
    with h5py.File(weights) as stored:
        stored_names = list(stored.attrs["layer_names"])
    names = [n.decode() if isinstance(n, bytes) else n for n in stored_names]
    assert names[1:] == [layer.name for layer in reference.layers[1:]]  # after the input
    model, description = backbone.load_vgg16_backbone((64, 64, 1))
    assert "ImageNet" in description and str(weights) in description
    assert model.count_params() == reference.count_params()
    np.testing.assert_array_equal(
        model.get_layer("block4_conv2").get_weights()[0],
        reference.get_layer("block4_conv2").get_weights()[0],
    )


@pytest.mark.slow
def test_the_pets_stand_in_loads_through_tfds_without_data_dir(stand_ins):
    """In a fresh process, as in a kernel: tfds reads ``TFDS_DATA_DIR`` when it is imported."""
    code = (
        "import json, numpy as np; from course_utils import data;"
        "images, masks = data.load_pets('train', size=128);"
        "tests, _ = data.load_pets('test', size=128, limit=5);"
        "print(json.dumps([images.shape, masks.shape, np.unique(masks).tolist(), len(tests)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=full_mode_fixtures.full_mode_environment(*stand_ins),
        check=False,
    )
    assert result.returncode == 0, result.stderr.strip().splitlines()[-1]
    shape, mask_shape, classes, test_count = json.loads(result.stdout.strip().splitlines()[-1])
    assert shape == [36, 128, 128, 3] and mask_shape == [36, 128, 128]
    assert classes == [0, 1, 2]  # background, pet, border
    assert test_count == 5


def kernel_cpu_seconds():
    """CPU seconds of this process's finished children (the kernels it ran), for the log."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def failing_line(error):
    """The key line of a cell's failure: the exception and its message."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1][:400] if lines else repr(error)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_notebook_runs_top_to_bottom_in_full_mode(path, stand_ins):
    """Every cell runs, in full mode, on the stand-ins, with fast sizes."""
    pets_dir, weights = stand_ins
    environment = full_mode_fixtures.full_mode_environment(pets_dir, weights)
    notebook = notebooks.read(path)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(pathlib.Path(path).parent)}},
    )
    started, cpu = time.perf_counter(), kernel_cpu_seconds()
    try:
        client.execute(env=environment)
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.parent.name}/{path.name} in full mode: {failing_line(error)}")
    print(
        f"{path.name} in full mode on the stand-ins: {time.perf_counter() - started:.0f} s, "
        f"kernel CPU {kernel_cpu_seconds() - cpu:.0f} s"
    )
    printed = "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    assert "Keras' download" not in printed and "course's VGG16-layout backbone" not in printed
