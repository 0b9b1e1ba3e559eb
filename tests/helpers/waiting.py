"""Waiting for a condition instead of sleeping for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.005) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds have passed; its last value's truth.

    For conditions that nothing signals (another process's output, a queue's length): the caller asserts the
    result, so a condition that never holds fails the test after ``timeout`` instead of hanging it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return bool(condition())
        time.sleep(interval)
    return True
