"""Records are hostile data: decoding is bounded and never runs code; the verdict's rules hold.

A graded kernel belongs to the student, so everything it records may be crafted. The grader
decodes records (``course_utils.checks.plain``) and judges them in worker processes of its own
(``course_tools.grading.judge``); these tests hand it what a student could send.
"""

import base64
import io
import json
import sys
import textwrap

import numpy as np
import pytest
from grading_fixtures import helpers

from course_tools.grading import inputs, judge, verdict
from course_utils.checks import plain, recording


def _array_text(array, **options):
    """An array as the base64 ``.npy`` text a record carries."""
    buffer = io.BytesIO()
    np.save(buffer, array, **options)
    return base64.b64encode(buffer.getvalue()).decode()


def _claiming(shape):
    """A ``.npy`` header claiming ``shape`` over three float64s of data."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    raw = buffer.getvalue().replace(b"(3,)", f"{shape}".encode().ljust(4), 1)
    return base64.b64encode(raw).decode()


def _nested(depth):
    """A list nested ``depth`` levels deep."""
    value = []
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = {
    "a header claiming a terabyte": {"__ndarray__": _claiming((2**40,))},
    "an object array (pickle)": {
        "__ndarray__": _array_text(np.array([{"a": 1}], dtype=object), allow_pickle=True)
    },
    "a structured array": {"__ndarray__": _array_text(np.zeros(2, dtype=[("a", "f8")]))},
    "not base64": {"__ndarray__": "!!!not base64!!!"},
    "not an array": {"__ndarray__": base64.b64encode(b"\x93NUMPY junk").decode()},
    "nesting five hundred deep": _nested(500),
    "two million items": list(range(2_000_000)),
    "an integer of 200 bits": 2**200,
    "a float spelled as a list": {"__float__": [1.5]},
    "a float spelled as text": {"__float__": "1e999"},
    "a crash that is not text": {"__crashed__": {"a": 1}},
    "two keys": {"__ndarray__": "", "__crashed__": ""},
    "an unknown kind": {"__pickle__": "gASVAAAAAAAAAAA="},
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_data_decodes_to_unsupported(name):
    """Whatever a record holds, decoding returns plain data or Unsupported, and never raises."""
    decoded = plain.decode(json.loads(json.dumps(HOSTILE[name])))
    found = [decoded] if not isinstance(decoded, list) else decoded[:1]
    assert any(isinstance(item, plain.Unsupported) for item in found), decoded


def test_plain_values_still_decode():
    """Honest outputs come back as they went (NaN, tuples, dicts, arrays, crashes)."""
    values = [1, 2.5, float("nan"), "x", None, (1, 2), {"a": [1]}, np.arange(6).reshape(2, 3)]
    for value in values:
        back = plain.roundtrip(value)
        if isinstance(value, np.ndarray):
            assert np.array_equal(back, value)
        elif value != value:
            assert back != back
        else:
            assert back == value
    assert plain.roundtrip(plain.Crashed("f(1) raised ValueError")) == plain.Crashed(
        "f(1) raised ValueError"
    )


def _model_record():
    """The record of a small Keras model, as JSON."""
    import keras

    inputs_ = keras.Input((6, 6, 2))
    outputs = keras.layers.Conv2D(3, 3, padding="same", activation="relu")(inputs_)
    return json.loads(json.dumps(plain.encode(keras.Model(inputs_, outputs))))


def _layer(record):
    """The Conv2D's serialised dict inside a model record."""
    layers = record["__keras_model__"]["config"]["config"]["layers"]
    return next(layer for layer in layers if layer["class_name"] == "Conv2D")


HOSTILE_MODELS = {
    "a Lambda layer": lambda layer: layer.update(class_name="Lambda"),
    "a layer of the student's module": lambda layer: layer.update(module="__main__"),
    "a Keras module that is not a layer's": lambda layer: layer.update(
        module="keras.src.utils.file_utils"
    ),
    "a registered custom object": lambda layer: layer.update(registered_name="student>Evil"),
    "a function that is not an activation": lambda layer: layer["config"].update(
        activation={
            "class_name": "function",
            "module": "keras.src.utils.file_utils",
            "config": "get_file",
            "registered_name": None,
        }
    ),
    "a vocabulary file": lambda layer: layer.update(class_name="StringLookup"),
    "a billion filters": lambda layer: layer["config"].update(filters=10**9),
    "a compiled model": None,
}


