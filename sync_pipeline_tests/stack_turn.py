"""Whose turn it is with the local stack, across pytest-xdist workers.

Tests that only use their worker's store run side by side (shared); tests of the stack itself,
which take it down and up or reset the working store, run alone (exclusive). So does the set-up
of each worker's store, which must not meet another worker's down and up.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from sync_pipeline.settings import LOCAL_DIR


@contextmanager
def turn(mode: int) -> Iterator[None]:
    """A readers-writer lock: ``flock`` ``mode`` (``LOCK_SH`` or ``LOCK_EX``) on one file,
    entered through a turnstile so that a waiting writer is not starved by readers."""
    LOCAL_DIR.mkdir(exist_ok=True)
    with (
        open(LOCAL_DIR / "tests.turnstile", "a") as turnstile,
        open(LOCAL_DIR / "tests.lock", "a") as lock,
    ):
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(lock, mode)
        fcntl.flock(turnstile, fcntl.LOCK_UN)
        yield
