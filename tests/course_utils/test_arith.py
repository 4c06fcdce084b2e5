"""course_utils.arith against the shapes Keras actually produces, over random configurations."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils import arith

PADDING = st.sampled_from(["valid", "same"])
SETTINGS = settings(max_examples=40, deadline=None)


def keras_output_length(layer, size):
    """Side of the output of ``layer`` run on a ``size x size`` single-channel input."""
    return keras.ops.shape(layer(np.zeros((1, size, size, 1), "float32")))[1]


@SETTINGS
@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 7),
    strides=st.integers(1, 4),
    dilation=st.integers(1, 3),
    padding=PADDING,
)
def test_conv_output_size_matches_keras(size, kernel, strides, dilation, padding):
    if strides > 1 and dilation > 1:
        dilation = 1  # Keras refuses strides > 1 together with dilation > 1
    if padding == "valid" and arith.effective_kernel_size(kernel, dilation) > size:
        # Keras refuses a kernel larger than its input; arith says "nothing fits": 0.
        assert arith.conv_output_size(size, kernel, strides, padding, dilation) == 0
        return
    layer = keras.layers.Conv2D(1, kernel, strides=strides, padding=padding, dilation_rate=dilation)
    expected = keras_output_length(layer, size)
    assert arith.conv_output_size(size, kernel, strides, padding, dilation) == expected


@SETTINGS
@given(size=st.integers(1, 40), pool=st.integers(1, 5), strides=st.integers(1, 4), padding=PADDING)
def test_pool_output_size_matches_keras(size, pool, strides, padding):
    if padding == "valid" and pool > size:
        return
    layer = keras.layers.MaxPooling2D(pool, strides=strides, padding=padding)
    assert arith.pool_output_size(size, pool, strides, padding) == keras_output_length(layer, size)


@SETTINGS
@given(
    size=st.integers(1, 20),
    kernel=st.integers(1, 6),
    strides=st.integers(1, 4),
    padding=PADDING,
    use_output_padding=st.booleans(),
    data=st.data(),
)
def test_conv_transpose_output_size_matches_keras(
    size, kernel, strides, padding, use_output_padding, data
):
    output_padding = (
        data.draw(st.integers(0, strides - 1)) if use_output_padding and strides > 1 else None
    )
    layer = keras.layers.Conv2DTranspose(
        1, kernel, strides=strides, padding=padding, output_padding=output_padding
    )
    try:
        expected = keras_output_length(layer, size)
    except tf.errors.InvalidArgumentError:
        return  # even kernels with "same" and output_padding: sizes TensorFlow cannot produce
    assert arith.conv_transpose_output_size(size, kernel, strides, padding, output_padding) == (
        expected
    )


def test_default_pool_strides_are_the_pool_size():
    assert arith.pool_output_size(8, 2) == 4


def test_same_padding_puts_the_extra_zero_after():
    # 4 pixels, kernel 2, stride 1: one zero in all, and TensorFlow puts it after.
    assert arith.same_padding_amounts(4, 2) == (0, 1)
    assert arith.same_padding_amounts(5, 3, strides=2) == (1, 1)


def test_receptive_field_of_the_context_module():
    """The dilated context module of Yu and Koltun: 3, 5, 9, 17, 33, 65, 67, 67."""
    layers = [(3, 1, 1), (3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8), (3, 1, 16), (3, 1, 1)]
    layers.append((1, 1, 1))
    assert arith.receptive_fields(layers) == [3, 5, 9, 17, 33, 65, 67, 67]


def test_receptive_field_of_a_doubling_dilated_stack():
    assert arith.receptive_fields([(3, 1, 1), (3, 1, 2), (3, 1, 4)]) == [3, 7, 15]


def test_receptive_field_grows_with_strides():
    # conv3 (stride 1), pool2 (stride 2), conv3: 3, then 4, then 4 + 2 * 2 = 8
    assert arith.receptive_fields([(3, 1), (2, 2), (3, 1)]) == [3, 4, 8]


def test_bad_padding_names_the_choices():
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        arith.conv_output_size(5, 3, padding="full")
