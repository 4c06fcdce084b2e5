"""Exercise checks: one module per solutions notebook, each exercise built by :func:`exercise`.

A check has three parts, so that one piece of code gives a student feedback in the notebook and
gives the grader a verdict computed outside the student's process:

* **cases**: the inputs, made from a list of keys (seeds, or names of cases worked in the
  lecture) by one case function; no answer is ever part of a case;
* **probe**: calls the student's function on one case and returns *plain data* (numbers,
  arrays, strings, lists, a Keras model as its architecture and weights): the only part that
  runs student code;
* **judge**: compares a probed output with an independent answer (a Keras layer, a ``tf.image``
  op, a hand-worked case) and raises :class:`CheckFailed` with one line that names the likely
  mistake.

In a notebook, ``check(function)`` probes every case, passes the outputs through the same
encoding the grader uses (:mod:`course_utils.checks.plain`), judges them and prints one
deterministic pass line. When grading, the kernel only probes and shows the encoded outputs
(:func:`start_recording`); the grader decodes and judges them in its own process
(:meth:`Check.judge`), where no student code runs.

Every check accepts every correct answer (tolerances, not strings), rejects the classic
mistakes of its exercise, and on failure raises one line (``Exercise N: hint``).
"""

import copy
import dataclasses
import importlib
import importlib.util

import numpy as np

from course_utils.checks import plain

_recording = False  # set in graded kernels only: see start_recording()


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


# --- cases, probes and the factory ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """The inputs of one call of the student's function, and the key that made them."""

    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    key: object = None

    def copies(self):
        """Copies of the arguments: a function that writes into its input spoils nothing."""
        return copy.deepcopy(list(self.args)), copy.deepcopy(self.kwargs)


def probe_value(exercise, function, case):
    """The default probe: the student's function on the case's inputs (or its crash)."""
    args, kwargs = case.copies()
    return run(exercise, function, *args, **kwargs)


def literal_case(key):
    """The case function of cases written out as ``(args, kwargs)`` pairs."""
    args, kwargs = copy.deepcopy(key)
    return Case(tuple(args), dict(kwargs), key)


class Check:
    """The public or the hidden check of one exercise: call it with the student's function."""

    def __init__(self, spec, hidden):
        self.spec, self.hidden = spec, hidden
        self.__name__ = f"check_{spec.name}" + ("_hidden" if hidden else "")
        self.__doc__ = f"{'Hidden test' if hidden else 'Check'} of exercise {spec.number}."

    def __repr__(self):
        return f"<{self.__name__} of exercise {self.spec.number}>"

    @property
    def exercise(self):
        """The exercise number."""
        return self.spec.number

    def cases(self):
        """This check's cases, made afresh from their keys."""
        keys = self.spec.hidden if self.hidden else self.spec.public
        return [self.spec.case(key) for key in keys]

    def probe(self, function):
        """Run the student's function on every case; return the outputs, encoded."""
        outputs = []
        for case in self.cases():
            outputs.append(plain.encode(self.spec.probe(self.spec.number, function, case)))
        return outputs

    def __call__(self, function):
        """Probe, then judge here (a notebook) or hand the outputs to the grader (grading)."""
        outputs = self.probe(function)
        if _recording:
            from course_utils.checks import recording

            return recording.show(self, outputs)
        return self.judge(outputs)

    def judge(self, outputs):
        """Decode the probed outputs and judge them: a pass line, or CheckFailed."""
        cases = self.cases()
        if not isinstance(outputs, list) or len(outputs) != len(cases):
            fail(self.exercise, "the recorded outputs do not match the check's cases.")
        decoded = [plain.decode(output) for output in outputs]
        count = self.spec.judge(self.exercise, cases, decoded)
        template = self.spec.hidden_passed if self.hidden else self.spec.passed
        return passed(self.exercise, template.format(count=len(cases) if count is None else count))


@dataclasses.dataclass(frozen=True)
class ExerciseSpec:
    """Everything that defines one exercise's checks (made by :func:`exercise`)."""

    number: int
    name: str
    case: object
    public: tuple
    hidden: tuple
    probe: object
    judge: object
    passed: str
    hidden_passed: str


