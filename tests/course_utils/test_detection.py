"""course_utils.detection: boxes, IoU and NMS against hand-worked cases, loops and TensorFlow."""

import numpy as np
import pytest

from course_utils import detection


def loop_iou(box_a, box_b, inclusive=False):
    """IoU of two corner boxes, one at a time in plain Python."""
    extra = 1 if inclusive else 0
    width = min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]) + extra
    height = min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]) + extra
    intersection = max(width, 0) * max(height, 0)
    area_a = (box_a[2] - box_a[0] + extra) * (box_a[3] - box_a[1] + extra)
    area_b = (box_b[2] - box_b[0] + extra) * (box_b[3] - box_b[1] + extra)
    return intersection / (area_a + area_b - intersection)


def random_boxes(rng, count, low=0, high=50, min_size=2, max_size=20):
    """Corner boxes with positive sizes."""
    corner = rng.uniform(low, high, (count, 2))
    return np.concatenate([corner, corner + rng.uniform(min_size, max_size, (count, 2))], axis=1)


# --- IoU ------------------------------------------------------------------------------------


def test_iou_hand_worked():
    """Two 10 x 10 boxes overlapping on a 5 x 5 square: 25 / 175."""
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30]])
    matrix = detection.iou(boxes, boxes)
    assert matrix.shape == (3, 3)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    assert matrix[0, 1] == pytest.approx(25 / 175)
    assert matrix[0, 2] == 0.0


def test_iou_inclusive_counts_end_pixels():
    """Pixels 0..9 and 5..14: 10 x 10 boxes sharing 5 x 5 pixels under the +1 convention."""
    boxes = np.array([[0, 0, 9, 9], [5, 5, 14, 14]])
    assert detection.iou(boxes, boxes, inclusive=True)[0, 1] == pytest.approx(25 / 175)
    assert detection.iou(boxes, boxes)[0, 1] == pytest.approx(16 / (81 + 81 - 16))


@pytest.mark.parametrize("inclusive", [False, True])
def test_iou_matches_loops(inclusive):
    """The broadcast matrix equals a double loop, and is symmetric."""
    rng = np.random.default_rng(0)
    boxes_a, boxes_b = random_boxes(rng, 7), random_boxes(rng, 5)
    if inclusive:
        boxes_a, boxes_b = np.round(boxes_a), np.round(boxes_b)
    expected = [[loop_iou(a, b, inclusive) for b in boxes_b] for a in boxes_a]
    np.testing.assert_allclose(detection.iou(boxes_a, boxes_b, inclusive=inclusive), expected)
    np.testing.assert_allclose(
        detection.iou(boxes_b, boxes_a, inclusive=inclusive), np.transpose(expected)
    )


def test_iou_centre_format_and_conversions():
    """Centre boxes give the same IoU; the conversions invert each other."""
    boxes = random_boxes(np.random.default_rng(1), 6)
    centres = detection.corners_to_centres(boxes)
    np.testing.assert_allclose(detection.centres_to_corners(centres), boxes)
    np.testing.assert_allclose(
        detection.iou(centres, centres, box_format="centres"), detection.iou(boxes, boxes)
    )
    np.testing.assert_allclose(detection.corners_to_centres([[2, 4, 6, 10]]), [[4, 7, 4, 6]])


def test_iou_bad_input_is_one_line():
    """A wrong shape or format names the fix."""
    with pytest.raises(ValueError, match="shape"):
        detection.iou(np.zeros((3, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="box_format"):
        detection.iou(np.zeros((1, 4)), np.zeros((1, 4)), box_format="xywh")


# --- NMS ------------------------------------------------------------------------------------


def test_nms_hand_worked():
    """Box 1 overlaps the best box a lot and goes; box 2 overlaps little and stays."""
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [6, 6, 16, 16], [30, 30, 40, 40]])
    scores = np.array([0.9, 0.8, 0.7, 0.3])
    np.testing.assert_array_equal(detection.non_max_suppression(boxes, scores, 0.5), [0, 2, 3])
    # IoU(0, 1) = 81 / 119 = 0.68 and IoU(0, 2) = 16 / 184 = 0.087
    np.testing.assert_array_equal(detection.non_max_suppression(boxes, scores, 0.7), [0, 1, 2, 3])
    np.testing.assert_array_equal(detection.non_max_suppression(boxes, scores, 0.05), [0, 3])


