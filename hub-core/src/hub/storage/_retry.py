"""Bounded exponential backoff for transient faults of remote storage."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["retry"]

T = TypeVar("T")


def retry(
    call: Callable[[], T],
    is_transient: Callable[[BaseException], bool],
    *,
    attempts: int = 6,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
) -> T:
    """Run ``call``; on a transient error sleep with jittered backoff and try again.

    At most ``attempts`` calls; the last error, or any permanent one, propagates at once.
    """
    for attempt in range(attempts):
        try:
            return call()
        except Exception as e:
            if attempt == attempts - 1 or not is_transient(e):
                raise
            delay = min(max_delay, base_delay * 2**attempt)
            time.sleep(delay * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable")
