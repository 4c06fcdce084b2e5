"""The networks, loss and CRF written in lecture 04 (course_utils.lectures.fcn_vgg), tested."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import backbone, oracle
from course_utils.lectures import fcn_vgg

SHAPES = [(8, 8, 64), (4, 4, 128), (2, 2, 128)]


@pytest.fixture(autouse=True)
def no_imagenet(monkeypatch, tmp_path):
    """The course's backbone, whatever this machine caches."""
    monkeypatch.delenv("VGG16_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


def random_features(shapes, count=2):
    """Random cached maxp3, maxp4, maxp5."""
    return [
        np.random.default_rng(i).random((count, *s)).astype(np.float32)
        for i, s in enumerate(shapes)
    ]


# ---- backbone layout ----


def test_vgg16_layout_has_keras_names_and_stride_32():
    """Five blocks, 2-2-3-3-3 convolutions, Keras' VGG16 names; maxp3/4/5 at strides 8/16/32."""
    inputs = keras.Input((64, 64, 3))
    model = keras.Model(inputs, fcn_vgg.vgg16_convolutions(inputs, (4, 4, 8, 8, 8)))
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(64, 64, 3))
    ours = [layer.name for layer in model.layers[1:]]
    assert ours == [layer.name for layer in reference.layers[1:]]
    outputs = fcn_vgg.pooling_outputs(model).output_shape
    assert [shape[1:3] for shape in outputs] == [(8, 8), (4, 4), (2, 2)]


# ---- bilinear upsampling ----


@pytest.mark.parametrize("factor", [2, 4, 8, 32])
def test_bilinear_upsampling_is_bilinear_resize(factor):
    """The layer equals tf.image.resize away from the borders, and the oracle's NumPy copy."""
    scores = np.random.default_rng(factor).random((1, 4, 5, 3)).astype(np.float32)
    upsampled = np.asarray(fcn_vgg.bilinear_upsampling(3, factor)(scores))
    resized = tf.image.resize(scores, (4 * factor, 5 * factor), "bilinear").numpy()
    inner = slice(factor, -factor)
    np.testing.assert_allclose(upsampled[:, inner, inner], resized[:, inner, inner], atol=1e-5)
    np.testing.assert_allclose(oracle.upsample_bilinear(scores, factor), upsampled, atol=1e-5)
    kernel = fcn_vgg.bilinear_kernel(2 * factor, 3)
    assert kernel.shape == (2 * factor, 2 * factor, 3, 3)
    assert np.all(kernel[:, :, 0, 1] == 0)


def test_odd_bilinear_kernel_is_centred():
    """Odd sizes peak at the middle tap (the FCN paper's formula)."""
    np.testing.assert_allclose(fcn_vgg.bilinear_ramp(3), [0.5, 1.0, 0.5])


# ---- FCN heads ----


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_fcn_variants_shapes_and_layers(variant):
    """One function builds the three variants; on the backbone, only the head trains."""
    head = fcn_vgg.fcn_head(11, variant, SHAPES)
    names = [layer.name for layer in head.layers]
    assert ("score_maxp4" in names) == (variant in ("16s", "8s"))
    assert ("score_maxp3" in names) == (variant == "8s")
    assert f"up{fcn_vgg.FCN_STRIDES[variant]}" in names
    vgg, _ = backbone.load_vgg16_backbone((64, 64, 1))
    model = fcn_vgg.fcn_on_backbone(vgg, head)
    assert model.name == f"fcn{variant}" and model.output_shape == (None, 64, 64, 11)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == head.count_params()


def test_fcn8s_starts_as_fcn32s():
    """Zero-initialised skip scores: before training, the skips add nothing."""
    keras.utils.set_random_seed(0)
    head8 = fcn_vgg.fcn_head(5, "8s", SHAPES)
    features = random_features(SHAPES)
    scores5 = keras.Model(head8.inputs, head8.get_layer("score_maxp5").output)(features)
    up = oracle.upsample_bilinear
    expected = up(up(up(np.asarray(scores5), 2), 2), 8)
    expected = np.exp(expected) / np.exp(expected).sum(-1, keepdims=True)
    np.testing.assert_allclose(head8(features, training=False), expected, atol=1e-5)


