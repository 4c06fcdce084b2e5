"""Topic 01's exercise 3, the convolution matrix W: its cases, mistakes and checked answer.

Kept out of :mod:`course_utils.checks.conv2d_padding_stride` (which registers the check) so
that module stays short. The answer is :func:`course_utils.numpy_conv.conv_matrix`, checked
against ``keras.ops.conv`` on a random input; the cases include the lecture's 2x2 kernel on a
3x3 input and the seed's 3x3 kernel on a 4x4 input.
"""

import numpy as np

from course_utils import arith, checks, numpy_conv
from course_utils.checks import _conv_examples as examples
from course_utils.checks import conv_answers


def _column_major(matrix, input_shape, output_shape):
    """The same matrix with input and output pixels numbered column by column."""
    inputs = np.arange(np.prod(input_shape)).reshape(input_shape).ravel(order="F")
    outputs = np.arange(np.prod(output_shape)).reshape(output_shape).ravel(order="F")
    return matrix[outputs][:, inputs]


def conv_matrix_mistakes(kernel, input_shape, strides=1):
    """The classic wrong matrices for one case."""
    kernel = np.asarray(kernel, np.float64)
    matrix = numpy_conv.conv_matrix(kernel, input_shape, strides)
    output_shape = [
        arith.conv_output_size(n, k, strides) for n, k in zip(input_shape, kernel.shape)
    ]
    return {
        "this is W transposed: W has one row per output pixel and one column per input "
        "pixel.": matrix.T,
        "the kernel is flipped: row (i, j) holds kernel[a, b] at input pixel "
        "(i * s + a, j * s + b), unflipped, as Conv2D cross-correlates.": (
            lambda: numpy_conv.conv_matrix(kernel[::-1, ::-1], input_shape, strides)
        ),
        "pixels are numbered column by column: number them row by row, as x.ravel() does "
        "(pixel (r, c) of an image of width w is r * w + c).": (
            lambda: _column_major(matrix, input_shape, output_shape)
        ),
        "the stride is ignored: output pixel (i, j) sees the window starting at "
        "(i * s, j * s).": lambda: numpy_conv.conv_matrix(kernel, input_shape, 1),
    }


def conv_matrix_expected(kernel, input_shape, strides=1):
    """W from the reference, after checking it against Keras on a random input (belt and braces)."""
    matrix = numpy_conv.conv_matrix(kernel, input_shape, strides)
    x = conv_answers.random_integers(input_shape, 7)
    assert np.allclose(matrix @ x.ravel(), conv_answers.keras_conv2d(x, kernel, strides).ravel())
    return matrix


def conv_matrix_case(key):
    """One conv_matrix case: a named lecture kernel, or ``(kernel_shape, seed)``, on an input
    shape, with keyword arguments."""
    kernel, input_shape, kwargs = key
    if kernel == "lecture":
        kernel = examples.LECTURE_KERNEL.astype(float)
    elif kernel == "seed":
        kernel = examples.SEED_KERNEL.astype(float)
    else:
        kernel = conv_answers.random_integers(*kernel)
    return checks.Case((kernel, tuple(input_shape)), dict(kwargs), key)


CONV_MATRIX_KEYS = [
    ("lecture", (3, 3), {}),
    ("seed", (4, 4), {}),
    (((2, 3), 11), (4, 5), {}),
    (((3, 3), 12), (5, 5), {"strides": 2}),
    (((2, 2), 13), (5, 4), {"strides": 3}),
]


def conv_matrix_keys_hidden():
    """Random non-square kernels and inputs, strides 1 to 3."""
    rng = np.random.default_rng(303)
    keys = []
    for index in range(10):
        kernel_shape = tuple(int(v) for v in rng.integers(1, 4, size=2))
        input_shape = tuple(int(k + rng.integers(0, 4)) for k in kernel_shape)
        keys.append(
            ((kernel_shape, 3000 + index), input_shape, {"strides": int(rng.integers(1, 4))})
        )
    return keys
