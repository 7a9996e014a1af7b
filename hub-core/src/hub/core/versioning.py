"""Version control: commits, branches, tags, checkout, log and reset over version nodes.

Every branch writes to a *working node*; a commit freezes it (writes its ``commit.json``) and
starts a new working node whose metadata points at the committed chunk indexes and chunks, so a
commit costs in proportion to the number of tensors, never to the number of samples. Branch
heads and tags live in ``hub.json``, replaced only by compare-and-swap.
"""

from __future__ import annotations

import functools
import getpass
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.core.engine import TensorEngine
from hub.core.meta import (
    ROOT_KEY,
    CommitDoc,
    RootDoc,
    TensorMeta,
    VersionMeta,
    commit_key,
    ids_key,
    new_id,
    node_meta_key,
)
from hub.core.tiles import TileManifest
from hub.errors import (
    CommitConflictError,
    EmptyCommitError,
    KeyNotFoundError,
    MergeConflictError,
    VersionControlError,
)
from hub.storage import Storage

if TYPE_CHECKING:
    from hub.core.dataset import _State

__all__ = ["commit", "checkout", "log", "reset", "tag", "read_root", "update_root", "resolve"]


def read_root(state: _State) -> tuple[RootDoc, str]:
    data, token = state.storage.get_with_token(ROOT_KEY)
    return RootDoc.frombytes(data, f"{state.storage.url}/{ROOT_KEY}"), token


def update_root(state: _State, change: Callable[[RootDoc], None]) -> RootDoc:
    """Apply ``change`` to ``hub.json`` by compare-and-swap, retrying on concurrent updates.

    ``change`` sees the current document each time and raises to give up.
    """
    for _ in range(100):
        root, token = read_root(state)
        change(root)
        if state.storage.compare_and_swap(ROOT_KEY, root.tobytes(), token) is not None:
            return root
    raise CommitConflictError(f"hub.json of {state.storage.url} kept changing under this writer; try again.")


def read_commit(state: _State, node_id: str) -> CommitDoc | None:
    try:
        data = state.storage.get(commit_key(node_id))
    except KeyNotFoundError:
        return None
    return CommitDoc.frombytes(data, f"{state.storage.url}/{commit_key(node_id)}")


def _node_meta(state: _State, node_id: str) -> VersionMeta:
    key = node_meta_key(node_id)
    try:
        return VersionMeta.frombytes(state.storage.get(key), f"{state.storage.url}/{key}")
    except KeyNotFoundError:
        raise VersionControlError(f"Version {node_id!r} does not exist in {state.storage.url}.") from None


def _child_meta(parent: VersionMeta, parent_id: str) -> VersionMeta:
    """A new working node's metadata: the parent's tensors, sealed at their current lengths."""
    meta = parent.copy()
    meta.parent = parent_id
    meta.changed = False
    meta.changes = {}
    for tensor in meta.tensors.values():
        tensor.sealed = tensor.length
        tensor.base_index = tensor.index
        tensor.changes = {}
    return meta


def locate(storage: Storage, root: RootDoc, address: str) -> tuple[str, str | None]:
    """(node id, branch) of a branch name, tag or commit id in ``root``; branch is None for a commit or tag."""
    if address in root.heads:
        return root.heads[address], address
    if address in root.tags:
        return root.tags[address], None
    if storage.exists(commit_key(address)):
        return address, None
    raise VersionControlError(
        f"{address!r} is not a branch, tag or commit of {storage.url}. "
        f"Branches: {sorted(root.heads)}; use checkout({address!r}, create=True) to make a branch."
    )


def resolve(state: _State, address: str) -> tuple[str, str | None]:
    """:func:`locate` in the dataset's current ``hub.json``."""
    return locate(state.storage, read_root(state)[0], address)