def exercise(number, name, case, public, hidden, judge, passed, hidden_passed, probe=probe_value):
    """The (public, hidden) checks of exercise ``number``, from one case function and two key lists.

    ``case(key) -> Case`` makes the inputs of one call from a key (a seed, or the name of a
    lecture's worked case). ``probe(number, function, case)`` calls the student's function and
    returns what the judge needs as plain data (``probe_value`` by default).
    ``judge(number, cases, outputs)`` raises :class:`CheckFailed` on a wrong output (it may
    return the count of cases for the pass line). ``passed`` and ``hidden_passed`` are the pass
    lines, with ``{count}`` for the number of cases.
    """
    spec = ExerciseSpec(
        number, name, case, tuple(public), tuple(hidden), probe, judge, passed, hidden_passed
    )
    return Check(spec, hidden=False), Check(spec, hidden=True)


def each_case(judge_case):
    """A judge of all cases from a judge of one: ``judge_case(number, case, output)``, in order.

    A crash of the student's function on a case fails with its hint when that case comes up.
    """

    def judge(number, cases, outputs):
        for case, output in zip(cases, outputs):
            judge_case(number, case, unwrap(number, output))
        return len(cases)

    return judge


# --- grading: record in the kernel, judge in the grader -------------------------------------


def start_recording():
    """From now on checks only probe and show their outputs, for the grader (graded kernels)."""
    global _recording
    _recording = True


# --- helpers of probes and judges ---------------------------------------------------------------


def run(exercise, function, *args, **kwargs):
    """Call the student's function: its result, or :class:`plain.Crashed` with a one-line hint.

    ``NotImplementedError`` (an exercise not done yet) passes through.
    """
    if not callable(function):
        return plain.Crashed(
            f"expected a function, got {type(function).__name__}; pass the function "
            f"itself, without calling it."
        )
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - any crash of student code becomes a hint
        arguments = ", ".join([_short(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        name = getattr(function, "__name__", "the function")
        return plain.Crashed(f"{name}({arguments}) raised {type(error).__name__}: {error}")


def unwrap(exercise, value, what="the result"):
    """``value``, unless it is a crash (fail with its hint) or not plain data (fail saying so)."""
    if isinstance(value, plain.Crashed):
        fail(exercise, value.message)
    if isinstance(value, plain.Unsupported):
        fail(exercise, f"{what} should be plain data (numbers, arrays), got {value.type_name}.")
    return value


def run_builder(exercise, function, inputs, *arguments, what, shape_hint=None):
    """Call a layer builder on symbolic Keras inputs: the model from them to what it returns.

    ``inputs`` (one ``keras.Input`` or a list) are passed first, then ``arguments``. A crash
    becomes :class:`plain.Crashed` with a one-line hint (``shape_hint`` when the error is about
    shapes, the classic way these builders go wrong), and so does a result that is not the
    output tensor of a layer. A probe returns the model; the judge gets it rebuilt from its
    architecture and weights (:mod:`course_utils.checks.plain`).
    """
    import keras

    listed = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
    try:
        outputs = function(*listed, *arguments)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - any crash of student code becomes a hint
        message = str(error).split("\n")[0]
        lowered = message.lower()
        if shape_hint and any(word in lowered for word in ("shape", "incompatible", "concatenat")):
            return plain.Crashed(f"{what} failed on shapes ({message}): {shape_hint}")
        return plain.Crashed(f"{what} raised {type(error).__name__}: {message}")
    if not isinstance(outputs, keras.KerasTensor):
        return plain.Crashed(
            f"{what} should return the output tensor of its last layer, got "
            f"{type(outputs).__name__}; end with `return x`."
        )
    return keras.Model(listed if len(listed) > 1 else listed[0], outputs)


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
    value = unwrap(exercise, value, what)
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
    value = unwrap(exercise, value, what)
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


def __getattr__(name):
    """``checks.<notebook stem>``: that notebook's check module, imported on first use."""
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
