"""Checks of solutions/08_instance_segmentation.ipynb: anchors (exercise 1), their assignment by
IoU (2), box-regression targets (3), their inverse (4), and pasting a soft mask into its box (5).

Answers come from :mod:`course_utils.anchors` (tested against loops and hand-worked cases) and
cases worked by hand, named by their keys. A wrong answer is compared with the classic mistakes
of its exercise and the one that reproduces it is named.
"""

from course_utils import anchors, checks, instances
from course_utils.checks import _instance_segmentation_anchors as anchor_cases
from course_utils.checks import _instance_segmentation_boxes as box_cases
from course_utils.checks import array_judge

# Exercise numbers in solutions/08_instance_segmentation.ipynb.
EXERCISES = {
    "generate_anchors": 1,
    "assign_anchors": 2,
    "encode_boxes": 3,
    "decode_boxes": 4,
    "paste_mask": 5,
}


def _closest(expected, variant, hints, prepare, context):
    """A judge naming the catalogued mistake (``variant(*args, mistake=name)``) behind a wrong
    answer; ``expected(case)`` is the right one."""

    def mistakes(case):
        return {
            hint: (lambda name=name: variant(*case.args, **case.kwargs, mistake=name))
            for name, hint in hints.items()
        }

    return array_judge.closest_mistake(expected, mistakes, prepare, context)


check_generate_anchors, check_generate_anchors_hidden = checks.exercise(
    EXERCISES["generate_anchors"],
    "generate_anchors",
    case=anchor_cases.anchors_case,
    public=["lecture", (2, 3, 8, (16,), (1.0,)), (3, 2, 4, (8, 16), (0.5, 1.0, 2.0))],
    hidden=[(4, 5, 16, (32, 64), (1.0, 2.0)), (5, 3, 4, (12, 16, 22), (1.0, 1.5, 2.0))]
    + [(2, 2, 8, (10,), (0.25, 1.0, 3.0))],
    judge=_closest(
        anchor_cases.anchors_expected,
        anchor_cases.anchors_variant,
        anchor_cases.ANCHOR_MISTAKES,
        anchor_cases.anchors_array,
        anchor_cases.anchors_context,
    ),
    passed="anchors match the hand-worked 1 x 2 map and course_utils.anchors on {count} maps.",
    hidden_passed="anchors are right on {count} hidden feature maps.",
)


check_assign_anchors, check_assign_anchors_hidden = checks.exercise(
    EXERCISES["assign_anchors"],
    "assign_anchors",
    case=anchor_cases.assign_case,
    public=["lecture", (0, 2, 0.7, 0.3), (1, 3, 0.7, 0.3)],
    hidden=["moved", (10, 3, 0.6, 0.4), (11, 2, 0.7, 0.3), (12, 4, 0.5, 0.2), (13, 1, 0.7, 0.3)],
    judge=_closest(
        anchor_cases.assign_expected,
        anchor_cases.assign_variant,
        anchor_cases.ASSIGN_MISTAKES,
        anchor_cases.assign_labels,
        anchor_cases.assign_context,
    ),
    passed="labels match the hand-worked boundaries and ties, and course_utils.anchors on "
    "{count} cases.",
    hidden_passed="labels are right on {count} hidden cases.",
)


check_encode_boxes, check_encode_boxes_hidden = checks.exercise(
    EXERCISES["encode_boxes"],
    "encode_boxes",
    case=box_cases.encode_case,
    public=[(0, 6), (1, 12)],
    hidden=[(10, 20), (11, 20), (12, 3)],
    judge=_closest(
        lambda case: anchors.encode_boxes(*case.args),
        box_cases.encode_variant,
        box_cases.ENCODE_MISTAKES,
        box_cases.encode_array,
        lambda case: f"encode_boxes(<{len(case.args[0])} anchors>, <{len(case.args[1])} boxes>): ",
    ),
    passed="regression targets match course_utils.anchors on {count} cases.",
    hidden_passed="regression targets are right on {count} hidden cases.",
)


check_decode_boxes, check_decode_boxes_hidden = checks.exercise(
    EXERCISES["decode_boxes"],
    "decode_boxes",
    case=box_cases.decode_case,
    public=[(0, 6), (1, 12)],
    hidden=[(20, 20), (21, 20), (22, 3)],
    judge=_closest(
        box_cases.decode_expected,
        box_cases.decode_variant,
        box_cases.DECODE_MISTAKES,
        box_cases.decode_array,
        lambda case: f"decode_boxes(<{len(case.args[0])} anchors>, <{len(case.args[1])} deltas>): ",
    ),
    passed="decoding gives back the boxes the targets were made from, on {count} cases.",
    hidden_passed="decoding inverts encoding exactly on {count} hidden cases.",
)


check_paste_mask, check_paste_mask_hidden = checks.exercise(
    EXERCISES["paste_mask"],
    "paste_mask",
    case=box_cases.paste_case,
    public=[(0, 8, (5, 9, 14, 30)), (1, 28, (20, 3, 31, 20))],
    hidden=[(2, 28, (0, 0, 12, 25)), (3, 14, (30, 22, 47, 47)), (4, 28, (7, 11, 26, 19))],
    judge=_closest(
        lambda case: instances.paste_mask(*case.args).astype(float),
        box_cases.paste_variant,
        box_cases.PASTE_MISTAKES,
        box_cases.paste_array,
        lambda case: (
            f"paste_mask(<{case.args[0].shape[0]} x {case.args[0].shape[0]} mask>, "
            f"{case.args[1]}, {case.args[2]}): "
        ),
    ),
    passed="pasted masks match course_utils.instances on {count} boxes.",
    hidden_passed="pasted masks are right on {count} hidden boxes.",
)
