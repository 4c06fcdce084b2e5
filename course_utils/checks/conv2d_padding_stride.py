"""Checks of solutions/01_conv2d_padding_stride.ipynb: output sizes, conv2d, W, receptive fields.

Answers come from independent sources (``keras.ops.conv``, the Keras shape rules in
:mod:`course_utils.arith`, the lecture's worked examples); a wrong answer is compared with the
classic mistakes of its exercise and the one that reproduces it is named. Each exercise's
public and hidden checks are made by :func:`course_utils.checks.exercise` from one case function
and two lists of case keys. The cases and mistakes of exercises 3 and 4 are in
:mod:`course_utils.checks._conv2d_padding_stride_matrix` and ``_conv2d_padding_stride_fields``,
the lecture's worked examples in :mod:`course_utils.checks._conv_examples`.
"""

import math

import numpy as np

from course_utils import arith, checks, numpy_conv
from course_utils.checks import _conv2d_padding_stride_fields as field_cases
from course_utils.checks import _conv2d_padding_stride_matrix as matrix_cases
from course_utils.checks import _conv_examples as examples
from course_utils.checks import conv_answers, tables

# Exercise numbers in solutions/01_conv2d_padding_stride.ipynb.
EXERCISES = {"conv_output_size": 1, "conv2d": 2, "conv_matrix": 3, "receptive_field": 4}

# --- exercise 1: output size ---------------------------------------------------------------------


def _size_same_is_n(n, k, strides=1, padding="valid", dilation=1):
    """Mistake: 'same' keeps the input size whatever the stride."""
    return n if padding == "same" else arith.conv_output_size(n, k, strides, padding, dilation)


def _size_same_floor(n, k, strides=1, padding="valid", dilation=1):
    """Mistake: floor(n / s) for 'same'."""
    if padding == "same":
        return n // strides
    return arith.conv_output_size(n, k, strides, padding, dilation)


