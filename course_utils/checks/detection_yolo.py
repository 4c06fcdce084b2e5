"""Checks of solutions/07_detection_yolo.ipynb: IoU, non-max suppression, AP (exercises 1-3);
the YOLO exercises 4 and 5 are in :mod:`course_utils.checks.detection_yolo_grid`.

Answers come from independent sources: hand-worked cases (named by their keys),
:mod:`course_utils.detection` (tested against loops), ``tf.image.non_max_suppression`` and
:mod:`course_utils.detection_metrics` (tested against pycocotools and the VOC devkit's rule). A
wrong answer is compared with the classic mistakes of its exercise and the one it matches is
named. Each exercise's public and hidden checks come from one :func:`checks.exercise` call.
"""

from course_utils import checks
from course_utils.checks import _detection_yolo_boxes as box_cases
from course_utils.checks import _detection_yolo_precision as ap_cases
from course_utils.checks import array_judge, detection_yolo_grid

# Exercise numbers in solutions/07_detection_yolo.ipynb.
EXERCISES = {"box_iou": 1, "non_max_suppression": 2, "average_precision": 3}


EXERCISES.update(detection_yolo_grid.EXERCISES)


check_box_iou, check_box_iou_hidden = checks.exercise(
    EXERCISES["box_iou"],
    "box_iou",
    case=box_cases.iou_case,
    public=["lecture", "lecture_inclusive", (0, 5, 7, False), (1, 5, 7, True)],
    hidden=[(10, 9, 4, False), (11, 9, 4, True), (12, 9, 4, True), (13, 9, 4, False)]
    + ["touching", "touching_inclusive"],
    judge=array_judge.closest_mistake(
        box_cases.iou_expected, box_cases.iou_mistakes, box_cases.iou_array, box_cases.iou_context
    ),
    passed="IoU matrices match the hand-worked 1/7 and detection.iou on {count} cases, "
    "in both pixel conventions.",
    hidden_passed="IoU matrices are right on {count} hidden cases, touching boxes included.",
)


check_non_max_suppression, check_non_max_suppression_hidden = checks.exercise(
    EXERCISES["non_max_suppression"],
    "non_max_suppression",
    case=box_cases.nms_case,
    public=box_cases.NMS_PUBLIC,
    hidden=box_cases.NMS_HIDDEN,
    judge=checks.each_case(box_cases.judge_nms),
    passed="per-class NMS keeps the same boxes as tf.image.non_max_suppression on {count} "
    "cases, tied scores included.",
    hidden_passed="per-class NMS is right on {count} hidden cases.",
)


check_average_precision, check_average_precision_hidden = checks.exercise(
    EXERCISES["average_precision"],
    "average_precision",
    case=ap_cases.ap_case,
    public=["lecture", (0, 20, 1.2), (1, 20, 1.2)],
    hidden=[(30, 60, 1.0), (31, 60, 1.0), (32, 60, 1.0), "perfect", "none"],
    judge=array_judge.closest_mistake(
        ap_cases.ap_expected,
        ap_cases.ap_mistakes,
        ap_cases.ap_value,
        ap_cases.ap_context,
        1e-6,
        1e-6,
    ),
    passed="all-point AP matches the hand-worked 0.55 and random rankings ({count} cases).",
    hidden_passed="all-point AP is right on {count} hidden rankings.",
)


check_encode_targets = detection_yolo_grid.check_encode_targets


check_encode_targets_hidden = detection_yolo_grid.check_encode_targets_hidden


check_yolo_loss = detection_yolo_grid.check_yolo_loss


check_yolo_loss_hidden = detection_yolo_grid.check_yolo_loss_hidden
