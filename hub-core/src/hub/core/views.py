"""Saved views (Hub 2.x's ``save_view``): which samples of which commit, kept under an id in ``views.json``.

A saved view is metadata: it never changes a version's contents and is not an uncommitted change. Its data (a
selection object, an optimized copy) is written first under a fresh ``views/<uid>/`` prefix; the entry naming it is
then published by compare-and-swap of ``views.json``, so concurrent savers never lose each other's views and an
interrupted save leaves at worst unreferenced objects. See ``docs/format.md``, "Saved views".
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.core.meta import FORMAT_VERSION, check_format_version, new_id
from hub.core.selection import Selection
from hub.errors import (
    CorruptDatasetError,
    DatasetViewSavingError,
    KeyNotFoundError,
    ReadOnlyError,
    ViewNotFoundError,
)
from hub.storage import Storage

if TYPE_CHECKING:
    from hub.core.dataset import Dataset

__all__ = ["ViewEntry", "save", "entries", "entry", "delete", "VIEWS_KEY"]

VIEWS_KEY = "views.json"
_MAGIC = b"HUBV"
_HEADER = struct.Struct("<4sBBHQ")  # magic, major, minor, reserved, count


def _new_uid() -> str:
    """The random name of a ``views/<uid>/`` prefix (a fresh one for every object written)."""
    return new_id()


# ------------------------------------------------------------------ the document
def _parse(data: bytes, what: str) -> dict[str, dict[str, Any]]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptDatasetError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("views"), dict):
        raise CorruptDatasetError(f"{what} has no 'views' object.")
    check_format_version(doc, what)
    return dict(doc["views"])


def _dump(views: dict[str, dict[str, Any]]) -> bytes:
    doc = {"format_version": FORMAT_VERSION, "views": views}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def read_all(storage: Storage) -> dict[str, dict[str, Any]]:
    """Every saved view's entry, by id ({} when none was ever saved)."""
    try:
        data = storage.get(VIEWS_KEY)
    except KeyNotFoundError:
        return {}
    return _parse(data, f"{storage.url}/{VIEWS_KEY}")


def _update(storage: Storage, change: Callable[[dict[str, dict[str, Any]]], None]) -> dict[str, dict[str, Any]]:
    """Apply ``change`` to the entries by compare-and-swap of ``views.json``, retrying on concurrent updates."""
    for _ in range(1000):
        try:
            data, token = storage.get_with_token(VIEWS_KEY)
            views = _parse(data, f"{storage.url}/{VIEWS_KEY}")
        except KeyNotFoundError:
            token, views = None, {}
        change(views)
        if storage.compare_and_swap(VIEWS_KEY, _dump(views), token) is not None:
            return views
    raise DatasetViewSavingError(f"{storage.url}/{VIEWS_KEY} kept changing under this writer; try again.")


def _prefixes(info: dict[str, Any]) -> list[str]:
    """The ``views/<uid>/`` prefixes an entry's objects live under."""
    out = []
    selection = info.get("selection") or {}
    if "key" in selection:
        out.append(selection["key"].rsplit("/", 1)[0] + "/")
    if info.get("optimized"):
        out.append(info["optimized"] + "/")
    return out


def _delete_objects(storage: Storage, creds: Any, prefixes: list[str]) -> None:
    for prefix in prefixes:
        if prefix.startswith("views/"):
            storage.delete_prefix(prefix)
            if storage.url.startswith("mem://"):  # an optimized copy there is a store of its own
                _nested(storage, creds, prefix.rstrip("/")).delete_prefix("")


def _nested(storage: Storage, creds: Any, prefix: str, read_only: bool = False) -> Storage:
    """The storage of an optimized copy: ``<dataset url>/<prefix>``, inside the dataset's storage (except that on
    ``mem://`` a name with a suffix is a store of its own)."""
    from hub.storage import storage_from_url

    return storage_from_url(f"{storage.url.rstrip('/')}/{prefix}", creds=creds, read_only=read_only)


# ------------------------------------------------------------- selection objects
def _selection_bytes(indices: np.ndarray) -> bytes:
    return _HEADER.pack(_MAGIC, 1, 0, 0, len(indices)) + np.ascontiguousarray(indices, dtype="<i8").tobytes()


def _selection_from_bytes(data: bytes, what: str) -> np.ndarray:
    if len(data) < _HEADER.size:
        raise CorruptDatasetError(f"{what} is too short to be a saved view's selection.")
    magic, major, _, _, count = _HEADER.unpack_from(data)
    if magic != _MAGIC or major != 1 or len(data) != _HEADER.size + 8 * count:
        raise CorruptDatasetError(f"{what} is not a saved view's selection (format 1.x).")
    return np.frombuffer(data, dtype="<i8", offset=_HEADER.size).astype(np.int64)