def _size_same_symmetric(n, k, strides=1, padding="valid", dilation=1):
    """Mistake: 'same' as k // 2 zeros on each side, then the valid formula."""
    if padding == "same":
        span = arith.effective_kernel_size(k, dilation)
        return (n + 2 * (span // 2) - span) // strides + 1
    return arith.conv_output_size(n, k, strides, padding, dilation)


def _size_valid(formula):
    """A mistake in the 'valid' branch only."""

    def size(n, k, strides=1, padding="valid", dilation=1):
        if padding == "same":
            return arith.conv_output_size(n, k, strides, padding, dilation)
        return formula(n, arith.effective_kernel_size(k, dilation), strides, k, dilation)

    return size


SIZE_MISTAKES = {
    "with padding='same' the output has ceil(n / s) pixels, not n: the stride still skips "
    "positions.": _size_same_is_n,
    "with padding='same' round up, ceil(n / s), not down: TensorFlow pads so that a partial "
    "last step still gets an output.": _size_same_floor,
    "padding='same' adds only the zeros it needs (k - 1 in total at stride 1), not k // 2 on "
    "each side: for an even kernel that is one too many.": _size_same_symmetric,
    "with padding='valid' the size is floor((n - k) / s) + 1; n / s is what 'same' gives.": (
        _size_valid(lambda n, span, s, k, d: math.ceil(n / s))
    ),
    "with padding='valid' round the number of steps down: floor((n - k) / s) + 1, "
    "not ceil.": _size_valid(lambda n, span, s, k, d: math.ceil((n - span) / s) + 1),
    "with padding='valid' count the first window too: floor((n - k) / s) + 1, the + 1 is "
    "missing.": _size_valid(lambda n, span, s, k, d: (n - span) // s),
    "the stride is ignored: each step moves s pixels, floor((n - k) / s) + 1.": _size_valid(
        lambda n, span, s, k, d: n - span + 1
    ),
    "the stride divides the steps, not the + 1: floor((n - k) / s) + 1, "
    "not (n - k + 1) / s.": _size_valid(lambda n, span, s, k, d: (n - span + 1) // s),
    "dilation is ignored: a kernel of size k with dilation d spans k + (k - 1)(d - 1) "
    "pixels.": _size_valid(lambda n, span, s, k, d: (n - k) // s + 1),
    "a dilated kernel spans k + (k - 1)(d - 1) pixels, not k * d (no gap after the last "
    "tap).": _size_valid(lambda n, span, s, k, d: (n - k * d) // s + 1),
}

SIZE_CASES = [
    ((5, 3), {}),
    ((7, 3), {"strides": 2}),
    ((8, 3), {"strides": 2}),
    ((6, 2), {"strides": 3}),
    ((32, 5), {"strides": 1}),
    ((5, 3), {"padding": "same"}),
    ((6, 4), {"padding": "same"}),
    ((7, 3), {"strides": 2, "padding": "same"}),
    ((8, 3), {"strides": 3, "padding": "same"}),
    ((9, 3), {"dilation": 2}),
    ((16, 3), {"strides": 2, "dilation": 3}),
    ((10, 3), {"strides": 2, "padding": "same", "dilation": 2}),
]


def _size_cases_hidden():
    """Many more cases, from a fixed random stream, kernels never wider than the input."""
    rng = np.random.default_rng(101)
    # Even kernels with 'same', strides that divide n and kernels as wide as the input first.
    cases = [
        ((12, 4), {"padding": "same"}),
        ((9, 2), {"strides": 3, "padding": "same"}),
        ((10, 4), {"strides": 2, "padding": "same", "dilation": 3}),
        ((11, 11), {}),
        ((13, 4), {"strides": 3}),
        ((20, 3), {"strides": 4, "dilation": 4}),
    ]
    while len(cases) < 60:
        n, k, s, d = (int(v) for v in (rng.integers(1, 40), *rng.integers(1, 8, size=3)))
        padding = ("valid", "same")[int(rng.integers(2))]
        if arith.effective_kernel_size(k, d) <= n:
            cases.append(((n, k), {"strides": s, "padding": padding, "dilation": d}))
    return cases


check_conv_output_size, check_conv_output_size_hidden = checks.exercise(
    EXERCISES["conv_output_size"],
    "conv_output_size",
    case=checks.literal_case,
    public=SIZE_CASES,
    hidden=_size_cases_hidden(),
    judge=tables.scalars("conv_output_size", arith.conv_output_size, SIZE_MISTAKES),
    passed="conv_output_size follows Keras' Conv2D size rules on {count} cases.",
    hidden_passed="conv_output_size follows Keras' rules on {count} hidden cases.",
)


# --- exercise 2: conv2d in NumPy -----------------------------------------------------------------


def _conv2d_mistakes(x, kernel, strides=1, padding="valid"):
    """The classic wrong answers of conv2d for one case, lazily computed."""
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    amounts = conv_answers.same_amounts(x, kernel, strides)
    swapped = [(after, before) for before, after in amounts]
    half = [(k // 2, k // 2) for k in kernel.shape]
    short = [((k - 1) // 2, (k - 1) // 2) for k in kernel.shape]
    used = amounts if padding == "same" else [(0, 0), (0, 0)]
    padded = conv_answers.pad(x, *used)
    mistakes = {
        "the kernel is flipped: that is convolution in the textbook sense, but Conv2D "
        "slides the kernel as it is (cross-correlation).": lambda: numpy_conv.conv2d(
            x, kernel[::-1, ::-1], strides, padding
        ),
        "the kernel is transposed: kernel[a, b] multiplies x[i + a, j + b], a along rows "
        "and b along columns.": lambda: numpy_conv.conv2d(x, kernel.T, strides, padding),
        "the stride is ignored: output pixel (i, j) starts its window at (i * s, j * s).": (
            lambda: numpy_conv.conv2d(x, kernel, 1, padding)
        ),
        "the last window is missing: windows start at 0, s, 2s, ... up to and including "
        "n - k (range(0, n - k + 1, s)).": lambda: conv_answers.correlate(
            padded,
            kernel,
            strides,
            [len(range(0, n - k, strides)) for n, k in zip(padded.shape, kernel.shape)],
        ),
    }
    if padding == "same":
        mistakes.update(
            {
                "the padding is split the wrong way: when the number of zeros is odd, "
                "TensorFlow puts the extra zero after (bottom/right), not before.": lambda: (
                    conv_answers.correlate(conv_answers.pad(x, *swapped), kernel, strides)
                ),
                "the padding was computed for stride 1 and the result subsampled: with "
                "stride s, 'same' pads max((ceil(n / s) - 1) * s + k - n, 0) zeros in "
                "total.": lambda: numpy_conv.conv2d(x, kernel, 1, "same")[::strides, ::strides],
                "'same' is not (k - 1) // 2 zeros on each side: it pads "
                "max((ceil(n / s) - 1) * s + k - n, 0) zeros in total, and when that is odd (an "
                "even kernel at stride 1) the extra zero goes after (bottom/right).": lambda: (
                    conv_answers.correlate(conv_answers.pad(x, *short), kernel, strides)
                ),
                "'same' padding is not k // 2 zeros on each side: it adds "
                "max((ceil(n / s) - 1) * s + k - n, 0) zeros in total, half before and the "
                "rest after.": lambda: conv_answers.correlate(
                    conv_answers.pad(x, *half), kernel, strides
                ),
                "no padding was added: padding='same' surrounds the input with zeros so the "
                "output keeps ceil(n / s) pixels.": lambda: numpy_conv.conv2d(
                    x, kernel, strides, "valid"
                ),
            }
        )
    else:
        mistakes[
            "padding='valid' means no padding at all: only windows that fit inside the input count."
        ] = lambda: numpy_conv.conv2d(x, kernel, strides, "same")
    return mistakes


def conv2d_case(key):
    """One conv2d case: the lecture's worked example, or ``(shape, kernel_shape, seed, kwargs)``
    with deterministic small-integer data."""
    if key == "lecture":
        inputs = (examples.LECTURE_INPUT.astype(float), examples.LECTURE_KERNEL.astype(float))
        return checks.Case(inputs, {}, key)
    shape, kernel_shape, seed, kwargs = key
    x = conv_answers.random_integers(shape, seed, 0, 6)
    kernel = conv_answers.random_integers(kernel_shape, seed + 1)
    return checks.Case((x, kernel), dict(kwargs), key)


CONV2D_KEYS = [
    "lecture",
    ((5, 6), (3, 2), 1, {}),
    ((7, 6), (3, 3), 2, {"strides": 2}),
    ((5, 5), (3, 3), 3, {"padding": "same"}),
    ((5, 6), (4, 2), 4, {"padding": "same"}),
    ((6, 6), (3, 3), 5, {"strides": 2, "padding": "same"}),
    ((9, 10), (5, 5), 6, {"strides": 3, "padding": "same"}),
]


def _conv2d_keys_hidden():
    """Random shapes, strides and paddings, non-square kernels included."""
    rng = np.random.default_rng(202)
    keys = []
    for index in range(24):
        kernel_shape = tuple(int(v) for v in rng.integers(1, 6, size=2))
        shape = tuple(int(k + rng.integers(0, 7)) for k in kernel_shape)
        kwargs = {"strides": int(rng.integers(1, 4)), "padding": ("valid", "same")[index % 2]}
        keys.append((shape, kernel_shape, 1000 + 2 * index, kwargs))
    return keys


check_conv2d, check_conv2d_hidden = checks.exercise(
    EXERCISES["conv2d"],
    "conv2d",
    case=conv2d_case,
    public=CONV2D_KEYS,
    hidden=_conv2d_keys_hidden(),
    judge=tables.arrays("conv2d", conv_answers.keras_conv2d, _conv2d_mistakes),
    passed="conv2d matches keras.ops.conv on {count} cases.",
    hidden_passed="conv2d matches keras.ops.conv on {count} hidden cases.",
)


# --- exercise 3: the convolution matrix ----------------------------------------------------------

check_conv_matrix, check_conv_matrix_hidden = checks.exercise(
    EXERCISES["conv_matrix"],
    "conv_matrix",
    case=matrix_cases.conv_matrix_case,
    public=matrix_cases.CONV_MATRIX_KEYS,
    hidden=matrix_cases.conv_matrix_keys_hidden(),
    judge=tables.arrays(
        "conv_matrix", matrix_cases.conv_matrix_expected, matrix_cases.conv_matrix_mistakes
    ),
    passed="conv_matrix gives W @ x == Conv2D(x) on {count} cases.",
    hidden_passed="conv_matrix is right on {count} hidden cases.",
)


# --- exercise 4: receptive field of a stack ------------------------------------------------------

check_receptive_field, check_receptive_field_hidden = checks.exercise(
    EXERCISES["receptive_field"],
    "receptive_field",
    case=checks.literal_case,
    public=field_cases.FIELD_CASES,
    hidden=field_cases.field_cases_hidden(),
    judge=tables.scalars("receptive_field", arith.receptive_field, field_cases.FIELD_MISTAKES),
    passed=f"receptive_field reproduces the context-module table (3 ... 67) and "
    f"{len(field_cases.FIELD_CASES) - 8} more stacks.",
    hidden_passed="receptive_field is right on {count} hidden stacks.",
)
