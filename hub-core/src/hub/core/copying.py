"""Copying a dataset to another storage: with its whole history (``hub.deepcopy``) or as one version (``copy``).

Stored objects are copied as they are (no decoding, no re-chunking) wherever the copy keeps whole tensors; a view's
samples are copied as stored bytes. Whatever the path, the destination's ``hub.json`` is written last, with
set-if-absent: until the copy is complete there is no dataset at the destination, so an interrupted copy never opens
as a partial dataset, and the source is only read.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from hub.core.chunk_index import ChunkIndex, chunk_key
from hub.core.meta import (
    ROOT_KEY,
    RootDoc,
    TensorMeta,
    VersionMeta,
    ids_key,
    new_id,
    new_sample_ids,
    node_meta_key,
)
from hub.core.tiles import TILED, TileManifest
from hub.errors import DatasetExistsError, SchedulerError, TensorNotFoundError, TransformOptionError
from hub.storage import Storage

if TYPE_CHECKING:
    from hub.core.dataset import Dataset

__all__ = ["select_tensors", "copy_history", "copy_version", "copy_view", "check_scheduler", "publish"]

_BATCH = 64  # objects fetched per get_many
_SAMPLE_BATCH = 256  # samples read per engine read when copying a view


def check_scheduler(scheduler: str, num_workers: int) -> int:
    """Hub 2.x's ``num_workers``/``scheduler`` of a call that moves stored bytes (copies, ``rechunk``), checked as an
    ``eval``'s are; the number of threads to use (0: this thread)."""
    from hub.transform._schedulers import SCHEDULERS

    if scheduler not in SCHEDULERS:
        raise SchedulerError(f"Unknown scheduler {scheduler!r}; choose one of {', '.join(SCHEDULERS)}.")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise TransformOptionError(f"num_workers must be 0 (run serially) or more, got {num_workers!r}.")
    return 0 if scheduler == "serial" else num_workers


def select_tensors(meta: VersionMeta, names: Sequence[str] | None, group: str = "") -> tuple[list[str], list[str]]:
    """(tensor keys, group keys) that Hub 2.x's ``tensors=`` picks in ``meta``: a group's name picks every tensor
    under it; ``None`` picks every visible tensor under ``group``. Names are relative to ``group``."""
    prefix = f"{group}/" if group else ""
    if names is None:
        return [k for k, t in meta.tensors.items() if k.startswith(prefix) and not t.hidden], []
    if isinstance(names, str):
        names = [names]
    keys: list[str] = []
    groups: list[str] = []
    for name in names:
        key = prefix + name.strip("/")
        if key in meta.tensors:
            keys.append(key)
        elif key in meta.groups:
            groups.append(key)
            keys += [k for k, t in meta.tensors.items() if k.startswith(key + "/") and not t.hidden]
        else:
            visible = [k[len(prefix) :] for k, t in meta.tensors.items() if k.startswith(prefix) and not t.hidden]
            raise TensorNotFoundError(
                f"tensors= names {name!r}, which is no tensor or group of the dataset; its tensors are {visible}."
            )
    return list(dict.fromkeys(keys)), groups


def _with_ids(meta: VersionMeta, keys: Sequence[str]) -> list[str]:
    """``keys`` and the hidden tensors holding their samples' stable ids."""
    ids = [ids_key(meta.tensors[k].id) for k in keys]
    return [*keys, *(k for k in ids if k in meta.tensors)]