def commit(state: _State, message: str | None = None, allow_empty: bool = False) -> str:
    """Freeze the working node as a commit; the branch continues in a new working node."""
    state.check_writable()
    branch = state.branch
    assert branch is not None  # check_writable refuses a checked-out commit
    state.flush()
    if not state.meta.changed and not allow_empty:
        raise EmptyCommitError(
            f"Nothing changed on branch {branch!r} since the last commit; pass allow_empty=True to commit anyway."
        )
    node = state.node_id
    doc = CommitDoc(node, state.meta.parent, branch, message, time.time(), _author())
    child_id = new_id()
    child = _child_meta(state.meta, node)
    # Both documents must be durable before the head moves, and neither is referenced until it does: written at
    # the same time, their syncs overlap (one wait on the disk instead of two).
    child_written = _helper().submit(state.storage.set, node_meta_key(child_id), child.tobytes())
    try:
        committed = state.storage.set_if_absent(commit_key(node), doc.tobytes())
    finally:
        child_written.result()
    if not committed:
        state.storage.delete(node_meta_key(child_id))
        raise CommitConflictError(
            f"Version {node} of {state.storage.url} was committed by another writer; reload the dataset."
        )

    def move_head(root: RootDoc) -> None:
        if root.heads.get(branch) != node:
            raise CommitConflictError(
                f"Branch {branch!r} of {state.storage.url} moved while committing "
                f"(now at {root.heads.get(branch)!r}); reload the dataset and commit again."
            )
        root.heads[branch] = child_id

    try:
        update_root(state, move_head)
    except CommitConflictError:
        state.storage.delete(commit_key(node))
        state.storage.delete(node_meta_key(child_id))
        raise
    state.switch(child_id, child, branch)
    return node


_helpers: dict[int, ThreadPoolExecutor] = {}


def _helper() -> ThreadPoolExecutor:
    """A thread of this process for a commit's second write (starting one per commit cost 0.2 ms)."""
    pid = os.getpid()
    pool = _helpers.get(pid)
    if pool is None:  # first use, or a forked child, which has none of its parent's threads
        _helpers.clear()
        pool = _helpers[pid] = ThreadPoolExecutor(1, thread_name_prefix="hub-commit")
    return pool


def _author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return ""


def checkout(state: _State, address: str, create: bool = False) -> str | None:
    """Switch to a branch, tag or commit; ``create=True`` starts a new branch here."""
    state.flush()
    if create:
        return _create_branch(state, address)
    node_id, branch = resolve(state, address)
    if state.lease is not None and state.lease.branch == branch:
        held = True  # this branch's lock is ours already: its head can't have moved
    else:
        # No lock yet (see _State.let_go): the first write takes it and checks that the branch did not move.
        state.let_go()
        held = False
    key = node_meta_key(node_id)
    try:
        data, token = state.storage.get_with_token(key)
    except KeyNotFoundError:
        raise VersionControlError(f"Version {node_id!r} does not exist in {state.storage.url}.") from None
    meta = VersionMeta.frombytes(data, f"{state.storage.url}/{key}")
    state.switch(node_id, meta, branch)
    state.unlocked_token = None if held else token
    return node_id if branch is None else meta.parent


def _create_branch(state: _State, name: str) -> str | None:
    if not name or "/" in name or name.startswith(".") or any(c in name for c in " @~^:\\"):
        raise VersionControlError(f"{name!r} is not a valid branch name (no '/', '@', spaces or leading '.').")
    root, _ = read_root(state)
    if name in root.heads or name in root.tags:
        raise VersionControlError(f"{name!r} already names a branch or tag; checkout({name!r}) to switch to it.")
    base = state.commit_id
    if state.branch is not None and state.meta.changed:
        # Uncommitted changes can't be shared by two branches' working nodes: commit them first (as Hub 2.x did).
        base = commit(state, f"auto-commit before creating branch {name!r}")
    child_id = new_id()
    child = VersionMeta() if base is None else _child_meta(_node_meta(state, base), base)
    state.storage.set(node_meta_key(child_id), child.tobytes())

    def add_branch(root: RootDoc) -> None:
        if name in root.heads or name in root.tags:
            raise VersionControlError(f"{name!r} already names a branch or tag; checkout({name!r}) to switch to it.")
        root.heads[name] = child_id

    state.hold(name)
    try:
        update_root(state, add_branch)
    except VersionControlError:
        state.storage.delete(node_meta_key(child_id))
        raise
    state.switch(child_id, child, name)
    return base


