"""``Dataset``: named tensors and groups over one storage, and lazy views of their samples."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from hub.core import changes, versioning
from hub.core.engine import TensorEngine
from hub.core.htypes import OBJECT_HTYPES, get_htype
from hub.core.info import Info
from hub.core.links import ENV, LinkResolver
from hub.core.lock import Lease, acquire, release_on_collect
from hub.core.meta import ROOT_KEY, RootDoc, TensorMeta, VersionMeta, ids_key, new_id, new_sample_ids, node_meta_key
from hub.core.polygons import RAGGED, is_ragged_polygon
from hub.core.samples import SampleEncoder, codec_for, empty_sample
from hub.core.selection import Selection, pop_position
from hub.core.summary import TENSOR_COLUMNS, table, tensor_row
from hub.core.tensor import Tensor
from hub.core.views import ViewEntry
from hub.errors import (
    CredsKeyExistsError,
    DatasetIndexError,
    LengthMismatchError,
    ReadOnlyError,
    TensorExistsError,
    TensorMetaError,
    TensorNotFoundError,
    UnknownCredsKeyError,
    UnsupportedFeatureError,
    VersionControlError,
)
from hub.storage import Storage, Token

__all__ = ["Dataset"]

DEFAULT_BRANCH = "main"


class _State:
    """What every view of one opened dataset shares: storage, metadata, chunk engines, write batching."""

    def __init__(
        self,
        storage: Storage,
        creds: Any,
        node_id: str,
        meta: VersionMeta,
        read_only: bool,
        branch: str | None,
        lease: Lease | None = None,
    ) -> None:
        self.storage = storage
        self.creds = creds
        self.node_id = node_id
        self.meta = meta
        self.read_only = read_only
        self.branch = branch  # None: a commit is checked out (readable, not writable)
        self.lease = lease
        self.engines: dict[str, TensorEngine] = {}
        self.batch_depth = 0
        self.meta_dirty = False
        self.links = LinkResolver(meta.creds_keys, ids=meta.creds_key_ids)
        #: For a branch checked out without its lock (see :meth:`let_go`): the version token of its working
        #: node's metadata as read, to tell at the first write whether another writer changed it meanwhile.
        self.unlocked_token: Token | None = None
        if lease is not None:
            release_on_collect(self, lease)

    def hold(self, branch: str) -> None:
        """Hold the writer lock of ``branch``, before reading its head."""
        if self.read_only:
            return
        if self.lease is None:
            self.lease = acquire(self.storage, branch)
            release_on_collect(self, self.lease)
        elif self.lease.branch != branch:
            self.lease.transfer_to(branch)

    def let_go(self) -> None:
        """Give up the writer lock (a checkout): the next branch's lock is taken at the first write there.

        Checking out to read takes no lock, so it is quick and blocks no other writer; :meth:`check_writable`
        takes the lock and makes sure the branch is still as it was read.
        """
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    def _lock_on_write(self) -> None:
        """Take the lock of the checked-out branch; refuse if another writer changed the branch since it was read."""
        assert self.branch is not None
        lease = acquire(self.storage, self.branch)
        try:
            root, _ = versioning.read_root(self)
            try:
                _, token = self.storage.get_with_token(node_meta_key(self.node_id))
            except KeyError:
                token = None
            if root.heads.get(self.branch) != self.node_id or token != self.unlocked_token:
                raise VersionControlError(
                    f"Branch {self.branch!r} of {self.storage.url} was changed by another writer since it was "
                    f"checked out here; check it out again (ds.checkout({self.branch!r})) to write on what it "
                    "holds now."
                )
        except BaseException:
            lease.release()
            raise
        self.lease, self.unlocked_token = lease, None
        release_on_collect(self, lease)

    def switch(self, node_id: str, meta: VersionMeta, branch: str | None) -> None:
        """Point this state at another version node (after a commit, checkout or reset); see :meth:`hold`."""
        self.node_id = node_id
        self.meta = meta
        self.branch = branch
        self.engines = {}
        self.meta_dirty = False
        self.links.keys = meta.creds_keys
        self.links.ids = meta.creds_key_ids

    @property
    def commit_id(self) -> str | None:
        """The commit this state reads or builds on: the branch's last commit, or the checked-out one."""
        return self.meta.parent if self.branch is not None else self.node_id

    def pop_sample(self, key: str, index: int) -> None:
        """Remove sample ``index`` of tensor ``key`` and its stable id, and record the change."""
        engine = self.engine(key)
        engine.pop(index)
        changes.record_pop(engine.meta, index)
        id_key = ids_key(engine.meta.id)
        if id_key in self.meta.tensors:
            self.engine(id_key).pop(index)

    def clear_tensor(self, key: str) -> None:
        """Remove every sample of tensor ``key`` and their stable ids (the tensors stay), and record the change."""
        engine = self.engine(key)
        changes.record_clear(engine.meta)
        engine.clear()
        id_key = ids_key(engine.meta.id)
        if id_key in self.meta.tensors:
            self.engine(id_key).clear()

    def discard_buffers(self) -> None:
        """Forget unflushed writes (``reset``)."""
        self.engines = {}
        self.meta_dirty = False

    def close(self) -> None:
        self.flush()
        if self.lease is not None:
            self.lease.release()
            self.lease = None
        self.read_only = True

    def engine(self, key: str) -> TensorEngine:
        engine = self.engines.get(key)
        if engine is None:
            engine = self.engines[key] = TensorEngine(self.storage, self.meta.tensors[key])
        return engine

    def load_indexes(self, keys: list[str]) -> None:
        """Fetch the chunk indexes of tensors ``keys`` that aren't loaded yet in one ``get_many`` (in parallel on
        remote storage: a round trip for all, not one each)."""
        wanted = {}
        for key in keys:
            engine = self.engine(key)
            if not engine.index_loaded and engine.meta.index is not None:
                wanted[engine.meta.index] = engine
        if len(wanted) > 1:
            for index_key, data in self.storage.get_many(list(wanted)).items():
                wanted[index_key].set_index_bytes(data)

    def check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(
                f"The dataset at {self.storage.url} is open read-only; "
                "load it with hub.load(path, read_only=False) to write."
            )
        if self.branch is None:
            raise VersionControlError(
                f"Version {self.node_id} is a commit, not a branch head, so it can't be written. "
                "Start a branch from it with ds.checkout('new-branch', create=True), or check out a branch."
            )
        if self.lease is not None:
            self.lease.check()
        else:
            self._lock_on_write()

    @contextlib.contextmanager
    def write(self, keys: Sequence[str]) -> Iterator[None]:
        """A write to ``keys``: all of it or none of it reaches the dataset; flushed unless in ``with ds:``."""
        self.check_writable()
        ids = (ids_key(self.meta.tensors[k].id) for k in keys)
        keys = [*keys, *(k for k in ids if k in self.meta.tensors)]
        engines = [self.engine(k) for k in keys]
        checkpoints = [e.checkpoint() for e in engines]
        try:
            yield
        except BaseException:
            for key, engine, cp in zip(keys, engines, checkpoints, strict=True):
                engine.rollback(cp)
                self.meta.tensors[key] = engine.meta
            raise
        self.autoflush()

    def info_changed(self) -> None:
        self.meta_dirty = True
        self.autoflush()

    def dataset_info_changed(self) -> None:
        self.meta.changes["info"] = True
        self.info_changed()

    def autoflush(self) -> None:
        if self.batch_depth == 0:
            self.flush()

    def flush(self) -> None:
        """Publish every buffered write: chunks and indexes first, then the metadata document."""
        if self.read_only:
            return
        dirty = [e for e in self.engines.values() if e.dirty]
        if not dirty and not self.meta_dirty:
            return
        if self.lease is not None:
            self.lease.check()
        self.meta.changed = True
        for engine in dirty:
            engine.flush()
        self.storage.set(node_meta_key(self.node_id), self.meta.tobytes())
        self.meta_dirty = False
        for engine in self.engines.values():
            engine.collect_garbage()

    def extend_tensor(self, key: str, samples: Sequence[Any] | np.ndarray) -> None:
        meta = self.meta.tensors[key]
        engine = self.engine(key)
        encoder = SampleEncoder(key, meta, self.links)
        raw = (
            meta.sample_compression is None
            and meta.htype not in OBJECT_HTYPES
            and not get_htype(meta.htype).wrapper
            and not is_ragged_polygon(meta.htype, meta.layout)
        )
        small = isinstance(samples, np.ndarray) and samples[:1].nbytes <= meta.max_chunk_size
        start = meta.length
        if raw and small and isinstance(samples, np.ndarray) and samples.dtype != object and samples.ndim >= 1:
            data, shape, count = encoder.encode_batch(samples)
            engine.append_batch(data, shape, count)
        else:
            engine.append(encoder.encode(s, start + i) for i, s in enumerate(samples))
        added = engine.meta.length - start
        changes.record_append(engine.meta, start, added)
        self.append_ids(key, new_sample_ids(added))

    def append_ids(self, key: str, ids: np.ndarray) -> None:
        """Record the stable ids of samples just appended to ``key`` (merge matches samples by them)."""
        id_key = ids_key(self.meta.tensors[key].id)
        if id_key in self.meta.tensors and len(ids):
            engine = self.engine(id_key)
            data, shape, count = SampleEncoder(id_key, engine.meta).encode_batch(ids)
            engine.append_batch(data, shape, count)


