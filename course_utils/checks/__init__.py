"""Exercise checks: one module per topic, sharing the helpers below.

Every check follows the same contract (see COURSE_DESIGN.md, "An exercise"):

* it calls the student's function on cases whose answer comes from an independent source
  (a Keras layer, a ``tf.image`` op, :mod:`course_utils.reference`, a case worked in the lecture);
* it accepts every correct answer: numbers are compared with tolerances, never as strings;
* when the answer is wrong it raises :class:`CheckFailed`, an ``AssertionError`` whose message is
  one line naming the likely mistake (found by comparing with the classic wrong answers);
* when the answer is right it prints one deterministic line and returns ``True``.
"""

import numpy as np


class CheckFailed(AssertionError):
    """A failed exercise check: shown in Jupyter as one line, without a traceback."""

    def _render_traceback_(self):
        """Tell IPython to print only the message: the traceback is course_utils', not theirs."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


def fail(exercise, message):
    """Raise the one-line failure of ``exercise``."""
    raise CheckFailed(f"Exercise {exercise}: {message}")


class Passed:
    """What a check returns on success: true, and shown as nothing under the printed line."""

    def __bool__(self):
        return True

    def __repr__(self):
        return "Passed"

    def _ipython_display_(self):
        """Show nothing: the check already printed its pass line."""


def passed(exercise, message):
    """Print the one deterministic pass line of ``exercise``; return a true, silent value."""
    print(f"Exercise {exercise} passed: {message}")
    return Passed()


def call(exercise, function, *args, **kwargs):
    """Call the student's function; turn a crash into a one-line failure (but not 'not done')."""
    if not callable(function):
        fail(
            exercise,
            f"expected a function, got {type(function).__name__}; pass the function "
            f"itself, without calling it.",
        )
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - any crash of student code becomes a hint
        arguments = ", ".join([_short(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        fail(exercise, f"{function.__name__}({arguments}) raised {type(error).__name__}: {error}")


def call_symbolic(exercise, function, what, shape_hint, *arguments):
    """Call a student's layer builder on symbolic Keras inputs; a crash becomes one line.

    ``shape_hint`` is the advice given when the error is about shapes (the classic way these
    builders go wrong); any other crash is reported as it is.
    """
    try:
        return function(*arguments)
    except NotImplementedError:
        raise
    except Exception as error:  # any crash of student code becomes a hint
        message = str(error).split("\n")[0]
        lowered = message.lower()
        if "shape" in lowered or "incompatible" in lowered or "concatenat" in lowered:
            fail(exercise, f"{what} failed on shapes ({message}): {shape_hint}")
        fail(exercise, f"{what} raised {type(error).__name__}: {message}")


def _short(value):
    """A short description of an argument for error messages."""
    if isinstance(value, np.ndarray) or hasattr(value, "shape"):
        return f"<array {tuple(value.shape)}>"
    return repr(value)


def flat_layers(model):
    """Every leaf layer of a Keras model, nested models opened, input layers left out."""
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        if hasattr(layer, "layers"):
            yield from flat_layers(layer)
        else:
            yield layer


def as_array(exercise, value, what="the result", shape=None, ndim=None):
    """Convert a NumPy/TensorFlow result to a float array, or fail saying what was expected."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    if isinstance(value, (list, tuple)):
        try:
            value = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            fail(
                exercise,
                f"{what} should be an array of numbers, got a ragged {type(value).__name__}.",
            )
    if not isinstance(value, np.ndarray | np.generic | int | float):
        fail(exercise, f"{what} should be a NumPy array, got {type(value).__name__}.")
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        fail(exercise, f"{what} should hold numbers, got dtype {array.dtype}.")
    if ndim is not None and array.ndim != ndim:
        fail(exercise, f"{what} should have {ndim} dimensions, got shape {array.shape}.")
    if shape is not None and array.shape != tuple(shape):
        fail(exercise, f"{what} should have shape {tuple(shape)}, got {array.shape}.")
    return array.astype(np.float64)


def as_int(exercise, value, what="the result"):
    """Accept a Python or NumPy integer (or an integral float); fail on anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        fail(exercise, f"{what} should be an integer, got {type(value).__name__} {value!r}.")
    if float(value) != int(value):
        fail(exercise, f"{what} should be a whole number of pixels, got {value!r}.")
    return int(value)


def close(actual, expected, atol=1e-4, rtol=1e-4):
    """True when two arrays have the same shape and agree within tolerances."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    return actual.shape == expected.shape and np.allclose(actual, expected, atol=atol, rtol=rtol)


def diagnose(exercise, actual, expected, mistakes, context="", atol=1e-4, rtol=1e-4):
    """Fail unless ``actual`` matches ``expected``, naming the mistake it matches, if any.

    ``mistakes`` maps a hint to the wrong answer that mistake produces (a value, or a function
    returning one, so costly wrong answers are only computed when needed).
    """
    if close(actual, expected, atol, rtol):
        return
    for hint, wrong in mistakes.items():
        wrong = wrong() if callable(wrong) else wrong
        if wrong is not None and close(actual, wrong, atol, rtol):
            fail(exercise, f"{context}{hint}")
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        fail(exercise, f"{context}expected shape {expected.shape}, got {actual.shape}.")
    worst = np.unravel_index(np.argmax(np.abs(actual - expected)), expected.shape)
    fail(
        exercise,
        f"{context}wrong value at index {tuple(int(i) for i in worst)}: "
        f"expected {float(expected[worst]):.4g}, got {float(actual[worst]):.4g}.",
    )