def reset(state: _State) -> None:
    """Drop every uncommitted change of the current branch."""
    state.check_writable()
    branch = state.branch
    assert branch is not None
    parent = state.meta.parent
    child_id = new_id()
    child = _child_meta(_node_meta(state, parent), parent) if parent is not None else VersionMeta()
    state.storage.set(node_meta_key(child_id), child.tobytes())
    old = state.node_id

    def move_head(root: RootDoc) -> None:
        if root.heads.get(branch) != old:
            raise CommitConflictError(f"Branch {branch!r} moved while resetting; reload the dataset.")
        root.heads[branch] = child_id

    update_root(state, move_head)
    state.discard_buffers()
    state.switch(child_id, child, branch)


def tag(state: _State, name: str, commit_id: str | None = None) -> str:
    """Name a commit (default: the current branch's last commit)."""
    target = commit_id or state.commit_id
    if target is None:
        raise VersionControlError("There is no commit to tag yet; commit() first.")
    if read_commit(state, target) is None:
        raise VersionControlError(f"{target!r} is not a commit of {state.storage.url}.")

    def add_tag(root: RootDoc) -> None:
        if name in root.tags or name in root.heads:
            raise VersionControlError(f"{name!r} already names a tag or branch.")
        root.tags[name] = target

    update_root(state, add_tag)
    return target


def history(state: _State) -> list[CommitDoc]:
    """The commits reachable from the current version, newest first."""
    out = []
    current = state.commit_id
    while current is not None:
        doc = read_commit(state, current)
        if doc is None:
            raise VersionControlError(f"Commit {current!r} is missing from {state.storage.url}.")
        out.append(doc)
        current = doc.parent
    return out


def log(state: _State) -> list[dict[str, Any]]:
    """Print the history like ``git log`` and return it as a list of dicts."""
    commits = history(state)
    lines = []
    if state.branch is not None:
        pending = " (uncommitted changes)" if state.meta.changed else ""
        lines.append(f"Working version {state.node_id} on branch {state.branch}{pending}")
    for i, doc in enumerate(commits):
        head = f" (HEAD -> {state.branch})" if i == 0 and state.branch else ""
        when = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(doc.time))
        lines += [
            "",
            f"commit {doc.id}{head}",
            f"Author: {doc.author}",
            f"Date:   {when}",
            "",
            f"    {doc.message or ''}",
        ]
    print("\n".join(lines))
    return [commit_details(doc) for doc in commits]


def commit_details(doc: CommitDoc) -> dict[str, Any]:
    details = asdict(doc)
    details["commit"] = details.pop("id")
    return details


def _node_changes(node_id: str, meta: VersionMeta) -> dict[str, Any]:
    tensors = {}
    for name, tensor in meta.tensors.items():
        record = tensor.changes
        if not record:
            continue
        tensors[name] = {
            "created": bool(record.get("created")),
            "data_added": list(record.get("added", [])) if not record.get("created") else [0, tensor.length],
            "data_updated": list(record.get("updated", [])),
            "data_deleted": list(record.get("deleted", [])),
            "info_updated": bool(record.get("info")),
        }
    dataset = {
        "info_updated": bool(meta.changes.get("info")),
        "deleted_tensors": list(meta.changes.get("deleted", [])),
        "renamed_tensors": dict(meta.changes.get("renamed", {})),
    }
    return {"commit": node_id, "dataset": dataset, "tensors": tensors}


#: Metadata of committed versions (immutable), by (dataset URL, version id): a diff walks the same history often.
_COMMITTED: OrderedDict[tuple[str, str], VersionMeta] = OrderedDict()
_COMMITTED_MAX = 1024


