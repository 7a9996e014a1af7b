"""URL schemes map to providers; unknown schemes and missing extras fail clearly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hub.errors import HubError, MissingDependencyError, UnsupportedSchemeError
from hub.storage import LocalStorage, MemoryStorage, registered_schemes, storage_from_url


def test_builtin_schemes_registered() -> None:
    assert {"mem", "file", "s3", "gcs", "gcp"} <= set(registered_schemes())


def test_scheme_dispatch(tmp_path: Path) -> None:
    assert isinstance(storage_from_url("mem://x"), MemoryStorage)
    assert isinstance(storage_from_url(str(tmp_path)), LocalStorage)
    assert isinstance(storage_from_url(tmp_path), LocalStorage)  # type: ignore[arg-type]
    assert type(storage_from_url("s3://bucket/prefix")).__name__ == "S3Storage"


def test_read_only_flag_passed_on(tmp_path: Path) -> None:
    assert storage_from_url(str(tmp_path), read_only=True).read_only
    assert storage_from_url("mem://ro", read_only=True).read_only


def test_unknown_scheme() -> None:
    with pytest.raises(UnsupportedSchemeError, match=r"ftp://.*s3://") as info:
        storage_from_url("ftp://host/path")
    assert isinstance(info.value, HubError) and isinstance(info.value, ValueError)


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hide the optional package the way an environment without it would.
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)
    monkeypatch.delitem(sys.modules, "hub.storage._gcs", raising=False)
    with pytest.raises(MissingDependencyError, match=r"pip install 'hub-core\[gcp\]'") as info:
        storage_from_url("gcs://bucket/x")
    assert isinstance(info.value, ImportError)
