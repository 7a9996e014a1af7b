"""The framework hooks: found through entry points, or a clear install hint when absent."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys

import pytest

import hub
from hub.errors import IntegrationNotInstalledError
from hub.integrations import load_integration, register_integration


def _without_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the entry-point registry look like an environment where no plugin is installed."""
    real = importlib.metadata.entry_points

    def no_hub_plugins(**params: str) -> importlib.metadata.EntryPoints:
        if params.get("group") == "hub.integrations":
            return importlib.metadata.EntryPoints([])
        return real(**params)

    monkeypatch.setattr(hub.integrations, "entry_points", no_hub_plugins)
    monkeypatch.setattr(hub.integrations, "_found", {})  # forget integrations found earlier in this process


@pytest.mark.parametrize(("name", "dist"), [("pytorch", "hub-torch"), ("tensorflow", "hub-tensorflow")])
def test_missing_plugin_says_what_to_install(monkeypatch: pytest.MonkeyPatch, name: str, dist: str) -> None:
    if importlib.util.find_spec(dist.replace("-", "_")) is not None:
        _without_plugins(monkeypatch)
    with pytest.raises(ImportError, match=f"pip install {dist}") as info:
        load_integration(name)
    assert isinstance(info.value, IntegrationNotInstalledError)


def test_an_imported_integration_registers_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """An integration module registers its hook when imported: no entry point is looked up for it."""
    _without_plugins(monkeypatch)

    def hook(ds: hub.Dataset) -> str:
        return "made"

    register_integration("example", hook)
    assert load_integration("example") is hook


def test_unknown_integration() -> None:
    with pytest.raises(IntegrationNotInstalledError, match="jax"):
        load_integration("jax")


def test_import_hub_imports_no_framework() -> None:
    code = (
        "import sys, hub, hub.storage, hub.storage._s3\n"
        "bad = sorted(m for m in ('torch', 'tensorflow', 'jax') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
