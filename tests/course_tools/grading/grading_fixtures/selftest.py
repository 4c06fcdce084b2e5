"""Checks of the grader's self-test assignment: two tiny exercises, NumPy only, no TensorFlow.

The notebook ``grading_fixtures/solutions/00_grader_selftest.ipynb`` beside it uses them, so the
grader's tests (and an instructor trying the grader on a new machine) run in seconds. They are
made by the course's check factory (cases, probe, judge) like every topic's checks, so a graded
kernel only records what the student's functions return and the grader judges it.
"""

import numpy as np

from course_utils import checks

# Checks outside course_utils.checks that a graded kernel may record (see checks.recording).
COURSE_CHECKS = True

# (size, kernel, stride, padding) per case. Module-level on purpose: the grader's tests rewrite
# them from a submission, which must change nothing (cases are made afresh where judged).
OUTPUT_SIZE_CASES = [(7, 3, 1, "valid"), (7, 3, 2, "valid"), (8, 3, 2, "same"), (5, 5, 1, "valid")]
OUTPUT_SIZE_HIDDEN = [
    (9, 3, 1, "valid"),
    (10, 3, 2, "valid"),
    (10, 3, 3, "same"),
    (9, 3, 2, "same"),
    (32, 4, 4, "same"),
    (31, 4, 4, "same"),
    (13, 1, 1, "valid"),
]


def _output_size(size, kernel, stride, padding):
    """Independent answer: output length of a convolution along one axis."""
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


def _size_case(key):
    """The inputs of one output-size case: the key is the argument tuple."""
    return checks.Case(tuple(key), {}, key)


def _judge_size(exercise, case, output):
    """Compare one output size with the independent answer, naming classic mistakes."""
    size, kernel, stride, padding = case.args
    got = checks.as_int(exercise, output)
    mistakes = {
        "round up, not down, for 'valid' (the last window must fit).": -(
            -(size - kernel + 1) // stride
        ),
        "'same' ignores the kernel size: only the stride shrinks the output.": (
            (size - kernel) // stride + 1
        ),
        "divide by the stride: size - kernel + 1 is the stride-1 answer.": size - kernel + 1,
    }
    context = f"output_size{case.args}: "
    checks.diagnose(exercise, got, _output_size(*case.args), mistakes, context=context)


check_output_size, check_output_size_hidden = checks.exercise(
    1,
    "output_size",
    case=_size_case,
    public=OUTPUT_SIZE_CASES,
    hidden=OUTPUT_SIZE_HIDDEN,
    judge=checks.each_case(_judge_size),
    passed="output sizes match Conv2D for 'valid' and 'same'.",
    hidden_passed="hidden output-size cases pass.",
)


def _image(key):
    """One test image by name: two small ones, negative values, a random one."""
    if key == "random":
        return np.random.default_rng(0).normal(size=(4, 5)) * 7 + 2
    images = {
        "grid": np.array([[2.0, 4.0], [6.0, 10.0]]),
        "ramp": np.arange(12.0).reshape(3, 4) + 5,
        "negative": np.array([[-3.0, 0.0, 3.0]]),
    }
    return images[key]


def _image_case(key):
    """The inputs of one normalization case: the image named by the key."""
    return checks.Case((_image(key),), {}, key)


def _expected_normalized(image):
    """Independent answer: scale an image to [0, 1] (a constant image becomes zeros)."""
    image = np.asarray(image, dtype=np.float64)
    span = image.max() - image.min()
    return np.zeros_like(image) if span == 0 else (image - image.min()) / span


def _judge_normalize(exercise, case, output):
    """Compare one normalized image with the independent answer."""
    image = case.args[0]
    got = checks.as_array(exercise, output, "the normalized image", shape=image.shape)
    mistakes = {
        "subtract the minimum before dividing by the range.": image / image.max(),
        "divide by the range (max - min), not by the maximum.": (image - image.min()) / image.max(),
    }
    checks.diagnose(exercise, got, _expected_normalized(image), mistakes)


check_normalize, check_normalize_hidden = checks.exercise(
    2,
    "normalize",
    case=_image_case,
    public=["grid", "ramp"],
    hidden=["negative", "random"],
    judge=checks.each_case(_judge_normalize),
    passed="images are scaled to [0, 1].",
    hidden_passed="hidden normalization cases pass.",
)
