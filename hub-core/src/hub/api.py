"""Top-level functions: create, open, copy and remove datasets; read files as samples."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

from hub.core.copying import check_scheduler, copy_history, prepare_target, select_tensors
from hub.core.dataset import Dataset
from hub.core.meta import ROOT_KEY
from hub.core.views import is_external as is_external_view
from hub.core.views import load_external as load_external_view
from hub.errors import (
    CorruptDatasetError,
    DatasetExistsError,
    DatasetNotFoundError,
    DatasetOptionError,
    FormatVersionError,
    ReadOnlyError,
)
from hub.storage import Storage, storage_from_url

__all__ = ["empty", "load", "dataset", "exists", "delete", "rename", "like", "copy", "deepcopy"]

PathLike = str | os.PathLike[str]


def _storage(path: PathLike, creds: Any, read_only: bool = False) -> Storage:
    return storage_from_url(os.fspath(path), creds=creds, read_only=read_only)


def _hub2_options(local_cache_size: int = 0, access_method: str = "stream") -> None:
    """Checks Hub 2.x's keywords of ``hub.empty``/``load``/``dataset``, taken so that its users' calls run unchanged.

    ``token`` and ``public`` concern Activeloop's hub:// service, which hub doesn't talk to; ``verbose`` chose
    whether Hub 2.x printed a line on opening (hub prints nothing); ``memory_cache_size`` sized Hub 2.x's read cache
    (hub keeps metadata and chunk indexes in memory and reads chunk data by byte range, or whole chunks in the
    loaders). A local disk cache (``local_cache_size``) and other access methods than streaming are not offered.
    """
    if access_method != "stream":
        raise DatasetOptionError(
            f"access_method={access_method!r} is not supported; hub streams from where the dataset is "
            "(access_method='stream'). To read a remote dataset from local disk, copy it: "
            "hub.deepcopy(src, local_path)."
        )
    if local_cache_size:
        warnings.warn(
            "local_cache_size has no effect: hub keeps no local disk cache. To read a remote dataset from local disk, "
            "copy it: hub.deepcopy(src, local_path).",
            stacklevel=3,
        )


def exists(path: PathLike, creds: Any = None, token: str | None = None) -> bool:
    """Whether a hub dataset exists at ``path`` (Hub 2.x's ``token`` is taken; see ``docs/api.md``)."""
    return _storage(path, creds, read_only=True).exists(ROOT_KEY)


def empty(
    path: PathLike,
    overwrite: bool = False,
    creds: Any = None,
    *,
    public: bool = False,
    memory_cache_size: int = 256,
    local_cache_size: int = 0,
    token: str | None = None,
    verbose: bool = True,
) -> Dataset:
    """Create an empty dataset at ``path``; with ``overwrite=True`` an existing one is deleted first.

    Hub 2.x's ``public``, ``memory_cache_size``, ``local_cache_size``, ``token`` and ``verbose`` are taken too (see
    ``docs/api.md``).
    """
    _hub2_options(local_cache_size)
    storage = _storage(path, creds)
    if storage.exists(ROOT_KEY):
        if not overwrite:
            raise DatasetExistsError(
                f"A dataset already exists at {storage.url}. Open it with hub.load(), "
                "or pass overwrite=True to replace it."
            )
        _check_no_writer(storage, creds)
        _delete_storage(storage)
    return Dataset._create(storage, creds)


def _check_no_writer(storage: Storage, creds: Any) -> None:
    """Raise LockedError if another writer works on the dataset's default branch."""
    try:
        Dataset._open(storage, creds, read_only=False).close()
    except (CorruptDatasetError, FormatVersionError):
        pass  # nothing readable to protect: replacing it is what the caller wants


def _split_version(path: PathLike, version: str | None) -> tuple[str, str | None]:
    text = os.fspath(path)
    head, sep, tail = text.rpartition("@")
    if sep and tail and "/" not in tail and version is None:
        return head, tail
    return text, version


def load(
    path: PathLike,
    read_only: bool | None = None,
    creds: Any = None,
    version: str | None = None,
    *,
    memory_cache_size: int = 256,
    local_cache_size: int = 0,
    token: str | None = None,
    verbose: bool = True,
    access_method: str = "stream",
) -> Dataset:
    """Open the dataset at ``path`` (read-only if ``read_only=True``).

    ``version`` (or ``path@version``) picks a branch, tag or commit; the default is ``main``.
    Opening a branch for writing takes its writer lock: if another writer holds it,
    :class:`~hub.errors.LockedError` names it (open with ``read_only=True`` to read instead).
    Hub 2.x's ``memory_cache_size``, ``local_cache_size``, ``token``, ``verbose`` and ``access_method`` are taken
    too (see ``docs/api.md``).
    """
    _hub2_options(local_cache_size, access_method)
    text, version = _split_version(path, version)
    storage = _storage(text, creds, read_only=bool(read_only))
    ds = Dataset._open(storage, creds, bool(read_only), version)
    if is_external_view(ds):  # saved with view.save_view(path=...): the view of its source, as Hub 2.x loaded it
        return load_external_view(ds, creds)
    return ds


def dataset(
    path: PathLike,
    read_only: bool | None = None,
    overwrite: bool = False,
    creds: Any = None,
    *,
    public: bool = False,
    memory_cache_size: int = 256,
    local_cache_size: int = 0,
    token: str | None = None,
    verbose: bool = True,
    access_method: str = "stream",
) -> Dataset:
    """Open the dataset at ``path``, creating it if there is none (Hub 2.x's keywords as :func:`load`)."""
    _hub2_options(local_cache_size, access_method)
    if overwrite or not exists(path, creds):
        if read_only:
            raise DatasetNotFoundError(f"No dataset at {os.fspath(path)} to open read-only.")
        try:
            return empty(path, overwrite=overwrite, creds=creds)
        except DatasetExistsError:
            pass  # created by someone else in between: open theirs
    return load(path, read_only=read_only, creds=creds)


def delete(
    path: PathLike,
    force: bool = False,
    large_ok: bool = False,
    creds: Any = None,
    token: str | None = None,
    verbose: bool = False,
) -> None:
    """Remove the dataset at ``path`` and everything stored under it (``force=True``: whatever is at ``path``).

    Hub 2.x's ``large_ok``, ``token`` and ``verbose`` are taken and change nothing (see ``docs/api.md``).
    """
    storage = _storage(path, creds)
    if not storage.exists(ROOT_KEY) and not force:
        raise DatasetNotFoundError(f"No dataset at {storage.url} to delete (pass force=True to clear the path).")
    if not force:
        _check_no_writer(storage, creds)
    _delete_storage(storage)


def _delete_storage(storage: Storage) -> None:
    # The root document goes first, so an interrupted delete leaves no half-dataset that still opens.
    storage.delete(ROOT_KEY)
    storage.delete_prefix("")


def copy(
    src: PathLike | Dataset,
    dest: PathLike,
    tensors: Sequence[str] | None = None,
    overwrite: bool = False,
    src_creds: Any = None,
    src_token: str | None = None,
    dest_creds: Any = None,
    dest_token: str | None = None,
    num_workers: int = 0,
    scheduler: str = "threaded",
    progressbar: bool = True,
) -> Dataset:
    """Copy the current version of ``src`` (a path, a dataset or a view) to ``dest``, without its history.

    A path is opened read-only at its default branch. ``tensors`` keeps only those tensors (a group's name keeps
    every tensor under it). See :meth:`Dataset.copy`; :func:`deepcopy` copies every version.
    """
    source = src if isinstance(src, Dataset) else load(src, read_only=True, creds=src_creds)
    return source.copy(
        dest,
        tensors=tensors,
        overwrite=overwrite,
        creds=dest_creds,
        num_workers=num_workers,
        scheduler=scheduler,
        progressbar=progressbar,
    )


def deepcopy(
    src: PathLike | Dataset,
    dest: PathLike,
    tensors: Sequence[str] | None = None,
    overwrite: bool = False,
    src_creds: Any = None,
    src_token: str | None = None,
    dest_creds: Any = None,
    dest_token: str | None = None,
    num_workers: int = 0,
    scheduler: str = "threaded",
    progressbar: bool = True,
    public: bool = False,
    verbose: bool = True,
) -> Dataset:
    """Copy the dataset at ``src`` to ``dest`` with every version, branch and tag, its objects as they are.

    ``tensors`` keeps only those tensors (named as in the version ``src`` opens at) in every version.
    ``num_workers`` threads copy objects (``scheduler="serial"``: this thread alone); a tqdm bar counts them when
    ``progressbar``. ``dest`` becomes a dataset only when the copy is complete. Hub 2.x's ``src_token``,
    ``dest_token``, ``public`` and ``verbose`` are taken and change nothing (see ``docs/api.md``).
    """
    workers = check_scheduler(scheduler, num_workers)
    if isinstance(src, Dataset):
        src.flush()
        reference = src
    else:
        reference = load(src, read_only=True, creds=src_creds)
    target = _storage(dest, dest_creds)
    prepare_target(reference.storage, target, overwrite, dest_creds)
    copy_history(reference.storage, target, reference.meta, _names(tensors), workers, progressbar)
    return load(dest, creds=dest_creds)


def _names(tensors: Sequence[str] | str | None) -> list[str] | None:
    return [tensors] if isinstance(tensors, str) else None if tensors is None else list(tensors)


def rename(old_path: PathLike, new_path: PathLike, creds: Any = None, token: str | None = None) -> Dataset:
    """Move the dataset at ``old_path`` to ``new_path`` with its whole history; returns it, opened there.

    See :meth:`Dataset.rename`. Hub 2.x's ``token`` is taken and changes nothing.
    """
    ds = load(old_path, creds=creds)
    ds.rename(new_path)
    return ds


def like(
    dest: PathLike | Dataset,
    src: PathLike | Dataset,
    tensors: Sequence[str] | None = None,
    overwrite: bool = False,
    creds: Any = None,
    token: str | None = None,
    public: bool = False,
) -> Dataset:
    """An empty dataset at ``dest`` with the tensors (htypes, dtypes, compressions, info) of ``src``.

    ``tensors`` picks which (a group's name picks every tensor under it); ``dest`` may be a dataset to add them to.
    Hub 2.x's ``token`` and ``public`` are taken and change nothing.
    """
    source = src if isinstance(src, Dataset) else load(src, read_only=True, creds=creds)
    out = dest if isinstance(dest, Dataset) else empty(dest, overwrite=overwrite, creds=creds)
    if out.read_only:
        raise ReadOnlyError(f"{out.path} is read-only; open it with read_only=False to add tensors to it.")
    keys, groups = select_tensors(source.meta, _names(tensors), source._group)
    cut = len(source._group) + 1 if source._group else 0
    with out:
        for group in groups:
            out.create_group(group[cut:], exist_ok=True)
        for key in keys:
            if overwrite and key[cut:] in out.tensors:
                out.delete_tensor(key[cut:])
            out.create_tensor_like(key[cut:], source._tensor(key))
        out.info.update(source.info.to_dict())
    return out
