"""The checks of topic 08 accept correct variants and name each catalogued mistake, in the
notebook and in grading alike (through the shared check_harness)."""

import check_harness
import numpy as np
import pytest

from course_utils import anchors, config, detection, instances
from course_utils.checks import _instance_segmentation_anchors as anchor_cases_checks
from course_utils.checks import _instance_segmentation_boxes as box_cases_checks
from course_utils.checks import instance_segmentation as check

config.setup()

# --- correct variants ------------------------------------------------------------------------


def anchors_loops(feature_height, feature_width, stride, scales, aspect_ratios):
    """Anchors one at a time, returned as a list of lists."""
    boxes = []
    for row in range(feature_height):
        for column in range(feature_width):
            x, y = (column + 0.5) * stride, (row + 0.5) * stride
            for scale in scales:
                for ratio in aspect_ratios:
                    width, height = scale / ratio**0.5, scale * ratio**0.5
                    boxes.append([x - width / 2, y - height / 2, x + width / 2, y + height / 2])
    return boxes


def anchors_tensorflow(feature_height, feature_width, stride, scales, aspect_ratios):
    """Anchors with TensorFlow ops, returned as a tensor."""
    import tensorflow as tf

    scales = tf.constant(scales, tf.float64)[:, None]
    roots = tf.sqrt(tf.constant(aspect_ratios, tf.float64))[None, :]
    half = tf.reshape(tf.stack([scales / roots, scales * roots], axis=-1), (1, -1, 2)) / 2
    rows, columns = tf.meshgrid(
        tf.range(feature_height, dtype=tf.float64),
        tf.range(feature_width, dtype=tf.float64),
        indexing="ij",
    )
    centres = tf.reshape(tf.stack([columns + 0.5, rows + 0.5], axis=-1) * stride, (-1, 1, 2))
    return tf.reshape(tf.concat([centres - half, centres + half], axis=-1), (-1, 4))


def assign_course(anchor_boxes, truth_boxes, positive_iou=0.7, negative_iou=0.3):
    """The course's assignment: its labels."""
    return anchors.assign_anchors(anchor_boxes, truth_boxes, positive_iou, negative_iou).labels


def assign_loops(anchor_boxes, truth_boxes, positive_iou=0.7, negative_iou=0.3):
    """The three rules one anchor at a time, as a list."""
    overlaps = detection.iou(anchor_boxes, truth_boxes)
    best_of_truth = overlaps.max(axis=0)
    labels = []
    for row in overlaps:
        if row.max() >= positive_iou or any(
            value == best and best > 0 for value, best in zip(row, best_of_truth)
        ):
            labels.append(1)
        elif row.max() < negative_iou:
            labels.append(0)
        else:
            labels.append(-1)
    return labels


def encode_course(anchor_boxes, boxes):
    """The course's encoding."""
    return anchors.encode_boxes(anchor_boxes, boxes)


def encode_tensorflow(anchor_boxes, boxes):
    """Encoding with TensorFlow ops from centres and sizes, as a tensor."""
    import tensorflow as tf

    a, b = tf.constant(anchor_boxes, tf.float64), tf.constant(boxes, tf.float64)
    size_a, size_b = a[:, 2:] - a[:, :2], b[:, 2:] - b[:, :2]
    centre_a, centre_b = a[:, :2] + size_a / 2, b[:, :2] + size_b / 2
    return tf.concat([(centre_b - centre_a) / size_a, tf.math.log(size_b / size_a)], axis=1)


def decode_course(anchor_boxes, deltas):
    """The course's decoding."""
    return anchors.decode_boxes(anchor_boxes, deltas)


def decode_loops(anchor_boxes, deltas):
    """Decoding one box at a time, as a list of lists."""
    boxes = []
    for (x0, y0, x1, y1), (tx, ty, tw, th) in zip(anchor_boxes, deltas):
        width, height = x1 - x0, y1 - y0
        x, y = (x0 + x1) / 2 + tx * width, (y0 + y1) / 2 + ty * height
        w, h = width * np.exp(tw), height * np.exp(th)
        boxes.append([x - w / 2, y - h / 2, x + w / 2, y + h / 2])
    return boxes


def paste_course(soft_mask, box, image_size, threshold=0.5):
    """The course's pasting."""
    return instances.paste_mask(soft_mask, box, image_size, threshold)


def paste_as_integers(soft_mask, box, image_size, threshold=0.5):
    """Pasting with TensorFlow, returning 0/1 integers in a list."""
    import tensorflow as tf

    x_min, y_min, x_max, y_max = box
    resized = tf.image.resize(
        np.asarray(soft_mask, "float32")[..., None], (y_max - y_min + 1, x_max - x_min + 1)
    )[..., 0]
    image = np.zeros((image_size, image_size), int)
    image[y_min : y_max + 1, x_min : x_max + 1] = resized.numpy() >= threshold
    return image.tolist()


