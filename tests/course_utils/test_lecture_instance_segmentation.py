"""The networks and losses written in lecture 08 (course_utils.lectures.instance_segmentation),
tested against plain-NumPy transcriptions of their formulas."""

import numpy as np
import pytest

from course_utils import anchors, config, detection, roi

config.setup()
from course_utils.lectures import instance_segmentation as lecture  # noqa: E402


def test_batched_roi_align_equals_the_one_box_version_on_every_box_and_channel():
    rng = np.random.default_rng(0)
    maps = rng.random((2, 10, 12, 3)).astype("float32")
    boxes = np.array([[2.4, 3.0, 17.0, 15.2], [0.0, 0.0, 24.0, 20.0], [5.5, 7.1, 9.3, 19.9]])
    scenes = [0, 1, 1]
    crops = lecture.roi_align(maps, boxes, scenes, stride=2, output_size=3, sampling_ratio=2)
    assert crops.shape == (3, 3, 3, 3)
    for index, (box, scene) in enumerate(zip(boxes, scenes)):
        for channel in range(3):
            expected = roi.roi_align(maps[scene, :, :, channel], box / 2, 3, 2)
            np.testing.assert_allclose(crops[index, :, :, channel], expected, rtol=1e-4, atol=1e-5)


def test_mask_loss_is_the_true_class_binary_cross_entropy():
    rng = np.random.default_rng(1)
    y_pred = rng.uniform(0.05, 0.95, (3, 4, 4, 5)).astype("float32")
    classes = np.array([2, 0, 4])
    masks = rng.random((3, 4, 4)) > 0.5
    masks[:, 0, 0] = True  # never empty: the class is the channel that holds the mask
    y_true = np.zeros_like(y_pred)
    y_true[np.arange(3), :, :, classes] = masks
    chosen = y_pred[np.arange(3), :, :, classes]
    expected = -np.mean(masks * np.log(chosen) + (1 - masks) * np.log(1 - chosen), axis=(1, 2))
    np.testing.assert_allclose(lecture.mask_loss(y_true, y_pred), expected, rtol=1e-4)


def embedding_loss_loops(ids, embeddings):
    """The metric-learning loss of one image, pair by pair."""
    ids, vectors = ids.reshape(-1), embeddings.reshape(len(ids.reshape(-1)), -1)
    same, apart = [], []
    for p in range(len(ids)):
        for q in range(len(ids)):
            if ids[p] == 0 or ids[q] == 0:
                continue
            sigma = 2 / (1 + np.exp(np.sum((vectors[p] - vectors[q]) ** 2)))
            (same if ids[p] == ids[q] else apart).append(
                -np.log(sigma) if ids[p] == ids[q] else -np.log(1 - sigma)
            )
    return (np.mean(same) if same else 0.0) + (np.mean(apart) if apart else 0.0)


def test_embedding_loss_equals_the_pairwise_formula():
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 3, (2, 4, 4, 1)).astype("float32")
    embeddings = rng.normal(0, 0.7, (2, 4, 4, 3)).astype("float32")
    expected = [embedding_loss_loops(ids[i], embeddings[i]) for i in range(2)]
    np.testing.assert_allclose(lecture.embedding_loss(ids, embeddings), expected, rtol=1e-3)


def test_networks_have_the_documented_outputs():
    head = lecture.build_mask_head((14, 14, 33), num_classes=10)
    assert head.output_shape == (None, 28, 28, 10)
    proposals = lecture.build_proposal_network((8, 8, 64), anchors_per_location=9)
    assert [tuple(shape) for shape in proposals.output_shape] == [(None, 8, 8, 9), (None, 8, 8, 36)]
    embeddings = lecture.build_embedding_network((16, 16, 32), dimensions=8)
    assert embeddings.output_shape == (None, 16, 16, 8)


@pytest.mark.parametrize("distance", [0.0, 1.0, 3.0])
def test_similarity_matches_the_library_grouping(distance):
    """The lecture's log-similarities agree with instances.pair_similarity used in grouping."""
    from course_utils import instances

    embeddings = np.array([[[[0.0, 0.0]], [[distance, 0.0]]]], "float32")  # (1, 2, 1, 2)
    log_same, log_apart = lecture.pair_log_similarities(embeddings)
    sigma = instances.pair_similarity(distance**2)
    np.testing.assert_allclose(np.exp(np.asarray(log_same)[0, 0, 1]), sigma, rtol=1e-5)
    if distance > 0:
        np.testing.assert_allclose(np.exp(np.asarray(log_apart)[0, 0, 1]), 1 - sigma, rtol=1e-4)


