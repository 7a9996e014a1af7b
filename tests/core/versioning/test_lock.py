"""The writer lock: a second writer is refused with the holder named; leases expire; no silent read-only."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

import hub
import hub.core.lock
from hub.errors import LockedError


def _hold(path: str, ready: mp.synchronize.Event, done: mp.synchronize.Event) -> None:
    ds = hub.load(path)
    ds.x.append(1)
    ready.set()
    done.wait(60)
    ds.close()


@pytest.fixture
def dataset(tmp_path: Path) -> str:
    path = str(tmp_path / "ds")
    ds = hub.empty(path)
    ds.create_tensor("x")
    ds.close()
    return path


def _start_holder(path: str) -> tuple[mp.Process, mp.synchronize.Event]:
    ctx = mp.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(path, ready, done))
    proc.start()
    assert ready.wait(60)
    return proc, done


def test_second_writer_is_refused_with_holder_named(dataset: str) -> None:
    proc, done = _start_holder(dataset)
    try:
        with pytest.raises(LockedError, match=rf"pid {proc.pid}.*read_only=True"):
            hub.load(dataset)
        ro = hub.load(dataset, read_only=True)  # reading always works
        assert ro.read_only
        assert len(ro.x) == 1
        with pytest.raises(LockedError):
            hub.delete(dataset)
    finally:
        done.set()
        proc.join(30)
    ds = hub.load(dataset)  # released on close: the next writer gets in at once
    ds.x.append(2)
    assert len(hub.load(dataset, read_only=True).x) == 2


def test_killed_holder_is_taken_over(dataset: str) -> None:
    proc, _ = _start_holder(dataset)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    ds = hub.load(dataset)
    ds.x.append(3)
    assert len(ds.x) == 2


def test_expired_lease_is_taken_over(dataset: str, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = hub.storage.storage_from_url(dataset)
    # A holder on another machine that stopped renewing: its lease ran out a moment ago.
    holder = hub.core.lock._Holder("elsewhere", 1, "s", time.time() - 100, time.time() - 1)
    storage.set("locks/main.json", holder.dump())
    ds = hub.load(dataset)
    ds.x.append(1)
    live = hub.core.lock._Holder("elsewhere", 1, "t", time.time(), time.time() + 100)
    ds.close()
    storage.set("locks/main.json", live.dump())
    with pytest.raises(LockedError, match="host elsewhere"):
        hub.load(dataset)


def test_heartbeat_keeps_a_short_lease(dataset: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.core.lock, "LEASE_SECONDS", 1.5)
    ds = hub.load(dataset)
    time.sleep(4)  # several lease lengths: only renewal keeps it
    storage = hub.storage.storage_from_url(dataset)
    holder = hub.core.lock._Holder.load(storage.get("locks/main.json"))
    assert holder is not None
    assert holder.expires > time.time()
    ds.x.append(1)
    ds.close()


def test_reopen_in_same_process_revokes_the_older_object(dataset: str) -> None:
    old = hub.load(dataset)
    new = hub.load(dataset)
    new.x.append(5)
    with pytest.raises(LockedError, match="older dataset object"):
        old.x.append(6)
    assert len(hub.load(dataset, read_only=True).x) == 1


def test_lost_lease_stops_writes(dataset: str) -> None:
    ds = hub.load(dataset)
    storage = hub.storage.storage_from_url(dataset)
    thief = hub.core.lock._Holder("elsewhere", 1, "x", time.time(), time.time() + 100)
    storage.set("locks/main.json", thief.dump())
    ds._state.lease.renew()
    with pytest.raises(LockedError, match="taken over"):
        ds.x.append(1)
    assert len(hub.load(dataset, read_only=True).x) == 0


def test_checkout_takes_the_lock_at_the_first_write(dataset: str) -> None:
    ds = hub.load(dataset)
    ds.x.append(1)
    ds.commit("one")
    ds.checkout("alt", create=True)  # a new branch is locked at once
    ds.checkout("main")  # reading main takes no lock: another writer may write it meanwhile
    proc, done = _start_holder(dataset)
    try:
        with pytest.raises(LockedError, match=rf"pid {proc.pid}"):
            ds.x.append(2)  # the holder is named at our first write
        assert list(ds.x.numpy().ravel()) == [1]  # and nothing was written
    finally:
        done.set()
        proc.join(30)
    # The other writer appended to main after we read it: writing on the stale state would lose that.
    with pytest.raises(hub.errors.VersionControlError, match=r"checkout\('main'\)"):
        ds.x.append(3)
    ds.checkout("main")
    ds.x.append(3)
    assert list(hub.load(dataset, read_only=True).x.numpy().ravel()) == [1, 1, 3]
    with pytest.raises(LockedError, match=rf"pid {os.getpid()}"):  # now we hold it
        _other_process_load(dataset)


def _try_load(path: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        hub.load(path)
        out.put("")
    except LockedError as e:
        out.put(str(e))


def _other_process_load(path: str) -> None:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_try_load, args=(path, out))
    proc.start()
    message = out.get(timeout=60)
    proc.join(30)
    if message:
        raise LockedError(message)


def test_becoming_writable_takes_the_lock_at_once(dataset: str) -> None:
    ds = hub.load(dataset, read_only=True)
    ds.read_only = False  # the branch is locked now, before any write
    with pytest.raises(LockedError, match=rf"pid {os.getpid()}"):
        _other_process_load(dataset)
    ds.checkout("main")  # checking out the branch it holds keeps the lock
    with pytest.raises(LockedError, match=rf"pid {os.getpid()}"):
        _other_process_load(dataset)