def _parent_groups(keys: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    groups = dict.fromkeys(extra)
    for key in keys:
        parts = key.split("/")
        for i in range(1, len(parts)):
            groups["/".join(parts[:i])] = None
    return list(groups)


def prepare_target(source: Storage, target: Storage, overwrite: bool, creds: Any) -> None:
    """Refuse to copy onto the source or over a dataset (unless ``overwrite``, which deletes it first)."""
    from hub.api import _check_no_writer, _delete_storage

    if target.url.rstrip("/") == source.url.rstrip("/"):
        raise DatasetExistsError(f"Can't copy the dataset at {source.url} onto itself; give another destination.")
    if target.exists(ROOT_KEY):
        if not overwrite:
            raise DatasetExistsError(
                f"A dataset already exists at {target.url}; pass overwrite=True to replace it, or copy elsewhere."
            )
        _check_no_writer(target, creds)
        _delete_storage(target)


def _transfer(
    source: Storage,
    target: Storage,
    keys: list[str],
    workers: int,
    progressbar: bool,
    desc: str,
    replace: Callable[[str, bytes], bytes] | None = None,
) -> None:
    """Copy objects ``keys`` from ``source`` to ``target`` (``replace`` may rewrite a value), ``workers`` threads."""

    def batch(part: list[str]) -> int:
        for key, data in source.get_many(part).items():
            target.set(key, replace(key, data) if replace is not None else data)
        return len(part)

    parts = [keys[i : i + _BATCH] for i in range(0, len(keys), _BATCH)]
    with tqdm(total=len(keys), desc=desc, unit="object", disable=not progressbar) as bar:
        if workers > 0 and len(parts) > 1:
            with ThreadPoolExecutor(workers, thread_name_prefix="hub-copy") as pool:
                for done in pool.map(batch, parts):
                    bar.update(done)
        else:
            for part in parts:
                bar.update(batch(part))


def publish(target: Storage, heads: dict[str, str], tags: dict[str, str] | None = None) -> None:
    """Write the copy's ``hub.json``: from now on it is a dataset."""
    from hub import __version__

    root = RootDoc(heads, tags=tags or {}, created_by=f"hub-core {__version__}")
    if not target.set_if_absent(ROOT_KEY, root.tobytes()):
        raise DatasetExistsError(
            f"A dataset was created at {target.url} while copying to it; the copy was not published there."
        )


def copy_history(
    source: Storage,
    target: Storage,
    reference: VersionMeta,
    names: Sequence[str] | None,
    workers: int,
    progressbar: bool,
) -> None:
    """Copy every version, branch and tag of the dataset at ``source`` to ``target`` (``hub.deepcopy``).

    ``names`` (Hub 2.x's ``tensors=``, resolved in ``reference``, the version the caller sees) keeps only those
    tensors, in every version: a tensor is followed through the history by its id, so renames keep it.
    """
    root = RootDoc.frombytes(source.get(ROOT_KEY), f"{source.url}/{ROOT_KEY}")
    # The version documents first, then the objects they name: a writer working meanwhile only adds objects.
    meta_keys = [k for k in source.list("versions/") if k.endswith("/meta.json")]
    documents = source.get_many(meta_keys)
    replaced: dict[str, bytes] = {}
    keep_ids: set[str] | None = None
    if names is not None:
        keys, named_groups = select_tensors(reference, names)
        wanted = {reference.tensors[k].id for k in keys}
        keep_ids = set()
        for key, data in documents.items():
            meta = VersionMeta.frombytes(data, f"{source.url}/{key}")
            kept = [k for k, t in meta.tensors.items() if t.id in wanted]
            kept = _with_ids(meta, kept)
            meta.tensors = {k: meta.tensors[k] for k in kept}
            meta.groups = [g for g in meta.groups if g in _parent_groups(kept, named_groups)]
            keep_ids |= {t.id for t in meta.tensors.values()}
            replaced[key] = meta.tobytes()

    def wanted_key(key: str) -> bool:
        if key == ROOT_KEY or key.startswith("locks/") or key in documents:
            return False
        if keep_ids is not None and key.startswith(("chunks/", "indexes/")):
            return key.split("/")[1] in keep_ids
        return True

    objects = [k for k in source.list() if wanted_key(k)]
    _transfer(source, target, objects, workers, progressbar, "Copying dataset")
    for key, data in documents.items():
        target.set(key, replaced.get(key, data))
    publish(target, dict(root.heads), dict(root.tags))


def _version_objects(source: Storage, meta: VersionMeta) -> list[str]:
    """Every object the tensors of ``meta`` name: chunk indexes, chunks, tile manifests and their tiles."""
    objects: list[str] = []
    indexes = [t.index for t in meta.tensors.values() if t.index is not None]
    by_index = {t.index: t for t in meta.tensors.values() if t.index is not None}
    for key, data in source.get_many(indexes).items():
        tensor = by_index[key]
        entries = ChunkIndex.frombytes(data, key).entries
        objects.append(key)
        chunks = [chunk_key(tensor.id, int(c)) for c in entries["id"]]
        objects += chunks
        manifests = [chunk_key(tensor.id, int(c)) for c in entries["id"][(entries["flags"] & TILED) != 0]]
        for m_key, m_data in source.get_many(manifests).items():
            objects += [chunk_key(tensor.id, t) for t in TileManifest.frombytes(m_data, m_key).tile_ids]
    return list(dict.fromkeys(objects))


def _fresh(meta: TensorMeta, created: bool) -> TensorMeta:
    """A tensor's metadata as in the first version of a new dataset (no commit holds any of its objects)."""
    out = TensorMeta.from_dict(meta.to_dict())
    out.sealed, out.base_index = 0, None
    out.changes = {"created": True} if created else {}
    return out


def copy_version(
    source: Storage,
    meta: VersionMeta,
    target: Storage,
    names: Sequence[str] | None,
    workers: int,
    progressbar: bool,
) -> None:
    """Copy one version (``meta``, flushed) of the dataset at ``source`` to ``target`` as a new dataset without
    history: one uncommitted version on branch ``main`` holding that state (Hub 2.x's ``copy``)."""
    if names is None:
        keys, groups = list(meta.tensors), list(meta.groups)  # hidden tensors too
    else:
        keys, named_groups = select_tensors(meta, names)
        keys = _with_ids(meta, keys)
        groups = [g for g in meta.groups if g in _parent_groups(keys, named_groups)]
    id_tensors = {ids_key(t.id) for t in meta.tensors.values()}
    out = meta.copy()
    out.parent, out.changed, out.changes = None, True, {}
    out.groups = groups
    out.tensors = {k: _fresh(meta.tensors[k], created=k not in id_tensors) for k in keys}
    _transfer(source, target, _version_objects(source, out), workers, progressbar, "Copying dataset")
    node = new_id()
    target.set(node_meta_key(node), out.tobytes())
    publish(target, {"main": node})


def copy_view(
    view: Dataset,
    target: Storage,
    creds: Any,
    names: Sequence[str] | None,
    progressbar: bool,
    info: dict[str, Any] | None = None,
) -> None:
    """Copy the samples a view (or group) selects to ``target``, a new dataset without history; stored bytes are
    copied as they are (a tiled sample is cut into tiles again). ``info`` is added to the copy's dataset info."""
    from hub.core.dataset import DEFAULT_BRANCH, Dataset, _State
    from hub.core.lock import acquire

    src = view._state
    keys, named_groups = select_tensors(src.meta, names, view._group)
    cut = len(view._group) + 1 if view._group else 0
    selected = view.index.array() if view.index is not None else None
    node = new_id()
    meta = src.meta.copy()
    meta.parent, meta.changed, meta.changes = None, True, {}
    meta.info = dict(meta.info) if not view._group else {}
    meta.info.update(info or {})
    meta.groups = _parent_groups([k[cut:] for k in keys], [g[cut:] for g in named_groups])
    meta.tensors = {}
    for key in _with_ids(src.meta, keys):
        empty = _fresh(src.meta.tensors[key], created=key in keys)
        empty.length, empty.index, empty.min_shape, empty.max_shape = 0, None, None, None
        meta.tensors[key[cut:] if key in keys else key] = empty
    target.set(node_meta_key(node), meta.tobytes())
    # Staged: a dataset with a working version and a lock, but no hub.json until every sample is in.
    out = Dataset(_State(target, creds, node, meta, False, DEFAULT_BRANCH, acquire(target, DEFAULT_BRANCH)))
    state = out._state
    total = sum(len(selected) if selected is not None else src.meta.tensors[k].length for k in keys)
    with out, tqdm(total=total, desc="Copying dataset", unit="sample", disable=not progressbar) as bar:
        for key in keys:
            name = key[cut:]
            engine, source = state.engine(name), src.engine(key)
            wanted = selected if selected is not None else np.arange(source.meta.length)
            for start in range(0, len(wanted), _SAMPLE_BATCH):
                part = wanted[start : start + _SAMPLE_BATCH]
                samples: list[Any] = []
                for data, shape in source.read(part):
                    if isinstance(data, TileManifest):
                        engine.append(samples)
                        samples = []
                        engine.append_manifest(_copy_tiles(src.storage, target, source.meta.id, data), shape)
                    else:
                        samples.append((bytes(data), shape))
                engine.append(samples)
                state.append_ids(name, new_sample_ids(len(part)))
                bar.update(len(part))
        state.meta_dirty = True
    out.close()
    publish(target, {DEFAULT_BRANCH: node})


def _copy_tiles(source: Storage, target: Storage, tensor_id: str, manifest: TileManifest) -> int:
    """Copy a tiled sample's tiles as they are and write its manifest under a new id; return that id."""
    tiles = source.get_many([chunk_key(tensor_id, t) for t in manifest.tile_ids])
    for key, data in tiles.items():
        target.set(key, data)
    manifest_id = secrets.randbits(64)
    target.set(chunk_key(tensor_id, manifest_id), manifest.tobytes())
    return manifest_id