@pytest.mark.parametrize("name", sorted(HOSTILE_MODELS))
def test_models_are_rebuilt_only_from_keras_own_classes(name):
    """Custom, code-running, file-reading or oversized models are refused before building."""
    record = _model_record()
    assert not isinstance(plain.decode(record), plain.Unsupported)
    if HOSTILE_MODELS[name] is None:
        record["__keras_model__"]["config"]["compile_config"] = {"loss": "mse"}
    else:
        HOSTILE_MODELS[name](_layer(record))
    assert isinstance(plain.decode(record), plain.Unsupported)


def test_find_check_names_only_course_checks():
    """A record cannot name any object: only checks of the course (or the allowed modules)."""
    for path in ("os:system", "course_utils.checks.plain:decode", "../x:y", "selftest:np"):
        with pytest.raises(LookupError):
            recording.find_check(path, extra_modules=("selftest",))
    with pytest.raises(LookupError):
        recording.find_check("selftest:check_output_size")  # not allowed without extra_modules


MANIFEST = {
    "exercises": {
        "1": {
            "check_points": 2,
            "hidden_points": 0,
            "check_path": "selftest:check_output_size",
            "hidden_path": None,
        }
    }
}
RECORD = {"check": "selftest:check_output_size", "exercise": 1, "outputs": [1, 2, 3, 4]}


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (None, "did not run"),
        ({"status": "ok", "records": []}, "0 records instead of one"),
        ({"status": "ok", "records": [RECORD, RECORD]}, "2 records instead of one"),
        (
            {"status": "ok", "records": [{**RECORD, "check": "selftest:check_normalize"}]},
            "names another check",
        ),
        ({"status": "ok", "records": [{**RECORD, "outputs": "x"}]}, "malformed"),
        ({"status": "ok", "records": [], "records_over_limit": True}, "size limit"),
        ({"status": "error", "error": "ValueError: no", "records": [RECORD]}, "ValueError"),
    ],
)
def test_a_record_is_judged_only_when_it_is_the_one_expected(result, reason):
    """Exactly one record, naming the reference cell's check, from a cell that succeeded."""
    entry = inputs.Submission("s", None, answers={1: "def output_size(): pass"})
    results = {"cells": {"ex1-check": result} if result else {}}
    tasks, decided = verdict.tasks("0", entry, MANIFEST, results)
    assert not tasks
    assert reason in decided["ex1-check"][1], decided


def test_the_record_expected_becomes_a_task():
    """The one record of the right check, from a cell that succeeded, is judged."""
    entry = inputs.Submission("s", None, answers={1: "def output_size(): pass"})
    results = {"cells": {"ex1-check": {"status": "ok", "records": [RECORD]}}}
    tasks, decided = verdict.tasks("0", entry, MANIFEST, results)
    assert tasks == [("0:ex1-check", "selftest:check_output_size", [1, 2, 3, 4])]
    assert not decided


KILLER = textwrap.dedent(
    """
    import os
    from course_utils import checks

    COURSE_CHECKS = True
    check_dies, _ = checks.exercise(
        1, "dies", case=lambda key: checks.Case((key,), {}, key), public=[1], hidden=[1],
        judge=lambda number, cases, outputs: os._exit(9), passed="never", hidden_passed="never",
    )
    """
)


