"""course_utils.config: the one place that decides the mode, the cache and the seeds."""

import os
import platform
import subprocess
import sys

import pytest

from course_utils import config


@pytest.mark.parametrize(
    "fast, scale, expected",
    [
        ("1", "", "fast"),
        ("", "", "default"),
        ("0", "full", "full"),
        ("", "default", "default"),
        ("1", "full", "fast"),
    ],
)
def test_mode_follows_the_environment(monkeypatch, fast, scale, expected):
    monkeypatch.setenv("COURSE_FAST", fast)
    monkeypatch.setenv("COURSE_SCALE", scale)
    assert config.mode() == expected
    assert (
        config.pick(fast="f", default="d", full="F")
        == {"fast": "f", "default": "d", "full": "F"}[expected]
    )


def test_full_falls_back_to_default(monkeypatch):
    monkeypatch.delenv("COURSE_FAST", raising=False)
    monkeypatch.setenv("COURSE_SCALE", "full")
    assert config.pick(fast=1, default=2) == 2


def test_unknown_scale_names_the_choices(monkeypatch):
    monkeypatch.delenv("COURSE_FAST", raising=False)
    monkeypatch.setenv("COURSE_SCALE", "huge")
    with pytest.raises(ValueError, match="fast, default, full"):
        config.mode()


def test_cache_dir_can_be_moved(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    assert config.cache_dir() == tmp_path / "cache" and (tmp_path / "cache").is_dir()


def test_importing_the_package_has_no_side_effects():
    code = "import sys, course_utils, course_utils.config; print('tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_setup_is_quiet_and_deterministic():
    code = (
        "from course_utils import config; config.setup(3); import keras;"
        "print(float(keras.random.uniform((1,))[0]))"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout == runs[1].stdout
    assert "absl" not in runs[0].stderr and "cudart" not in runs[0].stderr


def test_setup_hides_tensorflow_warnings_but_not_its_errors():
    """Retracing warnings once filled a cell and a slide of lecture 08; errors must still show."""
    code = (
        "from course_utils import config; config.setup(); import tensorflow as tf;"
        "tf.get_logger().warning('retracing warning'); tf.get_logger().error('an error')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    shown = result.stdout + result.stderr
    assert "an error" in shown and "retracing warning" not in shown


def test_progress_does_not_import_keras_until_a_bar_is_needed():
    code = (
        "import sys; from course_utils import progress; print('keras' in sys.modules);"
        "progress.EpochBar(); print('keras' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]


TRAIN_A_LITTLE = """
import hashlib, sys
from course_utils import config

config.setup(5, onednn=sys.argv[1] == "on")
import keras, numpy as np
from tensorflow.python.util import _pywrap_util_port

images = np.random.default_rng(0).random((16, 16, 16, 1), "float32")
model = keras.Sequential([
    keras.Input((16, 16, 1)),
    keras.layers.Conv2D(8, 3, strides=2, padding="same"),
    keras.layers.BatchNormalization(),
    keras.layers.ReLU(),
    keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same"),
])
model.compile(keras.optimizers.Adam(1e-2), "mse")
model.fit(images, images, epochs=3, batch_size=4, verbose=0)
weights = np.concatenate([np.ravel(weight) for weight in model.get_weights()])
print(_pywrap_util_port.IsMklEnabled(), hashlib.sha256(weights.tobytes()).hexdigest())
"""


@pytest.mark.slow
@pytest.mark.skipif(
    not (sys.platform == "linux" and platform.machine() == "x86_64"),
    reason="TensorFlow ships oneDNN kernels on x86 Linux",
)
def test_onednn_is_on_unless_a_notebook_turns_it_off_and_training_reproduces_either_way():
    def train(onednn):
        result = subprocess.run(
            [sys.executable, "-c", TRAIN_A_LITTLE, onednn],
            capture_output=True,
            text=True,
            check=True,
            env={key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"},
        )
        assert "oneDNN custom operations" not in result.stderr  # TensorFlow's banner stays hidden
        enabled, digest = result.stdout.split()
        return enabled, digest

    first, second, off = train("on"), train("on"), train("off")
    assert first[0] == "True" and off[0] == "False"
    assert first == second  # the same seed, the same weights, bit for bit, with oneDNN on
    assert off[1] != first[1]  # the two kernels really differ (in the last digits)