def test_random_upsampling_is_not_bilinear():
    """The lecture's random-initialisation variant changes the transposed convolutions only."""
    keras.utils.set_random_seed(0)
    head = fcn_vgg.fcn_head(3, "8s", SHAPES, upsampling="glorot_uniform")
    kernel = np.asarray(head.get_layer("up8").kernel)
    assert not np.allclose(kernel, fcn_vgg.bilinear_kernel(16, 3))


def test_any_size_head_takes_the_trained_weights():
    """A head with unknown sizes takes a 64x64 head's weights and runs on a 96x160 image."""
    keras.utils.set_random_seed(0)
    head = fcn_vgg.fcn_head(3, "8s", SHAPES)
    any_head = fcn_vgg.fcn_head(3, "8s", [(None, None, s[-1]) for s in SHAPES])
    any_head.set_weights(head.get_weights())
    vgg, _ = backbone.load_vgg16_backbone((None, None, 1))
    model = fcn_vgg.fcn_on_backbone(vgg, any_head)
    image = np.random.default_rng(0).random((1, 96, 160, 1)).astype(np.float32)
    assert model(image).shape == (1, 96, 160, 3)


def test_hypercolumn_head_concatenates_the_stages():
    """The hypercolumns have every stage's channels on maxp3's grid."""
    head = fcn_vgg.hypercolumn_head(11, SHAPES)
    assert head.get_layer("hypercolumns").output.shape[1:] == (8, 8, 64 + 128 + 128)
    assert head.output_shape == (None, 64, 64, 11)


# ---- the loss ----


def test_class_weights_square_root_inverse_frequency():
    """Weights go as 1/sqrt(frequency), with a pixel-average of 1; an absent class gets the max."""
    masks = np.zeros((1, 10, 10), np.uint8)
    masks[0, :1, :4] = 1  # 4 % of the pixels
    weights = fcn_vgg.class_weights(masks, 3)
    frequency = np.array([0.96, 0.04])
    assert weights[1] / weights[0] == pytest.approx(np.sqrt(0.96 / 0.04), rel=1e-5)
    assert np.sum(frequency * weights[:2]) == pytest.approx(1.0, rel=1e-5)
    assert weights[2] == pytest.approx(weights.max())


def test_weighted_crossentropy_against_numpy():
    """The weighted mean of -log p[true class] over labelled pixels."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, (2, 4, 4))
    labels[0, 0, :2] = 255
    logits = rng.normal(size=(2, 4, 4, 3))
    probabilities = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    weights = np.array([0.5, 2.0, 1.0], np.float32)
    value = float(fcn_vgg.weighted_crossentropy(weights)(labels, probabilities))
    labelled = labels != 255
    safe = np.where(labelled, labels, 0)
    picked = np.take_along_axis(probabilities, safe[..., None], -1)[..., 0]
    pixel_weight = weights[safe] * labelled
    expected = np.sum(-np.log(picked) * pixel_weight) / pixel_weight.sum()
    assert value == pytest.approx(expected, rel=1e-5)
    plain = float(fcn_vgg.weighted_crossentropy()(labels, probabilities))
    assert plain == pytest.approx(np.mean(-np.log(picked)[labelled]), rel=1e-5)


# ---- the fully connected CRF, against brute force on a tiny image ----


def tiny_crf(seed=0, shape=(2, 3), classes=2):
    """A tiny image, network probabilities and the lecture's kernel on it."""
    rng = np.random.default_rng(seed)
    image = rng.random((*shape, 1)).astype(np.float32)
    probabilities = rng.dirichlet(np.ones(classes), shape).astype(np.float32)
    kernel = fcn_vgg.crf_kernel(image, position=1.5, intensity=0.3)
    return image, probabilities, kernel


