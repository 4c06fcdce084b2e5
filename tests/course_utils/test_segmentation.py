"""Segmentation metrics, FCN builders and the training recipe, against independent answers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import backbone, digit_scenes, segmentation


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


# ---- upsampling and oracle ----


@pytest.mark.parametrize("factor", [2, 4, 8, 32])
def test_bilinear_kernel_is_bilinear_resize(factor):
    """Conv2DTranspose with the kernel equals tf.image.resize away from the borders."""
    scores = np.random.default_rng(factor).random((1, 4, 5, 3)).astype(np.float32)
    layer = segmentation.upsampling_layer(3, factor)
    upsampled = np.asarray(layer(scores))
    resized = tf.image.resize(scores, (4 * factor, 5 * factor), "bilinear").numpy()
    inner = slice(factor, -factor)
    np.testing.assert_allclose(upsampled[:, inner, inner], resized[:, inner, inner], atol=1e-5)
    np.testing.assert_allclose(segmentation.upsample_bilinear(scores, factor), upsampled, atol=1e-5)
    kernel = segmentation.bilinear_kernel(2 * factor, 3)
    assert kernel.shape == (2 * factor, 2 * factor, 3, 3)
    assert np.all(kernel[:, :, 0, 1] == 0)


def test_odd_bilinear_kernel_is_centred():
    """Odd sizes peak at the middle tap (the FCN paper's formula)."""
    ramp = segmentation.bilinear_ramp(3)
    np.testing.assert_allclose(ramp, [0.5, 1.0, 0.5])


def test_oracle_ceiling_rises_with_resolution():
    """Stride 1 is perfect; coarser strides lose thin structures."""
    masks = np.zeros((2, 64, 64), np.uint8)
    masks[:, 10:50, 20:23] = 3  # a thin vertical stroke
    masks[:, 30:33, 5:60] = 5
    ceilings = [segmentation.oracle_ceiling(masks, s, 11) for s in (32, 16, 8, 4, 1)]
    assert ceilings[-1] == 1.0
    assert all(a <= b + 1e-9 for a, b in zip(ceilings, ceilings[1:]))
    assert ceilings[0] < 0.6


# ---- weights and losses ----


def test_class_weights_square_root_inverse_frequency():
    """Weights go as 1/sqrt(frequency), with a pixel-average of 1."""
    masks = np.zeros((1, 10, 10), np.uint8)
    masks[0, :1, :4] = 1  # 4 % of the pixels
    weights = segmentation.class_weights(masks, 3)
    frequency = np.array([0.96, 0.04])
    assert weights[1] / weights[0] == pytest.approx(np.sqrt(0.96 / 0.04), rel=1e-5)
    assert np.sum(frequency * weights[:2]) == pytest.approx(1.0, rel=1e-5)
    assert weights[2] == pytest.approx(weights.max())


def test_weighted_loss_against_numpy():
    """The weighted mean of -log p[true class] over labelled pixels."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, (2, 4, 4))
    labels[0, 0, :2] = segmentation.IGNORE
    logits = rng.normal(size=(2, 4, 4, 3))
    probabilities = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    weights = np.array([0.5, 2.0, 1.0], np.float32)
    value = float(segmentation.weighted_loss(weights)(labels, probabilities))
    labelled = labels != segmentation.IGNORE
    safe = np.where(labelled, labels, 0)
    picked = np.take_along_axis(probabilities, safe[..., None], -1)[..., 0]
    pixel_weight = weights[safe] * labelled
    expected = np.sum(-np.log(picked) * pixel_weight) / pixel_weight.sum()
    assert value == pytest.approx(expected, rel=1e-5)
    plain = float(segmentation.masked_loss()(labels, probabilities))
    assert plain == pytest.approx(np.mean(-np.log(picked)[labelled]), rel=1e-5)


def test_partial_labels_keep_a_few_pixels_per_class():
    """Each present class keeps the requested number of labelled pixels; the rest is IGNORE."""
    masks = np.zeros((2, 16, 16), np.uint8)
    masks[0, 2:8, 2:8] = 4
    partial = segmentation.partial_labels(masks, points_per_class=3, seed=0)
    assert np.sum(partial[0] == 4) == 3 and np.sum(partial[0] == 0) == 3
    assert np.sum(partial[1] == 0) == 3
    kept = partial != segmentation.IGNORE
    np.testing.assert_array_equal(partial[kept], masks[kept])


# ---- FCN ----


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_fcn_variants_shapes_and_layers(variant):
    """One function builds the three variants on the frozen backbone."""
    model = segmentation.build_fcn(11, variant, input_shape=(64, 64, 1))
    assert model.output_shape == (None, 64, 64, 11)
    head = model.get_layer(f"fcn{variant}_head")
    names = [layer.name for layer in head.layers]
    assert ("score_maxp4" in names) == (variant in ("16s", "8s"))
    assert ("score_maxp3" in names) == (variant == "8s")
    assert f"up{segmentation.STRIDES[variant]}" in names
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert not any(name.startswith("block") for name in trainable)


def test_fcn8s_starts_as_fcn32s():
    """Zero-initialised skip scores: before training, the skips add nothing."""
    keras.utils.set_random_seed(0)
    bb, _ = backbone.load_vgg16_backbone((64, 64, 1))
    shapes = [(8, 8, 64), (4, 4, 128), (2, 2, 128)]
    head8 = segmentation.build_fcn_head(5, "8s", shapes, dropout=0.0)
    features = [
        np.random.default_rng(i).random((2, *s)).astype(np.float32) for i, s in enumerate(shapes)
    ]
    scores5 = keras.Model(head8.inputs, head8.get_layer("score_maxp5").output)(features)
    expected = segmentation.upsample_bilinear(
        segmentation.upsample_bilinear(segmentation.upsample_bilinear(np.asarray(scores5), 2), 2),
        8,
    )
    expected = np.exp(expected) / np.exp(expected).sum(-1, keepdims=True)
    np.testing.assert_allclose(head8.predict(features, verbose=0), expected, atol=1e-5)
    model = segmentation.build_fcn(5, "8s", backbone=bb, head=head8)
    assert model.output_shape == (None, 64, 64, 5)


def test_cached_features_train_the_same_head():
    """A head trained on cached features predicts like the full model that wraps it."""

    keras.utils.set_random_seed(0)
    bb, _ = backbone.load_vgg16_backbone((64, 64, 1))
    scenes = digit_scenes.make_digit_scenes(16, split="test")
    features = segmentation.backbone_features(bb, scenes.images)
    assert [f.shape[1:] for f in features] == [(8, 8, 64), (4, 4, 128), (2, 2, 128)]
    head = segmentation.build_fcn_head(11, "16s", [f.shape[1:] for f in features], width=16)
    history, seconds = segmentation.fit_segmenter(head, (features, scenes.masks), epochs=1)
    assert len(history.history["loss"]) == 1 and seconds > 0
    model = segmentation.build_fcn(11, "16s", backbone=bb, head=head)
    np.testing.assert_allclose(
        model.predict(scenes.images[:4], verbose=0),
        head.predict([f[:4] for f in features], verbose=0),
        atol=1e-5,
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: segmentation.build_fcn_head(3, "4s"), "'32s', '16s', '8s'"),
        (lambda: segmentation.upsampling_layer(3, 2, "nearest"), "'bilinear' or 'random'"),
        (lambda: segmentation.fit_segmenter(None, [1, 2, 3], 1), "Scenes"),
    ],
)
def test_builder_errors_name_the_fix(call, match):
    """Bad arguments fail in one line."""
    with pytest.raises(ValueError, match=match):
        call()


def test_predict_masks_takes_feature_lists():
    """Heads take lists of cached features; predictions come back as class indices."""
    shapes = [(8, 8, 4), (4, 4, 4), (2, 2, 4)]
    head = segmentation.build_fcn_head(3, "8s", shapes, width=8)
    features = [
        np.random.default_rng(i).random((5, *s)).astype(np.float32) for i, s in enumerate(shapes)
    ]
    masks = segmentation.predict_masks(head, features, batch_size=2)
    assert masks.shape == (5, 64, 64) and masks.max() < 3
    np.testing.assert_array_equal(masks, head.predict(features, verbose=0).argmax(-1))


def test_copied_recipe_heads_share_their_maxp5_layers():
    """The comparison heads: three models, one shared ReLU score layer on maxp5."""
    shapes = [(8, 8, 4), (4, 4, 4), (2, 2, 4)]
    heads = segmentation.build_copied_recipe_heads(3, shapes, width=8)
    assert [m.output_shape for m in heads.values()] == [(None, 64, 64, 3)] * 3
    shared = {id(layer) for layer in heads["32s"].layers} & {
        id(layer) for layer in heads["8s"].layers
    }
    relu_scores = [
        layer
        for layer in heads["8s"].layers
        if id(layer) in shared and getattr(layer, "filters", None) == 3
    ]
    assert relu_scores and relu_scores[0].activation.__name__ == "relu"


def test_skip_scales_rescale_the_skips():
    """The paper's scaling is a Rescaling layer before each skip's score layer."""
    head = segmentation.build_fcn_head(3, "8s", skip_scales=(0.01, 0.0001), width=8)
    scales = {layer.name: layer.scale for layer in head.layers if "scale_" in layer.name}
    assert scales == {"scale_maxp4": 0.01, "scale_maxp3": 0.0001}


def test_oracle_threshold_and_epoch_timer():
    """oracle() says which threshold won; the timer records one time per epoch."""
    masks = np.zeros((1, 32, 32), np.uint8)
    masks[0, 4:28, 10:13] = 2
    value, threshold = segmentation.oracle(masks, 8, 3)
    assert value == segmentation.oracle_ceiling(masks, 8, 3)
    assert threshold in segmentation.ORACLE_THRESHOLDS
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    timer = segmentation.epoch_timer()
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.times) == 3 and all(t >= 0 for t in timer.times)
