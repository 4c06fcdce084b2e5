"""The SegNet that notebook 06 loads in default mode: current, complete, refused when stale."""

import shutil

import numpy as np
import pytest

from course_utils import config, digit_scenes, segmentation, shipped_segnet
from course_utils.lectures import unet as lecture

NUM_CLASSES = digit_scenes.NUM_SCENE_CLASSES


def lecture_segnet():
    return lecture.build_segnet(NUM_CLASSES, input_shape=(None, None, 1))


def test_the_shipped_segnet_was_trained_on_the_lectures_present_code():
    # Fails whenever the lecture's SegNet or recipe changes: run course_tools/train_segnet.py.
    with np.load(shipped_segnet.SHIPPED_SEGNET) as stored:
        fingerprint = stored["info/fingerprint"].item()
    assert fingerprint == shipped_segnet.segnet_fingerprint(), (
        f"the shipped SegNet is stale: run '{shipped_segnet.RETRAIN_SEGNET}', commit the weights."
    )


def test_the_shipped_segnet_loads_and_scores_what_its_trainer_measured(monkeypatch):
    for name in config.MODE_VARIABLES:  # default-mode sizes: the budget it was trained at
        monkeypatch.delenv(name, raising=False)
    _, num_test, _ = lecture.scene_budget()
    model = lecture_segnet()
    history, info = shipped_segnet.load_shipped_segnet(model)
    assert info["seed"] == config.DEFAULT_SEED
    assert len(history["loss"]) == lecture.scene_budget()[2]
    assert history["loss"][-1] < history["loss"][0]
    test_scenes = digit_scenes.make_digit_scenes(num_test, split="test")
    scores = segmentation.evaluate(model, test_scenes.images, test_scenes.masks, NUM_CLASSES)
    assert scores["mean_iou"] == pytest.approx(info["mean_iou"], abs=1e-4)


def test_changed_code_means_the_notebook_trains_segnet_itself(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "stale.npz"
    shutil.copy(shipped_segnet.SHIPPED_SEGNET, stale)
    monkeypatch.setattr(shipped_segnet, "segnet_fingerprint", lambda: "0123456789abcdef")
    model = lecture_segnet()
    before = [np.array(weight) for weight in model.weights]
    assert shipped_segnet.load_shipped_segnet(model, stale) is None
    message = capsys.readouterr().out.strip()
    assert "\n" not in message and shipped_segnet.RETRAIN_SEGNET in message
    # nothing was loaded into the model
    for weight, value in zip(model.weights, before):
        np.testing.assert_array_equal(np.array(weight), value)


def test_a_missing_or_corrupt_file_is_reported_not_raised(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip file")
    for path in (tmp_path / "missing.npz", corrupt):
        assert shipped_segnet.load_shipped_segnet(lecture_segnet(), path) is None
        message = capsys.readouterr().out.strip()
        assert "\n" not in message and path.name in message and "training it here" in message


def test_another_segnet_is_refused(capsys):
    narrow = lecture.build_segnet(NUM_CLASSES, input_shape=(None, None, 1), widths=(8, 8, 16))
    assert shipped_segnet.load_shipped_segnet(narrow) is None
    assert "does not fit this model" in capsys.readouterr().out
