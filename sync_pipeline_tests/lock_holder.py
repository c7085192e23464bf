"""Another process holding the sync lock, as a CLI sync elsewhere would, until killed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

from sync_pipeline.sync.locking import FileSyncLock, PostgresSyncLock, SyncLock

HOLD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from sync_pipeline.sync.locking import FileSyncLock, PostgresSyncLock
    kind, where, what, shared = sys.argv[1:]
    if kind == "file":
        lock = FileSyncLock(Path(where))
    else:
        lock = PostgresSyncLock(json.loads(where))
    with lock.hold(what=what, shared=shared == "shared"):
        print("held", flush=True)
        time.sleep(300)
    """
)


@contextmanager
def lock_held_elsewhere(
    lock: SyncLock, what: str = "test holder", *, shared: bool = False
) -> Iterator[subprocess.Popen]:
    """A process holding ``lock`` (exclusively, as a CLI sync, or ``shared``, as a Dagster
    run); killed (if still alive) afterwards."""
    if isinstance(lock, FileSyncLock):
        where = ["file", str(lock.path)]
    else:
        assert isinstance(lock, PostgresSyncLock)
        where = ["postgres", json.dumps(lock.connect_args)]
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, *where, what, "shared" if shared else "alone"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.wait()