def _committed_meta(state: _State, node_id: str) -> VersionMeta:
    """The metadata of a committed version (never to be changed by the caller)."""
    key = (state.storage.url, node_id)
    meta = _COMMITTED.get(key)
    if meta is None:
        meta = _COMMITTED[key] = _node_meta(state, node_id)
        if len(_COMMITTED) > _COMMITTED_MAX:
            _COMMITTED.popitem(last=False)
    else:
        _COMMITTED.move_to_end(key)
    return meta


def _lineages(
    state: _State, a: str, b: str | None, b_committed: bool = False
) -> tuple[list[tuple[str, VersionMeta]], list[tuple[str, VersionMeta]], str | None]:
    """The histories of ``a`` and ``b``, newest first, down to their newest common ancestor (included), and it.

    Both are walked a step at a time, so a diff reads only the versions since the ancestor, not the whole
    history. Versions reached as parents are commits, whose metadata is cached.
    """
    walks: list[list[tuple[str, VersionMeta]]] = [[], []]
    seen: list[set[str]] = [set(), set()]
    current: list[str | None] = [a, b]
    first = [True, not b_committed]
    while current[0] is not None or current[1] is not None:
        for side in (0, 1):
            node = current[side]
            if node is None:
                continue
            if node == state.node_id:
                meta = state.meta
            elif first[side]:
                meta = _node_meta(state, node)  # may be a branch's working node: not cached
            else:
                meta = _committed_meta(state, node)
            first[side] = False
            walks[side].append((node, meta))
            seen[side].add(node)
            if node in seen[1 - side]:
                return walks[0], walks[1], node
            current[side] = meta.parent
    return walks[0], walks[1], None


def diff(state: _State, id_1: str | None = None, id_2: str | None = None) -> dict[str, Any]:
    """Changes on each side since the common ancestor of two versions (see ``Dataset.diff``)."""
    state.flush()
    # diff(): the working state against its parent; diff(x): the current state against x; diff(x, y): x against y.
    a = resolve(state, id_1)[0] if id_1 is not None and id_2 is not None else state.node_id
    b: str | None
    if id_2 is not None:
        b = resolve(state, id_2)[0]
    elif id_1 is not None:
        b = resolve(state, id_1)[0]
    else:
        b = state.commit_id
    lineage_a, lineage_b, ancestor = _lineages(state, a, b, b_committed=id_1 is None and id_2 is None)

    def side(lineage: list[tuple[str, VersionMeta]]) -> list[dict[str, Any]]:
        out = []
        for node, meta in lineage:
            if node == ancestor:
                break
            out.append(_node_changes(node, meta))
        return out

    return {
        "ancestor": ancestor,
        "a": {"version": a, "changes": side(lineage_a)},
        "b": {"version": b, "changes": side(lineage_b)},
    }


def modified_indexes(state: _State, key: str, target: str | None = None) -> list[int]:
    """Indices (in the current version) of the samples of tensor ``key`` appended or updated since ``target``, a
    version the current one descends from (default: its parent commit), from the versions' change records."""
    tensor_id = state.meta.tensors[key].id
    lineage = [(state.node_id, state.meta)]
    if target is not None:
        stop = resolve(state, target)[0]
        while lineage[-1][0] != stop:
            parent = lineage[-1][1].parent
            if parent is None:
                raise VersionControlError(
                    f"{target!r} is not a version the current one ({state.node_id}) descends from, so there are no "
                    "changes since it to list; give a commit of this branch's history (ds.commits lists them)."
                )
            lineage.append((parent, _committed_meta(state, parent)))
        lineage.pop()  # the target itself: changes since it, not in it
    modified = np.zeros(0, dtype=np.int64)
    for _, meta in reversed(lineage):
        tensor = next((t for t in meta.tensors.values() if t.id == tensor_id), None)
        if tensor is None:  # not in that version (created later): nothing before it counts
            modified = np.zeros(0, dtype=np.int64)
            continue
        record = tensor.changes
        if record.get("created"):
            modified = np.arange(tensor.length, dtype=np.int64)
            continue
        # Updated and deleted indices are the parent's; a kept sample moves down by the deletions before it.
        deleted = np.asarray(record.get("deleted", []), dtype=np.int64)
        earlier = np.union1d(modified[~np.isin(modified, deleted)], np.asarray(record.get("updated", []), np.int64))
        lo, hi = record.get("added", [0, 0])
        modified = np.union1d(earlier - np.searchsorted(deleted, earlier), np.arange(lo, hi, dtype=np.int64))
    return [int(i) for i in modified]