@pytest.mark.slow
def test_a_judge_that_dies_costs_only_its_own_task(tmp_path):
    """A record that kills the judge scores 0 with a reason; the tasks around it are judged."""
    (tmp_path / "killer.py").write_text(KILLER)
    fixtures = str(helpers.FIXTURES)
    good = [int(value) for value in (5, 3, 4, 1)]
    tasks = [
        ("a", "selftest:check_output_size", good),
        ("b", "killer:check_dies", [1]),
        ("c", "selftest:check_output_size", [0, 0, 0, 0]),
        ("d", "selftest:check_output_size", good),
    ]
    verdicts = judge.judge_all(tasks, [fixtures, str(tmp_path)], ["selftest", "killer"], jobs=1)
    assert verdicts["a"][0] == verdicts["d"][0] == judge.PASSED, verdicts
    assert verdicts["b"][0] == judge.ERROR and "could not judge" in verdicts["b"][1]
    assert verdicts["c"][0] == judge.FAILED and "Exercise 1" in verdicts["c"][1]


def test_the_judge_gives_no_pass_to_outputs_it_cannot_handle():
    """Outputs of the wrong kind fail or error, never pass (judged here, in-process)."""
    sys.path.insert(0, str(helpers.FIXTURES))
    try:
        wrong = [{"__dict__": {"a": 1}}, "text", None, {"__unsupported__": "generator"}]
        for outputs in ([1, 2], wrong, [plain.encode(np.zeros((2, 2)))] * 4):
            status, message = judge.judge_one("selftest:check_output_size", outputs, ["selftest"])
            assert status in (judge.FAILED, judge.ERROR), (outputs, message)
    finally:
        sys.path.remove(str(helpers.FIXTURES))


def test_models_built_with_keras_ops_are_rebuilt():
    """Honest builders use keras.ops on symbolic tensors (add, concatenate, resize, slices)."""
    import keras

    inputs_ = keras.Input((8, 8, 3))
    outputs = keras.ops.concatenate([keras.ops.add(inputs_, 1.0), inputs_], axis=-1)
    outputs = keras.ops.image.resize(keras.layers.Conv2D(2, 3)(outputs), (12, 12))[:, 1:-1]
    model = keras.Model(inputs_, outputs)
    rebuilt = plain.roundtrip(model)
    images = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    assert np.allclose(model(images), rebuilt(images))


def test_every_run_error_says_why():
    """A run without results names how the sandbox ended and its last error."""
    results = {"cells": {}, "ended": "killed by SIGKILL", "complete": False, "reason": "Boom: x"}
    assert verdict.run_errors({}, results) == [
        "the sandbox produced no results (killed by SIGKILL: Boom: x)"
    ]
    results.update(complete=True, reason="MemoryError")
    assert verdict.run_errors({}, results) == ["the notebook did not start (MemoryError)"]
    results.update(ended="stopped at the 300 s time limit")
    assert verdict.run_errors({}, results) == ["grading stopped at the 300 s time limit"]


def test_recording_never_wakes_lazy_modules(monkeypatch):
    """Finding a check's path reads modules' namespaces: a lazily loading module (TensorFlow
    has many) is not imported by it, which once made every recorded check take minutes."""
    import types

    woken = []

    class Lazy(types.ModuleType):
        def __getattr__(self, name):
            woken.append(name)
            raise AttributeError(name)

    monkeypatch.setitem(sys.modules, "lazy_for_the_test", Lazy("lazy_for_the_test"))
    sys.path.insert(0, str(helpers.FIXTURES))
    try:
        import selftest

        assert recording.check_path(selftest.check_normalize) == "selftest:check_normalize"
    finally:
        sys.path.remove(str(helpers.FIXTURES))
    assert woken == []


def test_finding_a_check_reads_the_loaded_modules_once(monkeypatch):
    """The modules that may hold checks are listed once per record, not once per loaded
    module: with Keras loaded (thousands of modules) the second made each check cell take a
    minute in the graded kernel."""
    from course_utils.checks import conv2d_padding_stride

    listings = []
    listed = recording._extra_modules
    monkeypatch.setattr(recording, "_extra_modules", lambda: listings.append(1) or listed())
    path = recording.check_path(conv2d_padding_stride.check_conv_output_size)
    assert path == "course_utils.checks.conv2d_padding_stride:check_conv_output_size"
    assert len(listings) == 1
