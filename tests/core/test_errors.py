"""Every public error class descends from HubError, and from the builtin it stands for."""

from __future__ import annotations

import inspect

import hub.errors as errors


def test_every_error_is_a_hub_error() -> None:
    classes = [obj for _, obj in inspect.getmembers(errors, inspect.isclass) if obj.__module__ == errors.__name__]
    assert len(classes) == len(errors.__all__)
    for cls in classes:
        assert issubclass(cls, errors.HubError), cls


def test_builtin_parents() -> None:
    assert issubclass(errors.KeyNotFoundError, KeyError)
    assert issubclass(errors.InvalidKeyError, ValueError)
    assert issubclass(errors.ReadOnlyError, PermissionError)
    assert issubclass(errors.BucketNotFoundError, FileNotFoundError)
    assert issubclass(errors.MissingDependencyError, ImportError)
    assert issubclass(errors.IntegrationNotInstalledError, ImportError)


def test_key_error_message_is_readable() -> None:
    e = errors.KeyNotFoundError("a/b", "mem://x")
    assert str(e) == "Key 'a/b' does not exist in mem://x."
