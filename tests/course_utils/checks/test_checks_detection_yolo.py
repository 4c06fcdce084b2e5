"""The detection checks accept correct variants and name each catalogued mistake, in the
notebook and in grading alike (through the shared check_harness)."""

import check_harness
import numpy as np
import pytest

from course_utils import config, detection, detection_metrics, yolo
from course_utils.checks import _detection_yolo_boxes as box_cases_checks
from course_utils.checks import _detection_yolo_precision as ap_cases_checks
from course_utils.checks import detection_yolo as check
from course_utils.checks import detection_yolo_grid as grid

config.setup()

# --- correct variants ------------------------------------------------------------------------


def iou_vectorised(boxes_a, boxes_b, inclusive=False):
    """The course's own broadcast IoU."""
    return detection.iou(boxes_a, boxes_b, inclusive=inclusive)


def iou_loops(boxes_a, boxes_b, inclusive=False):
    """IoU one pair at a time, returned as a list of lists."""
    extra = 1 if inclusive else 0
    rows = []
    for a in boxes_a:
        row = []
        for b in boxes_b:
            width = max(min(a[2], b[2]) - max(a[0], b[0]) + extra, 0)
            height = max(min(a[3], b[3]) - max(a[1], b[1]) + extra, 0)
            area_a = (a[2] - a[0] + extra) * (a[3] - a[1] + extra)
            area_b = (b[2] - b[0] + extra) * (b[3] - b[1] + extra)
            row.append(width * height / (area_a + area_b - width * height))
        rows.append(row)
    return rows


def iou_tensorflow(boxes_a, boxes_b, inclusive=False):
    """IoU with TensorFlow ops, returning a tensor."""
    import tensorflow as tf

    a = tf.constant(np.asarray(boxes_a, np.float64))[:, None, :]
    b = tf.constant(np.asarray(boxes_b, np.float64))[None, :, :]
    extra = 1.0 if inclusive else 0.0
    size_a, size_b = a[..., 2:] - a[..., :2] + extra, b[..., 2:] - b[..., :2] + extra
    low, high = tf.maximum(a[..., :2], b[..., :2]), tf.minimum(a[..., 2:], b[..., 2:])
    overlap = tf.reduce_prod(tf.maximum(high - low + extra, 0.0), axis=-1)
    return overlap / (tf.reduce_prod(size_a, -1) + tf.reduce_prod(size_b, -1) - overlap)


def nms_greedy(boxes, scores, classes, iou_threshold=0.5):
    """Per-class greedy NMS from the course's module, as a Python list."""
    return list(detection.non_max_suppression_per_class(boxes, scores, classes, iou_threshold))


def nms_tensorflow(boxes, scores, classes, iou_threshold=0.5):
    """Per-class NMS with tf.image, returned as a tensor in class order."""
    import tensorflow as tf

    kept = []
    for label in np.unique(classes):
        members = np.flatnonzero(np.asarray(classes) == label)
        chosen = tf.image.non_max_suppression(
            np.asarray(boxes, np.float32)[members],
            np.asarray(scores, np.float32)[members],
            len(members),
            iou_threshold,
        )
        kept.append(tf.gather(members, chosen))
    return tf.concat(kept, axis=0)


def nms_offset_trick(boxes, scores, classes, iou_threshold=0.5):
    """Per-class NMS in one pass: shift each class's boxes far apart (the torchvision trick)."""
    boxes = np.asarray(boxes, float)
    shift = (np.asarray(classes)[:, None] * (boxes.max() + 1)).astype(float)
    return detection.non_max_suppression(boxes + shift, scores, iou_threshold)


def ap_course(scores, hits, num_ground_truth):
    """AP from the course's precision_recall and average_precision."""
    precision, recall, _ = detection_metrics.precision_recall(scores, hits, num_ground_truth)
    return detection_metrics.average_precision(precision, recall)


def ap_voc_devkit(scores, hits, num_ground_truth):
    """AP as the VOC 2010 devkit writes it: sentinels, envelope loop, sum where recall moves."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.asarray(hits, float)[order]
    true_positives, false_positives = np.cumsum(hits), np.cumsum(1 - hits)
    recall = true_positives / num_ground_truth
    precision = true_positives / np.maximum(true_positives + false_positives, 1e-12)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    for index in range(len(mpre) - 2, -1, -1):
        mpre[index] = max(mpre[index], mpre[index + 1])
    moves = np.where(mrec[1:] != mrec[:-1])[0]
    return np.float32(np.sum((mrec[moves + 1] - mrec[moves]) * mpre[moves + 1]))


def encode_course(boxes, image_size, grid_size=8, boxes_per_cell=2, num_classes=10):
    """The yolo module's encoder on one image."""
    return yolo.encode_yolo_targets([boxes], image_size, grid_size, boxes_per_cell, num_classes)[0]


