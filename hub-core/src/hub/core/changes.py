"""What a version node changed since its parent: the records behind ``ds.diff``.

Each tensor's metadata keeps a record in its node's own coordinates: ``created``, ``added``
(the index range of samples appended in this node), ``updated`` and ``deleted`` (indices in the
parent's coordinates of pre-existing samples) and ``info`` (its info changed). A record grows
with the number of changes, never with the size of the tensor.
"""

from __future__ import annotations

import bisect
from typing import Any

from hub.core.meta import TensorMeta

__all__ = ["record_append", "record_update", "record_pop", "record_clear", "record_created", "record_info"]


def _parent_index(record: dict[str, Any], index: int) -> int:
    """The parent-coordinate index of pre-existing sample ``index`` (deleted samples are skipped)."""
    p = index
    for d in sorted(record.get("deleted", [])):
        if d <= p:
            p += 1
        else:
            break
    return p


def record_created(meta: TensorMeta) -> None:
    meta.changes = {"created": True}


def record_append(meta: TensorMeta, start: int, count: int) -> None:
    """``count`` samples were appended at ``start`` (appends always land at the end)."""
    if count <= 0 or meta.changes.get("created"):
        return
    added = meta.changes.get("added")
    if added is None:
        meta.changes["added"] = [start, start + count]
    else:
        added[1] = start + count


def record_update(meta: TensorMeta, index: int) -> None:
    added = meta.changes.get("added")
    if meta.changes.get("created") or (added is not None and added[0] <= index < added[1]):
        return
    updated = meta.changes.setdefault("updated", [])
    p = _parent_index(meta.changes, index)
    pos = bisect.bisect_left(updated, p)
    if pos == len(updated) or updated[pos] != p:
        updated.insert(pos, p)


def record_pop(meta: TensorMeta, index: int) -> None:
    changes = meta.changes
    added = changes.get("added")
    if added is not None and added[0] <= index < added[1]:
        added[1] -= 1
        return
    if added is not None and index < added[0]:
        added[0] -= 1
        added[1] -= 1
    if changes.get("created"):
        return
    p = _parent_index(changes, index)
    if p in changes.get("updated", []):
        changes["updated"].remove(p)
    bisect.insort(changes.setdefault("deleted", []), p)


def record_clear(meta: TensorMeta) -> None:
    """Every sample was removed (call before the removal): each sample of the parent counts as deleted."""
    changes = meta.changes
    if changes.get("created"):
        return
    added = changes.pop("added", None)
    kept = meta.length - (added[1] - added[0] if added is not None else 0)
    changes.pop("updated", None)
    changes["deleted"] = list(range(kept + len(changes.get("deleted", []))))


def record_info(meta: TensorMeta) -> None:
    meta.changes["info"] = True
