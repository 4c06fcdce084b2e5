"""The detection checks accept correct variants and name each catalogued mistake."""

import numpy as np
import pytest

from course_utils import checks, detection, yolo
from course_utils.checks import detection_yolo as check

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
    """IoU with TensorFlow ops, returning a tensor, via centre boxes."""
    import tensorflow as tf

    a = tf.constant(np.asarray(boxes_a, np.float64))[:, None, :]
    b = tf.constant(np.asarray(boxes_b, np.float64))[None, :, :]
    extra = 1.0 if inclusive else 0.0
    size_a, size_b = a[..., 2:] - a[..., :2] + extra, b[..., 2:] - b[..., :2] + extra
    low = tf.maximum(a[..., :2], b[..., :2])
    high = tf.minimum(a[..., 2:], b[..., 2:])
    overlap = tf.reduce_prod(tf.maximum(high - low + extra, 0.0), axis=-1)
    union = tf.reduce_prod(size_a, -1) + tf.reduce_prod(size_b, -1) - overlap
    return overlap / union


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
    precision, recall, _ = detection.precision_recall(scores, hits, num_ground_truth)
    return detection.average_precision(precision, recall)


def ap_voc_devkit(scores, hits, num_ground_truth):
    """AP as the VOC 2010 devkit writes it: sentinels, envelope loop, sum where recall moves."""
    order = np.argsort(-np.asarray(scores))
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


def encode_data(boxes, image_size, grid_size=8, boxes_per_cell=2, num_classes=10):
    """The data module's encoder on one image."""
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


def loss_course(
    y_true, y_pred, boxes_per_cell=2, num_classes=10, lambda_coord=5.0, lambda_noobj=0.5
):
    """The course's keras.ops loss (returns a tensor)."""
    return detection.yolo_loss(boxes_per_cell, num_classes, lambda_coord, lambda_noobj)(
        y_true, y_pred
    )


def loss_loops(
    y_true, y_pred, boxes_per_cell=2, num_classes=10, lambda_coord=5.0, lambda_noobj=0.5
):
    """The explicit-loop reference."""
    return detection.yolo_loss_reference(
        np.asarray(y_true),
        np.asarray(y_pred),
        boxes_per_cell,
        num_classes,
        lambda_coord,
        lambda_noobj,
    )


def loss_numpy(
    y_true, y_pred, boxes_per_cell=2, num_classes=10, lambda_coord=5.0, lambda_noobj=0.5
):
    """The checks' own vectorised NumPy version, without a mistake."""
    return check._loss_variant(
        y_true, y_pred, boxes_per_cell, num_classes, lambda_coord, lambda_noobj
    )


