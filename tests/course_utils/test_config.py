"""course_utils.config: the one place that decides the mode, the cache and the seeds."""

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
