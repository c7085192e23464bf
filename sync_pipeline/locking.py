"""One sync at a time per Dagster instance: an advisory file lock in ``DAGSTER_HOME``.

``flock`` locks belong to the process that holds the file open, so the kernel drops
them when that process dies, however it dies (``kill -9`` included): a dead sync's
lock is simply free for the next one, with nothing to clean up. The file only records
who holds the lock, for the message a waiting or refused sync prints.

Two places take it: ``sync-pipeline sync`` for the whole sync (a second one refuses at
once), and every Medusa-writing run launched elsewhere (the schedule, a re-run from the
UI), which waits for it. A run inside a CLI sync sees that its own process already
holds the lock and goes ahead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = "sync.lock"
_held: dict[str, int] = {}  # lock path -> descriptor, for the locks this process holds


class SyncBusy(Exception):
    """Another sync holds the lock."""


def lock_path(home: str | os.PathLike[str] | None = None) -> Path:
    home = home or os.environ.get("DAGSTER_HOME")
    if not home:
        from sync_pipeline.settings import LOCAL_DIR

        home = LOCAL_DIR
    return Path(home) / LOCK_NAME


def describe_holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "another sync"
    return (
        f"another sync (pid {holder.get('pid')} on {holder.get('host')}, "
        f"started {holder.get('started')}, {holder.get('what')})"
    )


@contextlib.contextmanager
def sync_lock(
    path: Path, *, what: str, wait_seconds: float = 0.0, poll_seconds: float = 0.5
) -> Iterator[None]:
    """Hold the sync lock for the block; re-entrant within one process.

    Raises ``SyncBusy`` naming the holder if it is not free within ``wait_seconds``.
    """
    key = str(path.resolve())
    if key in _held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SyncBusy(
                        f"{describe_holder(path)} is running against this store; "
                        "try again when it has finished"
                    ) from None
                time.sleep(poll_seconds)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "what": what,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        _held[key] = fd
        try:
            yield
        finally:
            del _held[key]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