class Dataset:
    """A dataset, or a lazy view of some of its samples, or one of its groups."""

    _state: _State
    _selection: Selection | None
    _group: str

    def __init__(self, state: _State, selection: Selection | None = None, group: str = "") -> None:
        object.__setattr__(self, "_state", state)
        object.__setattr__(self, "_selection", selection)
        object.__setattr__(self, "_group", group)

    # ---------------------------------------------------------------- opening
    @classmethod
    def _create(cls, storage: Storage, creds: Any = None) -> Dataset:
        from hub import __version__
        from hub.core.meta import ROOT_KEY
        from hub.errors import DatasetExistsError

        node_id = new_id()
        meta = VersionMeta()
        storage.set(node_meta_key(node_id), meta.tobytes())
        root = RootDoc({DEFAULT_BRANCH: node_id}, created_by=f"hub-core {__version__}")
        if not storage.set_if_absent(ROOT_KEY, root.tobytes()):
            storage.delete(node_meta_key(node_id))
            raise DatasetExistsError(
                f"A dataset was created at {storage.url} at the same time; load it with hub.load()."
            )
        lease = acquire(storage, DEFAULT_BRANCH)
        return cls(_State(storage, creds, node_id, meta, False, DEFAULT_BRANCH, lease))

    @classmethod
    def _open(cls, storage: Storage, creds: Any, read_only: bool, version: str | None = None) -> Dataset:
        """Open a branch (default ``main``), tag or commit; writable branches take the writer lock."""
        from hub.core.meta import ROOT_KEY
        from hub.errors import CorruptDatasetError, DatasetNotFoundError, KeyNotFoundError

        def read_root() -> RootDoc:
            try:
                return RootDoc.frombytes(storage.get(ROOT_KEY), f"{storage.url}/{ROOT_KEY}")
            except KeyNotFoundError:
                raise DatasetNotFoundError(
                    f"No hub dataset at {storage.url}. Create one with hub.empty({storage.url!r}) "
                    "or hub.dataset(path), which creates it when missing."
                ) from None

        root = read_root()
        version = version or (DEFAULT_BRANCH if DEFAULT_BRANCH in root.heads else sorted(root.heads)[0])
        lease = None
        if version in root.heads and not read_only:
            # The lock first, then the head: a head read before the lock may be committed meanwhile.
            lease = acquire(storage, version)
            root = read_root()
        node_id, branch = versioning.locate(storage, root, version)
        key = node_meta_key(node_id)
        try:
            meta = VersionMeta.frombytes(storage.get(key), f"{storage.url}/{key}")
        except KeyNotFoundError:
            raise CorruptDatasetError(
                f"{storage.url}: the metadata of version {version!r} ({key}) is missing."
            ) from None
        return cls(_State(storage, creds, node_id, meta, read_only, branch, lease))

    # ------------------------------------------------------------- properties
    @property
    def path(self) -> str:
        return self._state.storage.url

    @property
    def storage(self) -> Storage:
        return self._state.storage

    @property
    def read_only(self) -> bool:
        return self._state.read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        state = self._state
        if value and not state.read_only:
            state.close()
        elif not value and state.read_only:
            state.storage.read_only = False
            state.read_only = False
            if state.branch is not None:
                state.hold(state.branch)
                versioning.checkout(state, state.branch)  # the head as it is now that we hold the lock

    def close(self) -> None:
        """Flush, give up the write lock and become read-only (the lock is also released when collected)."""
        self._state.close()

    # -------------------------------------------------------- version control
    @property
    def branch(self) -> str | None:
        """The checked-out branch; None when a commit or tag is checked out."""
        return self._state.branch

    @property
    def branches(self) -> list[str]:
        return sorted(versioning.read_root(self._state)[0].heads)

    @property
    def tags(self) -> dict[str, str]:
        """Tag names and the commits they name."""
        return dict(sorted(versioning.read_root(self._state)[0].tags.items()))

    @property
    def commit_id(self) -> str | None:
        """The last commit of the branch (or the checked-out commit); None before the first commit."""
        return self._state.commit_id

    @property
    def pending_commit_id(self) -> str:
        """The id the next commit of this branch will get."""
        return self._state.node_id

    @property
    def has_head_changes(self) -> bool:
        """Whether the branch has changes since its last commit."""
        return self._state.branch is not None and (self._state.meta.changed or self._state_dirty())

    def _state_dirty(self) -> bool:
        return self._state.meta_dirty or any(e.dirty for e in self._state.engines.values())

    @property
    def commits(self) -> list[dict[str, Any]]:
        """Details of every commit in the current version's history, newest first."""
        return [versioning.commit_details(d) for d in versioning.history(self._state)]

    def get_commit_details(self, commit_id: str) -> dict[str, Any]:
        doc = versioning.read_commit(self._state, commit_id)
        if doc is None:
            raise VersionControlError(f"{commit_id!r} is not a commit of {self.path}.")
        return versioning.commit_details(doc)

    def commit(self, message: str | None = None, allow_empty: bool = False) -> str:
        """Record the current state of the branch as a commit; returns its id."""
        return versioning.commit(self._state, message, allow_empty)

    def checkout(self, address: str, create: bool = False) -> str | None:
        """Switch to a branch, tag or commit; ``create=True`` makes a new branch from here."""
        return versioning.checkout(self._state, address, create)

    def diff(self, id_1: str | None = None, id_2: str | None = None, as_dict: bool = False) -> dict[str, Any] | None:
        """Changes since the common ancestor: of the working state (no ids), of it and ``id_1``, or of two versions.

        Prints them readably, or returns them with ``as_dict=True``: ``{"ancestor", "a", "b"}``,
        each side listing, newest first, every version's created tensors, added index ranges,
        updated and deleted indices (in its parent's numbering), and info changes.
        """
        result = versioning.diff(self._state, id_1, id_2)
        if as_dict:
            return result
        print(versioning.format_diff(result))
        return None

    def merge(
        self,
        target: str | None = None,
        conflict_resolution: str | None = None,
        delete_removed_tensors: bool = False,
        force: bool = False,
        *,
        target_id: str | None = None,
    ) -> str | None:
        """Bring the last commit of branch (or tag, commit) ``target`` into this branch, and commit.

        Samples are matched by stable ids, so appends on both sides survive. A sample changed on
        both sides is a conflict: :class:`~hub.errors.MergeConflictError` lists tensors and indices
        unless ``conflict_resolution`` is ``"ours"`` or ``"theirs"``. Tensors deleted on ``target``
        are deleted here only with ``delete_removed_tensors=True``. Returns the merge commit's id
        (None if there was nothing to merge). ``target_id`` is Hub 2.x's name for ``target``.
        """
        if (target is None) == (target_id is None):
            raise VersionControlError(
                "ds.merge() takes the branch, tag or commit to merge: give target (or target_id)."
            )
        address = target if target is not None else target_id
        assert address is not None
        return versioning.merge(self._state, address, conflict_resolution, delete_removed_tensors, force)

    def log(self) -> list[dict[str, Any]]:
        """Print the history like ``git log``; return it as data."""
        return versioning.log(self._state)

    def reset(self) -> None:
        """Drop every uncommitted change of the branch."""
        versioning.reset(self._state)

    def tag(self, name: str, commit_id: str | None = None) -> str:
        """Name a commit (default: the branch's last commit); returns the commit id."""
        return versioning.tag(self._state, name, commit_id)

    @property
    def info(self) -> Info:
        return Info(self._state.meta.info, self._state.dataset_info_changed, self._state.check_writable)

    @property
    def meta(self) -> VersionMeta:
        return self._state.meta

    @property
    def index(self) -> Selection | None:
        return self._selection

    def _full(self, name: str) -> str:
        return f"{self._group}/{name}" if self._group else name

    def _visible_keys(self) -> list[str]:
        prefix = f"{self._group}/" if self._group else ""
        return [k for k, m in self._state.meta.tensors.items() if k.startswith(prefix) and not m.hidden]

    @property
    def tensors(self) -> dict[str, Tensor]:
        """The tensors under this dataset or group, by name relative to it."""
        cut = len(self._group) + 1 if self._group else 0
        return {k[cut:]: self._tensor(k) for k in self._visible_keys()}

    @property
    def groups(self) -> dict[str, Dataset]:
        """The direct subgroups, by name."""
        prefix = f"{self._group}/" if self._group else ""
        names = [g[len(prefix) :] for g in self._state.meta.groups if g.startswith(prefix)]
        return {n: Dataset(self._state, self._selection, self._full(n)) for n in names if "/" not in n}

    def _tensor(self, key: str) -> Tensor:
        return Tensor(self._state, key, self._selection)

    def _length(self) -> int:
        keys = self._visible_keys()
        return min((self._state.meta.tensors[k].length for k in keys), default=0)

    def __len__(self) -> int:
        if self._selection is not None:
            if self._selection.scalar:
                return 1
            return len(self._selection)
        return self._length()

    @property
    def num_samples(self) -> int:
        return len(self)

    # --------------------------------------------------------------- indexing
    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            key = self._full(item)
            if key in self._state.meta.tensors:
                return self._tensor(key)
            if key in self._state.meta.groups:
                return Dataset(self._state, self._selection, key)
            raise TensorNotFoundError(f"No tensor or group {item!r} in {self._where()}. Tensors: {list(self.tensors)}.")
        if isinstance(item, (list, tuple)) and item and all(isinstance(i, str) for i in item):
            raise DatasetIndexError("Select tensors one at a time: ds['images'], ds['labels'].")
        base = self._selection if self._selection is not None else Selection.all(self._length())
        return Dataset(self._state, base[item], self._group)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except TensorNotFoundError:
            raise AttributeError(f"{type(self).__name__} has no attribute or tensor {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._state.meta.tensors or self._full(name) in self._state.meta.tensors:
            raise TensorExistsError(f"Tensor {name!r} can't be assigned; append to it with ds.{name}.append(...).")
        object.__setattr__(self, name, value)

    def __iter__(self) -> Iterator[Dataset]:
        for i in range(len(self)):
            yield self[i]

    def _where(self) -> str:
        return f"group {self._group!r}" if self._group else f"dataset {self.path}"

    # ---------------------------------------------------------------- schema
    def create_tensor(
        self,
        name: str,
        htype: str = "generic",
        dtype: Any = None,
        sample_compression: str | None = None,
        chunk_compression: str | None = None,
        max_chunk_size: int | None = None,
        hidden: bool = False,
        exist_ok: bool = False,
        create_sample_info_tensor: bool = True,
        create_shape_tensor: bool = True,
        create_id_tensor: bool = True,
        **kwargs: Any,
    ) -> Tensor:
        """Add a tensor. ``htype`` sets defaults and validation; ``kwargs`` go to the tensor's info.

        As in Hub 2.x, ``exist_ok=True`` returns the tensor ``name`` if it exists (checked against the htype, dtype
        and compressions given). ``create_sample_info_tensor``, ``create_shape_tensor`` and ``create_id_tensor`` are
        taken for Hub 2.x's calls and change nothing: shapes and sample info live in the chunks, and every sample
        keeps its id (merges match samples by it).
        """
        self._state.check_writable()
        key = self._full(name.strip("/"))
        spec = get_htype(htype)
        if exist_ok and key in self._state.meta.tensors:
            return self._existing_tensor(key, htype, dtype, sample_compression, chunk_compression)
        verify = kwargs.pop("verify") if "verify" in kwargs and "verify" not in spec.kwargs else False
        if verify:  # a non-link tensor: verify=False is Hub 2.x's default and changes nothing
            raise TensorMetaError(
                f"verify=True checks each link as it is appended, so it applies to link tensors, not {htype!r} "
                "ones. To check a file when it is read, use hub.read(path, verify=True)."
            )
        self._check_new_name(key)
        if sample_compression is not None and chunk_compression is not None:
            raise TensorMetaError("Choose sample_compression or chunk_compression for a tensor, not both.")
        if spec.compression_required and sample_compression is None and chunk_compression is None:
            raise TensorMetaError(
                f"A {htype} tensor needs a compression: pass sample_compression='jpeg' (or 'png', ...) "
                "to store encoded files, or chunk_compression='lz4' for raw pixels."
            )
        from hub.compression import get_codec

        if sample_compression is not None:
            codec = get_codec(sample_compression)
            if codec.kind not in spec.kinds:
                raise TensorMetaError(
                    f"sample_compression={sample_compression!r} ({codec.kind}) doesn't fit a {htype} tensor."
                )
            sample_compression = codec.name
        if chunk_compression is not None:
            chunk_compression = get_codec(chunk_compression).name
            if chunk_compression != "lz4":
                raise TensorMetaError(f"chunk_compression must be 'lz4' or None, got {chunk_compression!r}.")
        unknown = set(kwargs) - set(spec.kwargs)
        if unknown:
            raise TensorMetaError(
                f"create_tensor got unexpected arguments {sorted(unknown)} for htype {htype!r}"
                + (f"; it accepts {list(spec.kwargs)}." if spec.kwargs else ".")
            )
        if dtype is not None and htype in OBJECT_HTYPES:
            raise TensorMetaError(f"A {htype} tensor stores Python objects; don't pass a dtype.")
        try:
            dtype_name = np.dtype(dtype).name if dtype is not None else spec.dtype
        except TypeError:
            raise TensorMetaError(f"{dtype!r} is not a numpy dtype.") from None
        if max_chunk_size is not None and max_chunk_size < 1024:
            raise TensorMetaError(f"max_chunk_size must be at least 1024 bytes, got {max_chunk_size}.")
        info = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in spec.info.items()}
        info.update(kwargs)
        meta = TensorMeta(
            id=new_id(),
            htype=htype,
            dtype=dtype_name if htype not in OBJECT_HTYPES else spec.dtype,
            sample_compression=sample_compression,
            chunk_compression=chunk_compression,
            max_chunk_size=max_chunk_size or TensorMeta.max_chunk_size,
            info=info,
            hidden=hidden,
            layout=RAGGED if htype == "polygon" else None,
        )
        codec_for(meta)  # refuses codec options (a video's fps, an audio's sample_rate) that can't work, now
        changes.record_created(meta)
        self._add_parent_groups(key)
        self._state.meta.tensors[key] = meta
        if not hidden:
            self._state.meta.tensors[ids_key(meta.id)] = TensorMeta(
                id=new_id(), dtype="uint64", ndim=0, hidden=True, changes={"created": True}
            )
        self._state.meta_dirty = True
        self._state.autoflush()
        return self._tensor(key)

    def _existing_tensor(
        self, key: str, htype: str, dtype: Any, sample_compression: str | None, chunk_compression: str | None
    ) -> Tensor:
        """Tensor ``key``, for ``create_tensor(..., exist_ok=True)``, if it is what the call asks for."""
        from hub.compression import get_codec

        meta = self._state.meta.tensors[key]
        asked = {
            "htype": htype if htype != "generic" else None,
            "dtype": np.dtype(dtype).name if dtype is not None else None,
            "sample_compression": get_codec(sample_compression).name if sample_compression is not None else None,
            "chunk_compression": get_codec(chunk_compression).name if chunk_compression is not None else None,
        }
        differ = {k: v for k, v in asked.items() if v is not None and v != getattr(meta, k)}
        if differ:
            have = ", ".join(f"{k}={getattr(meta, k)!r}" for k in differ)
            want = ", ".join(f"{k}={v!r}" for k, v in differ.items())
            raise TensorExistsError(
                f"Tensor {key!r} exists with {have}; create_tensor(..., exist_ok=True) asked for {want}. "
                "Use another name, or ds.delete_tensor() it first."
            )
        return self._tensor(key)

    def create_tensor_like(self, name: str, source: Tensor, unlink: bool = False) -> Tensor:
        """A new empty tensor ``name`` with the htype, dtype, compressions, chunk size and info of ``source`` (which
        may belong to another dataset). ``unlink=True`` (Hub 2.x) makes a tensor of a link tensor's files themselves:
        ``link[image]`` gives ``image``, ``sequence[link[image]]`` gives ``sequence[image]``."""
        m = source.meta
        htype = _unlinked(m.htype) if unlink else m.htype
        if htype != m.htype and m.sample_compression is None and get_htype(htype).compression_required:
            raise TensorMetaError(
                f"Tensor {source.key!r} links files of any format (it has no sample_compression), so the {htype} "
                f"tensor create_tensor_like(..., unlink=True) would make has no compression to take from it. Create it "
                f"with ds.create_tensor({name!r}, htype={htype!r}, sample_compression='jpeg') (or 'png', ...)."
            )
        spec = get_htype(htype)
        kwargs = {k: m.info[k] for k in spec.kwargs if k in m.info}
        with self:
            tensor = self.create_tensor(
                name,
                htype=htype,
                dtype=None if htype in OBJECT_HTYPES else m.dtype,
                sample_compression=m.sample_compression,
                chunk_compression=m.chunk_compression,
                max_chunk_size=m.max_chunk_size,
                **kwargs,
            )
            # The rest of the info (the user's own keys) comes along too, as Hub 2.x copied the whole info.
            link_only = {"verify"} - set(spec.kwargs)
            tensor.meta.info.update({k: v for k, v in m.info.items() if k not in kwargs and k not in link_only})
        return tensor

    def create_group(self, name: str, exist_ok: bool = False) -> Dataset:
        """Add group ``name``; with ``exist_ok=True`` (as in Hub 2.x) an existing group of that name is returned."""
        self._state.check_writable()
        key = self._full(name.strip("/"))
        if exist_ok and key in self._state.meta.groups:
            return Dataset(self._state, self._selection, key)
        self._check_new_name(key)
        self._add_parent_groups(key + "/x")
        self._state.meta_dirty = True
        self._state.autoflush()
        return Dataset(self._state, self._selection, key)

    def _check_new_name(self, key: str) -> None:
        if not key or any(p in ("", ".", "..") for p in key.split("/")):
            raise TensorMetaError(f"{key!r} is not a valid tensor or group name.")
        if key in self._state.meta.tensors or key in self._state.meta.groups:
            raise TensorExistsError(f"A tensor or group named {key!r} already exists.")
        parts = key.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in self._state.meta.tensors:
                raise TensorExistsError(f"{'/'.join(parts[:i])!r} is a tensor, so it can't hold {key!r}.")
        if key in dir(type(self)):
            raise TensorMetaError(f"{key!r} is the name of a Dataset attribute; choose another name.")

    def _add_parent_groups(self, key: str) -> None:
        parts = key.split("/")
        for i in range(1, len(parts)):
            group = "/".join(parts[:i])
            if group not in self._state.meta.groups:
                self._state.meta.groups.append(group)

    def delete_tensor(self, name: str, large_ok: bool = False) -> None:
        """Remove tensor ``name`` (its chunks stay while a commit names them). Hub 2.x's ``large_ok`` guarded big
        deletions; here a deletion costs the same whatever the size and commits keep what they named, so it is
        taken and changes nothing."""
        self._state.check_writable()
        key = self._full(name)
        if key not in self._state.meta.tensors:
            raise TensorNotFoundError(f"No tensor {name!r} in {self._where()}.")
        state = self._state
        meta = state.meta.tensors.pop(key)
        ids = state.meta.tensors.pop(ids_key(meta.id), None)
        for k in (key, ids_key(meta.id)):
            state.engines.pop(k, None)
        if not meta.changes.get("created"):
            state.meta.changes.setdefault("deleted", []).append(key)
        state.meta_dirty = True
        state.flush()
        if meta.changes.get("created"):  # no commit names its objects: remove them
            for m in (meta, ids):
                if m is not None:
                    state.storage.delete_prefix(f"chunks/{m.id}/")
                    state.storage.delete_prefix(f"indexes/{m.id}/")

    def delete_group(self, name: str, large_ok: bool = False) -> None:
        """Remove group ``name`` and its tensors (``large_ok`` as in :meth:`delete_tensor`)."""
        self._state.check_writable()
        key = self._full(name)
        if key not in self._state.meta.groups:
            raise TensorNotFoundError(f"No group {name!r} in {self._where()}.")
        for tensor in [k for k in self._state.meta.tensors if k.startswith(key + "/")]:
            Dataset(self._state).delete_tensor(tensor)
        self._state.meta.groups = [g for g in self._state.meta.groups if g != key and not g.startswith(key + "/")]
        self._state.meta_dirty = True
        self._state.autoflush()

    def rename_tensor(self, name: str, new_name: str) -> Tensor:
        self._state.check_writable()
        key, new_key = self._full(name), self._full(new_name)
        if key not in self._state.meta.tensors:
            raise TensorNotFoundError(f"No tensor {name!r} in {self._where()}.")
        self._check_new_name(new_key)
        self._add_parent_groups(new_key)
        self._rename_keys({key: new_key})
        self._state.meta_dirty = True
        self._state.autoflush()
        return self._tensor(new_key)

    def rename_group(self, name: str, new_name: str) -> None:
        """Rename group ``name`` (its subgroups and tensors move with it) to ``new_name``.

        Only metadata changes (storage keys use tensor ids, not names); the change belongs to the working version like
        any other, and ``ds.diff()`` lists each of its tensors as renamed. Commits keep the names they had.
        """
        self._state.check_writable()
        key, new_key = self._full(name.strip("/")), self._full(new_name.strip("/"))
        meta = self._state.meta
        if key not in meta.groups:
            raise TensorNotFoundError(f"No group {name!r} in {self._where()}. Groups: {list(self.groups)}.")
        if new_key == key or new_key.startswith(key + "/"):
            raise TensorMetaError(f"Can't rename group {name!r} to {new_name!r}: a group can't move into itself.")
        self._check_new_name(new_key)

        def moved(k: str) -> str:
            return new_key + k[len(key) :] if k == key or k.startswith(key + "/") else k

        self._rename_keys({k: moved(k) for k in meta.tensors if moved(k) != k})
        meta.groups = [moved(g) for g in meta.groups]
        self._add_parent_groups(new_key)
        self._state.meta_dirty = True
        self._state.autoflush()

    def _rename_keys(self, renames: dict[str, str]) -> None:
        """Give tensors new full names (``old: new``), recording the renames for ``diff``."""
        state = self._state
        state.meta.tensors = {renames.get(k, k): v for k, v in state.meta.tensors.items()}
        recorded = state.meta.changes.setdefault("renamed", {})
        for key, new_key in renames.items():
            recorded[new_key] = recorded.pop(key, key)
            if key in state.engines:
                state.engines[new_key] = state.engines.pop(key)

    # ---------------------------------------------------------------- writing
    def _check_whole(self, what: str) -> None:
        if self._selection is not None:
            raise DatasetIndexError(f"{what} works on a whole dataset, not a view of it.")

    def append(self, sample: dict[str, Any], skip_ok: bool = False, append_empty: bool = False) -> None:
        """Add one sample: a value for every tensor (or some of them with ``skip_ok=True``).

        ``append_empty=True`` (Hub 2.x) gives every tensor left out an empty sample instead (``""`` for text, no boxes
        for a bbox, ...), so that all stay of one length; ``skip_ok`` is then ignored. It needs every tensor to have
        the same length to begin with.
        """
        self._check_whole("append")
        if not isinstance(sample, dict):
            raise DatasetIndexError("append takes a dict mapping tensor names to samples.")
        values = {k: [v] for k, v in sample.items()}
        if append_empty:
            keys = self._visible_keys()
            lengths = {k: self._state.meta.tensors[k].length for k in keys}
            if len(set(lengths.values())) > 1:
                raise LengthMismatchError(
                    f"append_empty keeps the tensors of one length, but they have different lengths: {lengths}. "
                    "Bring them to one length first (append to the short ones, or pop from the long ones), or "
                    "append with skip_ok=True."
                )
            given = {self._full(k) for k in sample}
            cut = len(self._group) + 1 if self._group else 0
            for key in keys:
                if key not in given:
                    values[key[cut:]] = [empty_sample(key, self._state.meta.tensors[key])]
        self.extend(values, skip_ok=skip_ok or append_empty)

    def extend(self, samples: dict[str, Any], skip_ok: bool = False) -> None:
        """Add many samples: a sequence (or numpy batch) per tensor, all of one length."""
        self._check_whole("extend")
        if not isinstance(samples, dict):
            raise DatasetIndexError("extend takes a dict mapping tensor names to sequences of samples.")
        keys = {self._full(k): v for k, v in samples.items()}
        missing = [k for k in keys if k not in self._state.meta.tensors]
        if missing:
            raise TensorNotFoundError(f"No tensors {missing} in {self._where()}; create them first.")
        if not skip_ok:
            absent = sorted(set(self._visible_keys()) - set(keys))
            if absent:
                raise TensorNotFoundError(
                    f"No values given for tensors {absent}; give every tensor a value or pass skip_ok=True."
                )
        lengths = {k: len(v) for k, v in keys.items()}
        if len(set(lengths.values())) > 1:
            raise LengthMismatchError(f"Tensors got different numbers of samples: {lengths}.")
        with self._state.write(list(keys)):
            for key, values in keys.items():
                self._state.extend_tensor(key, values)

    def pop(self, index: int | None = None) -> None:
        """Remove the sample at ``index`` (default: the last) from every tensor."""
        self._check_whole("pop")
        index = pop_position(index, len(self), "the dataset")
        keys = [k for k in self._visible_keys() if self._state.meta.tensors[k].length > index]
        with self._state.write(keys):
            for key in keys:
                self._state.pop_sample(key, index)

    def filter(
        self,
        function: Callable[[Dataset], Any],
        num_workers: int = 0,
        scheduler: str = "threaded",
        progressbar: bool = True,
        save_result: bool = False,
        result_path: str | None = None,
        result_ds_args: dict[str, Any] | None = None,
    ) -> Dataset:
        """A view of the samples for which ``function(sample)`` is true, in order.

        ``function`` may be a plain function or a bound ``@hub.compute`` one; it runs on any
        transform scheduler. ``save_result=True`` also writes the kept samples to a new dataset
        at ``result_path`` (``result_ds_args`` go to :func:`hub.like`).
        """
        from hub.transform._filter import filter_dataset

        return filter_dataset(
            self, function, num_workers, scheduler, progressbar, save_result, result_path, result_ds_args
        )

    def flush(self) -> None:
        """Write everything buffered to storage; the dataset on storage then holds it all."""
        self._state.flush()

    def clear_cache(self) -> None:
        """Flush, then forget the chunks, chunk headers and chunk indexes held in memory (read again when needed).

        Nothing stored is deleted. A storage with a cache of its own (:class:`hub.storage.LRUCache`) is emptied too.
        """
        state = self._state
        state.flush()
        for engine in state.engines.values():
            engine.drop_caches()
        clear = getattr(state.storage, "clear_cache", None)
        if callable(clear):
            clear()

    def size_approx(self) -> int:
        """About how many bytes the samples of this dataset (or group) take in storage, from metadata and chunk indexes
        alone: no chunk is read. Exact for raw arrays of one shape; for encoded samples (images, text, ...) it counts
        half the target chunk size per chunk, as Hub 2.x did."""
        state = self._state
        prefix = f"{self._group}/" if self._group else ""
        tensors = state.meta.tensors
        keys = [k for k in tensors if k.startswith(prefix)]
        if prefix:  # the group's tensors' stable ids live in hidden tensors at the root
            keys += [i for i in (ids_key(tensors[k].id) for k in keys) if i in tensors]
        state.load_indexes(keys)
        return sum(state.engine(k).size_approx() for k in keys)

    def rechunk(
        self,
        tensors: str | Sequence[str] | None = None,
        num_workers: int = 0,
        scheduler: str = "threaded",
        progressbar: bool = True,
    ) -> None:
        """Repack the chunks of ``tensors`` (default: all) that updates and pops left small into full chunks.

        Stored bytes are copied as they are, nothing is decoded, and every sample reads back the same. Chunks filled
        at least half of the tensor's ``max_chunk_size`` stay as they are. It is a change of the working version like
        any other (commits keep their chunks), all or nothing, and crash-safe. Hub 2.x's ``num_workers`` and
        ``scheduler`` are checked and taken, but the work runs in this process: it moves bytes from chunk to chunk
        (fetched several at a time), which extra workers would not speed up.
        """
        from tqdm import tqdm

        from hub.core import copying

        self._check_whole("rechunk")
        copying.check_scheduler(scheduler, num_workers)
        state = self._state
        names = list(self.tensors) if tensors is None else [tensors] if isinstance(tensors, str) else list(tensors)
        keys = [self._full(n) for n in names]
        missing = [n for n, k in zip(names, keys, strict=True) if k not in state.meta.tensors]
        if missing:
            raise TensorNotFoundError(f"No tensors {missing} in {self._where()}. Tensors: {list(self.tensors)}.")
        with state.write(keys):
            every = [*keys, *(i for i in (ids_key(state.meta.tensors[k].id) for k in keys) if i in state.meta.tensors)]
            with tqdm(total=len(every), desc="rechunk", disable=not progressbar) as bar:
                for key in every:
                    state.engine(key).rechunk()
                    bar.update(1)

    def __enter__(self) -> Dataset:
        self._state.batch_depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._state.batch_depth -= 1
        if self._state.batch_depth == 0:
            self._state.flush()

    # ------------------------------------------------------------ saved views
    def save_view(
        self,
        message: str | None = None,
        path: str | os.PathLike[str] | None = None,
        id: str | None = None,
        optimize: bool = False,
        num_workers: int = 0,
        scheduler: str = "threaded",
        verbose: bool = True,
        **ds_args: Any,
    ) -> str:
        """Save this view (its samples of the last commit) under ``id`` (default: a hash of the view) in the dataset.

        Returns the id; ``ds.load_view(id)`` gives the view back, read-only, at the commit it was saved at, whatever
        is committed later. The view must have no uncommitted changes to name (commit first: a
        :class:`~hub.errors.DatasetViewSavingError` says so). ``optimize=True`` also copies its samples (stored
        bytes as they are) into a compact dataset inside this one's storage. ``path`` saves the view as a dataset of
        its own there instead (``ds_args``: :func:`hub.empty`'s keywords), which :func:`hub.load` opens as the view;
        it is not listed by ``get_views`` and the path is returned. ``num_workers``/``scheduler`` are checked (the
        copy runs in this process); ``verbose`` shows the copy's progress bar. See ``docs/api.md``.
        """
        from hub.core import copying, views

        copying.check_scheduler(scheduler, num_workers)
        if path is not None:
            return views.save_external(self, os.fspath(path), message, id, optimize, verbose, ds_args)
        if ds_args:
            from hub.errors import DatasetOptionError

            raise DatasetOptionError(
                f"save_view got {sorted(ds_args)}, keywords for a view saved as a dataset of its own: give path= too."
            )
        return views.save(self, message, id, optimize, verbose)

    def get_views(self, commit_id: str | None = None) -> list[ViewEntry]:
        """The views saved of commit ``commit_id`` (default: the checked-out commit, as Hub 2.x did), oldest first."""
        from hub.core import views

        commit = commit_id or self.commit_id
        found = [(i, info) for i, info in views.entries(self).items() if info.get("commit") == commit]
        found.sort(key=lambda item: (item[1].get("time", 0), item[0]))
        return [ViewEntry(info, i, self) for i, info in found]

    def get_view(self, id: str) -> ViewEntry:
        """The saved view ``id`` (a :class:`~hub.core.views.ViewEntry`; ``.load()`` gives its samples).

        :class:`~hub.errors.ViewNotFoundError` (a ``KeyError``) if there is none.
        """
        from hub.core import views

        return ViewEntry(views.entry(self, id), id, self)

    def load_view(
        self,
        id: str,
        optimize: bool = False,
        num_workers: int = 0,
        scheduler: str = "threaded",
        progressbar: bool = True,
    ) -> Dataset:
        """The saved view ``id``, read-only, at its commit; ``optimize=True`` first gives it an optimized copy."""
        entry = self.get_view(id)
        if optimize:
            entry.optimize(num_workers=num_workers, scheduler=scheduler, progressbar=progressbar)
        return entry.load()

    def delete_view(self, id: str) -> None:
        """Delete the saved view ``id`` and its data (:class:`~hub.errors.ViewNotFoundError` if there is none)."""
        from hub.core import views

        views.delete(self, id)

    # ------------------------------------------------ copying, moving, deleting
    def copy(
        self,
        dest: str | os.PathLike[str],
        tensors: Sequence[str] | None = None,
        overwrite: bool = False,
        creds: Any = None,
        token: str | None = None,
        num_workers: int = 0,
        scheduler: str = "threaded",
        progressbar: bool = True,
        public: bool = False,
    ) -> Dataset:
        """Copy this dataset, view or group, as it is in the checked-out version, to ``dest`` (Hub 2.x's ``copy``).

        The copy has no history: one uncommitted version on branch ``main``. ``tensors`` keeps only those tensors
        (a group's name keeps every tensor under it). A whole dataset's objects are copied as they are, by
        ``num_workers`` threads (``scheduler="serial"``: this thread alone); a view's or group's samples as their
        stored bytes. ``dest`` becomes a dataset only when the copy is complete. ``creds`` are ``dest``'s; Hub 2.x's
        ``token`` and ``public`` are taken and change nothing. Returns the copy, opened for writing.
        """
        from hub import api
        from hub.core import copying

        workers = copying.check_scheduler(scheduler, num_workers)
        names = api._names(tensors)
        target = api._storage(dest, creds)
        self._state.flush()
        copying.prepare_target(self.storage, target, overwrite, creds)
        if self._selection is None and not self._group:
            copying.copy_version(self.storage, self._state.meta, target, names, workers, progressbar)
        else:
            copying.copy_view(self, target, creds, names, progressbar)
        return api.load(dest, creds=creds)

    def delete(self, large_ok: bool = False) -> None:
        """Delete the whole dataset from storage, every version of it (Hub 2.x's ``large_ok`` changes nothing).

        This object can't be used afterwards. Irreversible.
        """
        from hub import api

        self._check_whole("delete")
        if self._group:
            raise DatasetIndexError(
                f"delete works on a whole dataset; delete a group with ds.delete_group({self._group!r})."
            )
        state = self._state
        self._check_movable("delete")
        state.discard_buffers()
        if state.lease is not None:
            state.lease.release()
            state.lease = None
        state.read_only = True
        api._delete_storage(state.storage)

    def rename(self, path: str | os.PathLike[str]) -> None:
        """Move the dataset to ``path`` with its whole history; this object then works on it there.

        The dataset is copied (objects as they are; ``hub.json`` last), then deleted here (``hub.json`` first), so
        an interruption leaves it whole at one place at least. Views of this object made before keep the old path.
        """
        from hub import api
        from hub.core import copying
        from hub.errors import DatasetExistsError

        self._check_whole("rename")
        if self._group:
            raise DatasetIndexError("rename moves a whole dataset, not a group of it.")
        state = self._state
        self._check_movable("rename")
        state.flush()
        target = api._storage(path, state.creds)
        if target.exists(ROOT_KEY):
            raise DatasetExistsError(f"A dataset already exists at {target.url}; delete it first or pick another path.")
        copying.prepare_target(state.storage, target, False, state.creds)
        copying.copy_history(state.storage, target, state.meta, None, 0, False)
        version = state.branch or state.node_id
        moved = Dataset._open(target, state.creds, False, version)
        moved._state.links.creds.update(state.links.creds)
        if state.lease is not None:
            state.lease.release()
            state.lease = None
        state.read_only = True
        api._delete_storage(state.storage)
        object.__setattr__(self, "_state", moved._state)

    def _check_movable(self, what: str) -> None:
        if self._state.read_only:
            raise ReadOnlyError(
                f"The dataset at {self.path} is open read-only, so it can't {what} it; "
                "load it with hub.load(path, read_only=False) first."
            )

    # ----------------------------------------------------------------- links
    def add_creds_key(self, creds_key: str, managed: bool = False) -> None:
        """Name credentials that links may use (``hub.link(url, creds_key=...)``); only the name is stored."""
        self._state.check_writable()
        _check_unmanaged(managed)
        _check_key_name(creds_key)
        meta = self._state.meta
        if creds_key in meta.creds_keys:
            return
        if creds_key in self._stored_key_ids():
            # A renamed key's records still store this name: the new key's records get an id of their own.
            meta.creds_key_ids[creds_key] = f"{creds_key}~{secrets.token_hex(4)}"
        meta.creds_keys.append(creds_key)
        self._state.meta_dirty = True
        self._state.autoflush()

    def update_creds_key(self, old_creds_key: str, new_creds_key: str) -> None:
        """Rename a creds key everywhere links name it (Hub 2.x API); no linked sample is rewritten.

        Credentials populated for the old name in this process move to the new one.
        """
        self._state.check_writable()
        self._check_known_key(old_creds_key)
        _check_key_name(new_creds_key)
        meta = self._state.meta
        if new_creds_key == ENV:
            raise TensorMetaError(f"{ENV!r} means the environment's credentials; rename the key to another name.")
        if new_creds_key in meta.creds_keys:
            raise CredsKeyExistsError(
                f"Can't rename creds key {old_creds_key!r} to {new_creds_key!r}: the dataset already has a creds key "
                f"named {new_creds_key!r}. Choose another name (ds.get_creds_keys() lists the names in use)."
            )
        stored = meta.creds_key_ids.pop(old_creds_key, old_creds_key)
        meta.creds_keys[meta.creds_keys.index(old_creds_key)] = new_creds_key
        if stored != new_creds_key:
            meta.creds_key_ids[new_creds_key] = stored
        creds = self._state.links.creds
        if old_creds_key in creds:
            creds[new_creds_key] = creds.pop(old_creds_key)
        self._state.meta_dirty = True
        self._state.autoflush()

    def change_creds_management(self, creds_key: str, managed: bool) -> None:
        """Hub 2.x API: whether a hosted service manages ``creds_key``'s credentials; here they are never managed."""
        self._check_known_key(creds_key)
        _check_unmanaged(managed)

    def populate_creds(self, creds_key: str, creds: Any) -> None:
        """Give this process the credentials of ``creds_key`` (e.g. ``{"aws_access_key_id": ..., ...}``).

        They stay in memory (and travel to loader workers with the pickled dataset); they are never written.
        """
        self._check_known_key(creds_key)
        self._state.links.creds[creds_key] = creds

    def get_creds_keys(self) -> list[str]:
        """The creds keys links of this dataset may name."""
        return list(self._state.meta.creds_keys)

    def _check_known_key(self, creds_key: str) -> None:
        if creds_key not in self._state.meta.creds_keys:
            raise UnknownCredsKeyError(
                f"Unknown creds key {creds_key!r}; the dataset's are {self._state.meta.creds_keys}. Add it first "
                f"with ds.add_creds_key({creds_key!r})."
            )

    def _stored_key_ids(self) -> set[str]:
        """The ids link records store for the dataset's creds keys."""
        meta = self._state.meta
        return {meta.creds_key_ids.get(k, k) for k in meta.creds_keys}

    # ------------------------------------------------------------ integration
    def pytorch(self, *args: Any, **kwargs: Any) -> Any:
        """A PyTorch DataLoader over this dataset (needs ``pip install hub-torch``)."""
        from hub.integrations import load_integration

        return load_integration("pytorch")(self, *args, **kwargs)

    def tensorflow(
        self,
        tensors: Sequence[str] | None = None,
        tobytes: bool | Sequence[str] = False,
        shuffle: bool = False,
        buffer_size: int = 2048,
        num_parallel_calls: int = -1,
        seed: int | None = None,
        transform: Any = None,
        **kwargs: Any,
    ) -> Any:
        """A ``tf.data.Dataset`` of this dataset's samples (needs ``pip install "hub-tensorflow[cpu]"``).

        Elements are dicts of tensor name to value, or tuples in the order of ``tensors`` when it is given;
        ``element_spec`` is exact, from the tensor metadata. ``tobytes`` (``True`` or tensor names) yields the stored
        bytes instead of decoded values. ``shuffle`` draws from a buffer of whole chunks of ``buffer_size`` MB, seeded
        by ``(seed, epoch)``. ``num_parallel_calls`` (-1 is ``tf.data.AUTOTUNE``) bounds the parallel decoding;
        ``transform`` is mapped over the elements. See ``docs/api.md`` for ``num_workers`` and ``input_context``.
        """
        from hub.integrations import load_integration

        return load_integration("tensorflow")(
            self,
            tensors=tensors,
            tobytes=tobytes,
            shuffle=shuffle,
            buffer_size=buffer_size,
            num_parallel_calls=num_parallel_calls,
            seed=seed,
            transform=transform,
            **kwargs,
        )

    # ---------------------------------------------------------------- display
    def summary(self) -> str:
        """Print (and return) a table of the tensors."""
        rows = [("tensor", *TENSOR_COLUMNS), *((name, *tensor_row(t)) for name, t in self.tensors.items())]
        title = f"Dataset(path={self.path!r}, read_only={self.read_only}, samples={len(self)})"
        text = "\n".join([title, *table(rows)])
        print(text)
        return text

    def visualize(self, width: int | str | None = None, height: int | str | None = None) -> None:
        """Hub 2.x showed the dataset in Activeloop's web visualizer, inside a notebook; hub has no visualizer app."""
        raise UnsupportedFeatureError(
            "ds.visualize() showed the dataset in Activeloop's web visualizer app, which hub does not have (and hub "
            "makes no network calls you did not ask for). Look at samples in the notebook instead: "
            "ds.summary() for the tensors, ds.images[i].numpy() with matplotlib's plt.imshow or "
            "PIL.Image.fromarray for images, ds.videos[i].play() for audio and video."
        )

    def __repr__(self) -> str:
        view = f", index={self._selection!r}" if self._selection is not None else ""
        group = f", group={self._group!r}" if self._group else ""
        return f"Dataset(path={self.path!r}{group}{view}, tensors={list(self.tensors)})"

    # --------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        self._state.flush()
        return {
            "url": self._state.storage.url,
            "creds": self._state.creds,
            "version": self._state.branch or self._state.node_id,
            "selection": self._selection,
            "group": self._group,
            "link_creds": self._state.links.creds,
        }

    def __setstate__(self, d: dict[str, Any]) -> None:
        from hub.storage import storage_from_url

        # An unpickled dataset reads: the writer that pickled it keeps the branch's write lock.
        storage = storage_from_url(d["url"], creds=d["creds"], read_only=True)
        opened = Dataset._open(storage, d["creds"], True, d["version"])
        opened._state.links.creds.update(d.get("link_creds", {}))
        object.__setattr__(self, "_state", opened._state)
        object.__setattr__(self, "_selection", d["selection"])
        object.__setattr__(self, "_group", d["group"])


def _unlinked(htype: str) -> str:
    """The htype of a link tensor's files: ``image`` for ``link[image]``, ``sequence[image]`` for
    ``sequence[link[image]]``; other htypes are their own."""
    return htype.replace("link[", "", 1).replace("]", "", 1) if "link[" in htype else htype


def _check_key_name(creds_key: Any) -> None:
    if not isinstance(creds_key, str) or not creds_key:
        raise TensorMetaError(f"A creds key is a non-empty string, got {creds_key!r}.")


def _check_unmanaged(managed: bool) -> None:
    if managed:
        raise TensorMetaError("Managed credentials need a hosted service; give them with ds.populate_creds().")
