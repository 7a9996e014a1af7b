"""The writer lock of a branch: a lease with a heartbeat, taken and renewed by compare-and-swap.

``locks/<branch>.json`` names the holder (host, pid, session, since, expiry). A second writer
gets :class:`~hub.errors.LockedError` naming the holder, never a silently read-only dataset.
A lease whose holder stopped renewing it (it crashed, or its machine went away) can be taken
over once it expires; a holder on this host whose process is gone is taken over at once. A
second ``hub.load`` of the same branch in the same process takes the lease from the first
object, whose writes then fail with a clear error.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

from hub.errors import LockedError
from hub.storage import Storage

__all__ = ["Lease", "acquire", "LEASE_SECONDS"]

#: How long a lease lasts without renewal; the heartbeat renews it every third of that.
LEASE_SECONDS = 60.0

_HOST = socket.gethostname()
_PROCESS_LEASES: dict[tuple[str, str], weakref.ref[Lease]] = {}
_REGISTRY_LOCK = threading.Lock()


def lock_key(branch: str) -> str:
    return f"locks/{branch}.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class _Holder:
    host: str
    pid: int
    session: str
    since: float
    expires: float

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        left = max(0.0, self.expires - time.time())
        return f"host {self.host}, pid {self.pid}, since {since}, lease expires in {left:.0f} s"

    def dump(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()

    @classmethod
    def load(cls, data: bytes) -> _Holder | None:
        try:
            doc = json.loads(data)
            return cls(
                str(doc["host"]), int(doc["pid"]), str(doc["session"]), float(doc["since"]), float(doc["expires"])
            )
        except (ValueError, KeyError, TypeError):
            return None  # a malformed lock document protects nothing: treat it as free


class Lease:
    """A held writer lock; renewed in the background until released, revoked or lost."""

    def __init__(self, storage: Storage, branch: str, token: str, holder: _Holder, duration: float) -> None:
        self.storage = storage
        self.branch = branch
        self.duration = duration
        self._token = token
        self._holder = holder
        self._lost: str | None = None
        self._stop = threading.Event()
        self._mutex = threading.Lock()
        self._thread = threading.Thread(target=self._heartbeat, name=f"hub-lease-{branch}", daemon=True)
        self._thread.start()

    @property
    def valid(self) -> bool:
        return self._lost is None

    def check(self) -> None:
        """Raise :class:`LockedError` if this lease no longer lets its holder write."""
        if self._lost is not None:
            raise LockedError(self._lost)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.duration / 3):
            self.renew()

    def renew(self) -> None:
        with self._mutex:
            if self._lost is not None:
                return
            self._holder.expires = time.time() + self.duration
            token = self.storage.compare_and_swap(
                lock_key(self.branch), self._holder.dump(), self._token, durable=False
            )
            if token is None:
                self._lost = (
                    f"The write lock on branch {self.branch!r} of {self.storage.url} was taken over by another "
                    "writer (this process stopped renewing it in time); reopen the dataset to write."
                )
                self._stop.set()
            else:
                self._token = token

    def revoke(self, reason: str) -> None:
        with self._mutex:
            self._lost = reason
            self._stop.set()

    def release(self) -> None:
        """Give the lock up (if still held): the next writer need not wait for the lease to expire."""
        self._stop.set()
        with self._mutex:
            if self._lost is not None:
                return
            self._lost = f"The write lock on branch {self.branch!r} was released; reopen the dataset to write."
            try:  # swapping from our own token fails harmlessly if another writer took the lease over
                expired = _Holder(**{**self._holder.__dict__, "expires": 0.0})
                self.storage.compare_and_swap(lock_key(self.branch), expired.dump(), self._token, durable=False)
            except Exception:  # releasing is best effort: the lease expires anyway
                pass

    def transfer_to(self, branch: str) -> None:
        """Hold the lock of ``branch`` instead (a checkout); raises LockedError if it is held."""
        new = acquire(self.storage, branch, self.duration)
        self.release()
        with _REGISTRY_LOCK:
            old = _PROCESS_LEASES.get((self.storage.url, self.branch))
            if old is not None and old() is self:
                del _PROCESS_LEASES[(self.storage.url, self.branch)]
        self.__dict__.update(new.__dict__)
        new._stop.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, name=f"hub-lease-{branch}", daemon=True)
        self._thread.start()
        with _REGISTRY_LOCK:
            _PROCESS_LEASES[(self.storage.url, branch)] = weakref.ref(self)


def acquire(storage: Storage, branch: str, duration: float | None = None) -> Lease:
    """Take the writer lock of ``branch``, or raise LockedError naming the live holder."""
    duration = LEASE_SECONDS if duration is None else duration
    key = lock_key(branch)
    now = time.time()
    holder = _Holder(_HOST, os.getpid(), uuid.uuid4().hex, now, now + duration)
    registry_key = (storage.url, branch)
    with _REGISTRY_LOCK:
        previous = _PROCESS_LEASES.get(registry_key)
        previous_lease = previous() if previous is not None else None
    for _ in range(20):
        # A branch written before has a lock document (held or released): look first, then swap.
        try:
            data, current_token = storage.get_with_token(key)
        except KeyError:
            token = storage.compare_and_swap(key, holder.dump(), None, durable=False)
        else:
            current = _Holder.load(data)
            if current is not None and current.expires > time.time():
                same_process = current.host == _HOST and current.pid == os.getpid()
                dead = current.host == _HOST and not same_process and not _pid_alive(current.pid)
                if not same_process and not dead:
                    raise LockedError(
                        f"Branch {branch!r} of {storage.url} is being written by another writer "
                        f"({current.describe()}). Open it with read_only=True to read it, wait for that writer "
                        "to finish, or check out another branch."
                    )
            token = storage.compare_and_swap(key, holder.dump(), current_token, durable=False)
        if token is None:
            continue  # someone else moved first: look again
        lease = Lease(storage, branch, token, holder, duration)
        if previous_lease is not None and previous_lease.valid and previous_lease.branch == branch:
            previous_lease.revoke(
                f"Branch {branch!r} of {storage.url} was opened for writing again in this process; "
                "this older dataset object can no longer write. Use the newer one."
            )
        with _REGISTRY_LOCK:
            _PROCESS_LEASES[registry_key] = weakref.ref(lease)
        return lease
    raise LockedError(f"Could not take the write lock of branch {branch!r} of {storage.url}: too much contention.")


def release_on_collect(owner: Any, lease: Lease) -> None:
    """Release ``lease`` when ``owner`` is garbage-collected (or at interpreter exit)."""
    weakref.finalize(owner, lease.release)
