"""The sync lock: one sync at a time per store's record, on either Dagster storage (a file
with SQLite, an advisory lock in the database with PostgreSQL); a dead holder frees it."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from sync_pipeline.local.dummyjson_server.server import DummyJSONServer
from sync_pipeline.sync.locking import (
    FileSyncLock,
    PostgresSyncLock,
    SyncBusy,
    instance_sync_lock,
    lock_path,
)
from sync_pipeline_tests.lock_holder import lock_held_elsewhere


def _recorded(lock) -> list[dict]:
    """The holders the lock records for the refusals of the others."""
    if isinstance(lock, FileSyncLock):
        text = lock.path.read_text() if lock.path.exists() else ""
        return [json.loads(text)] if text else []
    return [holder for holder, _shared in lock.holders()]


def test_the_instance_decides_which_lock(sqlite_storage):
    lock = sqlite_storage.lock
    assert isinstance(lock, FileSyncLock)
    assert lock.path == lock_path(sqlite_storage.home)


@pytest.mark.e2e
def test_postgres_storage_gets_the_database_lock(postgres_storage):
    lock = postgres_storage.lock
    assert isinstance(lock, PostgresSyncLock)
    assert lock.connect_args["dbname"] == postgres_storage.env["DAGSTER_PG_DB"]
    assert instance_sync_lock(postgres_storage.instance).identity == lock.identity


def test_the_lock_is_reentrant_in_one_process(dagster_storage):
    lock = dagster_storage.lock
    with lock.hold(what="outer"), lock.hold(what="inner"):
        assert [h["what"] for h in _recorded(lock)] == ["outer"]
    assert _recorded(lock) == []


def test_a_held_lock_refuses_naming_its_holder_and_a_killed_holder_frees_it(dagster_storage):
    lock = dagster_storage.lock
    with lock_held_elsewhere(lock) as holder:
        host = socket.gethostname()
        refusal = rf"another sync \(pid {holder.pid} on {host}, started .*test holder"
        with pytest.raises(SyncBusy, match=refusal), lock.hold(what="second"):
            pass
        with pytest.raises(SyncBusy, match=refusal), lock.hold(what="a run", shared=True):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        with lock.hold(what="after the crash", wait_seconds=5):
            assert [h["pid"] for h in _recorded(lock)] == [os.getpid()]


def test_shared_holders_run_side_by_side_and_keep_an_exclusive_one_out(dagster_storage):
    lock = dagster_storage.lock
    with lock_held_elsewhere(lock, shared=True) as run:
        with lock.hold(what="another run", shared=True):
            pass
        with (
            pytest.raises(SyncBusy, match="^a sync running in Dagster is running against"),
            lock.hold(what="sync-pipeline sync"),
        ):
            pass
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        with lock.hold(what="sync-pipeline sync", wait_seconds=5):
            assert [h["what"] for h in _recorded(lock)] == ["sync-pipeline sync"]


def _cli_env(storage, medusa_stack, source_url: str) -> dict[str, str]:
    return {
        **os.environ,
        **storage.env,
        "DUMMYJSON_BASE_URL": source_url,
        "MEDUSA_BASE_URL": medusa_stack.base_url,
        "MEDUSA_API_KEY": medusa_stack.api_key,
    }


@pytest.mark.e2e
def test_a_second_sync_refuses_while_one_runs(dagster_storage, medusa_stack, source_server):
    env = _cli_env(dagster_storage, medusa_stack, source_server.url)
    command = [sys.executable, "-m", "sync_pipeline.cli", "sync"]
    with lock_held_elsewhere(dagster_storage.lock) as holder:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert f"Not syncing: another sync (pid {holder.pid}" in done.stderr


@pytest.mark.e2e
def test_a_run_launched_elsewhere_waits_for_the_lock_then_fails_clearly(
    dagster_storage, sync_settings, stack_resources, source_server
):
    from sync_pipeline.cli.runner import SyncRunner

    settings = dataclasses.replace(sync_settings, lock_wait_seconds=0.3)
    runner = SyncRunner(
        dagster_storage.instance, settings, stack_resources(source_server.url, settings)
    )
    with lock_held_elsewhere(dagster_storage.lock) as holder:
        summary = runner.run(pages=["000"])
    assert not summary.ok
    assert f"another sync (pid {holder.pid}" in summary.catalog_error
    assert f"another sync (pid {holder.pid}" in summary.pages[0].error


@pytest.mark.e2e
def test_two_syncs_started_together_leave_the_exact_catalog(
    dagster_storage, tmp_path, empty_store, medusa_stack, generated_catalog, store_catalog
):
    # With SQLite both share one home, as two shells on one machine do; with PostgreSQL each
    # has its own, as two hosts do, and only the database's lock keeps them apart.
    if isinstance(dagster_storage.lock, FileSyncLock):
        homes = [dagster_storage.home] * 2
    else:
        homes = [dagster_storage.new_home(tmp_path / f"host{i}") for i in (1, 2)]
    data = generated_catalog(tmp_path, count=60)
    with DummyJSONServer(data) as server:
        env = {
            **_cli_env(dagster_storage, medusa_stack, server.url),
            "SYNC_PAGE_SIZE": "20",  # three pages, in forked workers under the CLI's lock
        }
        command = [sys.executable, "-m", "sync_pipeline.cli", "sync"]
        both = [
            subprocess.Popen(
                command,
                env={**env, "DAGSTER_HOME": str(home)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for home in homes
        ]
        results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in both]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 3]), results
    for code, stderr in results:
        if code == 3:
            assert "Not syncing: another sync (pid" in stderr
    _, products = store_catalog()
    ids = [p["external_id"] for p in products]
    assert sorted(ids) == sorted(f"dummyjson:{i}" for i in range(1, 61))