CORRECT = {
    "generate_anchors": [anchors.generate_anchors, anchors_loops, anchors_tensorflow],
    "assign_anchors": [assign_course, assign_loops],
    "encode_boxes": [encode_course, encode_tensorflow],
    "decode_boxes": [decode_course, decode_loops],
    "paste_mask": [paste_course, paste_as_integers],
}
CHECKS = {
    "generate_anchors": (check.check_generate_anchors, check.check_generate_anchors_hidden),
    "assign_anchors": (check.check_assign_anchors, check.check_assign_anchors_hidden),
    "encode_boxes": (check.check_encode_boxes, check.check_encode_boxes_hidden),
    "decode_boxes": (check.check_decode_boxes, check.check_decode_boxes_hidden),
    "paste_mask": (check.check_paste_mask, check.check_paste_mask_hidden),
}
VARIANTS = {
    "generate_anchors": (anchor_cases_checks.anchors_variant, anchor_cases_checks.ANCHOR_MISTAKES),
    "assign_anchors": (anchor_cases_checks.assign_variant, anchor_cases_checks.ASSIGN_MISTAKES),
    "encode_boxes": (box_cases_checks.encode_variant, box_cases_checks.ENCODE_MISTAKES),
    "decode_boxes": (box_cases_checks.decode_variant, box_cases_checks.DECODE_MISTAKES),
    "paste_mask": (box_cases_checks.paste_variant, box_cases_checks.PASTE_MISTAKES),
}


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
    for each in CHECKS[name]:
        message = check_harness.fails_with(each, answer, hints[mistake])
        assert message.startswith(f"Exercise {check.EXERCISES[name]}:")


def test_mistake_free_variants_equal_the_course():
    """The variants without a mistake are the course's answers (so hints are about mistakes)."""
    for key in ["lecture", (3, 2, 4, (8, 16), (0.5, 1.0, 2.0))]:
        case = anchor_cases_checks.anchors_case(key)
        np.testing.assert_allclose(
            anchor_cases_checks.anchors_variant(*case.args), anchors.generate_anchors(*case.args)
        )
    for key in ["lecture", (0, 2, 0.7, 0.3), (12, 4, 0.5, 0.2)]:
        case = anchor_cases_checks.assign_case(key)
        np.testing.assert_array_equal(
            anchor_cases_checks.assign_variant(*case.args, **case.kwargs),
            anchors.assign_anchors(*case.args, **case.kwargs).labels,
        )
    case = box_cases_checks.encode_case((0, 6))
    np.testing.assert_allclose(
        box_cases_checks.encode_variant(*case.args), anchors.encode_boxes(*case.args)
    )
    case = box_cases_checks.decode_case((0, 6))
    np.testing.assert_allclose(
        box_cases_checks.decode_variant(*case.args), anchors.decode_boxes(*case.args)
    )


def test_wrong_shapes_and_labels_fail_with_one_line():
    check_harness.fails_with(
        check.check_generate_anchors, lambda *args: np.zeros((3, 4)), "should have shape"
    )
    check_harness.fails_with(
        check.check_assign_anchors,
        lambda anchor_boxes, truth_boxes, **kwargs: np.full(len(anchor_boxes), 2),
        "should be 1 (positive), 0 (negative) or -1 (ignored)",
    )


def test_soft_masks_instead_of_booleans_fail():
    def probabilities(soft_mask, box, image_size, threshold=0.5):
        image = np.zeros((image_size, image_size))
        x_min, y_min, x_max, y_max = box
        image[y_min : y_max + 1, x_min : x_max + 1] = instances.resize_mask(
            soft_mask, y_max - y_min + 1, x_max - x_min + 1
        )
        return image

    check_harness.fails_with(check.check_paste_mask, probabilities, "return a boolean mask")


def test_swapped_xy_in_encoding_is_caught():
    """A student who reads boxes as (y_min, x_min, y_max, x_max) fails."""

    def swapped(anchor_boxes, boxes):
        anchor_boxes, boxes = np.asarray(anchor_boxes), np.asarray(boxes)
        return anchors.encode_boxes(anchor_boxes[:, [1, 0, 3, 2]], boxes[:, [1, 0, 3, 2]])

    check_harness.fails_with(check.check_encode_boxes, swapped, "Exercise 3:")


def test_not_implemented_passes_through():
    """The assignment's placeholder raises NotImplementedError, not a hint."""

    def placeholder(*args, **kwargs):
        raise NotImplementedError("Exercise 1: write the body.")

    for visible, hidden in CHECKS.values():
        for each in (visible, hidden):
            with pytest.raises(NotImplementedError):
                each(placeholder)