def test_nms_per_class_keeps_overlaps_of_other_classes():
    """Two nearly identical boxes of different classes both survive per-class NMS."""
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 11]])
    scores = np.array([0.9, 0.8, 0.7])
    classes = np.array([3, 5, 3])
    kept = detection.non_max_suppression_per_class(boxes, scores, classes, 0.5)
    np.testing.assert_array_equal(kept, [0, 1])
    np.testing.assert_array_equal(detection.non_max_suppression(boxes, scores, 0.5), [0])


@pytest.mark.parametrize("seed", range(5))
def test_nms_matches_tensorflow(seed):
    """Per-class NMS agrees with tf.image.non_max_suppression run per class."""
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 40, high=30)
    scores = rng.permutation(40) / 40 + 0.01  # distinct scores: no ties to break
    classes = rng.integers(0, 3, 40)
    for threshold in (0.3, 0.5, 0.7):
        ours = detection.non_max_suppression_per_class(boxes, scores, classes, threshold)
        theirs = detection.tf_non_max_suppression_per_class(boxes, scores, classes, threshold)
        np.testing.assert_array_equal(ours, theirs)


def test_nms_breaks_ties_in_input_order_as_tensorflow_does():
    """Two overlapping boxes tied at 0.9: the first in input order stays (issue 19's case)."""
    boxes = np.array([[50, 50, 60, 60], [70, 70, 80, 80], [0, 0, 10, 10], [1, 0, 11, 10]])
    scores = np.array([0.3, 0.5, 0.9, 0.9])
    np.testing.assert_array_equal(detection.non_max_suppression(boxes, scores), [2, 1, 0])
    np.testing.assert_array_equal(detection.score_order(scores), [2, 3, 1, 0])
    theirs = detection.tf_non_max_suppression_per_class(boxes, scores, [0, 0, 0, 0], 0.5)
    np.testing.assert_array_equal(np.sort(theirs), [0, 1, 2])


@pytest.mark.parametrize("seed", range(3))
def test_nms_matches_tensorflow_with_tied_scores(seed):
    """With scores drawn from four values, ties everywhere, both keep the same boxes."""
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 40, high=30)
    scores = rng.integers(1, 5, 40) / 5
    classes = rng.integers(0, 2, 40)
    for threshold in (0.3, 0.5):
        ours = detection.non_max_suppression_per_class(boxes, scores, classes, threshold)
        theirs = detection.tf_non_max_suppression_per_class(boxes, scores, classes, threshold)
        np.testing.assert_array_equal(ours, theirs)


def test_continuous_inclusive_round_trip_and_drawing():
    """Conversions invert each other; figures draw a continuous box exactly on its pixels."""
    import matplotlib

    matplotlib.use("Agg")
    from course_utils import detection_plots

    boxes = np.array([[2, 3, 5, 8], [0, 0, 0, 0]])
    np.testing.assert_array_equal(
        detection.continuous_to_inclusive(detection.inclusive_to_continuous(boxes)), boxes
    )
    figure = detection_plots.show_detections([np.zeros((16, 16))], [np.array([[1, 2, 3, 6, 9]])])
    patch = figure.axes[0].patches[0]
    # continuous [2, 6) covers pixels 2..5, whose edges imshow puts at 1.5 and 5.5
    assert (patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height()) == (1.5, 2.5, 4, 6)
    truths = detection.truths_to_continuous([np.array([[4, 2, 3, 5, 8]]), np.zeros((0, 5))])
    np.testing.assert_array_equal(truths[0], [[4, 2, 3, 6, 9]])
    assert truths[1].shape == (0, 5)
