"""Fixtures shared by the tests of the students' package."""

import socket

import pytest

from course_utils import config


@pytest.fixture
def network_attempts(monkeypatch):
    """Record, and refuse, every attempt to resolve a name or open a connection."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:2] or args[:1])
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private config.cache_dir() for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("COURSE_CACHE", str(folder))
    return folder


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """Point Keras's cache (what ~/.keras is by default) at an empty temporary folder."""
    from keras.src.backend import config as keras_config

    home = tmp_path / "keras"
    home.mkdir()
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(home))
    return home


@pytest.fixture
def use_mode(monkeypatch):
    """A function that switches course_utils.config to a mode for one test."""

    def switch(mode):
        for name in config.MODE_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in config.environment(mode, {}).items():
            monkeypatch.setenv(name, value)

    return switch
