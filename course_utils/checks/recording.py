"""Graded kernels record what the student's functions return; the grader judges it elsewhere.

In a graded notebook (after :func:`course_utils.checks.start_recording`) a check cell only
probes, and shows the encoded outputs as one output of type :data:`RECORD_MIME`. The grader
collects those outputs, finds the same check in its own process (:func:`find_check`) and judges
them there: nothing the student's code did in the kernel can change how they are judged.
"""

import importlib
import sys

from course_utils import checks

RECORD_MIME = "application/vnd.course.record+json"


def show(check, outputs):
    """Show the encoded outputs of ``check`` as one output of the cell, for the grader."""
    from IPython import display

    record = {"check": check_path(check), "exercise": check.exercise, "outputs": outputs}
    text = f"Exercise {check.exercise}: {len(outputs)} cases recorded for grading."
    display.display({RECORD_MIME: record, "text/plain": text}, raw=True)
    return checks.Passed()


def check_path(check):
    """``module:attribute`` of a check, by which the grader finds the same check."""
    extra = _extra_modules()  # once: it reads every loaded module
    for name, module in list(sys.modules.items()):
        if name.startswith(f"{checks.__name__}.") or name in extra:
            for attribute, value in list(vars(module).items()):
                if value is check:
                    return f"{name}:{attribute}"
    raise LookupError(f"{check!r} is not a module-level check")


def find_check(path, extra_modules=()):
    """The check named by ``module:attribute``, from a course checks module (or ``extra_modules``).

    ``extra_modules`` names modules outside the package that may hold checks (the grader's
    self-test keeps its checks with the tests).
    """
    module_name, _, attribute = str(path).partition(":")
    allowed = module_name.startswith(f"{checks.__name__}.") or module_name in extra_modules
    if (
        not allowed
        or not attribute.isidentifier()
        or not module_name.replace(".", "").isidentifier()
    ):
        raise LookupError(f"not a course check: {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise LookupError(f"no check module {module_name!r} ({error})") from error
    check = getattr(module, attribute, None)
    if not isinstance(check, checks.Check):
        raise LookupError(f"not a course check: {path!r}")
    return check


def _extra_modules():
    """Modules outside the package whose checks may be recorded (see :func:`find_check`).

    Read from each module's own namespace: ``getattr`` on a lazily loading module (TensorFlow
    has many) would import it, which took minutes per check in a kernel that had loaded Keras.
    """
    found = set()
    for name, module in list(sys.modules.items()):
        try:
            namespace = object.__getattribute__(module, "__dict__")
        except (AttributeError, TypeError):
            continue
        if isinstance(namespace, dict) and namespace.get("COURSE_CHECKS") is True:
            found.add(name)
    return found
