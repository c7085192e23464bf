"""One sync at a time against a store: one interface, two locks, chosen from the Dagster
instance the sync records its runs in.

- With SQLite storage (one machine), an advisory file lock (``flock``) in ``DAGSTER_HOME``.
- With PostgreSQL storage (the deployment: webserver, daemon, code server and run pods on
  separate hosts, and operators' CLI syncs), a session-level advisory lock in that database,
  which every process sharing the storage sees, whatever host it runs on.

Both are dropped by the operating system or the database when the holder dies, however it
dies (``kill -9`` included; a vanished host once TCP keepalives give up on it), so a dead
sync's lock is simply free for the next one, with nothing to clean up.

Two places take it: ``sync-pipeline sync`` holds it exclusively for the whole sync (a second
one refuses at once), and every Medusa-writing run launched by Dagster (the schedule, the
sensor, the UI) holds it shared, so the pages of one Dagster sync run side by side while a
CLI sync waits for all of them, and they for it. A run inside a CLI sync (or one of its
forked workers) sees that its process already holds the lock and goes ahead.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOCK_NAME = "sync.lock"
# The locks this process holds (identity -> handle). Forked workers inherit the entries, so
# a worker's run sees the lock as held; they must never release or close a handle.
_held: dict[str, Any] = {}


class SyncBusy(Exception):
    """Another sync holds the lock."""


def describe_holder(holder: dict[str, Any] | None) -> str:
    """Who holds the lock, for the refusal: the exclusive holder, or Dagster's runs."""
    if not holder:  # only shared holders: runs launched by Dagster
        return "a sync running in Dagster"
    return (
        f"another sync (pid {holder.get('pid')} on {holder.get('host')}, "
        f"started {holder.get('started')}, {holder.get('what')})"
    )


def _this_holder(what: str) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "what": what,
    }


class SyncLock(abc.ABC):
    """The sync lock of one store's record (a ``DAGSTER_HOME`` or a storage database)."""

    @property
    @abc.abstractmethod
    def identity(self) -> str:
        """What this lock is, alike for every handle on it (the re-entrancy key)."""

    @abc.abstractmethod
    def _open(self, holder: dict[str, Any], shared: bool) -> Any:
        """A handle on the lock for ``holder``, not yet holding it."""

    @abc.abstractmethod
    def _try(self, handle: Any, shared: bool) -> bool:
        """Take the lock without waiting; False if another holds it."""

    @abc.abstractmethod
    def _record(self, handle: Any, holder: dict[str, Any], shared: bool) -> None:
        """Once it is held: note who holds it, for the refusals of the others."""

    @abc.abstractmethod
    def _holder(self, handle: Any) -> dict[str, Any] | None:
        """The exclusive holder's record, if an exclusive holder recorded one."""

    @abc.abstractmethod
    def _release(self, handle: Any, shared: bool) -> None: ...

    @abc.abstractmethod
    def _close(self, handle: Any) -> None: ...

    @contextlib.contextmanager
    def hold(
        self,
        *,
        what: str,
        wait_seconds: float = 0.0,
        poll_seconds: float = 0.5,
        shared: bool = False,
    ) -> Iterator[None]:
        """Hold the lock for the block (``shared`` with other shared holders, or alone);
        re-entrant within one process.

        Raises ``SyncBusy`` naming the holder if it is not free within ``wait_seconds``.
        """
        if self.identity in _held:
            yield
            return
        holder = _this_holder(what)
        handle = self._open(holder, shared)
        deadline = time.monotonic() + wait_seconds
        try:
            while not self._try(handle, shared):
                if time.monotonic() >= deadline:
                    raise SyncBusy(
                        f"{describe_holder(self._holder(handle))} is running against this "
                        "store; try again when it has finished"
                    )
                time.sleep(poll_seconds)
            self._record(handle, holder, shared)
            _held[self.identity] = handle
            try:
                yield
            finally:
                del _held[self.identity]
                self._release(handle, shared)
        finally:
            self._close(handle)


def lock_path(home: str | os.PathLike[str] | None = None) -> Path:
    home = home or os.environ.get("DAGSTER_HOME")
    if not home:
        from sync_pipeline.settings import LOCAL_DIR

        home = LOCAL_DIR
    return Path(home) / LOCK_NAME


class FileSyncLock(SyncLock):
    """``flock`` on ``DAGSTER_HOME/sync.lock``: the kernel's lock belongs to the open file,
    so forked workers share it and a dead holder's is gone. The file records the exclusive
    holder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def identity(self) -> str:
        return f"file:{self.path.resolve()}"

    def _open(self, holder: dict[str, Any], shared: bool) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def _try(self, handle: int, shared: bool) -> bool:
        try:
            fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _record(self, handle: int, holder: dict[str, Any], shared: bool) -> None:
        if not shared:  # shared holders leave the record of the last exclusive one alone
            os.ftruncate(handle, 0)
            os.pwrite(handle, json.dumps(holder).encode(), 0)

    def _holder(self, handle: int) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return None

    def _release(self, handle: int, shared: bool) -> None:
        if not shared:
            os.ftruncate(handle, 0)
        fcntl.flock(handle, fcntl.LOCK_UN)

    def _close(self, handle: int) -> None:
        os.close(handle)


# The advisory lock's two int4 keys: the project's own space ("SYNC"), then the sync lock.
# Key 0 of the space serializes creating the holders table.
LOCK_SPACE, SYNC_KEY, TABLE_KEY = 0x53594E43, 1, 0
HOLDERS_TABLE = "sync_pipeline_lock_holders"
# Without keepalives, a holder whose host vanished (power, network) would keep its session
# until the server's TCP gives up, which can take hours; with them, about a minute.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}
HOLDERS_SQL = f"""
SELECT h.holder, h.shared
FROM pg_locks AS l JOIN {HOLDERS_TABLE} AS h ON h.backend_pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {LOCK_SPACE}
  AND l.objid = {SYNC_KEY} AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY h.shared, h.backend_pid
