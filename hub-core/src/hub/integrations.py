"""Finds framework integrations (hub-torch, hub-tensorflow) through entry points.

An integration registers a callable under the ``hub.integrations`` group; hub-core never
imports a framework itself. ``ds.pytorch(...)`` calls ``load_integration("pytorch")(ds, ...)``.
An integration module also calls :func:`register_integration` when it is imported, so that a program that
imports it is spared the scan of every installed distribution's entry points (milliseconds, at the first
``ds.pytorch()`` of each process).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from hub.errors import IntegrationNotInstalledError

__all__ = ["INSTALL_HINTS", "load_integration", "register_integration"]

GROUP = "hub.integrations"

#: The distribution that provides each integration this project ships.
INSTALL_HINTS = {"pytorch": "hub-torch", "tensorflow": "hub-tensorflow"}


_found: dict[str, Callable[..., Any]] = {}


def register_integration(name: str, hook: Callable[..., Any]) -> None:
    """Make ``hook`` integration ``name`` (what its entry point names), without looking up entry points."""
    _found[name] = hook


def load_integration(name: str) -> Callable[..., Any]:
    """The callable registered as integration ``name``; a clear ImportError if none is installed.

    A found integration is remembered (scanning the installed distributions' entry points takes milliseconds,
    a cost ``ds.pytorch()`` would pay at every epoch's loader); one not found is looked for again next time.
    """
    hook = _found.get(name)
    if hook is not None:
        return hook
    for ep in entry_points(group=GROUP, name=name):
        loaded: Callable[..., Any] = ep.load()
        _found[name] = loaded
        return loaded
    dist = INSTALL_HINTS.get(name)
    if dist is None:
        raise IntegrationNotInstalledError(
            f"No hub integration named {name!r} is installed (known: {', '.join(sorted(INSTALL_HINTS))})."
        )
    raise IntegrationNotInstalledError(
        f"ds.{name}() needs the {dist} package, which is not installed. Install it with: pip install {dist}"
    )
