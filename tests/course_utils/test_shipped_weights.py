"""The shipped-weights file format: float16 weights, other arrays as they are, facts; bad files."""

import numpy as np
import pytest

from course_utils import backbone, shipped_weights


def test_weights_come_back_rounded_to_float16_and_the_rest_unchanged(tmp_path):
    kernel = np.random.default_rng(0).normal(size=(3, 3, 1, 4)).astype(np.float32)
    widths = np.array([16, 32, 64])
    loss = np.array([2.0, 1.2345678], np.float32)
    path = shipped_weights.save_weights(
        tmp_path / "deep" / "net.npz",
        {"conv/kernel": kernel},
        {"seed": 3, "task": "digits", "accuracy": 0.875},
        others={"widths": widths, "history/loss": loss},
    )
    arrays, facts = shipped_weights.load_weights(path)
    assert facts == {"seed": 3, "task": "digits", "accuracy": 0.875}
    assert arrays["conv/kernel"].dtype == np.float32
    np.testing.assert_array_equal(arrays["conv/kernel"], kernel.astype(np.float16))
    assert not np.array_equal(arrays["conv/kernel"], kernel)  # it really was rounded
    np.testing.assert_array_equal(arrays["history/loss"], loss)  # not rounded
    assert arrays["widths"].dtype.kind == "i" and arrays["widths"].tolist() == [16, 32, 64]


def test_a_file_that_is_not_a_weights_file_raises_value_error_naming_it(tmp_path):
    truncated = tmp_path / "truncated.npz"
    shipped_weights.save_weights(truncated, {"w": np.ones(1000)}, {"seed": 0})
    truncated.write_bytes(truncated.read_bytes()[:200])  # starts like a zip, is not one
    not_zip = tmp_path / "text.npz"
    not_zip.write_text("not a zip file")
    for path in (truncated, not_zip):
        with pytest.raises(ValueError, match=path.name):
            shipped_weights.load_weights(path)
    with pytest.raises(OSError):
        shipped_weights.load_weights(tmp_path / "missing.npz")


def test_a_corrupt_course_backbone_names_the_fix(tmp_path):
    corrupt = tmp_path / "vgg16_quarter_digits.npz"
    corrupt.write_bytes(backbone.COURSE_WEIGHTS.read_bytes()[:1000])
    with pytest.raises(ValueError, match="unreadable.*course_tools.train_backbone") as raised:
        backbone._load_course_backbone((32, 32, 1), corrupt)
    assert "\n" not in str(raised.value)
