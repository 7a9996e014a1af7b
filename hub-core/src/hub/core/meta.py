"""The JSON documents of a dataset: the root document and a version node's metadata.

Every document carries ``format_version`` ("MAJOR.MINOR"); a reader refuses a major version
it does not know. See ``docs/format.md``.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from hub.errors import CorruptDatasetError, FormatVersionError

__all__ = [
    "FORMAT_VERSION",
    "ROOT_KEY",
    "TensorMeta",
    "VersionMeta",
    "RootDoc",
    "CommitDoc",
    "commit_key",
    "node_meta_key",
    "index_key",
    "new_id",
    "ids_key",
    "new_sample_ids",
    "check_format_version",
]

FORMAT_VERSION = "1.4"
FORMAT_MAJOR = 1
#: Features a node's metadata may list in ``requires`` (from format 1.3) that this reader knows; it refuses others.
KNOWN_FEATURES = frozenset({"ragged_polygons"})
#: The feature a tensor ``layout`` requires of its readers.
_LAYOUT_FEATURES = {"ragged": "ragged_polygons"}
ROOT_KEY = "hub.json"


def new_id(bits: int = 64) -> str:
    """A random hexadecimal id (chunk, tensor and version node ids)."""
    return f"{secrets.randbits(bits):0{bits // 4}x}"


def ids_key(tensor_id: str) -> str:
    """The name of the hidden tensor holding the stable sample ids of tensor ``tensor_id``."""
    return f"_ids_{tensor_id}"


def new_sample_ids(count: int) -> np.ndarray:
    """``count`` random 64-bit sample ids, from fresh OS entropy (forked workers never repeat them)."""
    # os.urandom, not a seeded Generator: making one costs ~50 us, as much as appending a JPEG file.
    ids: np.ndarray = np.frombuffer(os.urandom(8 * count), dtype=np.uint64).copy()
    return ids


def node_meta_key(node_id: str) -> str:
    return f"versions/{node_id}/meta.json"


def index_key(tensor_id: str, digest: str) -> str:
    return f"indexes/{tensor_id}/{digest}"


def check_format_version(doc: dict[str, Any], what: str) -> None:
    version = doc.get("format_version")
    if not isinstance(version, str) or not version.split(".")[0].isdigit():
        raise CorruptDatasetError(f"{what} has no valid format_version ({version!r}).")
    major = int(version.split(".")[0])
    if major != FORMAT_MAJOR:
        raise FormatVersionError(
            f"{what} is in hub format {version}; this hub-core reads format {FORMAT_MAJOR}.x. "
            "Upgrade hub-core (pip install -U hub-core) to open it."
        )


def _load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptDatasetError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise CorruptDatasetError(f"{what} is not a JSON object.")
    check_format_version(doc, what)
    return doc


def _copy_json(value: Any) -> Any:
    """A copy of nested dicts and lists; anything else (numbers, strings, None) is shared, being immutable."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    return copy.deepcopy(value)


def _dump_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class TensorMeta:
    """Everything about one tensor except its samples: htype, dtype, codecs, length, shape bounds."""

    id: str
    htype: str = "generic"
    dtype: str | None = None
    sample_compression: str | None = None
    chunk_compression: str | None = None
    max_chunk_size: int = 16 * 2**20
    length: int = 0
    ndim: int | None = None
    min_shape: list[int] | None = None
    max_shape: list[int] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    index: str | None = None
    hidden: bool = False
    #: Samples [0, sealed) were in the parent commit: their chunks are never changed in place.
    sealed: int = 0
    #: The chunk index the parent commit names; never deleted by this node.
    base_index: str | None = None
    #: What this node changed in the tensor (see ``hub.core.changes``).
    changes: dict[str, Any] = field(default_factory=dict)
    #: How samples are stored when the htype has more than one way (format 1.3: ``"ragged"`` polygon records);
    #: None: as the htype stored them in format 1.2.
    layout: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # The fields as they are (JSON serialization copies nothing): dataclasses.asdict deep-copies every list
        # and dict, a third of a commit's time.
        doc = {name: getattr(self, name) for name in _TENSOR_FIELDS}
        if doc["layout"] is None:  # written only when set, so that 1.2 tensors' metadata stays as it was
            del doc["layout"]
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> TensorMeta:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})

    def copy(self) -> TensorMeta:
        """An independent copy (its lists and dicts too). Taken before every write to roll back to, so it
        copies the JSON-like fields by hand: ``copy.deepcopy`` cost ~60 us, a fifth of appending a JPEG file.
        """
        return replace(
            self,
            min_shape=None if self.min_shape is None else list(self.min_shape),
            max_shape=None if self.max_shape is None else list(self.max_shape),
            info=_copy_json(self.info),
            changes=_copy_json(self.changes),
        )

    def update_shape_bounds(self, shapes: list[tuple[int, ...]]) -> None:
        """Widen min/max shape to cover ``shapes`` (all of this tensor's ndim)."""
        if not shapes:
            return
        lo = [min(s[d] for s in shapes) for d in range(len(shapes[0]))]
        hi = [max(s[d] for s in shapes) for d in range(len(shapes[0]))]
        if self.min_shape is None or self.max_shape is None:
            self.min_shape, self.max_shape = lo, hi
        else:
            self.min_shape = [min(a, b) for a, b in zip(self.min_shape, lo, strict=True)]
            self.max_shape = [max(a, b) for a, b in zip(self.max_shape, hi, strict=True)]