def test_crf_kernel_pair_by_pair():
    """Each entry is w1 exp(-d_p/2a^2 - d_I/2b^2) + w2 exp(-d_p/2g^2); no self-message."""
    image, _, kernel = tiny_crf()
    height, width = image.shape[:2]
    positions = list(itertools.product(range(height), range(width)))
    for i, (ri, ci) in enumerate(positions):
        for j, (rj, cj) in enumerate(positions):
            distance = (ri - rj) ** 2 + (ci - cj) ** 2
            contrast = float(image[ri, ci, 0] - image[rj, cj, 0]) ** 2
            expected = 4.0 * np.exp(-distance / (2 * 1.5**2) - contrast / (2 * 0.3**2))
            expected += 1.0 * np.exp(-distance / 2.0)
            assert kernel[i, j] == pytest.approx(0.0 if i == j else expected, rel=1e-5)


def energy(labels, unary, kernel):
    """E(x) = sum_i U_i(x_i) + sum_{i<j} k(i, j) [x_i != x_j], by its definition."""
    total = sum(unary[i, label] for i, label in enumerate(labels))
    for i, j in itertools.combinations(range(len(labels)), 2):
        total += kernel[i, j] * (labels[i] != labels[j])
    return total


def free_energy(marginals, unary, kernel):
    """KL(Q || P) - log Z: the expected energy under Q, by enumeration, minus Q's entropy."""
    pixels, classes = marginals.shape
    expected = 0.0
    for labels in itertools.product(range(classes), repeat=pixels):
        weight = np.prod([marginals[i, label] for i, label in enumerate(labels)])
        expected += weight * energy(labels, unary, kernel)
    entropy = -np.sum(marginals * np.log(marginals))
    return expected - entropy


def test_mean_field_update_matches_the_formula():
    """One update: Q_i(c) proportional to exp(-U_i(c) - sum_j k(i, j) sum_{c' != c} Q_j(c'))."""
    _, probabilities, kernel = tiny_crf(1, classes=3)
    unary = -np.log(probabilities.reshape(-1, 3))
    start = fcn_vgg.softmax(-unary)
    updated = fcn_vgg.mean_field(probabilities, kernel, iterations=1).reshape(-1, 3)
    for i in range(len(unary)):
        logits = [
            -unary[i, c]
            - sum(
                kernel[i, j] * start[j, other]
                for j in range(len(unary))
                for other in range(3)
                if other != c
            )
            for c in range(3)
        ]
        np.testing.assert_allclose(updated[i], fcn_vgg.softmax(np.array(logits)), atol=1e-5)


def test_mean_field_lowers_the_free_energy_to_a_local_minimum():
    """Against brute force over all 2^6 labellings: the updates lower KL(Q || P) - log Z."""
    _, probabilities, kernel = tiny_crf(2)
    unary = -np.log(probabilities.reshape(-1, 2).astype(np.float64))
    energies = []
    for iterations in (0, 1, 3, 30):
        marginals = fcn_vgg.mean_field(probabilities, kernel, iterations).reshape(-1, 2)
        energies.append(free_energy(marginals.astype(np.float64), unary, kernel))
    assert energies[-1] < energies[0]
    assert all(later <= earlier + 1e-6 for earlier, later in zip(energies, energies[1:]))
    rng = np.random.default_rng(0)
    for _ in range(5):  # nudging the fixed point only raises it
        nudged = np.clip(marginals + rng.normal(0, 0.02, marginals.shape), 1e-3, None)
        nudged /= nudged.sum(-1, keepdims=True)
        assert free_energy(nudged, unary, kernel) >= energies[-1] - 1e-9


def test_mean_field_without_pairs_keeps_the_network():
    """A zero kernel leaves the network's probabilities as they are."""
    _, probabilities, kernel = tiny_crf(3)
    kept = fcn_vgg.mean_field(probabilities, np.zeros_like(kernel), iterations=5)
    np.testing.assert_allclose(kept, probabilities, atol=1e-5)