def _anchor_grid():
    """A 2 x 2 grid of stride 16, two shapes per location: 8 anchors, in generate_anchors' order."""
    return anchors.generate_anchors(2, 2, 16, (12, 20), (1.0,)), (2, 2, 2)


def test_proposal_targets_label_and_encode_every_anchor_in_grid_order():
    anchor_boxes, grid = _anchor_grid()
    truths = [np.array([[2.0, 3.0, 16.0, 15.0]]), np.array([[20.0, 18.0, 30.0, 31.0]])]
    labels, packed = lecture.proposal_targets(anchor_boxes, truths, grid)
    assert labels.shape == (2, 2, 2, 2) and packed.shape == (2, 2, 2, 10)
    for scene, boxes in enumerate(truths):
        assignment = anchors.assign_anchors(anchor_boxes, boxes)
        np.testing.assert_array_equal(labels[scene].reshape(-1), assignment.labels)
        positive = assignment.labels == anchors.POSITIVE
        assert positive.any()  # each box's best anchor is positive
        deltas = packed[scene, ..., :8].reshape(-1, 4)
        flags = packed[scene, ..., 8:].reshape(-1)
        np.testing.assert_array_equal(flags, positive)
        expected = anchors.encode_boxes(anchor_boxes[positive], boxes[assignment.matched[positive]])
        np.testing.assert_allclose(deltas[positive], expected, rtol=1e-5)
        assert np.all(deltas[~positive] == 0)


def test_objectness_loss_averages_positives_and_negatives_apart_and_ignores_the_rest():
    labels = np.array([[1.0, 0.0, 0.0, 0.0, -1.0]], "float32")
    scores = np.array([[0.8, 0.1, 0.2, 0.3, 0.99]], "float32")
    expected = -np.log(0.8) - np.mean(np.log([0.9, 0.8, 0.7]))
    assert float(lecture.objectness_loss(labels, scores)) == pytest.approx(expected, rel=1e-5)
    # the ignored anchor's score does not count; a positive's does
    scores[0, 4] = 0.01
    assert float(lecture.objectness_loss(labels, scores)) == pytest.approx(expected, rel=1e-5)
    scores[0, 0] = 0.5
    assert float(lecture.objectness_loss(labels, scores)) > expected


def test_box_regression_loss_is_smooth_l1_over_positive_anchors_only():
    predicted = np.zeros((1, 1, 1, 8), "float32")  # two anchors of 4 deltas
    predicted[0, 0, 0, :4] = [0.5, -2.0, 0.0, 0.0]
    predicted[0, 0, 0, 4:] = [9.0, 9.0, 9.0, 9.0]  # a negative anchor: never counted
    packed = np.zeros((1, 1, 1, 10), "float32")
    packed[0, 0, 0, 8] = 1.0  # only the first anchor is positive, its targets 0
    expected = 0.5 * 0.5**2 + (2.0 - 0.5)
    assert float(lecture.box_regression_loss(packed, predicted)) == pytest.approx(expected)


def test_proposals_decode_clip_rank_and_suppress():
    anchor_boxes, grid = _anchor_grid()
    objectness = np.linspace(0.1, 0.8, len(anchor_boxes)).reshape(grid)
    deltas = np.zeros((*grid[:2], 4 * grid[2]))
    boxes, scores = lecture.propose(objectness, deltas, anchor_boxes, 32, count=3)
    assert np.all(np.diff(scores) < 0) and len(boxes) <= 3
    assert boxes.min() >= 0 and boxes.max() <= 32  # clipped to the image
    kept = detection.non_max_suppression(
        anchors.clip_boxes(anchor_boxes, 32), objectness.ravel(), 0.7, 3
    )
    np.testing.assert_allclose(boxes, anchors.clip_boxes(anchor_boxes, 32)[kept])
    # a delta moves its anchor: the best anchor, shifted right by half its width
    deltas[1, 1, 4:8] = [0.5, 0.0, 0.0, 0.0]
    moved, _ = lecture.propose(objectness, deltas, anchor_boxes, 64, count=1)
    np.testing.assert_allclose(moved[0], anchor_boxes[-1] + [10.0, 0.0, 10.0, 0.0])
