"""Checks of the grader's self-test assignment: two tiny exercises, NumPy only, no TensorFlow.

The notebook ``grading_fixtures/solutions/00_grader_selftest.ipynb`` beside it uses them, so the
grader's tests (and an instructor trying the grader on a new machine) run in seconds.
"""

import numpy as np

from course_utils import checks


def _output_size(size, kernel, stride, padding):
    """Independent answer: output length of a convolution along one axis."""
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


def _check_sizes(exercise, function, cases):
    """Compare ``function`` with the independent answer on ``cases``, naming classic mistakes."""
    for size, kernel, stride, padding in cases:
        arguments = (size, kernel, stride, padding)
        got = checks.as_int(exercise, checks.call(exercise, function, *arguments))
        expected = _output_size(*arguments)
        mistakes = {
            "round up, not down, for 'valid' (the last window must fit).": -(
                -(size - kernel + 1) // stride
            ),
            "'same' ignores the kernel size: only the stride shrinks the output.": (
                (size - kernel) // stride + 1
            ),
            "divide by the stride: size - kernel + 1 is the stride-1 answer.": size - kernel + 1,
        }
        context = f"output_size{arguments}: "
        checks.diagnose(exercise, got, expected, mistakes, context=context)


def check_output_size(function):
    """Exercise 1, public: output sizes of a few 'valid' and 'same' convolutions."""
    cases = [(7, 3, 1, "valid"), (7, 3, 2, "valid"), (8, 3, 2, "same"), (5, 5, 1, "valid")]
    _check_sizes(1, function, cases)
    return checks.passed(1, "output sizes match Conv2D for 'valid' and 'same'.")


def check_output_size_hidden(function):
    """Exercise 1, hidden: more sizes, strides and paddings."""
    cases = [(9, 3, 1, "valid"), (10, 3, 2, "valid"), (10, 3, 3, "same"), (9, 3, 2, "same")]
    _check_sizes(1, function, [*cases, (32, 4, 4, "same"), (31, 4, 4, "same"), (13, 1, 1, "valid")])
    return checks.passed(1, "hidden output-size cases pass.")


def _expected_normalized(image):
    """Independent answer: scale an image to [0, 1] (a constant image becomes zeros)."""
    image = np.asarray(image, dtype=np.float64)
    span = image.max() - image.min()
    return np.zeros_like(image) if span == 0 else (image - image.min()) / span


def _check_normalize(exercise, function, images):
    """Compare ``function`` with the independent answer on ``images``."""
    for image in images:
        got = checks.call(exercise, function, image.copy())
        got = checks.as_array(exercise, got, "the normalized image", shape=image.shape)
        mistakes = {
            "subtract the minimum before dividing by the range.": image / image.max(),
            "divide by the range (max - min), not by the maximum.": (
                (image - image.min()) / image.max()
            ),
        }
        checks.diagnose(exercise, got, _expected_normalized(image), mistakes)


def check_normalize(function):
    """Exercise 2, public: min-max scaling of two small images."""
    images = [np.array([[2.0, 4.0], [6.0, 10.0]]), np.arange(12.0).reshape(3, 4) + 5]
    _check_normalize(2, function, images)
    return checks.passed(2, "images are scaled to [0, 1].")


def check_normalize_hidden(function):
    """Exercise 2, hidden: negative values and a random image."""
    generator = np.random.default_rng(0)
    images = [np.array([[-3.0, 0.0, 3.0]]), generator.normal(size=(4, 5)) * 7 + 2]
    _check_normalize(2, function, images)
    return checks.passed(2, "hidden normalization cases pass.")
