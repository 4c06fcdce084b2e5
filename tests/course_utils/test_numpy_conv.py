"""course_utils.numpy_conv against Keras layers, against each other, and the lecture's examples."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from course_utils import arith, numpy_conv

SETTINGS = settings(max_examples=30, deadline=None)


def keras_conv(x, kernel, strides, padding, dilation=1):
    """Run ``keras.layers.Conv2D`` with a given kernel and no bias."""
    layer = keras.layers.Conv2D(
        kernel.shape[-1], kernel.shape[:2], strides, padding, dilation_rate=dilation, use_bias=False
    )
    layer.build(x.shape)
    layer.set_weights([kernel])
    return layer(x).numpy()


def keras_conv_transpose(x, kernel, strides, padding, output_padding=None):
    """Run ``keras.layers.Conv2DTranspose`` with a given kernel and no bias."""
    layer = keras.layers.Conv2DTranspose(
        kernel.shape[2], kernel.shape[:2], strides, padding, output_padding, use_bias=False
    )
    layer.build(x.shape)
    layer.set_weights([kernel])
    return layer(x).numpy()


@st.composite
def conv_cases(draw):
    """A random batch, kernel and configuration that Keras accepts."""
    kernel_size = draw(st.integers(1, 5))
    strides = draw(st.integers(1, 3))
    dilation = 1 if strides > 1 else draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    span = arith.effective_kernel_size(kernel_size, dilation)
    height = draw(st.integers(span, span + 8))
    width = draw(st.integers(span, span + 8))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, height, width, 3)).astype("float32")
    kernel = rng.normal(size=(kernel_size, kernel_size, 3, 2)).astype("float32")
    return x, kernel, strides, padding, dilation


@SETTINGS
@given(conv_cases())
def test_conv2d_matches_keras(case):
    x, kernel, strides, padding, dilation = case
    expected = keras_conv(x, kernel, strides, padding, dilation)
    np.testing.assert_allclose(
        numpy_conv.conv2d(x, kernel, strides, padding, dilation), expected, atol=1e-4
    )


@SETTINGS
@given(conv_cases(), st.booleans())
def test_conv2d_transpose_matches_keras(case, use_output_padding):
    x, kernel, strides, padding, _ = case
    kernel = np.transpose(kernel, (0, 1, 3, 2))  # Conv2DTranspose stores (kh, kw, out, in)
    output_padding = strides - 1 if use_output_padding and strides > 1 else None
    try:
        expected = keras_conv_transpose(x, kernel, strides, padding, output_padding)
    except tf.errors.InvalidArgumentError:
        return  # a few even-kernel "same" + output_padding combinations TensorFlow rejects
    actual = numpy_conv.conv2d_transpose(x, kernel, strides, padding, output_padding)
    np.testing.assert_allclose(actual, expected, atol=1e-4)


@SETTINGS
@given(
    height=st.integers(2, 7),
    width=st.integers(2, 7),
    kernel_size=st.integers(1, 3),
    strides=st.integers(1, 2),
    padding=st.sampled_from(["valid", "same"]),
    seed=st.integers(0, 2**16),
)
def test_conv_matrix_reproduces_conv2d_and_its_transpose(
    height, width, kernel_size, strides, padding, seed
):
    assume(padding == "same" or kernel_size <= min(height, width))
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=(kernel_size, kernel_size))
    x = rng.normal(size=(height, width))
    matrix = numpy_conv.conv_matrix(kernel, (height, width), strides, padding)
    output = numpy_conv.conv2d(x, kernel, strides, padding)
    np.testing.assert_allclose(matrix @ x.ravel(), output.ravel(), atol=1e-9)
    # The transpose of the same matrix is the transposed convolution back to the input's size.
    y = rng.normal(size=output.shape)
    output_padding = [
        next(
            extra
            for extra in [None, *range(strides)]
            if arith.conv_transpose_output_size(n, kernel_size, strides, padding, extra) == size
        )
        for n, size in zip(y.shape, (height, width))
    ]
    back = numpy_conv.conv2d_transpose(y, kernel, strides, padding, output_padding)
    np.testing.assert_allclose(back.ravel(), matrix.T @ y.ravel(), atol=1e-9)


def test_lecture_convolution_example():
    x = np.array([[1, 2, 3], [6, 5, 3], [1, 4, 1]])
    kernel = np.array([[1, 2], [2, 1]])
    np.testing.assert_array_equal(numpy_conv.conv2d(x, kernel), [[22, 21], [22, 20]])
    expected_matrix = [
        [1, 2, 0, 2, 1, 0, 0, 0, 0],
        [0, 1, 2, 0, 2, 1, 0, 0, 0],
        [0, 0, 0, 1, 2, 0, 2, 1, 0],
        [0, 0, 0, 0, 1, 2, 0, 2, 1],
    ]
    np.testing.assert_array_equal(numpy_conv.conv_matrix(kernel, (3, 3)), expected_matrix)


def test_lecture_transposed_convolution_examples():
    two_by_two = np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(
        numpy_conv.conv2d_transpose(two_by_two, two_by_two), [[0, 0, 1], [0, 4, 6], [4, 12, 9]]
    )
    np.testing.assert_array_equal(
        numpy_conv.conv2d_transpose(np.array([[1, 2], [2, 4]]), np.array([[1, 2], [2, 1]])),
        [[1, 4, 4], [4, 13, 10], [4, 10, 4]],
    )


def test_lecture_sixteen_by_four_example():
    """A 3x3 kernel over a 4x4 input: W^T (16x4) times [2, 1, 4, 4] as in the lecture."""
    kernel = np.array([[1, 4, 1], [1, 4, 3], [3, 3, 1]])
    matrix = numpy_conv.conv_matrix(kernel, (4, 4))
    assert matrix.shape == (4, 16)
    upsampled = numpy_conv.conv2d_transpose(np.array([[2, 1], [4, 4]]), kernel)
    expected = [2, 9, 6, 1, 6, 29, 30, 7, 10, 29, 33, 13, 12, 24, 16, 4]
    np.testing.assert_array_equal(upsampled.ravel(), expected)
    np.testing.assert_array_equal(matrix.T @ [2, 1, 4, 4], expected)


def test_transposed_convolution_is_zero_insertion_then_flipped_convolution():
    rng = np.random.default_rng(1)
    x, kernel = rng.normal(size=(3, 4)), rng.normal(size=(3, 3))
    spread = np.pad(numpy_conv.insert_zeros(x, 2), 2)  # k - 1 zeros around
    via_convolution = numpy_conv.conv2d(spread, kernel[::-1, ::-1])
    np.testing.assert_allclose(via_convolution, numpy_conv.conv2d_transpose(x, kernel, 2))


def test_mismatched_ranks_get_a_clear_error():
    with pytest.raises(ValueError, match="2-D image with a 2-D kernel"):
        numpy_conv.conv2d(np.zeros((4, 4)), np.zeros((3, 3, 1, 1)))