def format_diff(result: dict[str, Any]) -> str:
    """A readable rendering of :func:`diff`'s result."""
    lines = [f"Changes since the common ancestor {result['ancestor'] or '(none)'}:"]
    for label in ("a", "b"):
        side = result[label]
        lines.append(f"\n== {label}: version {side['version']}")
        if not side["changes"]:
            lines.append("   no changes")
        for change in side["changes"]:
            ds = change["dataset"]
            if not change["tensors"] and not (ds["info_updated"] or ds["deleted_tensors"] or ds["renamed_tensors"]):
                continue
            lines.append(f"  version {change['commit']}")
            if ds["info_updated"]:
                lines.append("    dataset info updated")
            for name in ds["deleted_tensors"]:
                lines.append(f"    tensor {name!r} deleted")
            for new, old in ds["renamed_tensors"].items():
                lines.append(f"    tensor {old!r} renamed to {new!r}")
            for name, t in change["tensors"].items():
                parts = ["created"] if t["created"] else []
                lo, hi = t["data_added"] or (0, 0)
                if hi > lo:
                    parts.append(f"{hi - lo} samples added [{lo}:{hi}]")
                if t["data_updated"]:
                    parts.append(f"updated {t['data_updated']}")
                if t["data_deleted"]:
                    parts.append(f"deleted {t['data_deleted']}")
                if t["info_updated"]:
                    parts.append("info updated")
                lines.append(f"    {name}: {'; '.join(parts)}")
    return "\n".join(lines)


def _ancestors(state: _State, node_id: str) -> list[str]:
    """``node_id`` and every version it descends from (parents and merged-in commits), nearest first."""
    order, seen, queue = [], set(), [node_id]
    while queue:
        node = queue.pop(0)
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        meta = state.meta if node == state.node_id else _node_meta(state, node)
        queue += [p for p in (meta.parent, meta.changes.get("merged")) if p is not None]
    return order


class _Side:
    """One version's copy of a tensor, for reading during a merge."""

    def __init__(self, state: _State, meta: TensorMeta, ids_meta: TensorMeta | None) -> None:
        self.engine = TensorEngine(state.storage, TensorMeta.from_dict(meta.to_dict()))
        self.ids = np.zeros(0, dtype=np.uint64)
        if ids_meta is not None and ids_meta.length:
            ids_engine = TensorEngine(state.storage, TensorMeta.from_dict(ids_meta.to_dict()))
            ids = ids_engine.read_range(0, ids_meta.length, np.dtype("uint64"))
            assert ids is not None
            self.ids = ids.reshape(-1)
        self.position = {int(i): p for p, i in enumerate(self.ids)}

    def stored(self, positions: list[int]) -> list[Any]:
        return [data for data, _ in self.engine.read(positions)] if positions else []

    def chunk_of(self, position: int) -> int:
        index = self.engine.index
        return index.chunk_id(int(index.locate(np.asarray([position]))[0]))


def _changed(a: _Side, b: _Side, ids: list[int]) -> set[int]:
    """Ids (present on both sides) whose stored sample differs between ``a`` and ``b``."""
    suspects = [i for i in ids if a.chunk_of(a.position[i]) != b.chunk_of(b.position[i])]
    left = a.stored([a.position[i] for i in suspects])
    right = b.stored([b.position[i] for i in suspects])
    return {i for i, x, y in zip(suspects, left, right, strict=True) if _sample_bytes(x) != _sample_bytes(y)}


