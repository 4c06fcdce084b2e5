"""Checks of topic 01, Conv2D padding and stride.

Each check runs the student's function on cases whose answers come from an independent source
(``keras.ops.conv``, the Keras shape rules in :mod:`course_utils.arith`, the lecture's worked
examples) and, when an answer is wrong, names the classic mistake that produces exactly that
answer. ``check_*_hidden`` run more and different cases for grading.

The helpers :func:`check_scalar_cases` and :func:`check_array_cases` are shared with
:mod:`course_utils.checks.conv_transpose`.
"""

import math

import numpy as np

from course_utils import arith, checks, reference

# Exercise numbers in solutions/01_conv2d_padding_stride.ipynb.
EXERCISES = {"conv_output_size": 1, "conv2d": 2, "conv_matrix": 3, "receptive_field": 4}

# The lecture's worked example (shared/seeds/001): 3x3 input, 2x2 kernel, its 4x9 matrix.
LECTURE_INPUT = np.array([[1, 2, 3], [6, 5, 3], [1, 4, 1]])
LECTURE_KERNEL = np.array([[1, 2], [2, 1]])
LECTURE_OUTPUT = np.array([[22, 21], [22, 20]])
LECTURE_MATRIX = np.array(
    [
        [1, 2, 0, 2, 1, 0, 0, 0, 0],
        [0, 1, 2, 0, 2, 1, 0, 0, 0],
        [0, 0, 0, 1, 2, 0, 2, 1, 0],
        [0, 0, 0, 0, 1, 2, 0, 2, 1],
    ]
)
# The 3x3 kernel on a 4x4 input whose transposed matrix shared/seeds/004 writes out (16x4).
SEED_KERNEL = np.array([[1, 4, 1], [1, 4, 3], [3, 3, 1]])

# The context module of Yu & Koltun (shared/seeds/003): (kernel, stride, dilation) per layer and
# the receptive field after each layer.
CONTEXT_MODULE = [(3, 1, 1), (3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8), (3, 1, 16), (3, 1, 1)]
CONTEXT_FIELDS = [3, 5, 9, 17, 33, 65, 67]


# --- shared machinery ----------------------------------------------------------------------------