_TENSOR_FIELDS = tuple(f.name for f in fields(TensorMeta))


@dataclass
class VersionMeta:
    """The metadata document of one version node: its tensors, groups and dataset info.

    Replacing this one document is the commit point of every flush.
    """

    tensors: dict[str, TensorMeta] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    #: The commit this node was started from (None for a branch's first node without commits).
    parent: str | None = None
    #: Whether anything was written since ``parent``.
    changed: bool = False
    #: Dataset-level changes since ``parent``: info, deleted and renamed tensors.
    changes: dict[str, Any] = field(default_factory=dict)
    #: Names of the credentials links may use (``ds.add_creds_key``); never the credentials themselves.
    creds_keys: list[str] = field(default_factory=list)
    #: Key name -> the id its link records store, for keys renamed since they were added (``ds.update_creds_key``).
    creds_key_ids: dict[str, str] = field(default_factory=dict)

    def tobytes(self) -> bytes:
        doc = {
            "format_version": FORMAT_VERSION,
            "tensors": {name: meta.to_dict() for name, meta in self.tensors.items()},
            "groups": sorted(self.groups),
            "info": self.info,
            "parent": self.parent,
            "changed": self.changed,
            "changes": self.changes,
        }
        if self.creds_keys:
            doc["creds_keys"] = self.creds_keys
        if self.creds_key_ids:
            doc["creds_key_ids"] = self.creds_key_ids
        requires = sorted({_LAYOUT_FEATURES[m.layout] for m in self.tensors.values() if m.layout is not None})
        if requires:
            doc["requires"] = requires
        return _dump_json(doc)

    @classmethod
    def frombytes(cls, data: bytes, what: str) -> VersionMeta:
        doc = _load_json(data, what)
        unknown = sorted(set(doc.get("requires", [])) - KNOWN_FEATURES)
        if unknown:
            raise FormatVersionError(
                f"{what} (format {doc.get('format_version')}) needs format features this hub-core does not know: "
                f"{', '.join(map(str, unknown))}. Upgrade hub-core (pip install -U hub-core) to open it."
            )
        try:
            tensors = {name: TensorMeta.from_dict(m) for name, m in doc["tensors"].items()}
            return cls(
                tensors,
                list(doc.get("groups", [])),
                dict(doc.get("info", {})),
                doc.get("parent"),
                bool(doc.get("changed", False)),
                dict(doc.get("changes", {})),
                [str(k) for k in doc.get("creds_keys", [])],
                {str(k): str(v) for k, v in doc.get("creds_key_ids", {}).items()},
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise CorruptDatasetError(f"{what} is missing or has malformed fields: {e}") from None

    def copy(self) -> VersionMeta:
        """An independent copy, field by field (a JSON round trip cost a commit 0.3 ms)."""
        return VersionMeta(
            {name: meta.copy() for name, meta in self.tensors.items()},
            list(self.groups),
            _copy_json(self.info),
            self.parent,
            self.changed,
            _copy_json(self.changes),
            list(self.creds_keys),
            dict(self.creds_key_ids),
        )


@dataclass
class RootDoc:
    """``hub.json``: marks a dataset, names each branch's working node, and holds the tags.

    Replaced only by compare-and-swap, so concurrent commits, branch creations and tags never
    overwrite one another.
    """

    heads: dict[str, str]
    created_by: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def tobytes(self) -> bytes:
        return _dump_json(
            {"format_version": FORMAT_VERSION, "created_by": self.created_by, "heads": self.heads, "tags": self.tags}
        )

    @classmethod
    def frombytes(cls, data: bytes, what: str) -> RootDoc:
        doc = _load_json(data, what)
        heads = doc.get("heads")
        if not isinstance(heads, dict) or not heads:
            raise CorruptDatasetError(f"{what} names no branch heads.")
        return cls(dict(heads), str(doc.get("created_by", "")), dict(doc.get("tags", {})))


@dataclass
class CommitDoc:
    """``versions/<node>/commit.json``: written once, when the node becomes a commit."""

    id: str
    parent: str | None
    branch: str
    message: str | None
    time: float
    author: str = ""

    def tobytes(self) -> bytes:
        return _dump_json({"format_version": FORMAT_VERSION, **asdict(self)})

    @classmethod
    def frombytes(cls, data: bytes, what: str) -> CommitDoc:
        doc = _load_json(data, what)
        try:
            return cls(
                str(doc["id"]),
                doc.get("parent"),
                str(doc["branch"]),
                doc.get("message"),
                float(doc["time"]),
                str(doc.get("author", "")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptDatasetError(f"{what} is missing or has malformed fields: {e}") from None


def commit_key(node_id: str) -> str:
    return f"versions/{node_id}/commit.json"