def _sample_bytes(data: Any) -> Any:
    return data.tobytes() if isinstance(data, TileManifest) else bytes(data)


def merge(
    state: _State,
    target: str,
    conflict_resolution: str | None = None,
    delete_removed_tensors: bool = False,
    force: bool = False,
) -> str | None:
    """Bring the last commit of ``target`` into the current branch (see ``Dataset.merge``)."""
    from hub.core import changes as records
    from hub.core.dataset import Dataset

    if conflict_resolution not in (None, "ours", "theirs"):
        raise VersionControlError(f"conflict_resolution must be None, 'ours' or 'theirs', not {conflict_resolution!r}.")
    state.check_writable()
    branch = state.branch
    assert branch is not None
    state.flush()
    target_node, target_branch = resolve(state, target)
    theirs_id = _node_meta(state, target_node).parent if target_branch is not None else target_node
    if target_branch is not None and _node_meta(state, target_node).changed and not force:
        raise VersionControlError(
            f"Branch {target!r} has uncommitted changes, which a merge would not include; commit them first "
            "(or pass force=True to merge its last commit anyway)."
        )
    if theirs_id is None:
        return None
    ours_ancestry = _ancestors(state, state.node_id)
    if theirs_id in ours_ancestry:
        return None  # already merged
    theirs_ancestry = set(_ancestors(state, theirs_id))
    base_id = next((n for n in ours_ancestry if n in theirs_ancestry), None)
    theirs = _node_meta(state, theirs_id)
    base = _node_meta(state, base_id) if base_id is not None else VersionMeta()
    ours = state.meta

    def by_id(meta: VersionMeta) -> dict[str, tuple[str, TensorMeta]]:
        return {t.id: (name, t) for name, t in meta.tensors.items() if not t.hidden}

    theirs_t, base_t, ours_t = by_id(theirs), by_id(base), by_id(ours)
    plans: list[Callable[[], None]] = []
    conflicts: dict[str, list[int]] = {}
    ds = Dataset(state)

    for tid, (t_name, t_meta) in theirs_t.items():
        ids_name = ids_key(tid)
        if tid not in base_t:
            if t_name in ours.tensors:
                raise VersionControlError(
                    f"Tensor {t_name!r} was created on both branches; rename one of them before merging."
                )

            def adopt(name: str = t_name, meta: TensorMeta = t_meta, ids_name: str = ids_name) -> None:
                # Their committed chunks are shared, sealed: this branch never changes or deletes them.
                for key, m in ((name, meta), (ids_name, theirs.tensors.get(ids_name))):
                    if m is None:
                        continue
                    copy = TensorMeta.from_dict(m.to_dict())
                    copy.sealed, copy.base_index = copy.length, copy.index
                    copy.changes = {"created": True} if key == name else {}
                    ours.tensors[key] = copy
                ds._add_parent_groups(name)

            plans.append(adopt)
            continue
        if tid not in ours_t:
            continue  # deleted on this branch: their changes to it are dropped
        o_name, o_meta = ours_t[tid]
        b_name, b_meta = base_t[tid]
        side_t = _Side(state, t_meta, theirs.tensors.get(ids_name))
        side_b = _Side(state, b_meta, base.tensors.get(ids_name))
        side_o = _Side(state, o_meta, ours.tensors.get(ids_name))
        common_bt = [i for i in side_b.position if i in side_t.position]
        changed_t = _changed(side_t, side_b, common_bt)
        common_bo = [i for i in side_b.position if i in side_o.position]
        changed_o = _changed(side_o, side_b, common_bo)
        removed_t = [i for i in side_b.position if i not in side_t.position and i in side_o.position]
        added_t = [int(i) for i in side_t.ids if int(i) not in side_b.position and int(i) not in side_o.position]
        clash = {i for i in changed_t & changed_o if i in side_o.position}
        clash |= {i for i in removed_t if i in changed_o}
        if clash and conflict_resolution is None:
            conflicts[o_name] = sorted(side_o.position[i] for i in clash)
            continue
        take = [i for i in changed_t if i in side_o.position and (i not in clash or conflict_resolution == "theirs")]
        drop = [i for i in removed_t if i not in clash or conflict_resolution == "theirs"]

        def apply(
            key: str = o_name,
            side_t: _Side = side_t,
            side_o: _Side = side_o,
            take: list[int] = take,
            drop: list[int] = drop,
            added: list[int] = added_t,
            info: dict[str, Any] | None = (t_meta.info if t_meta.info != b_meta.info else None),
            new_name: str | None = (t_name if t_name != b_name and o_name == b_name else None),
        ) -> None:
            tensor_meta = ours.tensors[key]
            engine = state.engine(key)
            for i in take:
                position = side_o.position[i]
                engine.update(position, _copyable(side_t, side_t.position[i], tensor_meta))
                records.record_update(engine.meta, position)
            for position in sorted((side_o.position[i] for i in drop), reverse=True):
                state.pop_sample(key, position)
            if added:
                if engine.meta.ndim is None:  # empty here until now: its samples' kind is settled on their side
                    engine.meta.ndim = side_t.engine.meta.ndim
                    engine.meta.dtype = engine.meta.dtype or side_t.engine.meta.dtype
                start = engine.meta.length
                engine.append(_copyable(side_t, side_t.position[i], tensor_meta) for i in added)
                records.record_append(engine.meta, start, len(added))
                state.append_ids(key, np.asarray(added, dtype=np.uint64))
            if info is not None and (
                ours.tensors[key].info == base_t[engine.meta.id][1].info or conflict_resolution == "theirs"
            ):
                ours.tensors[key].info.clear()
                ours.tensors[key].info.update(info)
                records.record_info(ours.tensors[key])
            if new_name is not None and new_name not in ours.tensors:
                ds.rename_tensor(key, new_name)

        plans.append(apply)

    if conflicts:
        raise MergeConflictError(
            "Samples changed on both branches since they diverged (tensor: indices on this branch): "
            f"{conflicts}. Pass conflict_resolution='ours' or 'theirs' to choose."
        )
    if delete_removed_tensors:
        for tid in base_t:
            if tid not in theirs_t and tid in ours_t:
                plans.append(functools.partial(ds.delete_tensor, ours_t[tid][0]))
    with ds:
        for plan in plans:
            plan()
        _merge_creds_keys(ours, theirs)
        state.meta.changes["merged"] = theirs_id
        state.meta_dirty = True
    return commit(state, f"Merge {target} into {branch}", allow_empty=True)


def _merge_creds_keys(ours: VersionMeta, theirs: VersionMeta) -> None:
    """Add their creds keys that ours lacks (by the id their link records store), so merged links keep theirs."""
    ours_ids = {ours.creds_key_ids.get(k, k) for k in ours.creds_keys}
    for name in theirs.creds_keys:
        stored = theirs.creds_key_ids.get(name, name)
        if stored in ours_ids or name in ours.creds_keys:
            continue  # the same key, or a name ours gave another key (their links then read with ours' key)
        ours.creds_keys.append(name)
        if stored != name:
            ours.creds_key_ids[name] = stored


def _copyable(side: _Side, position: int, meta: TensorMeta) -> Any:
    """A sample of ``side`` as something ``TensorEngine.append``/``update`` accepts."""
    from hub.core.samples import SampleEncoder, decode_sample

    data, shape = side.engine.read([position])[0]
    if isinstance(data, TileManifest):
        whole = side.engine.read_tiled(data, (), lambda d, s: decode_sample(side.engine.meta, d, s))
        return SampleEncoder("merge", TensorMeta.from_dict(meta.to_dict())).encode(whole)
    return bytes(data), shape