def encode_loops(boxes, image_size, grid_size=8, boxes_per_cell=2, num_classes=10):
    """An encoder written independently: continuous boxes, largest written last, as a tensor."""
    import tensorflow as tf

    cell = image_size / grid_size
    target = np.zeros((grid_size, grid_size, 5 * boxes_per_cell + num_classes), np.float32)
    boxes = np.asarray(boxes).reshape(-1, 5)
    areas = (boxes[:, 3] - boxes[:, 1] + 1) * (boxes[:, 4] - boxes[:, 2] + 1)
    # smallest first, overwritten by larger ones; ties: the earlier box is written last
    for index in sorted(range(len(boxes)), key=lambda i: (areas[i], -i)):
        label, x0, y0, x1, y1 = boxes[index]
        x0, y0, x1, y1 = float(x0), float(y0), float(x1) + 1, float(y1) + 1  # continuous
        centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
        column, row = int(centre_x / cell), int(centre_y / cell)
        target[row, column] = 0
        for slot in range(boxes_per_cell):
            target[row, column, 5 * slot : 5 * slot + 5] = [
                centre_x / cell - column,
                centre_y / cell - row,
                (x1 - x0) / image_size,
                (y1 - y0) / image_size,
                1,
            ]
        target[row, column, 5 * boxes_per_cell + label] = 1
    return tf.constant(target)


def loss_lecture(y_true, y_pred, boxes_per_cell=2, num_classes=10):
    """The lecture's keras.ops loss (returns a tensor)."""
    from course_utils.lectures import detection_yolo

    return detection_yolo.yolo_loss(boxes_per_cell)(y_true, y_pred)


def student_loss(y_true, y_pred, boxes_per_cell=2, num_classes=10, mistake=None):
    """The checks' vectorised NumPy loss, right or with one mistake."""
    return grid._loss_variant(y_true, y_pred, boxes_per_cell, mistake)


def loss_as_list(y_true, y_pred, boxes_per_cell=2, num_classes=10):
    """A correct loss returned as a list of Python floats."""
    return [float(value) for value in student_loss(y_true, y_pred, boxes_per_cell)]


CORRECT = {
    "box_iou": [iou_vectorised, iou_loops, iou_tensorflow],
    "non_max_suppression": [nms_greedy, nms_tensorflow, nms_offset_trick],
    "average_precision": [ap_course, ap_voc_devkit],
    "encode_targets": [encode_course, encode_loops],
    "yolo_loss": [loss_lecture, student_loss, loss_as_list],
}
CHECKS = {
    "box_iou": (check.check_box_iou, check.check_box_iou_hidden),
    "non_max_suppression": (
        check.check_non_max_suppression,
        check.check_non_max_suppression_hidden,
    ),
    "average_precision": (check.check_average_precision, check.check_average_precision_hidden),
    "encode_targets": (check.check_encode_targets, check.check_encode_targets_hidden),
    "yolo_loss": (check.check_yolo_loss, check.check_yolo_loss_hidden),
}
VARIANTS = {
    "box_iou": (box_cases_checks.iou_variant, box_cases_checks.IOU_MISTAKES),
    "non_max_suppression": (box_cases_checks.nms_variant, box_cases_checks.NMS_MISTAKES),
    "average_precision": (ap_cases_checks.ap_variant, ap_cases_checks.AP_MISTAKES),
    "encode_targets": (grid._encode_variant, grid.ENCODE_MISTAKES),
    "yolo_loss": (student_loss, grid.LOSS_MISTAKES),
}
# Mistakes whose wrong answers coincide with another's on every case: named by a shared hint.
SHARED_HINTS = {"smaller_wins": "the larger box (by area) wins", "last_wins": "the larger box"}