"""


class PostgresSyncLock(SyncLock):
    """A session-level advisory lock in Dagster's PostgreSQL storage database, held on a
    connection of its own: the holder's death ends the session, and the server drops the
    lock. Holders are recorded in a small table (``sync_pipeline_lock_holders``, one row per
    session) for the refusals; rows of dead sessions are ignored, then swept."""

    def __init__(self, connect_args: dict[str, Any]) -> None:
        self.connect_args = connect_args

    @classmethod
    def from_url(cls, url: str) -> PostgresSyncLock:
        """From the storage's SQLAlchemy URL (``postgresql+psycopg2://…``)."""
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        args = parsed.translate_connect_args(username="user", database="dbname")
        return cls({**args, **parsed.query})

    @property
    def identity(self) -> str:
        args = self.connect_args
        return f"postgres:{args.get('host')}:{args.get('port')}/{args.get('dbname')}"

    def _connect(self, what: str):
        import psycopg2  # installed with dagster-postgres

        connection = psycopg2.connect(
            **self.connect_args,
            **KEEPALIVES,
            connect_timeout=10,
            application_name=f"sync-pipeline lock: {what}"[:63],
        )
        connection.autocommit = True
        return connection

    def _query(self, handle, sql: str, params: tuple = ()) -> list[tuple]:
        with handle.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def _open(self, holder: dict[str, Any], shared: bool):
        """Connect, and note who this session is before it asks for the lock: a session that
        holds the lock is always in the table, so a refusal always finds its name (rows of
        sessions that do not hold it are never read)."""
        handle = self._connect(holder["what"])
        # One implicit transaction: the transaction lock makes concurrent creators take turns.
        self._query(
            handle,
            f"SELECT pg_advisory_xact_lock(%s, %s); "
            f"CREATE TABLE IF NOT EXISTS {HOLDERS_TABLE} "
            "(backend_pid integer PRIMARY KEY, holder text NOT NULL, shared boolean NOT NULL); "
            f"DELETE FROM {HOLDERS_TABLE} WHERE backend_pid NOT IN "
            "(SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL); "
            f"INSERT INTO {HOLDERS_TABLE} VALUES (pg_backend_pid(), %s, %s) "
            "ON CONFLICT (backend_pid) DO UPDATE SET holder = EXCLUDED.holder, "
            "shared = EXCLUDED.shared",
            (LOCK_SPACE, TABLE_KEY, json.dumps(holder), shared),
        )
        return handle

    def _try(self, handle, shared: bool) -> bool:
        function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        return bool(self._query(handle, f"SELECT {function}(%s, %s)", (LOCK_SPACE, SYNC_KEY))[0][0])

    def _record(self, handle, holder: dict[str, Any], shared: bool) -> None:
        pass  # noted as the session opened

    def holders(self, handle=None) -> list[tuple[dict[str, Any], bool]]:
        """Every live holder's record and whether it holds shared (exclusive first)."""
        with contextlib.ExitStack() as stack:
            if handle is None:
                handle = self._connect("reading the holders")
                stack.callback(handle.close)
            exists = self._query(handle, "SELECT to_regclass(%s)", (HOLDERS_TABLE,))[0][0]
            rows = self._query(handle, HOLDERS_SQL) if exists else []
        return [(json.loads(holder), shared) for holder, shared in rows]

    def _holder(self, handle) -> dict[str, Any] | None:
        exclusive = [holder for holder, shared in self.holders(handle) if not shared]
        return exclusive[0] if exclusive else None

    def _release(self, handle, shared: bool) -> None:
        import psycopg2

        function = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
        # A session the server has ended holds nothing any more: nothing to release.
        with contextlib.suppress(psycopg2.OperationalError, psycopg2.InterfaceError):
            self._query(
                handle,
                f"DELETE FROM {HOLDERS_TABLE} WHERE backend_pid = pg_backend_pid(); "
                f"SELECT {function}(%s, %s)",
                (LOCK_SPACE, SYNC_KEY),
            )

    def _close(self, handle) -> None:
        handle.close()


def instance_sync_lock(instance: Any | None) -> SyncLock:
    """The sync lock of a Dagster instance: in its PostgreSQL storage database if it has one
    (every host sharing the storage sees it), else a file in its ``DAGSTER_HOME``."""
    url = getattr(getattr(instance, "run_storage", None), "postgres_url", None)
    if url:
        return PostgresSyncLock.from_url(url)
    return FileSyncLock(lock_path(getattr(instance, "root_directory", None)))
