"""Helpers shared by the check tests: wrong answers on demand, and failures to expect."""

import pytest

from course_utils.checks import CheckFailed


def with_mistake(function, mistake):
    """``function`` with one mistake switched on, under the student's name."""

    def answer(*args, **kwargs):
        return function(*args, mistake=mistake, **kwargs)

    answer.__name__ = function.__name__
    return answer


def fails_with(check, answer, fragment):
    """Assert that ``check(answer)`` fails with a one-line message containing ``fragment``."""
    with pytest.raises(CheckFailed) as error:
        check(answer)
    message = str(error.value)
    assert fragment in message, message
    assert "\n" not in message
    return message
