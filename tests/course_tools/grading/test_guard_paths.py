"""The guard's path rule, called directly: what it refuses; its tables cannot be swapped."""

import os

import pytest

from course_tools.grading import guard_paths


class Refused(Exception):
    """Raised by the test's deny, as the guard's GuardError would be."""


def deny(what):
    raise Refused(what)


@pytest.fixture
def on_path(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "hidden").mkdir()
    config = {"hidden": [str(tmp_path / "hidden")], "writable": [str(tmp_path / "work")]}
    return guard_paths.make_path_rule(config, deny), tmp_path


def test_reads_hidden_and_writes_outside_are_refused(on_path):
    rule, root = on_path
    rule("open", (str(root / "work" / "a.txt"), "w", 0))  # allowed: inside the writable folder
    rule("open", (str(root / "notes.txt"), "r", 0))  # allowed: a read outside hidden folders
    with pytest.raises(Refused, match="writing to"):
        rule("open", (str(root / "notes.txt"), "w", 0))
    with pytest.raises(Refused, match="writing to"):
        rule("open", (str(root / "notes.txt"), None, os.O_WRONLY))
    with pytest.raises(Refused, match="access to"):
        rule("open", (str(root / "hidden" / "answers.json"), "r", 0))


def test_rebinding_the_module_tables_does_not_change_a_built_rule(on_path, monkeypatch):
    rule, root = on_path
    monkeypatch.setattr(guard_paths, "WRITE_FLAGS", 0)
    monkeypatch.setitem(guard_paths.WRITTEN_ARGUMENTS, "os.rename", ())
    with pytest.raises(Refused, match="writing to"):
        rule("open", (str(root / "notes.txt"), None, os.O_WRONLY))
    with pytest.raises(Refused, match="writing to"):
        rule("os.rename", (str(root / "work" / "a.txt"), str(root / "elsewhere.txt")))
