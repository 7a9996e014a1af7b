"""Version control: commits, branches, tags, checkout, log and reset over version nodes.

Every branch writes to a *working node*; a commit freezes it (writes its ``commit.json``) and
starts a new working node whose metadata points at the committed chunk indexes and chunks, so a
commit costs in proportion to the number of tensors, never to the number of samples. Branch
heads and tags live in ``hub.json``, replaced only by compare-and-swap.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from hub.core.meta import (
    ROOT_KEY,
    CommitDoc,
    RootDoc,
    VersionMeta,
    commit_key,
    new_id,
    node_meta_key,
)
from hub.errors import (
    CommitConflictError,
    EmptyCommitError,
    KeyNotFoundError,
    VersionControlError,
)

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


def resolve(state: _State, address: str) -> tuple[str, str | None]:
    """(node id, branch) of a branch name, tag or commit id; branch is None for a commit or tag."""
    root, _ = read_root(state)
    if address in root.heads:
        return root.heads[address], address
    if address in root.tags:
        return root.tags[address], None
    if read_commit(state, address) is not None:
        return address, None
    raise VersionControlError(
        f"{address!r} is not a branch, tag or commit of {state.storage.url}. "
        f"Branches: {sorted(root.heads)}; use checkout({address!r}, create=True) to make a branch."
    )


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
    state.storage.set(commit_key(node), doc.tobytes())
    child_id = new_id()
    child = _child_meta(state.meta, node)
    state.storage.set(node_meta_key(child_id), child.tobytes())

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
    meta = _node_meta(state, node_id)
    state.switch(node_id, meta, branch)
    return node_id if branch is None else meta.parent


def _create_branch(state: _State, name: str) -> str | None:
    if not name or "/" in name or name.startswith(".") or any(c in name for c in " @~^:\\"):
        raise VersionControlError(f"{name!r} is not a valid branch name (no '/', '@', spaces or leading '.').")
    base = state.meta.parent if state.branch is not None else state.node_id
    if state.branch is not None and state.meta.changed:
        # Uncommitted changes can't be shared by two branches' working nodes: commit them first (as Hub 2.x did).
        base = commit(state, f"auto-commit before creating branch {name!r}")
    child_id = new_id()
    child = VersionMeta() if base is None else _child_meta(_node_meta(state, base), base)
    state.storage.set(node_meta_key(child_id), child.tobytes())

    def add_branch(root: RootDoc) -> None:
        if name in root.heads:
            raise VersionControlError(f"Branch {name!r} already exists; checkout({name!r}) to switch to it.")
        root.heads[name] = child_id

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
    target = commit_id or (state.meta.parent if state.branch is not None else state.node_id)
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
    current = state.meta.parent if state.branch is not None else state.node_id
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


def _lineage(state: _State, node_id: str) -> list[tuple[str, VersionMeta]]:
    """``node_id`` and its ancestors, newest first, with their metadata."""
    out = []
    current: str | None = node_id
    while current is not None:
        meta = state.meta if current == state.node_id else _node_meta(state, current)
        out.append((current, meta))
        current = meta.parent
    return out


def diff(state: _State, id_1: str | None = None, id_2: str | None = None) -> dict[str, Any]:
    """Changes on each side since the common ancestor of two versions (see ``Dataset.diff``)."""
    state.flush()
    a = resolve(state, id_1)[0] if id_1 is not None else state.node_id
    b: str | None
    if id_2 is not None:
        b = resolve(state, id_2)[0]
    elif id_1 is None:
        b = state.meta.parent if state.branch is not None else state.node_id
    else:
        b = state.node_id
    lineage_a = _lineage(state, a)
    lineage_b = _lineage(state, b) if b is not None else []
    in_b = {node for node, _ in lineage_b}
    ancestor = next((node for node, _ in lineage_a if node in in_b), None)

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


def format_diff(result: dict[str, Any]) -> str:
    """A readable rendering of :func:`diff`'s result."""
    lines = [f"Changes since the common ancestor {result['ancestor'] or '(none)'}:"]
    for label in ("a", "b"):
        side = result[label]
        lines.append(f"\n== {label}: version {side['version']}")
        if not side["changes"]:
            lines.append("   no changes")
        for change in side["changes"]:
            lines.append(f"  version {change['commit']}")
            ds = change["dataset"]
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
