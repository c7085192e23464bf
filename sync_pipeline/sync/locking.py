"""One sync at a time per Dagster instance: an advisory file lock in ``DAGSTER_HOME``.

``flock`` locks belong to the process that holds the file open, so the kernel drops
them when that process dies, however it dies (``kill -9`` included): a dead sync's
lock is simply free for the next one, with nothing to clean up. The file only records
who holds the lock, for the message a waiting or refused sync prints.

Two places take it: ``sync-pipeline sync`` holds it exclusively for the whole sync (a
second one refuses at once), and every Medusa-writing run launched by Dagster (the
schedule, the sensor, the UI) holds it shared, so the pages of one Dagster sync can run
side by side while a CLI sync waits for all of them, and they for it. A run inside a CLI
sync (or one of its workers, which inherit the lock) sees that it is already held and goes
ahead.
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
    if not holder:  # only shared holders: runs launched by Dagster
        return "a sync running in Dagster"
    return (
        f"another sync (pid {holder.get('pid')} on {holder.get('host')}, "
        f"started {holder.get('started')}, {holder.get('what')})"
    )


@contextlib.contextmanager
def sync_lock(
    path: Path,
    *,
    what: str,
    wait_seconds: float = 0.0,
    poll_seconds: float = 0.5,
    shared: bool = False,
) -> Iterator[None]:
    """Hold the sync lock for the block (``shared`` with other shared holders, or alone);
    re-entrant within one process.

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
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
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
        if not shared:  # shared holders leave the record of the last exclusive one alone
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
        _held[key] = fd
        try:
            yield
        finally:
            del _held[key]
            if not shared:
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
