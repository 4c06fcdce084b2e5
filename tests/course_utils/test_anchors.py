"""course_utils.anchors: generation order and shapes, assignment with its ignore band, and box
encoding whose decoding is its exact inverse."""

import numpy as np
import pytest

from course_utils import anchors, detection


def test_anchor_shapes_keep_the_area_and_make_tall_boxes_for_ratios_above_one():
    shapes = anchors.anchor_shapes((8, 16), (0.5, 1.0, 2.0))
    np.testing.assert_allclose(shapes[:, 0] * shapes[:, 1], [64] * 3 + [256] * 3)
    np.testing.assert_allclose(shapes[2, 1] / shapes[2, 0], 2.0)  # ratio 2: height / width
    np.testing.assert_allclose(shapes[3], [16 / np.sqrt(0.5), 16 * np.sqrt(0.5)])


def test_generate_anchors_matches_a_loop_over_rows_columns_and_shapes():
    """Row by row, column by column, the A shapes of one location together."""
    height, width, stride, scales, ratios = 3, 4, 8, (8, 16), (0.5, 1.0, 2.0)
    expected = []
    for row in range(height):
        for column in range(width):
            x, y = (column + 0.5) * stride, (row + 0.5) * stride
            for scale in scales:
                for ratio in ratios:
                    w, h = scale / np.sqrt(ratio), scale * np.sqrt(ratio)
                    expected.append([x - w / 2, y - h / 2, x + w / 2, y + h / 2])
    generated = anchors.generate_anchors(height, width, stride, scales, ratios)
    np.testing.assert_allclose(generated, expected)
    assert generated.shape == (height * width * 6, 4)


def test_generate_anchors_hand_worked():
    generated = anchors.generate_anchors(1, 2, 8, (8,), (1, 4))
    np.testing.assert_allclose(
        generated, [[0, 0, 8, 8], [2, -4, 6, 12], [8, 0, 16, 8], [10, -4, 14, 12]]
    )


def test_assignment_hand_worked_boundaries_ties_and_small_boxes():
    """Exactly 0.7 is positive, exactly 0.3 ignored, tied best anchors both positive, a box's
    best anchor positive even below the negative threshold."""
    anchor_boxes = np.array(
        [[0, 0, 10, 10], [0, 0, 10, 7], [20, 0, 30, 10], [40, 0, 50, 10], [50, 0, 60, 10]]
        + [[60, 60, 70, 70], [58, 60, 66, 65], [80, 80, 90, 90], [0, 3, 10, 13]],
        float,
    )
    truths = np.array([[0, 0, 10, 7], [20, 0, 30, 3], [45, 2, 55, 8], [60, 60, 66, 65]], float)
    assignment = anchors.assign_anchors(anchor_boxes, truths, 0.7, 0.3)
    np.testing.assert_array_equal(assignment.labels, [1, 1, 1, 1, 1, -1, 1, 0, -1])
    np.testing.assert_array_equal(assignment.matched[:3], [0, 0, 1])
    np.testing.assert_allclose(assignment.overlaps[0], 0.7)


def test_assignment_follows_the_thresholds_on_random_scenes():
    rng = np.random.default_rng(0)
    anchor_boxes = anchors.generate_anchors(12, 12, 4, (12, 16, 22), (1.0, 1.5, 2.0))
    for _ in range(10):
        corners = rng.uniform(0, 36, (3, 2))
        truths = np.concatenate([corners, corners + rng.uniform(6, 20, (3, 2))], axis=1)
        assignment = anchors.assign_anchors(anchor_boxes, truths, 0.6, 0.35)
        best = detection.iou(anchor_boxes, truths).max(axis=1)
        labels = assignment.labels
        assert np.all(labels[best >= 0.6] == 1)
        assert np.all(labels[(best < 0.35) & (labels != 1)] == 0)
        assert np.all(labels[(best >= 0.35) & (best < 0.6) & (labels != 1)] == -1)
        # every truth has at least one positive anchor matched to it
        for index in range(len(truths)):
            assert np.any((labels == 1) & (assignment.matched == index))


def test_assignment_without_truths_is_all_negative():
    anchor_boxes = anchors.generate_anchors(2, 2, 8, (8,), (1,))
    assignment = anchors.assign_anchors(anchor_boxes, np.zeros((0, 4)))
    np.testing.assert_array_equal(assignment.labels, 0)


def test_encoding_hand_worked():
    """A box shifted by a quarter of the anchor's width, twice as tall."""
    targets = anchors.encode_boxes([[0, 0, 8, 8]], [[2, -4, 10, 12]])
    np.testing.assert_allclose(targets, [[0.25, 0.0, 0.0, np.log(2)]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decoding_is_the_exact_inverse_of_encoding(seed):
    rng = np.random.default_rng(seed)
    corners = rng.uniform(-10, 50, (50, 2))
    anchor_boxes = np.concatenate([corners, corners + rng.uniform(2, 30, (50, 2))], axis=1)
    corners = rng.uniform(-10, 50, (50, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(1, 40, (50, 2))], axis=1)
    round_trip = anchors.decode_boxes(anchor_boxes, anchors.encode_boxes(anchor_boxes, boxes))
    np.testing.assert_allclose(round_trip, boxes, atol=1e-9)
    deltas = rng.normal(0, 0.5, (50, 4))
    again = anchors.encode_boxes(anchor_boxes, anchors.decode_boxes(anchor_boxes, deltas))
    np.testing.assert_allclose(again, deltas, atol=1e-9)


def test_clip_and_inside():
    boxes = np.array([[-2, 1, 5, 70], [1, 1, 5, 5]], float)
    np.testing.assert_allclose(anchors.clip_boxes(boxes, 64), [[0, 1, 5, 64], [1, 1, 5, 5]])
    np.testing.assert_array_equal(anchors.anchors_inside(boxes, 64), [False, True])