def describe_call(name, args, kwargs):
    """``name(7, 3, strides=2)``: small arrays written out, bigger ones shown by their shape."""
    parts = [_describe(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _describe(value):
    """A small integral array as a nested list (so the case can be retried), else its shape."""
    if isinstance(value, np.ndarray) and value.size <= 16 and np.all(value == np.round(value)):
        return repr(value.astype(int).tolist())
    return checks._short(value)


def _scalar(exercise, value, where):
    """A student's size as an int, with a hint for fractional sizes."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, float | np.floating) and math.isfinite(value) and value != int(value):
        checks.fail(
            exercise,
            f"{where} returned {value!r}, not a whole number of pixels: a window either fits or "
            f"it does not, so round with // (floor) or math.ceil, not plain /.",
        )
    return checks.as_int(exercise, value, what=f"{where}'s result")


def check_scalar_cases(exercise, function, name, cases, correct, mistakes):
    """Compare an integer-valued function over ``cases`` (``(args, kwargs)`` pairs).

    ``correct`` and each value of ``mistakes`` are functions with the student's signature; a
    mistake is named when it reproduces the student's answers on every case (or failing that, on
    every case the student got wrong).
    """
    actual = []
    for args, kwargs in cases:
        value = checks.call(exercise, function, *args, **kwargs)
        actual.append(_scalar(exercise, value, describe_call(name, args, kwargs)))
    expected = [correct(*args, **kwargs) for args, kwargs in cases]
    wrong = [index for index, (a, e) in enumerate(zip(actual, expected)) if a != e]
    if not wrong:
        return len(cases)
    predictions = {
        hint: [mistake(*args, **kwargs) for args, kwargs in cases]
        for hint, mistake in mistakes.items()
    }
    chosen = None
    for indices in (range(len(cases)), wrong):
        for hint, predicted in predictions.items():
            if all(predicted[i] == actual[i] for i in indices):
                chosen = hint
                break
        if chosen:
            break
    first = wrong[0]
    args, kwargs = cases[first]
    message = (
        f"{describe_call(name, args, kwargs)} returned {actual[first]}, expected {expected[first]}"
    )
    checks.fail(exercise, f"{message}: {chosen}" if chosen else f"{message}.")


def check_array_cases(exercise, function, name, cases, correct, mistakes, ndim=2):
    """Compare an array-valued function over ``cases`` (``(args, kwargs)`` pairs), one by one.

    ``correct(*args, **kwargs)`` gives the expected array; ``mistakes(*args, **kwargs)`` gives a
    dict ``{hint: wrong array or function returning one}`` for that case. When several mistakes
    explain a wrong answer, the one that also explains the student's other answers is named.
    """
    for args, kwargs in cases:
        where = describe_call(name, args, kwargs)
        result = _array_result(exercise, function, args, kwargs, where, ndim)
        expected = correct(*args, **kwargs)
        if checks.close(result, expected):
            continue
        matching = [
            hint
            for hint, wrong in _evaluated(mistakes(*args, **kwargs))
            if checks.close(result, wrong)
        ]
        if len(matching) > 1:
            matching.sort(key=lambda hint: -_agreement(function, cases, mistakes, hint, ndim))
        if matching:
            checks.fail(exercise, f"{where}: {matching[0]}")
        checks.diagnose(exercise, result, expected, {}, context=f"{where}: ")
    return len(cases)


def _array_result(exercise, function, args, kwargs, where, ndim):
    """Call the student's function on copies of the arguments and validate the result."""
    # Copies, so a function that writes into its input cannot spoil later cases.
    copies = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    value = checks.call(exercise, function, *copies, **kwargs)
    return checks.as_array(exercise, value, what=f"{where}'s result", ndim=ndim)


def _evaluated(mistakes):
    """``(hint, wrong array)`` pairs, computing lazy wrong answers and skipping missing ones."""
    for hint, wrong in mistakes.items():
        wrong = wrong() if callable(wrong) else wrong
        if wrong is not None:
            yield hint, wrong


def _agreement(function, cases, mistakes, hint, ndim):
    """On how many cases the mistake ``hint`` reproduces the student's answer."""
    count = 0
    for args, kwargs in cases:
        wrong = mistakes(*args, **kwargs).get(hint)
        wrong = wrong() if callable(wrong) else wrong
        try:
            result = _array_result(0, function, args, kwargs, "", ndim)
        except (checks.CheckFailed, NotImplementedError):
            continue
        count += wrong is not None and checks.close(result, wrong)
    return count


def _random_integers(shape, seed, low=-3, high=4):
    """A deterministic small-integer array, so answers are exact in float32 and float64."""
    return np.random.default_rng(seed).integers(low, high, size=shape).astype(np.float64)


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


def check_conv_output_size(conv_output_size, exercise=EXERCISES["conv_output_size"]):
    """Exercise: ``conv_output_size(input_size, kernel_size, strides, padding, dilation)``."""
    count = check_scalar_cases(
        exercise,
        conv_output_size,
        "conv_output_size",
        SIZE_CASES,
        arith.conv_output_size,
        SIZE_MISTAKES,
    )
    return checks.passed(
        exercise, f"conv_output_size follows Keras' Conv2D size rules on {count} cases."
    )


def check_conv_output_size_hidden(conv_output_size, exercise=EXERCISES["conv_output_size"]):
    """Hidden test: random valid/same cases with strides and dilation."""
    count = check_scalar_cases(
        exercise,
        conv_output_size,
        "conv_output_size",
        _size_cases_hidden(),
        arith.conv_output_size,
        SIZE_MISTAKES,
    )
    return checks.passed(
        exercise, f"conv_output_size follows Keras' rules on {count} hidden cases."
    )


# --- exercise 2: conv2d in NumPy -----------------------------------------------------------------


def keras_conv2d(x, kernel, strides=1, padding="valid"):
    """Single-channel cross-correlation by ``keras.ops.conv``: the independent answer."""
    import keras

    output = keras.ops.conv(
        np.asarray(x, np.float32)[None, :, :, None],
        np.asarray(kernel, np.float32)[:, :, None, None],
        strides=strides,
        padding=padding,
    )
    return np.asarray(keras.ops.convert_to_numpy(output), np.float64)[0, :, :, 0]


def _pad(x, rows, cols):
    """Zero-pad a 2-D array by ``(before, after)`` rows and columns."""
    return np.pad(np.asarray(x, np.float64), (rows, cols))


def _same_amounts(x, kernel, strides):
    """TensorFlow's 'same' padding ``((top, bottom), (left, right))``."""
    return [arith.same_padding_amounts(n, k, strides) for n, k in zip(np.shape(x), kernel.shape)]


def correlate(padded, kernel, strides, counts=None):
    """Slide ``kernel`` over an already padded array; ``counts`` overrides the number of steps."""
    kernel = np.asarray(kernel, np.float64)
    if counts is None:
        counts = [(n - k) // strides + 1 for n, k in zip(padded.shape, kernel.shape)]
    output = np.zeros([max(c, 0) for c in counts])
    for i in range(output.shape[0]):
        for j in range(output.shape[1]):
            top, left = i * strides, j * strides
            window = padded[top : top + kernel.shape[0], left : left + kernel.shape[1]]
            if window.shape == kernel.shape:
                output[i, j] = np.sum(window * kernel)
    return output


def _conv2d_mistakes(x, kernel, strides=1, padding="valid"):
    """The classic wrong answers of conv2d for one case, lazily computed."""
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    amounts = _same_amounts(x, kernel, strides)
    swapped = [(after, before) for before, after in amounts]
    half = [(k // 2, k // 2) for k in kernel.shape]
    used = amounts if padding == "same" else [(0, 0), (0, 0)]
    padded = _pad(x, *used)
    mistakes = {
        "the kernel is flipped: that is convolution in the textbook sense, but Conv2D "
        "slides the kernel as it is (cross-correlation).": lambda: reference.conv2d(
            x, kernel[::-1, ::-1], strides, padding
        ),
        "the kernel is transposed: kernel[a, b] multiplies x[i + a, j + b], a along rows "
        "and b along columns.": lambda: reference.conv2d(x, kernel.T, strides, padding),
        "the stride is ignored: output pixel (i, j) starts its window at (i * s, j * s).": (
            lambda: reference.conv2d(x, kernel, 1, padding)
        ),
        "the last window is missing: windows start at 0, s, 2s, ... up to and including "
        "n - k (range(0, n - k + 1, s)).": lambda: correlate(
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
                    correlate(_pad(x, *swapped), kernel, strides)
                ),
                "the padding was computed for stride 1 and the result subsampled: with "
                "stride s, 'same' pads max((ceil(n / s) - 1) * s + k - n, 0) zeros in "
                "total.": lambda: reference.conv2d(x, kernel, 1, "same")[::strides, ::strides],
                "'same' padding is not k // 2 zeros on each side: it adds "
                "max((ceil(n / s) - 1) * s + k - n, 0) zeros in total, half before and the "
                "rest after.": lambda: correlate(_pad(x, *half), kernel, strides),
                "no padding was added: padding='same' surrounds the input with zeros so the "
                "output keeps ceil(n / s) pixels.": lambda: reference.conv2d(
                    x, kernel, strides, "valid"
                ),
            }
        )
    else:
        mistakes[
            "padding='valid' means no padding at all: only windows that fit inside the input count."
        ] = lambda: reference.conv2d(x, kernel, strides, "same")
    return mistakes


def _conv2d_case(shape, kernel_shape, seed, **kwargs):
    """One conv2d case with deterministic small-integer data."""
    x = _random_integers(shape, seed, 0, 6)
    kernel = _random_integers(kernel_shape, seed + 1)
    return (x, kernel), kwargs


CONV2D_CASES = [
    ((LECTURE_INPUT.astype(float), LECTURE_KERNEL.astype(float)), {}),
    _conv2d_case((5, 6), (3, 2), 1),
    _conv2d_case((7, 6), (3, 3), 2, strides=2),
    _conv2d_case((5, 5), (3, 3), 3, padding="same"),
    _conv2d_case((5, 6), (4, 2), 4, padding="same"),
    _conv2d_case((6, 6), (3, 3), 5, strides=2, padding="same"),
    _conv2d_case((9, 10), (5, 5), 6, strides=3, padding="same"),
]


def _conv2d_cases_hidden():
    """Random shapes, strides and paddings, non-square kernels included."""
    rng = np.random.default_rng(202)
    cases = []
    for index in range(24):
        kernel_shape = tuple(int(v) for v in rng.integers(1, 6, size=2))
        shape = tuple(int(k + rng.integers(0, 7)) for k in kernel_shape)
        kwargs = {"strides": int(rng.integers(1, 4)), "padding": ("valid", "same")[index % 2]}
        cases.append(_conv2d_case(shape, kernel_shape, 1000 + 2 * index, **kwargs))
    return cases


def check_conv2d(conv2d, exercise=EXERCISES["conv2d"], cases=None):
    """Exercise: ``conv2d(x, kernel, strides, padding)`` on 2-D arrays, as Keras' Conv2D."""
    count = check_array_cases(
        exercise,
        conv2d,
        "conv2d",
        CONV2D_CASES if cases is None else cases,
        keras_conv2d,
        _conv2d_mistakes,
    )
    return checks.passed(exercise, f"conv2d matches keras.ops.conv on {count} cases.")


def check_conv2d_hidden(conv2d, exercise=EXERCISES["conv2d"]):
    """Hidden test: random shapes, non-square kernels, strides 1 to 3, both paddings."""
    count = check_array_cases(
        exercise, conv2d, "conv2d", _conv2d_cases_hidden(), keras_conv2d, _conv2d_mistakes
    )
    return checks.passed(exercise, f"conv2d matches keras.ops.conv on {count} hidden cases.")


# --- exercise 3: the convolution matrix ----------------------------------------------------------


def _column_major(matrix, input_shape, output_shape):
    """The same matrix with input and output pixels numbered column by column."""
    inputs = np.arange(np.prod(input_shape)).reshape(input_shape).ravel(order="F")
    outputs = np.arange(np.prod(output_shape)).reshape(output_shape).ravel(order="F")
    return matrix[outputs][:, inputs]


def _conv_matrix_mistakes(kernel, input_shape, strides=1):
    """The classic wrong matrices for one case."""
    kernel = np.asarray(kernel, np.float64)
    matrix = reference.conv_matrix(kernel, input_shape, strides)
    output_shape = [
        arith.conv_output_size(n, k, strides) for n, k in zip(input_shape, kernel.shape)
    ]
    return {
        "this is W transposed: W has one row per output pixel and one column per input "
        "pixel.": matrix.T,
        "the kernel is flipped: row (i, j) holds kernel[a, b] at input pixel "
        "(i * s + a, j * s + b), unflipped, as Conv2D cross-correlates.": (
            lambda: reference.conv_matrix(kernel[::-1, ::-1], input_shape, strides)
        ),
        "pixels are numbered column by column: number them row by row, as x.ravel() does "
        "(pixel (r, c) of an image of width w is r * w + c).": (
            lambda: _column_major(matrix, input_shape, output_shape)
        ),
        "the stride is ignored: output pixel (i, j) sees the window starting at "
        "(i * s, j * s).": lambda: reference.conv_matrix(kernel, input_shape, 1),
    }


def _conv_matrix_expected(kernel, input_shape, strides=1):
    """W from the reference, after checking it against Keras on a random input (belt and braces)."""
    matrix = reference.conv_matrix(kernel, input_shape, strides)
    x = _random_integers(input_shape, 7)
    assert np.allclose(matrix @ x.ravel(), keras_conv2d(x, kernel, strides).ravel())
    return matrix


CONV_MATRIX_CASES = [
    ((LECTURE_KERNEL.astype(float), (3, 3)), {}),
    ((SEED_KERNEL.astype(float), (4, 4)), {}),
    ((_random_integers((2, 3), 11), (4, 5)), {}),
    ((_random_integers((3, 3), 12), (5, 5)), {"strides": 2}),
    ((_random_integers((2, 2), 13), (5, 4)), {"strides": 3}),
]


def check_conv_matrix(conv_matrix, exercise=EXERCISES["conv_matrix"]):
    """Exercise: ``conv_matrix(kernel, input_shape, strides)``, valid padding."""
    count = check_array_cases(
        exercise,
        conv_matrix,
        "conv_matrix",
        CONV_MATRIX_CASES,
        _conv_matrix_expected,
        _conv_matrix_mistakes,
    )
    return checks.passed(exercise, f"conv_matrix gives W @ x == Conv2D(x) on {count} cases.")


def check_conv_matrix_hidden(conv_matrix, exercise=EXERCISES["conv_matrix"]):
    """Hidden test: random non-square kernels and inputs, strides 1 to 3."""
    rng = np.random.default_rng(303)
    cases = []
    for index in range(10):
        kernel_shape = tuple(int(v) for v in rng.integers(1, 4, size=2))
        input_shape = tuple(int(k + rng.integers(0, 4)) for k in kernel_shape)
        kernel = _random_integers(kernel_shape, 3000 + index)
        cases.append(((kernel, input_shape), {"strides": int(rng.integers(1, 4))}))
    count = check_array_cases(
        exercise, conv_matrix, "conv_matrix", cases, _conv_matrix_expected, _conv_matrix_mistakes
    )
    return checks.passed(exercise, f"conv_matrix is right on {count} hidden cases.")


# --- exercise 4: receptive field of a stack ------------------------------------------------------


def _field(step):
    """A receptive-field rule given by how one layer updates ``(size, jump)``."""

    def field(layers):
        size, jump = 1, 1
        for kernel_size, strides, dilation in layers:
            size, jump = step(size, jump, kernel_size, strides, dilation)
        return size

    return field


FIELD_MISTAKES = {
    "strides are ignored: after a stride-s layer, each further tap is s input pixels apart, "
    "so later layers add (k_eff - 1) times the product of the earlier strides.": _field(
        lambda r, j, k, s, d: (r + arith.effective_kernel_size(k, d) - 1, 1)
    ),
    "dilation is ignored: a dilated 3x3 kernel with dilation d spans 2d + 1 pixels.": _field(
        lambda r, j, k, s, d: (r + (k - 1) * j, j * s)
    ),
    "a dilated kernel spans k + (k - 1)(d - 1) pixels, not k * d.": _field(
        lambda r, j, k, s, d: (r + (k * d - 1) * j, j * s)
    ),
    "a layer's own stride does not widen its own window: multiply by the strides of the "
    "layers before it only.": _field(
        lambda r, j, k, s, d: (r + (arith.effective_kernel_size(k, d) - 1) * j * s, j * s)
    ),
    "each layer adds k_eff - 1 pixels (times the jump), not k_eff: two 3x3 layers see "
    "5x5, not 6x6.": lambda layers: (
        _field(lambda r, j, k, s, d: (r + arith.effective_kernel_size(k, d) * j, j * s))(layers) - 1
    ),
    "receptive fields add up, they do not multiply: two 3x3 layers see 5x5, not 9x9.": _field(
        lambda r, j, k, s, d: (r * arith.effective_kernel_size(k, d), j * s)
    ),
}


def _as_layers(layers):
    """Lists of lists (not tuples) to pass, so a student's code must not rely on tuples."""
    return [list(layer) for layer in layers]


FIELD_CASES = [((_as_layers(CONTEXT_MODULE[:depth]),), {}) for depth in range(1, 8)] + [
    ((_as_layers(CONTEXT_MODULE + [(1, 1, 1)]),), {}),
    (([[3, 1, 1], [3, 1, 1], [2, 2, 1], [3, 1, 1], [3, 1, 1], [2, 2, 1]],), {}),
    (([[7, 2, 1], [3, 2, 1], [3, 1, 1]],), {}),
    (([[3, 2, 1], [3, 1, 2], [3, 2, 3]],), {}),
]


def check_receptive_field(receptive_field, exercise=EXERCISES["receptive_field"]):
    """Exercise: ``receptive_field(layers)`` with layers ``(kernel_size, strides, dilation)``."""
    count = check_scalar_cases(
        exercise,
        receptive_field,
        "receptive_field",
        FIELD_CASES,
        arith.receptive_field,
        FIELD_MISTAKES,
    )
    return checks.passed(
        exercise,
        f"receptive_field reproduces the context-module table (3 ... 67) and {count - 8} "
        f"more stacks.",
    )


def check_receptive_field_hidden(receptive_field, exercise=EXERCISES["receptive_field"]):
    """Hidden test: random stacks of 1 to 6 layers."""
    rng = np.random.default_rng(404)
    cases = []
    for _ in range(30):
        depth = int(rng.integers(1, 7))
        layers = [
            [int(rng.integers(1, 8)), int(rng.integers(1, 4)), int(rng.integers(1, 5))]
            for _ in range(depth)
        ]
        cases.append(((layers,), {}))
    count = check_scalar_cases(
        exercise, receptive_field, "receptive_field", cases, arith.receptive_field, FIELD_MISTAKES
    )
    return checks.passed(exercise, f"receptive_field is right on {count} hidden stacks.")