def _describe(selection: Selection | None) -> tuple[dict[str, Any] | None, np.ndarray | None]:
    """(the entry's ``selection``, the indices to store in an object, if any)."""
    if selection is None:
        return None, None
    items = selection.items
    if isinstance(items, range):
        return {"range": [items.start, items.stop, items.step]}, None
    return {"length": len(items)}, np.asarray(items, dtype=np.int64)


def _view_hash(url: str, commit: str, group: str, selection: Selection | None) -> str:
    """Hub 2.x's generated id: a hash of the dataset, version and samples (the same view saved twice: the same id)."""
    h = hashlib.sha256(f"{url}\0{commit}\0{group}\0".encode())
    if selection is None:
        h.update(b"all")
    else:
        h.update(b"scalar" if selection.scalar else b"list")
        h.update(selection.array().astype("<i8").tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------- saving
def _check_writable(ds: Dataset, what: str) -> None:
    if ds._state.read_only or ds._state.storage.read_only:
        raise ReadOnlyError(
            f"The dataset at {ds.path} is open read-only, so {what} load it with hub.load(path, read_only=False)."
        )


def _commit_of(view: Dataset) -> str:
    state = view._state
    if view.has_head_changes:
        raise DatasetViewSavingError(
            f"Branch {state.branch!r} of {view.path} has uncommitted changes, which a saved view could not name: "
            "commit them first (ds.commit()), then save the view."
        )
    commit = state.commit_id
    if commit is None:
        raise DatasetViewSavingError(
            f"The dataset at {view.path} has no commit yet, and a saved view names the commit it is of: "
            "commit first (ds.commit()), then save the view."
        )
    return commit


def _open_version(view: Dataset, commit: str) -> Dataset:
    """The dataset of ``view`` opened read-only at ``commit`` (a fresh, lock-free object)."""
    from hub.core.dataset import Dataset
    from hub.storage import storage_from_url

    state = view._state
    storage = storage_from_url(state.storage.url, creds=state.creds, read_only=True)
    out = Dataset._open(storage, state.creds, True, commit)
    out._state.links.creds.update(state.links.creds)
    return out


def _restrict(ds: Dataset, group: str, selection: Selection | None) -> Dataset:
    from hub.core.dataset import Dataset

    return Dataset(ds._state, selection, group)


def save(
    view: Dataset,
    message: str | None,
    id: str | None,
    optimize: bool,
    progressbar: bool,
) -> str:
    """Save ``view`` in its dataset's ``views.json``; returns the id."""
    from hub.core.copying import copy_view

    state = view._state
    _check_writable(view, "a view can't be saved in it; save it elsewhere with save_view(path=...), or")
    if id is not None and (not isinstance(id, str) or not id):
        raise DatasetViewSavingError(f"A view's id is a non-empty string, got {id!r}.")
    commit = _commit_of(view)
    selection = view._selection
    view_id = id if id is not None else _view_hash(view.path, commit, view._group, selection)
    described, indices = _describe(selection)
    info: dict[str, Any] = {
        "commit": commit,
        "message": message,
        "time": time.time(),
        "group": view._group,
        "scalar": bool(selection is not None and selection.scalar),
        "selection": described,
        "optimized": None,
    }
    written: list[str] = []
    try:
        if indices is not None:
            uid = _new_uid()
            written.append(f"views/{uid}/")
            key = f"views/{uid}/selection"
            state.storage.set(key, _selection_bytes(indices))
            info["selection"] = {**described, "key": key}  # type: ignore[dict-item]
        if optimize:
            uid = _new_uid()
            written.append(f"views/{uid}/")
            source = _restrict(_open_version(view, commit), view._group, selection)
            copy_view(source, _nested(state.storage, state.creds, f"views/{uid}"), state.creds, None, progressbar)
            info["optimized"] = f"views/{uid}"
        replaced: list[dict[str, Any]] = []

        def publish(views: dict[str, dict[str, Any]]) -> None:
            replaced[:] = [views[view_id]] if view_id in views else []
            views[view_id] = info

        _update(state.storage, publish)
    except BaseException:
        _delete_objects(state.storage, state.creds, written)
        raise
    for old in replaced:
        _delete_objects(state.storage, state.creds, _prefixes(old))
    return view_id


def optimize(ds: Dataset, view_id: str, progressbar: bool) -> dict[str, Any]:
    """Give saved view ``view_id`` an optimized copy (if it has none); returns its new entry."""
    from hub.core.copying import copy_view

    storage = ds._state.storage
    _check_writable(ds, "its views can't be optimized;")
    info = entry(ds, view_id)
    if info.get("optimized"):
        return info
    uid = _new_uid()
    prefix = f"views/{uid}"
    try:
        copy_view(
            _load_virtual(ds, info), _nested(storage, ds._state.creds, prefix), ds._state.creds, None, progressbar
        )

        def publish(views: dict[str, dict[str, Any]]) -> None:
            if views.get(view_id) != info:
                raise DatasetViewSavingError(
                    f"View {view_id!r} was changed or deleted by another writer while it was being optimized; "
                    "get it again (ds.get_view(id)) and optimize it then."
                )
            views[view_id] = {**info, "optimized": prefix}

        new = _update(storage, publish)[view_id]
    except BaseException:
        _delete_objects(storage, ds._state.creds, [prefix + "/"])
        raise
    return new


# ------------------------------------------------------------ external views
#: Hub 2.x's ``**ds_args`` of ``save_view(path=...)``: the keywords of ``hub.empty``.
_DS_ARGS = {"overwrite", "creds", "public", "memory_cache_size", "local_cache_size", "token", "verbose"}
#: The tensor of an external virtual view that holds its sample indices (Hub 2.x's name).
VDS_INDEX = "VDS_INDEX"


def save_external(
    view: Dataset,
    path: str,
    message: str | None,
    id: str | None,
    optimize: bool,
    progressbar: bool,
    ds_args: dict[str, Any],
) -> str:
    """Save ``view`` as a dataset of its own at ``path`` (Hub 2.x's ``save_view(path=...)``); returns ``path``.

    Optimized: a copy of the samples. Virtual: a dataset whose info names the source and commit and whose hidden
    ``VDS_INDEX`` tensor holds the indices; :func:`hub.load` of it gives the view. Either way ``hub.json`` is written
    last, so an interrupted save leaves no dataset at ``path``.
    """
    from hub.api import _storage
    from hub.core.copying import copy_view, prepare_target, publish
    from hub.core.dataset import DEFAULT_BRANCH, Dataset, _State
    from hub.core.lock import acquire
    from hub.core.meta import VersionMeta, node_meta_key
    from hub.errors import DatasetOptionError

    unknown = sorted(set(ds_args) - _DS_ARGS)
    if unknown:
        raise DatasetOptionError(
            f"save_view(path=...) takes the keywords of hub.empty for the new dataset ({sorted(_DS_ARGS)}), "
            f"not {unknown}."
        )
    creds = ds_args.get("creds")
    commit = _commit_of(view)
    selection = view._selection
    view_id = id if id is not None else _view_hash(view.path, commit, view._group, selection)
    info: dict[str, Any] = {
        "virtual-datasource": not optimize,
        "source-dataset": view.path,
        "source-dataset-version": commit,
        "source-dataset-group": view._group,
        "scalar": bool(selection is not None and selection.scalar),
        "id": view_id,
        "created_at": time.time(),
    }
    if message is not None:
        info["message"] = message
    target = _storage(path, creds)
    prepare_target(view.storage, target, bool(ds_args.get("overwrite", False)), creds)
    source = _restrict(_open_version(view, commit), view._group, selection)
    if optimize:
        copy_view(source, target, creds, None, progressbar, info=info)
        return path
    node = new_id()
    meta = VersionMeta(info=info, changed=True)
    target.set(node_meta_key(node), meta.tobytes())
    out = Dataset(_State(target, creds, node, meta, False, DEFAULT_BRANCH, acquire(target, DEFAULT_BRANCH)))
    indices = selection.array() if selection is not None else np.arange(len(source), dtype=np.int64)
    with out:
        out.create_tensor(VDS_INDEX, dtype="uint64", hidden=True).extend(indices.astype(np.uint64))
    out.close()
    publish(target, {DEFAULT_BRANCH: node})
    return path


def is_external(ds: Dataset) -> bool:
    """Whether ``ds`` is a virtual view saved with ``save_view(path=...)`` (``hub.load`` gives its view)."""
    info = ds._state.meta.info
    return info.get("virtual-datasource") is True and "source-dataset" in info and VDS_INDEX in ds._state.meta.tensors


def load_external(ds: Dataset, creds: Any) -> Dataset:
    """The view a virtual external view ``ds`` names: its source dataset (opened read-only with ``creds``) at the
    commit it was saved at, restricted to its samples."""
    from hub.core.dataset import Dataset
    from hub.storage import storage_from_url

    info = dict(ds._state.meta.info)
    indices = np.asarray(ds[VDS_INDEX].numpy(), dtype=np.int64).reshape(-1)
    ds.close()
    storage = storage_from_url(info["source-dataset"], creds=creds, read_only=True)
    source = Dataset._open(storage, creds, True, info["source-dataset-version"])
    return _restrict(source, info.get("source-dataset-group", ""), Selection(indices, bool(info.get("scalar"))))


# ---------------------------------------------------------------------- reading
def entry(ds: Dataset, view_id: str) -> dict[str, Any]:
    views = read_all(ds._state.storage)
    if view_id not in views:
        raise ViewNotFoundError(
            f"No view with id {view_id!r} is saved in the dataset at {ds.path}; "
            f"ds.get_views() lists the views of a commit (saved: {sorted(views)})."
        )
    return views[view_id]


def entries(ds: Dataset) -> dict[str, dict[str, Any]]:
    return read_all(ds._state.storage)


def _load_virtual(ds: Dataset, info: dict[str, Any]) -> Dataset:
    source = _open_version(ds, info["commit"])
    described = info.get("selection")
    selection: Selection | None
    if described is None:
        selection = None
    elif "range" in described:
        selection = Selection(range(*described["range"]), bool(info.get("scalar")))
    else:
        key = described["key"]
        selection = Selection(_selection_from_bytes(source.storage.get(key), f"{ds.path}/{key}"), bool(info["scalar"]))
    return _restrict(source, info.get("group", ""), selection)


def load(ds: Dataset, info: dict[str, Any]) -> Dataset:
    """The saved view of ``info``: the samples it selects in the commit it is of, or its optimized copy; read-only."""
    from hub.core.dataset import Dataset

    if not info.get("optimized"):
        return _load_virtual(ds, info)
    state = ds._state
    storage = _nested(state.storage, state.creds, info["optimized"], read_only=True)
    out = Dataset._open(storage, state.creds, True)
    out._state.links.creds.update(state.links.creds)
    return out[0] if info.get("scalar") else out


def delete(ds: Dataset, view_id: str) -> None:
    """Remove the entry (by compare-and-swap), then its objects."""
    state = ds._state
    _check_writable(ds, "its views can't be deleted;")
    removed: list[dict[str, Any]] = []

    def drop(views: dict[str, dict[str, Any]]) -> None:
        if view_id not in views:
            raise ViewNotFoundError(
                f"No view with id {view_id!r} is saved in the dataset at {ds.path}, so none was deleted; "
                f"saved: {sorted(views)}."
            )
        removed[:] = [views.pop(view_id)]

    _update(state.storage, drop)
    for info in removed:
        _delete_objects(state.storage, state.creds, _prefixes(info))


# ------------------------------------------------------------------- the entry
@dataclass
class ViewEntry:
    """A view saved in a dataset (Hub 2.x's ``ViewEntry``): its id, message, commit; ``load()`` gives the samples."""

    info: dict[str, Any]
    _id: str
    _ds: Dataset

    def __getitem__(self, key: str) -> Any:
        return self.info[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.info.get(key, default)

    @property
    def id(self) -> str:
        return self._id

    @property
    def message(self) -> str:
        return self.info.get("message") or ""

    @property
    def commit_id(self) -> str:
        """The commit the view is of."""
        return str(self.info["commit"])

    @property
    def query(self) -> str | None:
        """Hub 2.x's query text of a view made by ``ds.filter(<query string>)``; hub's filters take functions."""
        return None

    @property
    def virtual(self) -> bool:
        """Whether the view reads its samples from the dataset (not optimized) rather than from a copy of them."""
        return not self.info.get("optimized")

    @property
    def source_dataset_path(self) -> str:
        return self._ds.path

    def load(self, verbose: bool = True) -> Dataset:
        """The view, read-only, at the commit it was saved at (Hub 2.x's ``verbose`` prints nothing here)."""
        return load(self._ds, self.info)

    def optimize(
        self, unlink: bool = True, num_workers: int = 0, scheduler: str = "threaded", progressbar: bool = True
    ) -> ViewEntry:
        """Copy the view's samples (stored bytes as they are) into a compact dataset of their own, so it loads fast.

        Hub 2.x's ``unlink`` is taken: link tensors are copied as links. ``num_workers``/``scheduler`` are checked.
        """
        from hub.core.copying import check_scheduler

        check_scheduler(scheduler, num_workers)
        self.info = optimize(self._ds, self._id, progressbar)
        return self

    def delete(self) -> None:
        delete(self._ds, self._id)

    def __str__(self) -> str:
        return f"View(id={self.id!r}, message={self.message!r}, virtual={self.virtual})"

    __repr__ = __str__
