"""Checks of solutions/02_conv2d_transpose.ipynb: sizes, scatter-add, zero insertion, bilinear.

Independent answers come from ``keras.ops.conv_transpose`` and ``keras.layers.Conv2DTranspose``,
``tf.image.resize``, Keras' output-shape rule (written out in :mod:`course_utils.arith` and
tested against ``Conv2DTranspose.compute_output_shape``) and the lecture's worked examples (in
:mod:`course_utils.checks._conv_examples`). Exercise 4's kernel, mistakes and judge are in
:mod:`course_utils.checks._conv2d_transpose_bilinear`.
"""

import numpy as np

from course_utils import arith, checks, numpy_conv
from course_utils.checks import _conv2d_transpose_bilinear as bilinear_cases
from course_utils.checks import _conv_examples as examples
from course_utils.checks import conv_answers, tables

# Exercise numbers in solutions/02_conv2d_transpose.ipynb.
EXERCISES = {
    "conv_transpose_output_size": 1,
    "conv2d_transpose": 2,
    "conv_transpose_by_zero_insertion": 3,
    "bilinear_kernel": 4,
}


# --- exercise 1: output size ---------------------------------------------------------------------


def _size(valid=None, same=None, with_padding=None):
    """Keras' rule with one branch replaced by a mistake ``f(n, k, s, op)``."""

    def size(n, k, strides=1, padding="valid", output_padding=None):
        if output_padding is None and padding == "valid" and valid:
            return valid(n, k, strides, output_padding)
        if output_padding is None and padding == "same" and same:
            return same(n, k, strides, output_padding)
        if output_padding is not None and with_padding:
            return with_padding(n, k, strides, output_padding, padding)
        return arith.conv_transpose_output_size(n, k, strides, padding, output_padding)

    return size


def _pad(k, padding):
    """The padding that 'same' crops from each side when output_padding is given."""
    return k // 2 if padding == "same" else 0