@pytest.mark.parametrize(
    ("name", "function"),
    [(name, function) for name, functions in CORRECT.items() for function in functions],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_correct_variants_pass(name, function, capsys):
    """Every correct answer passes the check and the hidden check, here and when graded."""
    visible, hidden = CHECKS[name]
    assert check_harness.passes(visible, function)
    assert check_harness.passes(hidden, function)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith(f"Exercise {check.EXERCISES[name]} passed:") and len(lines) == 4


@pytest.mark.parametrize(
    ("name", "mistake"),
    [(name, mistake) for name, (_, mistakes) in VARIANTS.items() for mistake in mistakes],
)
def test_every_catalogued_mistake_is_named(name, mistake):
    """Each mistake fails the check and the hidden check with its own one-line hint."""
    variant, hints = VARIANTS[name]
    answer = check_harness.with_mistake(variant, mistake)
    fragment = SHARED_HINTS.get(mistake, hints[mistake])
    for each in CHECKS[name]:
        message = check_harness.fails_with(each, answer, fragment)
        assert message.startswith(f"Exercise {check.EXERCISES[name]}:")


def test_mistake_free_variants_equal_the_references():
    """The variants without a mistake equal the course's references on every case."""
    for key in box_cases_checks.NMS_PUBLIC + box_cases_checks.NMS_HIDDEN:
        case = box_cases_checks.nms_case(key)
        expected = detection.tf_non_max_suppression_per_class(*case.args, **case.kwargs)
        np.testing.assert_array_equal(
            box_cases_checks.nms_variant(*case.args, **case.kwargs), np.sort(expected)
        )
    case = box_cases_checks.iou_case((3, 6, 5, True))
    np.testing.assert_allclose(
        box_cases_checks.iou_variant(*case.args, **case.kwargs),
        detection.iou(*case.args, **case.kwargs),
    )
    case = ap_cases_checks.ap_case((5, 30, 1.0))
    assert ap_cases_checks.ap_variant(*case.args) == pytest.approx(ap_course(*case.args))
    case = grid.encode_case((6, 5, 64, 8, 2, 10))
    np.testing.assert_allclose(
        grid._encode_variant(*case.args, **case.kwargs), encode_course(*case.args, **case.kwargs)
    )
    y_true, y_pred = grid.random_loss_tensors(7, 2, 4, 2, 10)
    np.testing.assert_allclose(
        student_loss(y_true, y_pred), grid.lecture_loss(y_true, y_pred, 2), rtol=1e-5
    )


def test_hand_worked_answers_are_right():
    """The hand-worked expectations agree with the references."""
    for key, expected in box_cases_checks.HAND_IOU.items():
        case = box_cases_checks.iou_case(key)
        np.testing.assert_allclose(detection.iou(*case.args, **case.kwargs), expected)
    for key, expected in box_cases_checks.HAND_NMS_KEPT.items():
        case = box_cases_checks.nms_case(key)
        kept = detection.tf_non_max_suppression_per_class(*case.args, **case.kwargs)
        np.testing.assert_array_equal(np.sort(kept), expected)
    for key, expected in ap_cases_checks.HAND_AP.items():
        assert ap_course(*ap_cases_checks.ap_case(key).args) == pytest.approx(expected)
    case = grid.encode_case("lecture")
    np.testing.assert_allclose(encode_course(*case.args, **case.kwargs), grid._hand_encoded())
    y_true, y_pred = grid.hand_loss_tensors()
    assert grid.lecture_loss(y_true, y_pred, 1)[0] == pytest.approx(grid.HAND_LOSS, rel=1e-6)


def test_every_nms_case_with_several_boxes_needs_suppression():
    """No multi-box case can be passed by keeping every box (issue 19: seeds 0 and 20 could)."""
    for key in box_cases_checks.NMS_PUBLIC + box_cases_checks.NMS_HIDDEN:
        case = box_cases_checks.nms_case(key)
        kept = detection.tf_non_max_suppression_per_class(*case.args, **case.kwargs)
        if len(case.args[0]) > 1:
            assert len(kept) < len(case.args[0]), key
    keep_all = lambda boxes, scores, classes, iou_threshold=0.5: np.arange(len(boxes))  # noqa: E731
    for each in CHECKS["non_max_suppression"]:
        check_harness.fails_with(each, keep_all, "expected to keep")


def test_tied_scores_are_in_the_cases_and_an_unstable_order_fails():
    """Public and hidden NMS cases hold ties; visiting ties in reverse index order fails both."""
    tied = [
        key
        for key in box_cases_checks.NMS_PUBLIC + box_cases_checks.NMS_HIDDEN
        if key == "ties" or (isinstance(key, tuple) and key[-1])
    ]
    assert "ties" in box_cases_checks.NMS_PUBLIC and len(tied) >= 3
    for key in tied:
        scores = box_cases_checks.nms_case(key).args[1]
        assert len(np.unique(scores)) < len(scores)

    def default_sort(boxes, scores, classes, iou_threshold=0.5):
        """A student's NMS with NumPy's default (unstable) argsort."""
        overlaps, kept = detection.iou(boxes, boxes), []
        for label in np.unique(classes):
            members = np.flatnonzero(np.asarray(classes) == label)
            chosen = []
            for index in members[np.argsort(-np.asarray(scores)[members])]:
                if all(overlaps[index, other] <= iou_threshold for other in chosen):
                    chosen.append(index)
            kept.extend(chosen)
        return kept

    case = box_cases_checks.nms_case("ties")
    if sorted(default_sort(*case.args, **case.kwargs)) != [0, 1, 2]:  # CPUs differ: see the hint
        check_harness.fails_with(check.check_non_max_suppression, default_sort, "stable sort")


def test_iou_other_failures():
    """Elementwise IoU, a crash and an unknown wrong answer give one-line hints."""

    def elementwise(boxes_a, boxes_b, inclusive=False):
        return detection.iou(boxes_a, boxes_b, inclusive=inclusive)[:, 0]

    check_harness.fails_with(check.check_box_iou, elementwise, "return the matrix")
    check_harness.fails_with(
        check.check_box_iou, lambda a, b, inclusive: 1 / 0, "raised ZeroDivisionError"
    )
    scaled = lambda a, b, inclusive=False: np.asarray(iou_loops(a, b, inclusive)) * 0.9  # noqa: E731
    check_harness.fails_with(check.check_box_iou, scaled, "wrong value at index")


def test_iou_touching_boxes_caught_by_the_hidden_check():
    """A +1 added only where boxes overlap in continuous terms fails the touching-boxes case."""

    def half_inclusive(boxes_a, boxes_b, inclusive=False):
        result = detection.iou(boxes_a, boxes_b, inclusive=inclusive)
        return np.where(detection.iou(boxes_a, boxes_b) > 0, result, 0.0)

    assert check.check_box_iou(half_inclusive)
    check_harness.fails_with(check.check_box_iou_hidden, half_inclusive, "Exercise 1:")


def test_nms_mask_and_bad_indices():
    """A boolean mask, duplicated indices, out-of-range indices each get a hint."""

    def mask(boxes, scores, classes, iou_threshold=0.5):
        kept = detection.non_max_suppression_per_class(boxes, scores, classes, iou_threshold)
        return np.isin(np.arange(len(boxes)), kept)

    nms = check.check_non_max_suppression
    check_harness.fails_with(nms, mask, "mask")
    check_harness.fails_with(nms, lambda b, s, c, iou_threshold=0.5: [0, 0, 2, 3, 4], "twice")
    check_harness.fails_with(nms, lambda b, s, c, iou_threshold=0.5: [0, 2, 3, 99], "box indices")
    check_harness.fails_with(nms, lambda b, s, c, iou_threshold=0.5: [0, 2, 3], "missing [4]")


def test_ap_returned_as_a_curve_is_rejected_by_its_shape():
    """An AP returned as one precision per rank fails with the expected shape."""

    def curve(scores, hits, num_ground_truth):
        return detection_metrics.precision_recall(scores, hits, num_ground_truth)[0]

    check_harness.fails_with(check.check_average_precision, curve, "shape ()")


def test_encode_without_classes_is_rejected_by_its_shape():
    """A target without its class scores fails with the expected shape."""

    def no_classes(boxes, image_size, grid_size=8, boxes_per_cell=2, num_classes=10):
        return encode_course(boxes, image_size, grid_size, boxes_per_cell, num_classes)[..., :10]

    check_harness.fails_with(check.check_encode_targets, no_classes, "shape (8, 8, 20)")


def test_loss_batch_mean_and_numpy_only():
    """A batch mean is rejected; a NumPy-only loss that breaks on tensors fails the hidden check."""

    def batch_mean(y_true, y_pred, boxes_per_cell=2, num_classes=10):
        return float(np.mean(student_loss(y_true, y_pred, boxes_per_cell)))

    check_harness.fails_with(check.check_yolo_loss, batch_mean, "one loss per image")

    def numpy_only(y_true, y_pred, boxes_per_cell=2, num_classes=10):
        if not isinstance(y_true, np.ndarray):
            raise TypeError("expected a NumPy array")
        return student_loss(y_true, y_pred, boxes_per_cell)

    assert check_harness.passes(check.check_yolo_loss, numpy_only)
    check_harness.fails_with(check.check_yolo_loss_hidden, numpy_only, "keras.ops")


def test_not_implemented_passes_through():
    """The assignment's placeholder raises NotImplementedError, not a hint."""

    def placeholder(*args, **kwargs):
        raise NotImplementedError("Exercise 1: write the body of box_iou().")

    for visible, _ in CHECKS.values():
        with pytest.raises(NotImplementedError):
            visible(placeholder)
