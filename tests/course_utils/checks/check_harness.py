"""The harness every check test shares: wrong answers on demand, and the failures to expect.

Each expected failure is asserted twice: as a student sees it (the check called in the
notebook) and as the grader decides it (the outputs probed, sent through JSON as from a graded
kernel, and judged afresh), and the two must say the same thing.
"""

import json

import pytest

from course_utils.checks import CheckFailed


def with_mistake(function, mistake):
    """``function`` with one mistake switched on, under the student's name."""

    def answer(*args, **kwargs):
        return function(*args, mistake=mistake, **kwargs)

    answer.__name__ = function.__name__
    return answer


def graded(check, answer):
    """The grader's verdict: probe the answer, pass the outputs through JSON, judge them."""
    outputs = json.loads(json.dumps(check.probe(answer)))
    return check.judge(outputs)


def passes(check, answer):
    """Assert that ``answer`` passes ``check`` in the notebook and in grading."""
    assert check(answer)
    assert graded(check, answer)
    return True


def fails_with(check, answer, fragment):
    """Assert that ``check(answer)`` fails with one line containing ``fragment``, graded too."""
    with pytest.raises(CheckFailed) as error:
        check(answer)
    message = str(error.value)
    assert fragment in message, message
    assert "\n" not in message
    if hasattr(check, "judge"):
        with pytest.raises(CheckFailed) as graded_error:
            graded(check, answer)
        assert str(graded_error.value) == message
    return message
