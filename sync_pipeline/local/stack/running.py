"""The processes ``.local/stack.json`` records: whether they still run, and stopping them.

Shared by ``up`` (its steps restart what is stale), ``down``, ``reset_store`` and ``status``.
Whatever is stopped is forgotten in the state at once, so a record never outlives its process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

from sync_pipeline.local.stack import postgres, procs
from sync_pipeline.local.stack.postgres import PgTarget
from sync_pipeline.local.stack.state import ServerName, SpareJob, StackState

Printer = Callable[[str], None]


def quiet(_: str) -> None:
    pass


def stop_server(state: StackState, which: ServerName) -> int | None:
    """Stop and forget one of the Medusa servers; its pid if it was running."""
    record = state.pop_server(which)
    return record.pid if record and procs.stop(record, timeout=20) else None


def stop_medusa(state: StackState, out: Printer, *, which: ServerName = "medusa") -> None:
    pid = stop_server(state, which)
    if pid:
        out(f"    stopped Medusa ({which}, pid {pid})")
    state.save()


def stop_embedded(state: StackState, out: Printer) -> bool:
    record, state.embedded = state.embedded, None
    stopped = bool(record and procs.stop(record, timeout=30, leader_first=True))
    if stopped:
        out(f"stopped the embedded PostgreSQL (pid {record.pid})")
    state.save()
    return stopped


def embedded_up(state: StackState, target: PgTarget) -> bool:
    record = state.embedded
    return bool(
        target.kind == "embedded"
        and record
        and record.port == target.port
        and record.pg_root == target.pg_root
        and postgres.embedded_running(record, target)
    )


def wait_spare_job(state: StackState, timeout: float) -> None:
    """Let a running spare clone finish (killing it could leave an unmarked database)."""
    deadline = time.monotonic() + timeout
    while procs.is_running(state.spare_job) and time.monotonic() < deadline:
        time.sleep(0.02)


def end_spare_job(state: StackState, timeout: float) -> bool:
    """Let a running spare clone finish, then stop what is left of it; True if it ran."""
    wait_spare_job(state, timeout)
    job, state.spare_job = state.spare_job, None
    return procs.stop(job, timeout=5)


def ensure_spare(state: StackState, target: PgTarget, spare_exists: bool) -> None:
    """Start cloning the spare database in the background unless it exists or is under way."""
    if spare_exists or procs.is_running(state.spare_job):
        return
    state.spare_job = SpareJob(**asdict(postgres.start_spare_clone(target)), target=target.id)
    state.save()
