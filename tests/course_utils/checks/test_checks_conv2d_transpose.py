"""The checks of topic 02 accept correct answers written differently and name classic mistakes."""

import check_harness
import hypothesis
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import strategies

from course_utils import arith, numpy_conv
from course_utils.checks import _conv2d_transpose_bilinear as bilinear_cases
from course_utils.checks import _conv_examples as examples
from course_utils.checks import conv2d_transpose as conv_transpose
from course_utils.checks import conv_answers

# --- student answers, right and wrong -----------------------------------------------------------


def output_size(n, k, strides=1, padding="valid", output_padding=None, mistake=None):
    """A student's conv_transpose_output_size; ``mistake`` switches on one classic error."""
    if output_padding is None or mistake == "ignore output_padding":
        if padding == "same":
            if mistake == "same is n":
                return n
            if mistake == "same uses pad formula":
                return (n - 1) * strides + k - 2 * (k // 2)
            return n * strides
        if mistake == "textbook":
            return (n - 1) * strides + k
        if mistake == "no overhang":
            return n * strides
        if mistake == "minus one":
            return (n - 1) * strides + k - 1
        return n * strides + max(k - strides, 0)
    if mistake == "added on top":
        return output_size(n, k, strides, padding) + output_padding
    pad = k // 2 if padding == "same" else 0
    if mistake == "pad (k-1)//2" and padding == "same":
        pad = (k - 1) // 2
    if mistake == "valid crops":
        pad = k // 2
    start = n if mistake == "n times s" else n - 1
    return start * strides + k - 2 * pad + output_padding


def student_conv2d_transpose(x, kernel, strides=1, mistake=None):
    """Scatter-add as a student writes it; ``mistake`` switches on one classic error."""
    x, kernel = np.asarray(x, float), np.asarray(kernel, float)
    if mistake == "swapped":
        x, kernel = kernel, x
    if mistake == "flipped":
        kernel = kernel[::-1, ::-1]
    if mistake == "kernel transposed":
        kernel = kernel.T
    if mistake == "ignore stride":
        strides = 1
    (n_h, n_w), (k_h, k_w) = x.shape, kernel.shape
    output = np.zeros(((n_h - 1) * strides + k_h, (n_w - 1) * strides + k_w))
    for i in range(n_h):
        for j in range(n_w):
            window = (slice(i * strides, i * strides + k_h), slice(j * strides, j * strides + k_w))
            if mistake == "overwrite":
                output[window] = x[i, j] * kernel
            else:
                output[window] += x[i, j] * kernel
    return output


def correlate(padded, kernel):
    """Valid cross-correlation, stride 1."""
    rows = padded.shape[0] - kernel.shape[0] + 1
    cols = padded.shape[1] - kernel.shape[1] + 1
    return np.array(
        [
            [
                np.sum(padded[i : i + kernel.shape[0], j : j + kernel.shape[1]] * kernel)
                for j in range(cols)
            ]
            for i in range(rows)
        ]
    )


def student_zero_insertion(x, kernel, strides=1, mistake=None):
    """Spread, pad, convolve with the flipped kernel; ``mistake`` switches on one error."""
    x, kernel = np.asarray(x, float), np.asarray(kernel, float)
    step = strides + 1 if mistake == "s zeros" else strides
    shape = [(n - 1) * step + 1 for n in x.shape]
    if mistake == "trailing zeros":
        shape = [n * step for n in x.shape]
    spread = np.zeros(shape)
    spread[::step, ::step][: x.shape[0], : x.shape[1]] = x
    pads = [(k - 1, k - 1) for k in kernel.shape]
    if mistake == "pad k-2":
        pads = [(k - 2, k - 2) for k in kernel.shape]
    if mistake == "pad k":
        pads = [(k, k) for k in kernel.shape]
    if mistake == "pad before only":
        pads = [(k - 1, 0) for k in kernel.shape]
    if mistake == "pad same":
        pads = [((k - 1) // 2, (k - 1) // 2) for k in kernel.shape]
    flipped = kernel[::-1, ::-1]
    if mistake == "not flipped":
        flipped = kernel
    if mistake == "transposed":
        flipped = kernel.T
    return correlate(np.pad(spread, pads), flipped)


def student_bilinear_kernel(factor, mistake=None):
    """The FCN kernel; ``mistake`` switches on one classic error."""
    size = 2 * factor - factor % 2
    if mistake == "2f":
        size = 2 * factor
    centre = factor - 1 if size % 2 else factor - 0.5
    if mistake == "centre size//2":
        centre = size // 2
    if mistake == "centre size/2":
        centre = size / 2
    scale = size if mistake == "slope" else factor
    tent = 1 - np.abs(np.arange(size) - centre) / scale
    if mistake == "1-D":
        return tent
    if mistake == "sum":
        return tent[:, None] + tent[None, :]
    if mistake == "mean":
        return (tent[:, None] + tent[None, :]) / 2
    kernel = np.outer(tent, tent)
    if mistake == "sum to one":
        kernel = kernel / kernel.sum()
    return kernel


def not_done(*args, **kwargs):
    """An unsolved assignment."""
    raise NotImplementedError("Exercise 2: write the body of conv2d_transpose().")


# --- exercise 1 -------------------------------------------------------------------------------


def test_output_size_accepts_variants(capsys):
    """Branchy, arith's, float-valued and tensor-valued answers all pass."""

    def float_answer(n, k, strides=1, padding="valid", output_padding=None):
        if output_padding is not None:
            return (
                (n - 1.0) * strides
                + k
                - 2.0 * (k // 2 if padding == "same" else 0)
                + output_padding
            )
        return float(n * strides + (max(k - strides, 0) if padding == "valid" else 0))

    def tensor_answer(n, k, strides=1, padding="valid", output_padding=None):
        return tf.constant(arith.conv_transpose_output_size(n, k, strides, padding, output_padding))

    for answer in (output_size, arith.conv_transpose_output_size, float_answer, tensor_answer):
        assert conv_transpose.check_conv_transpose_output_size(answer)
        assert conv_transpose.check_conv_transpose_output_size_hidden(answer)
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "Exercise 1 passed: conv_transpose_output_size follows Conv2DTranspose's output-shape "
        "rule on 12 cases."
    )


@pytest.mark.parametrize(
    "mistake, fragment",
    [
        ("ignore output_padding", "output_padding is ignored"),
        ("added on top", "not added on top"),
        ("pad (k-1)//2", "crops pad = k // 2"),
        ("valid crops", "'valid' nothing is cropped"),
        ("n times s", "starts its stamp at (n - 1) * s"),
        ("textbook", "kernel is smaller than the stride"),
        ("no overhang", "keeps the overhang"),
        ("minus one", "not (n - 1) * s + k - 1"),
        ("same is n", "the stride upsamples"),
        ("same uses pad formula", "without output_padding, 'same' gives exactly n * s"),
    ],
)
def test_output_size_names_mistakes(mistake, fragment):
    """Each classic mistake fails the check and the hidden test with its hint."""
    answer = check_harness.with_mistake(output_size, mistake)
    check_harness.fails_with(conv_transpose.check_conv_transpose_output_size, answer, fragment)
    check_harness.fails_with(
        conv_transpose.check_conv_transpose_output_size_hidden, answer, fragment
    )


@pytest.mark.parametrize("hidden", [False, True])
def test_output_size_follows_keras_shape_rule(hidden):
    """Every case's answer is Conv2DTranspose.compute_output_shape's, as the pass line says."""
    import keras

    check = conv_transpose.check_conv_transpose_output_size
    cases = check.spec.hidden if hidden else check.spec.public
    for (n, k), kwargs in cases:
        layer = keras.layers.Conv2DTranspose(1, k, **kwargs)
        height = layer.compute_output_shape((1, n, n, 1))[1]
        assert height == arith.conv_transpose_output_size(n, k, **kwargs)


def test_output_size_bad_input():
    """Wrong types fail in one line; NotImplementedError passes through."""
    check = conv_transpose.check_conv_transpose_output_size
    check_harness.fails_with(check, lambda *a, **k: (4, 4), "should be an integer, got tuple")
    check_harness.fails_with(check, lambda *a, **k: 4.5, "not a whole number")
    check_harness.fails_with(
        check, lambda n, k, strides=1, padding="valid": n * strides, "unexpected keyword"
    )
    with pytest.raises(NotImplementedError):
        check(not_done)


# --- exercise 2 -------------------------------------------------------------------------------


def test_scatter_add_accepts_variants():
    """Loops, the reference, Keras itself (a tensor) and a list result all pass."""
    check = conv_transpose.check_conv2d_transpose
    assert check(student_conv2d_transpose)
    assert conv_transpose.check_conv2d_transpose_hidden(student_conv2d_transpose)
    assert check(lambda x, kernel, strides=1: numpy_conv.conv2d_transpose(x, kernel, strides))

    def tensor_answer(x, kernel, strides=1):
        x = tf.constant(np.asarray(x, np.float32)[None, :, :, None])
        kernel = tf.constant(np.asarray(kernel, np.float32)[:, :, None, None])
        height = arith.conv_transpose_output_size(x.shape[1], kernel.shape[0], strides)
        width = arith.conv_transpose_output_size(x.shape[2], kernel.shape[1], strides)
        return tf.nn.conv2d_transpose(x, kernel, (1, height, width, 1), strides, "VALID")[
            0, :, :, 0
        ]

    def by_matrix(x, kernel, strides=1):
        """W^T y, with W the matrix of the convolution this one transposes."""
        x, kernel = np.asarray(x, float), np.asarray(kernel, float)
        shape = [(n - 1) * strides + k for n, k in zip(x.shape, kernel.shape)]
        return (
            (numpy_conv.conv_matrix(kernel, shape, strides).T @ x.ravel()).reshape(shape).tolist()
        )

    assert check(tensor_answer)
    assert check(by_matrix)
    assert conv_transpose.check_conv2d_transpose_hidden(by_matrix)


def test_scatter_add_lecture_examples():
    """The first three cases are the lecture's worked examples, with their printed outputs."""
    for key in conv_transpose.SCATTER_KEYS[:3]:
        x, kernel = conv_transpose.transpose_case(key).args
        expected = examples.LECTURE_EXAMPLES[key][2]
        np.testing.assert_array_equal(conv_answers.keras_conv2d_transpose(x, kernel), expected)
        np.testing.assert_array_equal(student_conv2d_transpose(x, kernel), expected)


@pytest.mark.parametrize(
    "mistake, fragment",
    [
        ("flipped", "the kernel is flipped"),
        ("kernel transposed", "the kernel is transposed"),
        ("overwrite", "must add up (+=)"),
        ("ignore stride", "the stride is ignored"),
        ("swapped", "x and kernel are swapped"),
    ],
)
def test_scatter_add_names_mistakes(mistake, fragment):
    """Each classic scatter-add mistake fails with its hint."""
    answer = check_harness.with_mistake(student_conv2d_transpose, mistake)
    check_harness.fails_with(conv_transpose.check_conv2d_transpose, answer, fragment)
    check_harness.fails_with(conv_transpose.check_conv2d_transpose_hidden, answer, fragment)


def test_scatter_add_bad_input():
    """Wrong shape or type fails in one line; crashes are one line; NotImplementedError passes."""
    check = conv_transpose.check_conv2d_transpose
    check_harness.fails_with(
        check, lambda x, kernel, strides=1: np.zeros((1, 3, 3, 1)), "2 dimensions"
    )
    check_harness.fails_with(
        check, lambda x, kernel, strides=1: {"out": 1}, "NumPy array, got dict"
    )
    check_harness.fails_with(
        check, lambda x, kernel, strides=1: np.zeros((2, 2)), "expected shape (3, 3)"
    )

    def crashes(x, kernel, strides=1):
        output = np.zeros((len(x) * strides, len(x) * strides))
        output[:2, :2] += np.ones((3, 3))
        return output

    check_harness.fails_with(check, crashes, "raised ValueError")
    with pytest.raises(NotImplementedError):
        check(not_done)


# --- exercise 3 -------------------------------------------------------------------------------


def test_zero_insertion_accepts_variants():
    """Loops, the reference's helpers and scatter-add itself pass."""
    check = conv_transpose.check_conv_transpose_by_zero_insertion
    assert check(student_zero_insertion)
    assert conv_transpose.check_conv_transpose_by_zero_insertion_hidden(student_zero_insertion)

    def with_reference(x, kernel, strides=1):
        spread = numpy_conv.insert_zeros(np.asarray(x, float), strides)
        k_h, k_w = np.shape(kernel)
        padded = np.pad(spread, ((k_h - 1, k_h - 1), (k_w - 1, k_w - 1)))
        return numpy_conv.conv2d(padded, np.asarray(kernel)[::-1, ::-1])

    assert check(with_reference)
    assert conv_transpose.check_conv_transpose_by_zero_insertion_hidden(with_reference)
    assert check(student_conv2d_transpose)


@pytest.mark.parametrize(
    "mistake, fragment",
    [
        ("not flipped", "the kernel is not flipped"),
        ("transposed", "transposed instead of flipped"),
        ("s zeros", "s - 1 zeros between"),
        ("trailing zeros", "no zeros after the last pixel"),
        ("pad k-2", "not k - 2"),
        ("pad k", "not k."),
        ("pad before only", "not only before"),
        ("pad same", "not (k - 1) // 2"),
    ],
)
def test_zero_insertion_names_mistakes(mistake, fragment):
    """Each classic zero-insertion mistake fails with its hint."""
    answer = check_harness.with_mistake(student_zero_insertion, mistake)
    check_harness.fails_with(
        conv_transpose.check_conv_transpose_by_zero_insertion, answer, fragment
    )
    check_harness.fails_with(
        conv_transpose.check_conv_transpose_by_zero_insertion_hidden, answer, fragment
    )


def test_zero_insertion_bad_input():
    """A wrong-rank result fails in one line; NotImplementedError passes through."""
    check = conv_transpose.check_conv_transpose_by_zero_insertion
    check_harness.fails_with(check, lambda x, kernel, strides=1: np.zeros(9), "2 dimensions")
    with pytest.raises(NotImplementedError):
        check(not_done)


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(
    shape=strategies.tuples(strategies.integers(1, 4), strategies.integers(1, 4)),
    kernel_shape=strategies.tuples(strategies.integers(1, 4), strategies.integers(1, 4)),
    strides=strategies.integers(1, 3),
)
def test_three_routes_agree(shape, kernel_shape, strides):
    """Scatter-add, zero insertion with the flipped kernel and Keras agree everywhere."""
    hypothesis.assume(min(kernel_shape) >= strides)
    rng = np.random.default_rng(0)
    x, kernel = rng.normal(size=shape), rng.normal(size=kernel_shape)
    expected = conv_answers.keras_conv2d_transpose(x, kernel, strides)
    np.testing.assert_allclose(student_conv2d_transpose(x, kernel, strides), expected, atol=1e-5)
    np.testing.assert_allclose(
        conv_transpose.zero_insertion_route(x, kernel, strides), expected, atol=1e-5
    )


# --- exercise 4 -------------------------------------------------------------------------------


def test_bilinear_accepts_variants():
    """The FCN recipe, an np.ogrid version and a 4-D Keras-layout kernel all pass."""
    check = conv_transpose.check_bilinear_kernel
    assert check(student_bilinear_kernel)
    assert conv_transpose.check_bilinear_kernel_hidden(student_bilinear_kernel)

    def ogrid_version(factor):
        size = 2 * factor - factor % 2
        centre = (size - 1) / 2
        rows, cols = np.ogrid[:size, :size]
        return (1 - abs(rows - centre) / factor) * (1 - abs(cols - centre) / factor)

    def keras_layout(factor):
        return tf.constant(ogrid_version(factor)[:, :, None, None], tf.float32)

    assert check(ogrid_version)
    assert check(keras_layout)
    assert conv_transpose.check_bilinear_kernel_hidden(keras_layout)


def test_bilinear_interior_matches_resize_and_upsampling():
    """Away from a border band the layer equals tf.image.resize and UpSampling2D bilinear."""
    import keras

    image = np.random.default_rng(1).random((6, 5))
    for factor in (2, 3, 4):
        kernel = bilinear_cases.bilinear_kernel(factor)
        upsampled = conv_answers.upsample_with_kernel(image, kernel, factor)
        resized = conv_answers.resize_bilinear(image, factor)
        layer = keras.layers.UpSampling2D(factor, interpolation="bilinear")
        upsampling = np.asarray(layer(image[None, :, :, None].astype(np.float32)))[0, :, :, 0]
        np.testing.assert_allclose(resized, upsampling, atol=1e-6)
        inner = (slice(factor, -factor), slice(factor, -factor))
        np.testing.assert_allclose(upsampled[inner], resized[inner], atol=1e-5)
        assert not np.allclose(upsampled, resized, atol=1e-3)  # the borders do differ


@pytest.mark.parametrize(
    "mistake, fragment",
    [
        ("2f", "2f - 1 ="),
        ("centre size//2", "off-centre"),
        ("centre size/2", "off-centre"),
        ("slope", "slope is wrong"),
        ("1-D", "1-D array"),
        ("sum", "not their sum."),
        ("mean", "not their sum or mean"),
        ("sum to one", "normalised to sum 1"),
    ],
)
def test_bilinear_names_mistakes(mistake, fragment):
    """Each classic bilinear-kernel mistake fails with its hint."""
    answer = check_harness.with_mistake(student_bilinear_kernel, mistake)
    check_harness.fails_with(conv_transpose.check_bilinear_kernel, answer, fragment)
    check_harness.fails_with(conv_transpose.check_bilinear_kernel_hidden, answer, fragment)


def test_bilinear_bad_input():
    """Wrong shape or type fails in one line; NotImplementedError passes through."""
    check = conv_transpose.check_bilinear_kernel
    check_harness.fails_with(check, lambda factor: np.ones((3, 3)), "should have shape (4, 4)")
    check_harness.fails_with(check, lambda factor: "tent", "NumPy array, got str")
    check_harness.fails_with(
        check, lambda factor: np.ones((4, 4), dtype=object), "should hold numbers"
    )
    with pytest.raises(NotImplementedError):
        check(not_done)