TRANSPOSE_SIZE_MISTAKES = {
    "output_padding is ignored: when it is given, the size is (n - 1) * s + k - 2 * pad + "
    "output_padding (pad = k // 2 for 'same', 0 for 'valid').": _size(
        with_padding=lambda n, k, s, op, p: arith.conv_transpose_output_size(n, k, s, p)
    ),
    "output_padding is not added on top of the usual size: it replaces Keras' rule by "
    "(n - 1) * s + k - 2 * pad + output_padding.": _size(
        with_padding=lambda n, k, s, op, p: arith.conv_transpose_output_size(n, k, s, p) + op
    ),
    "with output_padding, 'same' crops pad = k // 2 pixels from each side (for an even "
    "kernel that is k / 2, not (k - 1) / 2).": _size(
        with_padding=lambda n, k, s, op, p: (
            (n - 1) * s + k - 2 * ((k - 1) // 2 if p == "same" else 0) + op
        )
    ),
    "with output_padding and 'valid' nothing is cropped: (n - 1) * s + k + output_padding.": _size(
        with_padding=lambda n, k, s, op, p: (n - 1) * s + k - 2 * (k // 2) + op
    ),
    "the last input pixel starts its stamp at (n - 1) * s, not n * s: (n - 1) * s + k - "
    "2 * pad + output_padding.": _size(
        with_padding=lambda n, k, s, op, p: n * s + k - 2 * _pad(k, p) + op
    ),
    "when the kernel is smaller than the stride, Keras still gives every input pixel a cell of "
    "s pixels: 'valid' is n * s + max(k - s, 0), not (n - 1) * s + k.": _size(
        valid=lambda n, k, s, op: (n - 1) * s + k
    ),
    "'valid' keeps the overhang of the last stamp: n * s + max(k - s, 0), not just n * s.": _size(
        valid=lambda n, k, s, op: n * s
    ),
    "the last stamp covers k pixels from (n - 1) * s: that is (n - 1) * s + k pixels, "
    "not (n - 1) * s + k - 1.": _size(valid=lambda n, k, s, op: (n - 1) * s + k - 1),
    "'same' means the output is the input size times the stride, n * s: the stride "
    "upsamples.": _size(same=lambda n, k, s, op: n),
    "without output_padding, 'same' gives exactly n * s; the formula with pad = k // 2 is "
    "Keras' rule only when output_padding is given.": _size(
        same=lambda n, k, s, op: (n - 1) * s + k - 2 * (k // 2)
    ),
}

TRANSPOSE_SIZE_CASES = [
    ((2, 3), {}),
    ((3, 3), {"strides": 2}),
    ((4, 4), {"strides": 2}),
    ((3, 1), {"strides": 2}),
    ((4, 3), {"strides": 2, "padding": "same"}),
    ((5, 4), {"strides": 3, "padding": "same"}),
    ((4, 3), {"strides": 2, "output_padding": 1}),
    ((4, 3), {"strides": 2, "padding": "same", "output_padding": 1}),
    ((4, 3), {"strides": 2, "padding": "same", "output_padding": 0}),
    ((4, 4), {"strides": 2, "padding": "same", "output_padding": 1}),
    ((3, 5), {"strides": 3, "padding": "same", "output_padding": 2}),
    ((4, 2), {"strides": 3, "output_padding": 1}),
]


def _transpose_size_cases_hidden():
    """Fixed awkward cases, then random ones; output_padding always below the stride."""
    cases = [
        ((7, 2), {"strides": 4}),
        ((6, 6), {"strides": 2, "padding": "same"}),
        ((5, 2), {"strides": 2, "padding": "same", "output_padding": 1}),
        ((3, 6), {"strides": 4, "padding": "same", "output_padding": 3}),
        ((6, 1), {"strides": 3, "output_padding": 2}),
    ]
    rng = np.random.default_rng(505)
    for _ in range(50):
        n, k, s = (int(v) for v in (rng.integers(1, 20), *rng.integers(1, 7, size=2)))
        kwargs = {"strides": s, "padding": ("valid", "same")[int(rng.integers(2))]}
        if rng.integers(2):
            kwargs["output_padding"] = int(rng.integers(0, s))
        cases.append(((n, k), kwargs))
    return cases


check_conv_transpose_output_size, check_conv_transpose_output_size_hidden = checks.exercise(
    EXERCISES["conv_transpose_output_size"],
    "conv_transpose_output_size",
    case=checks.literal_case,
    public=TRANSPOSE_SIZE_CASES,
    hidden=_transpose_size_cases_hidden(),
    judge=tables.scalars(
        "conv_transpose_output_size", arith.conv_transpose_output_size, TRANSPOSE_SIZE_MISTAKES
    ),
    passed="conv_transpose_output_size follows Conv2DTranspose's output-shape rule on "
    "{count} cases.",
    hidden_passed="conv_transpose_output_size follows Conv2DTranspose's output-shape rule on "
    "{count} hidden cases.",
)


# --- exercise 2: conv2d_transpose by scatter-add ------------------------------------------------


def _overwrite(x, kernel, strides):
    """Mistake: stamps assigned with = instead of added with +=."""
    x, kernel = np.asarray(x, float), np.asarray(kernel, float)
    (n_h, n_w), (k_h, k_w) = x.shape, kernel.shape
    output = np.zeros(((n_h - 1) * strides + k_h, (n_w - 1) * strides + k_w))
    for i in range(n_h):
        for j in range(n_w):
            top, left = i * strides, j * strides
            output[top : top + k_h, left : left + k_w] = x[i, j] * kernel
    return output


def _scatter_mistakes(x, kernel, strides=1):
    """The classic wrong answers of a scatter-add transposed convolution."""
    x, kernel = np.asarray(x, float), np.asarray(kernel, float)
    return {
        "the kernel is flipped: each input pixel stamps the kernel as it is, "
        "output[i * s + a, j * s + b] += x[i, j] * kernel[a, b].": lambda: (
            numpy_conv.conv2d_transpose(x, kernel[::-1, ::-1], strides)
        ),
        "the kernel is transposed: 'transposed' refers to the matrix W, not to the kernel; "
        "stamp kernel[a, b] at offset (a, b).": lambda: numpy_conv.conv2d_transpose(
            x, kernel.T, strides
        ),
        "overlapping stamps must add up (+=), not overwrite each other (=).": lambda: _overwrite(
            x, kernel, strides
        ),
        "the stride is ignored: input pixel (i, j) stamps at (i * s, j * s).": lambda: (
            numpy_conv.conv2d_transpose(x, kernel, 1)
        ),
        "x and kernel are swapped: every pixel of x stamps a copy of the kernel, s pixels "
        "apart.": lambda: numpy_conv.conv2d_transpose(kernel, x, strides),
    }


def transpose_case(key):
    """A lecture example by its index, or ``(shape, kernel_shape, seed, kwargs)`` with
    deterministic small-integer data."""
    if isinstance(key, int):
        x, kernel, _ = examples.LECTURE_EXAMPLES[key]
        return checks.Case((np.array(x, float), np.array(kernel, float)), {}, key)
    shape, kernel_shape, seed, kwargs = key
    x = conv_answers.random_integers(shape, seed, 0, 5)
    kernel = conv_answers.random_integers(kernel_shape, seed + 1)
    return checks.Case((x, kernel), dict(kwargs), key)


SCATTER_KEYS = [0, 1, 2] + [
    ((3, 4), (2, 3), 21, {}),
    ((3, 3), (3, 3), 22, {"strides": 2}),
    ((2, 3), (4, 3), 23, {"strides": 2}),
    ((3, 2), (3, 3), 24, {"strides": 3}),
]


def _transpose_keys_hidden(seed):
    """Random shapes and strides, kernels never smaller than the stride."""
    rng = np.random.default_rng(seed)
    keys = []
    for index in range(20):
        strides = int(rng.integers(1, 4))
        kernel_shape = tuple(int(v) for v in rng.integers(strides, strides + 3, size=2))
        shape = tuple(int(v) for v in rng.integers(1, 6, size=2))
        keys.append((shape, kernel_shape, seed + 2 * index, {"strides": strides}))
    return keys


check_conv2d_transpose, check_conv2d_transpose_hidden = checks.exercise(
    EXERCISES["conv2d_transpose"],
    "conv2d_transpose",
    case=transpose_case,
    public=SCATTER_KEYS,
    hidden=_transpose_keys_hidden(6000),
    judge=tables.arrays("conv2d_transpose", conv_answers.keras_conv2d_transpose, _scatter_mistakes),
    passed=f"conv2d_transpose reproduces the {len(examples.LECTURE_EXAMPLES)} lecture examples "
    f"and matches keras.ops.conv_transpose on "
    f"{len(SCATTER_KEYS) - len(examples.LECTURE_EXAMPLES)} more cases.",
    hidden_passed="conv2d_transpose is right on {count} hidden cases.",
)


# --- exercise 3: zero insertion and the flipped kernel ------------------------------------------


def zero_insertion_route(x, kernel, strides=1, gaps=None, pads=None, flip=True, trailing=False):
    """Transposed convolution as spread-out input, zero border, convolution: with knobs for the
    classic mistakes (``gaps`` zeros between pixels, ``pads`` per side, ``trailing`` zeros).
    """
    x, kernel = np.asarray(x, float), np.asarray(kernel, float)
    gaps = strides - 1 if gaps is None else gaps
    spread = np.zeros([(n - 1) * (gaps + 1) + 1 + (gaps if trailing else 0) for n in x.shape])
    spread[:: gaps + 1, :: gaps + 1][: x.shape[0], : x.shape[1]] = x
    if pads is None:
        pads = [(k - 1, k - 1) for k in kernel.shape]
    padded = np.pad(spread, pads)
    return conv_answers.correlate(padded, kernel[::-1, ::-1] if flip else kernel, 1)


def _zero_insertion_mistakes(x, kernel, strides=1):
    """The classic wrong answers of the zero-insertion route."""
    shape = np.shape(kernel)
    return {
        "the kernel is not flipped: after inserting zeros, convolve with kernel[::-1, ::-1] "
        "(the scatter of a stamp is the correlation with the flipped kernel).": lambda: (
            zero_insertion_route(x, kernel, strides, flip=False)
        ),
        "the kernel is transposed instead of flipped: 'transposed' refers to the matrix W; "
        "the kernel is flipped, kernel[::-1, ::-1].": lambda: zero_insertion_route(
            x, np.asarray(kernel).T[::-1, ::-1], strides, pads=[(k - 1, k - 1) for k in shape]
        ),
        "insert s - 1 zeros between neighbouring pixels, not s.": lambda: zero_insertion_route(
            x, kernel, strides, gaps=strides
        ),
        "no zeros after the last pixel: the spread-out input has (n - 1) * s + 1 pixels per "
        "axis.": lambda: (
            zero_insertion_route(x, kernel, strides, trailing=True) if strides > 1 else None
        ),
        "pad k - 1 zeros on every side (so each corner pixel meets the whole kernel), not "
        "k - 2.": lambda: zero_insertion_route(
            x, kernel, strides, pads=[(k - 2, k - 2) for k in shape]
        ),
        "pad k - 1 zeros on every side, not k.": lambda: zero_insertion_route(
            x, kernel, strides, pads=[(k, k) for k in shape]
        ),
        "pad k - 1 zeros on both sides, before and after, not only before.": lambda: (
            zero_insertion_route(x, kernel, strides, pads=[(k - 1, 0) for k in shape])
        ),
        "pad k - 1 zeros on every side, not (k - 1) // 2 as 'same' would: the transposed "
        "convolution is a full convolution.": lambda: zero_insertion_route(
            x, kernel, strides, pads=[((k - 1) // 2, (k - 1) // 2) for k in shape]
        ),
    }


ZERO_INSERTION_KEYS = [
    0,
    ((3, 3), (3, 3), 31, {}),
    ((3, 3), (3, 3), 32, {"strides": 2}),
    ((2, 3), (4, 3), 33, {"strides": 2}),
    ((3, 2), (3, 4), 34, {"strides": 3}),
]

check_conv_transpose_by_zero_insertion, check_conv_transpose_by_zero_insertion_hidden = (
    checks.exercise(
        EXERCISES["conv_transpose_by_zero_insertion"],
        "conv_transpose_by_zero_insertion",
        case=transpose_case,
        public=ZERO_INSERTION_KEYS,
        hidden=_transpose_keys_hidden(7000),
        judge=tables.arrays(
            "conv_transpose_by_zero_insertion",
            conv_answers.keras_conv2d_transpose,
            _zero_insertion_mistakes,
        ),
        passed="zero insertion + flipped kernel matches keras.ops.conv_transpose on {count} cases.",
        hidden_passed="conv_transpose_by_zero_insertion is right on {count} hidden cases.",
    )
)


# --- exercise 4: the bilinear upsampling kernel --------------------------------------------------

check_bilinear_kernel, check_bilinear_kernel_hidden = checks.exercise(
    EXERCISES["bilinear_kernel"],
    "bilinear_kernel",
    case=bilinear_cases.bilinear_case,
    public=[(factor, (5, 6), 41) for factor in (2, 3, 4)],
    hidden=[(factor, (9, 7), 43) for factor in (1, 5, 6, 8)],
    judge=checks.each_case(bilinear_cases.judge_bilinear),
    passed="bilinear_kernel upsamples like tf.image.resize (away from the border) for {count} "
    "factors.",
    hidden_passed="bilinear_kernel is right for {count} hidden factors.",
)
