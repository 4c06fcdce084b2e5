"""Judges of case tables: a function compared with an independent answer over many cases.

``scalars`` judges integer-valued answers (an output size, a receptive field) and names the
classic mistake that reproduces all the student's answers; ``arrays`` judges array answers case
by case and, when several mistakes explain a wrong array, names the one that also explains the
student's other answers. Both are made once per exercise and passed to
:func:`course_utils.checks.exercise` as its ``judge``.
"""

import math

import numpy as np

from course_utils import checks


def describe_call(name, case):
    """``name(7, 3, strides=2)``: small arrays written out, bigger ones shown by their shape."""
    parts = [_describe(a) for a in case.args] + [f"{k}={v!r}" for k, v in case.kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _describe(value):
    """A small integral array as a nested list (so the case can be retried), else its shape."""
    if isinstance(value, np.ndarray) and value.size <= 16 and np.all(value == np.round(value)):
        return repr(value.astype(int).tolist())
    return checks._short(value)


def whole_number(exercise, value, where):
    """A student's size as an int, with a hint for fractional sizes."""
    value = checks.unwrap(exercise, value, f"{where}'s result")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, float | np.floating) and math.isfinite(value) and value != int(value):
        checks.fail(
            exercise,
            f"{where} returned {value!r}, not a whole number of pixels: a window either fits or "
            f"it does not, so round with // (floor) or math.ceil, not plain /.",
        )
    return checks.as_int(exercise, value, what=f"{where}'s result")


def scalars(name, correct, mistakes):
    """A judge of integer answers: ``correct`` and each mistake take the student's arguments.

    A mistake is named when it reproduces the student's answers on every case (or failing that,
    on every case the student got wrong).
    """

    def judge(exercise, cases, outputs):
        actual = [
            whole_number(exercise, output, describe_call(name, case))
            for case, output in zip(cases, outputs)
        ]
        expected = [correct(*case.args, **case.kwargs) for case in cases]
        wrong = [index for index, (a, e) in enumerate(zip(actual, expected)) if a != e]
        if not wrong:
            return len(cases)
        predictions = {
            hint: [mistake(*case.args, **case.kwargs) for case in cases]
            for hint, mistake in mistakes.items()
        }
        chosen = None
        for indices in (range(len(cases)), wrong):
            chosen = next(
                (
                    hint
                    for hint, predicted in predictions.items()
                    if all(predicted[i] == actual[i] for i in indices)
                ),
                None,
            )
            if chosen:
                break
        first = wrong[0]
        message = (
            f"{describe_call(name, cases[first])} returned {actual[first]}, "
            f"expected {expected[first]}"
        )
        checks.fail(exercise, f"{message}: {chosen}" if chosen else f"{message}.")

    return judge


def arrays(name, correct, mistakes, ndim=2):
    """A judge of array answers, case by case.

    ``correct(*args, **kwargs)`` gives the expected array; ``mistakes(*args, **kwargs)`` gives a
    dict ``{hint: wrong array or function returning one}`` for that case.
    """

    def judge(exercise, cases, outputs):
        results = [
            _array_or_failure(exercise, name, case, output, ndim)
            for case, output in zip(cases, outputs)
        ]
        for case, result in zip(cases, results):
            where = describe_call(name, case)
            if isinstance(result, checks.CheckFailed):
                raise result
            expected = correct(*case.args, **case.kwargs)
            if checks.close(result, expected):
                continue
            matching = [
                hint
                for hint, wrong in _evaluated(mistakes(*case.args, **case.kwargs))
                if checks.close(result, wrong)
            ]
            if len(matching) > 1:
                matching.sort(key=lambda hint: -_agreement(cases, results, mistakes, hint))
            if matching:
                checks.fail(exercise, f"{where}: {matching[0]}")
            checks.diagnose(exercise, result, expected, {}, context=f"{where}: ")
        return len(cases)

    return judge


def _array_or_failure(exercise, name, case, output, ndim):
    """The validated array of one case, or the CheckFailed it deserves (raised in case order)."""
    try:
        return checks.as_array(
            exercise, output, what=f"{describe_call(name, case)}'s result", ndim=ndim
        )
    except checks.CheckFailed as failure:
        return failure


def _evaluated(mistakes):
    """``(hint, wrong array)`` pairs, computing lazy wrong answers and skipping missing ones."""
    for hint, wrong in mistakes.items():
        wrong = wrong() if callable(wrong) else wrong
        if wrong is not None:
            yield hint, wrong


def _agreement(cases, results, mistakes, hint):
    """On how many cases the mistake ``hint`` reproduces the student's answer."""
    count = 0
    for case, result in zip(cases, results):
        if isinstance(result, checks.CheckFailed):
            continue
        wrong = mistakes(*case.args, **case.kwargs).get(hint)
        wrong = wrong() if callable(wrong) else wrong
        count += wrong is not None and checks.close(result, wrong)
    return count
