"""The checks of topic 01 accept correct answers written differently and name classic mistakes."""

import math

import check_harness
import hypothesis
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import strategies

from course_utils import arith, numpy_conv
from course_utils.checks import CheckFailed, conv_answers
from course_utils.checks import _conv2d_padding_stride_fields as field_cases
from course_utils.checks import _conv2d_padding_stride_matrix as matrix_cases
from course_utils.checks import _conv_examples as examples
from course_utils.checks import conv2d_padding_stride as conv

# --- student answers, right and wrong -----------------------------------------------------------


def output_size(n, k, strides=1, padding="valid", dilation=1, mistake=None):
    """A student's conv_output_size; ``mistake`` switches on one classic error."""
    span = k + (k - 1) * (dilation - 1)
    if mistake == "ignore dilation":
        span = k
    if mistake == "k times d":
        span = k * dilation
    if padding == "same":
        if mistake == "same is n":
            return n
        if mistake == "same floor":
            return n // strides
        if mistake == "same symmetric":
            return (n + 2 * (span // 2) - span) // strides + 1
        return math.ceil(n / strides)
    if mistake == "valid n/s":
        return math.ceil(n / strides)
    if mistake == "valid ceil":
        return math.ceil((n - span) / strides) + 1
    if mistake == "no plus one":
        return (n - span) // strides
    if mistake == "ignore stride":
        return n - span + 1
    if mistake == "stride on plus one":
        return (n - span + 1) // strides
    if mistake == "true division":
        return (n - span) / strides + 1
    return (n - span) // strides + 1


def same_pads(n, k, strides, mistake=None):
    """TensorFlow's (before, after) zeros, or a classic wrong split."""
    if mistake == "symmetric":
        return k // 2, k // 2
    if mistake == "symmetric k-1":
        return (k - 1) // 2, (k - 1) // 2
    if mistake == "stride 1 padding":
        strides = 1
    total = max((math.ceil(n / strides) - 1) * strides + k - n, 0)
    if mistake == "extra zero before":
        return total - total // 2, total // 2
    return total // 2, total - total // 2


def student_conv2d(x, kernel, strides=1, padding="valid", mistake=None):
    """A loop conv2d as a student writes it; ``mistake`` switches on one classic error."""
    x, kernel = np.asarray(x, float), np.asarray(kernel, float)
    if mistake == "flipped":
        kernel = kernel[::-1, ::-1]
    if mistake == "kernel transposed":
        kernel = kernel.T
    pad_stride = 1 if mistake == "stride 1 padding" else strides
    if padding == "same" and mistake != "no padding":
        pads = [
            same_pads(n, k, pad_stride, mistake if mistake != "stride 1 padding" else None)
            for n, k in zip(x.shape, kernel.shape)
        ]
        x = np.pad(x, pads)
    if padding == "valid" and mistake == "pads valid":
        x = np.pad(x, [same_pads(n, k, strides) for n, k in zip(x.shape, kernel.shape)])
    step = 1 if mistake in ("ignore stride", "stride 1 padding") else strides
    stop = [
        n - k + (0 if mistake == "last window missing" else 1)
        for n, k in zip(x.shape, kernel.shape)
    ]
    rows, cols = range(0, stop[0], step), range(0, stop[1], step)
    output = np.zeros((len(rows), len(cols)))
    for i, top in enumerate(rows):
        for j, left in enumerate(cols):
            output[i, j] = np.sum(
                x[top : top + kernel.shape[0], left : left + kernel.shape[1]] * kernel
            )
    if mistake == "stride 1 padding":
        output = output[::strides, ::strides]
    return output


def student_conv_matrix(kernel, input_shape, strides=1, mistake=None):
    """The convolution matrix built row by row; ``mistake`` switches on one classic error."""
    kernel = np.asarray(kernel, float)
    if mistake == "flipped":
        kernel = kernel[::-1, ::-1]
    if mistake == "ignore stride":
        strides = 1
    height, width = input_shape
    out_h = (height - kernel.shape[0]) // strides + 1
    out_w = (width - kernel.shape[1]) // strides + 1
    matrix = np.zeros((out_h * out_w, height * width))
    for i in range(out_h):
        for j in range(out_w):
            for a in range(kernel.shape[0]):
                for b in range(kernel.shape[1]):
                    row, col = i * strides + a, j * strides + b
                    if mistake == "column major":
                        matrix[j * out_h + i, col * height + row] = kernel[a, b]
                    else:
                        matrix[i * out_w + j, row * width + col] = kernel[a, b]
    return matrix.T if mistake == "transposed" else matrix


def student_receptive_field(layers, mistake=None):
    """Receptive field by the jump rule; ``mistake`` switches on one classic error."""
    size, jump = 1, 1
    for kernel_size, strides, dilation in layers:
        span = kernel_size + (kernel_size - 1) * (dilation - 1)
        if mistake == "ignore dilation":
            span = kernel_size
        if mistake == "k times d":
            span = kernel_size * dilation
        if mistake == "ignore stride":
            strides = 1
        if mistake == "own stride":
            jump *= strides
        if mistake == "multiply":
            size *= span
        elif mistake == "adds k":
            size += span * jump
        else:
            size += (span - 1) * jump
        if mistake != "own stride":
            jump *= strides
    return size - 1 if mistake == "adds k" else size


def not_done(*args, **kwargs):
    """An unsolved assignment."""
    raise NotImplementedError("Exercise 1: write the body of conv_output_size().")


# --- exercise 1 -------------------------------------------------------------------------------


def test_output_size_accepts_variants(capsys):
    """The reference formula, a float-returning formula and a NumPy one all pass."""
    assert conv.check_conv_output_size(output_size)
    assert conv.check_conv_output_size_hidden(output_size)
    assert conv.check_conv_output_size(arith.conv_output_size)

    def float_answer(n, k, strides=1, padding="valid", dilation=1):
        span = dilation * (k - 1) + 1
        if padding == "same":
            return float(np.ceil(n / strides))
        return np.floor((n - span) / strides) + 1.0

    def numpy_answer(n, k, strides=1, padding="valid", dilation=1):
        span = dilation * (k - 1) + 1
        return np.int64(-(-n // strides) if padding == "same" else (n - span) // strides + 1)

    def tensor_answer(n, k, strides=1, padding="valid", dilation=1):
        return tf.constant(arith.conv_output_size(n, k, strides, padding, dilation))

    for answer in (float_answer, numpy_answer, tensor_answer):
        assert conv.check_conv_output_size(answer)
        assert conv.check_conv_output_size_hidden(answer)
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == "Exercise 1 passed: conv_output_size follows Keras' Conv2D size rules on 12 cases."
    )


@pytest.mark.parametrize(
    "mistake, fragment",
    [
        ("same is n", "ceil(n / s) pixels, not n"),
        ("same floor", "round up, ceil(n / s)"),
        ("same symmetric", "not k // 2 on each side"),
        ("valid n/s", "n / s is what 'same' gives"),
        ("valid ceil", "round the number of steps down"),
        ("no plus one", "the + 1 is missing"),
        ("ignore stride", "the stride is ignored"),
        ("stride on plus one", "not (n - k + 1) / s"),
        ("ignore dilation", "dilation is ignored"),
        ("k times d", "not k * d"),
        ("true division", "not a whole number of pixels"),
    ],
)
def test_output_size_names_mistakes(mistake, fragment):
    """Each classic mistake fails the check and the hidden test with its own hint."""
    answer = check_harness.with_mistake(output_size, mistake)
    check_harness.fails_with(conv.check_conv_output_size, answer, fragment)
    check_harness.fails_with(conv.check_conv_output_size_hidden, answer, fragment)


def test_output_size_bad_input():
    """Wrong types fail in one line; NotImplementedError passes through."""
    check_harness.fails_with(
        conv.check_conv_output_size, lambda *a, **k: "3", "should be an integer, got str"
    )
    check_harness.fails_with(conv.check_conv_output_size, lambda *a, **k: None, "got NoneType")
    check_harness.fails_with(conv.check_conv_output_size, lambda *a, **k: [3], "got list")
    check_harness.fails_with(conv.check_conv_output_size, 3, "expected a function, got int")
    check_harness.fails_with(
        conv.check_conv_output_size, lambda n, k: n - k + 1, "raised TypeError"
    )
    with pytest.raises(NotImplementedError, match="Exercise 1"):
        conv.check_conv_output_size(not_done)


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(offset=strategies.integers(-3, 3).filter(bool), index=strategies.integers(0, 11))
def test_output_size_rejects_any_off_by_something(offset, index):
    """Being wrong on one single case is enough to fail."""
    (bad_args, bad_kwargs) = conv.SIZE_CASES[index]

    def answer(n, k, strides=1, padding="valid", dilation=1):
        right = arith.conv_output_size(n, k, strides, padding, dilation)
        wrong = (n, k) == bad_args and bad_kwargs == {
            key: value
            for key, value in {"strides": strides, "padding": padding, "dilation": dilation}.items()
            if key in bad_kwargs
        }
        return right + offset if wrong else right

    with pytest.raises(CheckFailed):
        conv.check_conv_output_size(answer)


# --- exercise 2 -------------------------------------------------------------------------------


def test_conv2d_accepts_variants():
    """Loops, the reference, Keras itself and a tf.Tensor result all pass."""
    assert conv.check_conv2d(student_conv2d)
    assert conv.check_conv2d_hidden(student_conv2d)
    assert conv.check_conv2d(numpy_conv.conv2d)

    def tensor_answer(x, kernel, strides=1, padding="valid"):
        x = tf.constant(np.asarray(x, np.float32)[None, :, :, None])
        kernel = tf.constant(np.asarray(kernel, np.float32)[:, :, None, None])
        return tf.nn.conv2d(x, kernel, strides, padding.upper())[0, :, :, 0]

    def list_answer(x, kernel, strides=1, padding="valid"):
        return student_conv2d(x, kernel, strides, padding).astype(int).tolist()

    def in_place_answer(x, kernel, strides=1, padding="valid"):
        result = student_conv2d(x, kernel, strides, padding)
        x[...] = 0  # scribbling on the input must not spoil later cases
        return result

    assert conv.check_conv2d(tensor_answer)
    assert conv.check_conv2d_hidden(tensor_answer)
    assert conv.check_conv2d(list_answer)
    assert conv.check_conv2d(in_place_answer)


@pytest.mark.parametrize(
    "mistake, fragment",
    [
        ("flipped", "the kernel is flipped"),
        ("kernel transposed", "the kernel is transposed"),
        ("extra zero before", "extra zero after"),
        ("symmetric", "not k // 2 zeros on each side"),
        ("symmetric k-1", "not (k - 1) // 2 zeros on each side"),
        ("stride 1 padding", "computed for stride 1"),
        ("no padding", "no padding was added"),
        ("pads valid", "means no padding at all"),
        ("ignore stride", "the stride is ignored"),
        ("last window missing", "the last window is missing"),
    ],
)
def test_conv2d_names_mistakes(mistake, fragment):
    """Each classic conv2d mistake fails with its hint, in the check and the hidden test."""
    answer = check_harness.with_mistake(student_conv2d, mistake)
    check_harness.fails_with(conv.check_conv2d, answer, fragment)
    check_harness.fails_with(conv.check_conv2d_hidden, answer, fragment)


def test_conv2d_first_case_is_the_lecture_example():
    """The lecture's 3x3 * 2x2 example comes out as [[22, 21], [22, 20]]."""
    x, kernel = conv.conv2d_case("lecture").args
    np.testing.assert_array_equal(conv_answers.keras_conv2d(x, kernel), examples.LECTURE_OUTPUT)
    message = check_harness.fails_with(
        conv.check_conv2d, lambda x, kernel, strides=1, padding="valid": np.zeros((2, 2)), "(0, 0)"
    )
    assert "expected 22, got 0" in message


def test_conv2d_bad_input():
    """Wrong shape, type or dtype fails in one line that says what was expected."""
    check_harness.fails_with(
        conv.check_conv2d, lambda x, k, strides=1, padding="valid": np.zeros(4), "2 dim"
    )
    check_harness.fails_with(
        conv.check_conv2d, lambda x, k, strides=1, padding="valid": "no", "NumPy array"
    )
    check_harness.fails_with(
        conv.check_conv2d,
        lambda x, k, strides=1, padding="valid": np.array([["a", "b"]]),
        "should hold numbers",
    )
    check_harness.fails_with(
        conv.check_conv2d,
        lambda x, k, strides=1, padding="valid": np.zeros((3, 3)),
        "expected shape (2, 2), got (3, 3)",
    )
    check_harness.fails_with(
        conv.check_conv2d, lambda x, k: numpy_conv.conv2d(x, k), "unexpected keyword"
    )
    with pytest.raises(NotImplementedError):
        conv.check_conv2d(not_done)


# --- exercise 3 -------------------------------------------------------------------------------


def test_conv_matrix_accepts_variants():
    """Loops, the reference and a sparse-free NumPy construction all pass."""
    assert conv.check_conv_matrix(student_conv_matrix)
    assert conv.check_conv_matrix_hidden(student_conv_matrix)
    assert conv.check_conv_matrix(
        lambda kernel, shape, strides=1: numpy_conv.conv_matrix(kernel, shape, strides)
    )

    def by_basis(kernel, input_shape, strides=1):
        """Column c is the convolution of the c-th basis image: W = [conv(e_c)]."""
        size = int(np.prod(input_shape))
        basis = np.eye(size).reshape((size, *input_shape))
        return np.stack([student_conv2d(e, kernel, strides).ravel() for e in basis], axis=1)

    assert conv.check_conv_matrix(by_basis)
    assert conv.check_conv_matrix_hidden(by_basis)


def test_conv_matrix_reproduces_lecture():
    """The first case is the lecture's 4x9 matrix, and the seed's 16x4 W^T comes out too."""
    kernel, shape = matrix_cases.conv_matrix_case(matrix_cases.CONV_MATRIX_KEYS[0]).args
    np.testing.assert_array_equal(student_conv_matrix(kernel, shape), examples.LECTURE_MATRIX)
    seed_transposed = student_conv_matrix(examples.SEED_KERNEL, (4, 4)).T
    assert seed_transposed.shape == (16, 4)
    np.testing.assert_array_equal(seed_transposed[:4, 0], [1, 4, 1, 0])


@pytest.mark.parametrize(
    "mistake, fragment",
    [
        ("transposed", "this is W transposed"),
        ("flipped", "the kernel is flipped"),
        ("column major", "numbered column by column"),
        ("ignore stride", "the stride is ignored"),
    ],
)
def test_conv_matrix_names_mistakes(mistake, fragment):
    """Each classic conv_matrix mistake fails with its hint."""
    answer = check_harness.with_mistake(student_conv_matrix, mistake)
    check_harness.fails_with(conv.check_conv_matrix, answer, fragment)
    check_harness.fails_with(conv.check_conv_matrix_hidden, answer, fragment)


def test_conv_matrix_bad_input():
    """A vector instead of a matrix fails in one line."""
    check_harness.fails_with(
        conv.check_conv_matrix, lambda k, s, strides=1: np.zeros(36), "2 dimensions"
    )
    with pytest.raises(NotImplementedError):
        conv.check_conv_matrix(not_done)


# --- exercise 4 -------------------------------------------------------------------------------


def test_receptive_field_accepts_variants():
    """The jump rule, a backwards recursion and arith's function all pass."""
    assert conv.check_receptive_field(student_receptive_field)
    assert conv.check_receptive_field_hidden(student_receptive_field)

    def backwards(layers):
        """Walk from the output back to the input: r <- (r - 1) * s + k_eff."""
        size = 1
        for kernel_size, strides, dilation in reversed(layers):
            size = (size - 1) * strides + dilation * (kernel_size - 1) + 1
        return np.int32(size)

    assert conv.check_receptive_field(backwards)
    assert conv.check_receptive_field_hidden(backwards)
    assert conv.check_receptive_field(lambda layers: float(arith.receptive_field(layers)))


def test_receptive_field_table():
    """The context-module table of the lecture: 3, 5, 9, 17, 33, 65, 67 (and 67 after 1x1)."""
    fields = [student_receptive_field(args[0]) for args, _ in field_cases.FIELD_CASES[:8]]
    assert fields == examples.CONTEXT_FIELDS + [67]
    assert arith.receptive_fields(examples.CONTEXT_MODULE) == examples.CONTEXT_FIELDS


@pytest.mark.parametrize(
    "mistake, fragment",
    [
        ("ignore dilation", "dilation is ignored"),
        ("k times d", "not k * d"),
        ("ignore stride", "strides are ignored"),
        ("own stride", "own stride does not widen"),
        ("multiply", "they do not multiply"),
        ("adds k", "not k_eff"),
    ],
)
def test_receptive_field_names_mistakes(mistake, fragment):
    """Each classic receptive-field mistake fails with its hint."""
    answer = check_harness.with_mistake(student_receptive_field, mistake)
    check_harness.fails_with(conv.check_receptive_field, answer, fragment)
    check_harness.fails_with(conv.check_receptive_field_hidden, answer, fragment)


def test_receptive_field_bad_input():
    """A list instead of a number fails in one line; NotImplementedError passes through."""
    check_harness.fails_with(
        conv.check_receptive_field, lambda layers: [3, 5], "should be an integer"
    )
    check_harness.fails_with(
        conv.check_receptive_field, lambda layers: layers[0][0] / 2, "whole number"
    )
    with pytest.raises(NotImplementedError):
        conv.check_receptive_field(not_done)
