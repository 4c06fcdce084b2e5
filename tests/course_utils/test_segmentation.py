"""Segmentation metrics, prediction and the training recipe, against independent answers."""

import keras
import numpy as np
import pytest

from course_utils import backbone, digit_scenes, segmentation
from course_utils.lectures import fcn_vgg


@pytest.fixture(autouse=True)
def no_imagenet(monkeypatch, tmp_path):
    """The course's backbone, whatever this machine caches."""
    monkeypatch.delenv("VGG16_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


def random_masks(seed, classes=5, shape=(4, 16, 16), absent=(3,)):
    """Truth and a noisy prediction, some classes never used."""
    rng = np.random.default_rng(seed)
    allowed = np.array([c for c in range(classes) if c not in absent])
    truth = rng.choice(allowed, shape)
    predicted = np.where(rng.random(shape) < 0.7, truth, rng.choice(allowed, shape))
    return truth.astype(np.uint8), predicted


# ---- metrics ----


def test_confusion_matrix_rows_are_truth():
    """A hand-made case: two pixels of class 0 predicted as 1 land in row 0, column 1."""
    truth = np.array([[0, 0, 1, 2]])
    predicted = np.array([[1, 1, 1, 2]])
    expected = np.array([[0, 2, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(segmentation.confusion_matrix(truth, predicted, 3), expected)
    assert segmentation.confusion_matrix(truth, predicted, 3).dtype == np.int64


def test_mean_iou_matches_keras():
    """NaN-aware mean IoU equals keras.metrics.MeanIoU; absent classes are NaN."""
    truth, predicted = random_masks(0)
    confusion = segmentation.confusion_matrix(truth, predicted, 5)
    metric = keras.metrics.MeanIoU(5)
    metric.update_state(truth.ravel(), predicted.ravel())
    assert segmentation.mean_iou(confusion) == pytest.approx(float(metric.result()), abs=1e-6)
    iou = segmentation.iou_per_class(confusion)
    assert np.isnan(iou[3]) and np.isfinite(iou[[0, 1, 2, 4]]).all()
    assert segmentation.pixel_accuracy(confusion) == pytest.approx(np.mean(truth == predicted))


def test_ignored_pixels_are_left_out():
    """Pixels labelled IGNORE count in no cell."""
    truth = np.array([[0, 255, 1]])
    confusion = segmentation.confusion_matrix(truth, np.array([[0, 1, 1]]), 2)
    assert confusion.sum() == 2 and segmentation.mean_iou(confusion) == 1.0


@pytest.mark.parametrize(
    ("truth", "predicted", "match"),
    [
        (np.zeros((2, 4, 4)), np.zeros((2, 4, 4, 3)), "argmax"),
        (np.zeros((2, 4)), np.full((2, 4), 0.5), "fractional"),
        (np.full((2, 4), 7), np.zeros((2, 4)), "check num_classes"),
    ],
)
def test_metric_errors_name_the_fix(truth, predicted, match):
    """Bad inputs fail in one line."""
    with pytest.raises(ValueError, match=match):
        segmentation.confusion_matrix(truth, predicted, 3)


def test_evaluate_a_model():
    """evaluate() predicts, takes the argmax and scores."""
    truth, _ = random_masks(1, shape=(2, 8, 8))
    one_hot = np.eye(5, dtype=np.float32)[truth]
    inputs = keras.Input((8, 8, 5))
    identity = keras.Model(inputs, keras.layers.Activation("linear")(inputs))
    result = segmentation.evaluate(identity, one_hot, truth, 5)
    assert result["mean_iou"] == 1.0 and result["pixel_accuracy"] == 1.0
    assert result["confusion"].shape == (5, 5)


# ---- partial labels, prediction and training ----


def test_partial_labels_keep_a_few_pixels_per_class():
    """Each present class keeps the requested number of labelled pixels; the rest is IGNORE."""
    masks = np.zeros((2, 16, 16), np.uint8)
    masks[0, 2:8, 2:8] = 4
    partial = segmentation.partial_labels(masks, points_per_class=3, seed=0)
    assert np.sum(partial[0] == 4) == 3 and np.sum(partial[0] == 0) == 3
    assert np.sum(partial[1] == 0) == 3
    kept = partial != segmentation.IGNORE
    np.testing.assert_array_equal(partial[kept], masks[kept])


def test_predict_masks_takes_feature_lists():
    """Heads take lists of cached features; predictions come back as class indices."""
    shapes = [(8, 8, 4), (4, 4, 4), (2, 2, 4)]
    head = fcn_vgg.fcn_head(3, "8s", shapes)
    features = [
        np.random.default_rng(i).random((5, *s)).astype(np.float32) for i, s in enumerate(shapes)
    ]
    masks = segmentation.predict_masks(head, features, batch_size=2)
    assert masks.shape == (5, 64, 64) and masks.max() < 3
    np.testing.assert_array_equal(masks, head.predict(features, verbose=0).argmax(-1))


def test_cached_features_train_the_same_head():
    """A head trained on cached features predicts like the whole FCN that wraps it."""
    keras.utils.set_random_seed(0)
    bb, _ = backbone.load_vgg16_backbone((64, 64, 1))
    scenes = digit_scenes.make_digit_scenes(16, split="test")
    features = segmentation.backbone_features(bb, scenes.images)
    assert [f.shape[1:] for f in features] == [(8, 8, 64), (4, 4, 128), (2, 2, 128)]
    head = fcn_vgg.fcn_head(11, "16s", [f.shape[1:] for f in features])
    history, seconds = segmentation.fit_segmenter(head, (features, scenes.masks), epochs=1)
    assert len(history.history["loss"]) == 1 and seconds > 0
    model = fcn_vgg.fcn_on_backbone(bb, head)
    assert not model.get_layer("vgg16_pools").trainable_weights  # the backbone stays frozen
    np.testing.assert_allclose(
        model.predict(scenes.images[:4], verbose=0),
        head.predict([f[:4] for f in features], verbose=0),
        atol=1e-5,
    )


def test_fit_segmenter_weights_and_errors():
    """'sqrt' weighs rare classes up, None trains plain cross-entropy, bad input names the fix."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, keras.layers.Softmax()(keras.layers.Conv2D(3, 1)(inputs)))
    images = np.random.default_rng(0).random((8, 4, 4, 2)).astype(np.float32)
    masks = np.random.default_rng(1).integers(0, 3, (8, 4, 4))
    for weights in ("sqrt", None, [1.0, 2.0, 3.0]):
        history, _ = segmentation.fit_segmenter(model, (images, masks), 1, weights=weights)
        assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="'sqrt', None or an array"):
        segmentation.fit_segmenter(model, (images, masks), 1, weights="inverse")
    with pytest.raises(ValueError, match="Scenes"):
        segmentation.fit_segmenter(model, [1, 2, 3], 1)


def test_epoch_timer_records_every_epoch():
    """The timer records one time per epoch."""
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    timer = segmentation.epoch_timer()
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.times) == 3 and all(t >= 0 for t in timer.times)