CORRECT = {
    "box_iou": [iou_vectorised, iou_loops, iou_tensorflow],
    "non_max_suppression": [nms_greedy, nms_tensorflow, nms_offset_trick],
    "average_precision": [ap_course, ap_voc_devkit],
    "encode_targets": [encode_data, encode_loops],
    "yolo_loss": [loss_course, loss_loops, loss_numpy],
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


@pytest.mark.parametrize(
    ("name", "function"),
    [(name, function) for name, functions in CORRECT.items() for function in functions],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_correct_variants_pass(name, function, capsys):
    """Every correct answer passes the check and the hidden check, printing one line each."""
    visible, hidden = CHECKS[name]
    assert visible(function)
    assert hidden(function)
    lines = capsys.readouterr().out.strip().splitlines()
    number = check.EXERCISES[name]
    assert lines[0].startswith(f"Exercise {number} passed:") and len(lines) == 2


def test_references_agree_with_independent_versions():
    """The checks' mistake-free variants equal the course's references."""
    boxes_a, boxes_b = check._iou_cases(3, 6, 5, True)
    np.testing.assert_allclose(
        check._iou_variant(boxes_a, boxes_b, True), detection.iou(boxes_a, boxes_b, inclusive=True)
    )
    boxes, scores, classes = check._nms_cases(4, 30, 3)
    np.testing.assert_array_equal(
        check._nms_variant(boxes, scores, classes, 0.5),
        np.sort(detection.tf_non_max_suppression_per_class(boxes, scores, classes, 0.5)),
    )
    scores, hits, total = check._ap_cases(5, 30, 1.0)
    assert check._ap_variant(scores, hits, total) == pytest.approx(ap_course(scores, hits, total))
    boxes = check._encode_cases(6, 5, 64, 8, 10)
    np.testing.assert_allclose(check._encode_variant(boxes, 64, 8, 2, 10), encode_data(boxes, 64))
    y_true, y_pred = check._loss_cases(7, 2, 4, 2, 10)
    np.testing.assert_allclose(loss_numpy(y_true, y_pred), loss_loops(y_true, y_pred), rtol=1e-5)


def test_hand_worked_cases_are_right():
    """The hand-worked expectations agree with the references."""
    np.testing.assert_allclose(
        detection.iou(check.HAND_BOXES_A, check.HAND_BOXES_B), check.HAND_IOU
    )
    kept = detection.tf_non_max_suppression_per_class(
        check.HAND_NMS_BOXES, check.HAND_NMS_SCORES, check.HAND_NMS_CLASSES, 0.5
    )
    np.testing.assert_array_equal(np.sort(kept), check.HAND_NMS_KEPT)
    assert ap_course(check.HAND_AP_SCORES, check.HAND_AP_HITS, 4) == pytest.approx(check.HAND_AP)
    target = encode_data(check.HAND_ENCODE_BOXES, 64)
    row, column, box = check.HAND_ENCODE_CELL
    np.testing.assert_allclose(target[row, column, :5], box)
    np.testing.assert_allclose(target[row, column, 5:10], box)
    assert target[row, column, 13] == 1 and target.sum() == pytest.approx(2 * sum(box) + 1)
    y_true, y_pred, expected = check._hand_loss_case()
    np.testing.assert_allclose(loss_loops(y_true, y_pred, 1, 2), expected, rtol=1e-6)


# --- the catalogue of mistakes ----------------------------------------------------------------


def failure(check_function, function):
    """The one-line message the check fails with."""
    with pytest.raises(checks.CheckFailed) as raised:
        check_function(function)
    message = str(raised.value)
    assert "\n" not in message
    return message


def wrong_iou(mistake):
    """A student IoU with one catalogued mistake."""

    def box_iou(boxes_a, boxes_b, inclusive=False):
        return check._iou_variant(boxes_a, boxes_b, inclusive, mistake)

    return box_iou


@pytest.mark.parametrize("mistake", list(check.IOU_MISTAKES))
def test_iou_mistakes_are_named(mistake):
    """Each IoU mistake fails with its own hint."""
    message = failure(check.check_box_iou, wrong_iou(mistake))
    assert message.startswith("Exercise 1:")
    assert check.IOU_MISTAKES[mistake] in message


def test_iou_other_failures():
    """Elementwise IoU, a crash and an unknown wrong answer give one-line hints."""

    def elementwise(boxes_a, boxes_b, inclusive=False):
        return detection.iou(boxes_a, boxes_b, inclusive=inclusive)[:, 0]

    assert "matrix" in failure(check.check_box_iou, elementwise) or "shape" in failure(
        check.check_box_iou, elementwise
    )
    assert "raised ZeroDivisionError" in failure(check.check_box_iou, lambda a, b, inclusive: 1 / 0)
    message = failure(
        check.check_box_iou, lambda a, b, inclusive=False: np.asarray(iou_loops(a, b)) * 0.9
    )
    assert "wrong value at index" in message


def test_iou_touching_boxes_caught_by_hidden_check():
    """A +1 added on the overlap only when boxes overlap fails the hidden touching-boxes case."""

    def half_inclusive(boxes_a, boxes_b, inclusive=False):
        result = detection.iou(boxes_a, boxes_b, inclusive=inclusive)
        # wrong: decides "no overlap" in continuous terms even for inclusive pixels
        return np.where(detection.iou(boxes_a, boxes_b) > 0, result, 0.0)

    assert "Exercise 1:" in failure(check.check_box_iou_hidden, half_inclusive)


def wrong_nms(mistake):
    """A student NMS with one catalogued mistake."""

    def non_max_suppression(boxes, scores, classes, iou_threshold=0.5):
        return check._nms_variant(boxes, scores, classes, iou_threshold, mistake)

    return non_max_suppression


@pytest.mark.parametrize("mistake", list(check.NMS_MISTAKES))
def test_nms_mistakes_are_named(mistake):
    """Each NMS mistake fails with its own hint."""
    message = failure(check.check_non_max_suppression, wrong_nms(mistake))
    assert check.NMS_MISTAKES[mistake] in message


def test_nms_mask_and_bad_indices():
    """A boolean mask, duplicated indices, out-of-range indices each get a hint."""

    def mask(boxes, scores, classes, iou_threshold=0.5):
        kept = detection.non_max_suppression_per_class(boxes, scores, classes, iou_threshold)
        return np.isin(np.arange(len(boxes)), kept)

    assert "mask" in failure(check.check_non_max_suppression, mask)
    assert "twice" in failure(
        check.check_non_max_suppression, lambda b, s, c, iou_threshold=0.5: [0, 0, 2, 3, 4]
    )
    assert "box indices" in failure(
        check.check_non_max_suppression, lambda b, s, c, iou_threshold=0.5: [0, 2, 3, 99]
    )
    assert "missing [4]" in failure(
        check.check_non_max_suppression, lambda b, s, c, iou_threshold=0.5: [0, 2, 3]
    )


def wrong_ap(mistake):
    """A student AP with one catalogued mistake."""

    def average_precision(scores, hits, num_ground_truth):
        return check._ap_variant(scores, hits, num_ground_truth, mistake)

    return average_precision


@pytest.mark.parametrize("mistake", list(check.AP_MISTAKES))
def test_ap_mistakes_are_named(mistake):
    """Each AP mistake fails with its own hint."""
    message = failure(check.check_average_precision, wrong_ap(mistake))
    assert check.AP_MISTAKES[mistake] in message


def test_ap_wrong_type():
    """An AP returned as an array of one number per rank is rejected with its shape."""

    def curve(scores, hits, num_ground_truth):
        precision, _, _ = detection.precision_recall(scores, hits, num_ground_truth)
        return precision

    assert "shape ()" in failure(check.check_average_precision, curve)


def wrong_encoder(mistake):
    """A student encoder with one catalogued mistake."""

    def encode_targets(boxes, image_size, grid_size=8, boxes_per_cell=2, num_classes=10):
        return check._encode_variant(
            boxes, image_size, grid_size, boxes_per_cell, num_classes, mistake
        )

    return encode_targets


@pytest.mark.parametrize("mistake", list(check.ENCODE_MISTAKES))
def test_encode_mistakes_are_named(mistake):
    """Each encoding mistake fails with its own hint (or, for ties, the matching larger-box one)."""
    message = failure(check.check_encode_targets, wrong_encoder(mistake))
    if mistake in ("smaller_wins", "last_wins"):
        assert "the larger box (by area) wins" in message
    else:
        assert check.ENCODE_MISTAKES[mistake] in message


def test_encode_wrong_shape():
    """A flat target or one without class scores is rejected by its shape."""

    def no_classes(boxes, image_size, grid_size=8, boxes_per_cell=2, num_classes=10):
        return encode_data(boxes, image_size, grid_size, boxes_per_cell, num_classes)[..., :10]

    assert "shape (8, 8, 20)" in failure(check.check_encode_targets, no_classes)


def wrong_loss(mistake):
    """A student loss with one catalogued mistake."""

    def yolo_loss(
        y_true, y_pred, boxes_per_cell=2, num_classes=10, lambda_coord=5.0, lambda_noobj=0.5
    ):
        return check._loss_variant(
            y_true, y_pred, boxes_per_cell, num_classes, lambda_coord, lambda_noobj, mistake
        )

    return yolo_loss


@pytest.mark.parametrize("mistake", list(check.LOSS_MISTAKES))
def test_loss_mistakes_are_named(mistake):
    """Each loss mistake fails with its own hint."""
    message = failure(check.check_yolo_loss, wrong_loss(mistake))
    assert check.LOSS_MISTAKES[mistake] in message


def test_loss_batch_mean_and_numpy_only():
    """A batch mean is rejected; a NumPy-only loss that breaks on tensors fails the hidden check."""

    def batch_mean(y_true, y_pred, boxes_per_cell=2, num_classes=10, **weights):
        return float(np.mean(loss_numpy(y_true, y_pred, boxes_per_cell, num_classes)))

    assert "one loss per image" in failure(check.check_yolo_loss, batch_mean)

    def numpy_only(y_true, y_pred, boxes_per_cell=2, num_classes=10, **weights):
        if not isinstance(y_true, np.ndarray):
            raise TypeError("expected a NumPy array")
        return loss_numpy(y_true, y_pred, boxes_per_cell, num_classes)

    assert check.check_yolo_loss(numpy_only)
    assert "keras.ops" in failure(check.check_yolo_loss_hidden, numpy_only)


def test_not_implemented_passes_through():
    """The assignment's placeholder raises NotImplementedError, not a hint."""

    def placeholder(*args, **kwargs):
        raise NotImplementedError("Exercise 1: write the body of box_iou().")

    for visible, _ in CHECKS.values():
        with pytest.raises(NotImplementedError):
            visible(placeholder)


@pytest.mark.parametrize(
    ("name", "make", "mistake"),
    [("box_iou", wrong_iou, mistake) for mistake in check.IOU_MISTAKES]
    + [("non_max_suppression", wrong_nms, mistake) for mistake in check.NMS_MISTAKES]
    + [("average_precision", wrong_ap, mistake) for mistake in check.AP_MISTAKES]
    + [("encode_targets", wrong_encoder, mistake) for mistake in check.ENCODE_MISTAKES]
    + [("yolo_loss", wrong_loss, mistake) for mistake in check.LOSS_MISTAKES],
    # ids without the factory's repr: its memory address differs between xdist workers
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_hidden_checks_catch_every_mistake(name, make, mistake):
    """Grading rejects every catalogued mistake too, not only the visible check."""
    message = failure(CHECKS[name][1], make(mistake))
    assert message.startswith(f"Exercise {check.EXERCISES[name]}:")
