"""The sync lock: one sync at a time per Dagster instance; a dead holder frees it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from sync_pipeline.local.dummyjson_server.server import DummyJSONServer
from sync_pipeline.sync.locking import SyncBusy, lock_path, sync_lock

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sync_pipeline.sync.locking import sync_lock
    with sync_lock(Path(sys.argv[1]), what="test holder"):
        print("held", flush=True)
        time.sleep(120)
    """
)


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of ``tmp_path`` (a DAGSTER_HOME) until killed."""
    path = lock_path(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_the_lock_is_reentrant_in_one_process(tmp_path):
    path = lock_path(tmp_path)
    with sync_lock(path, what="outer"), sync_lock(path, what="inner"):
        assert json.loads(path.read_text())["what"] == "outer"
    assert path.read_text() == ""


def test_a_held_lock_refuses_naming_its_holder_and_a_killed_holder_frees_it(tmp_path, holder):
    path = lock_path(tmp_path)
    with (
        pytest.raises(SyncBusy, match=rf"pid {holder.pid} .*test holder"),
        sync_lock(path, what="second"),
    ):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with sync_lock(path, what="after the crash", wait_seconds=5):
        assert json.loads(path.read_text())["pid"] == os.getpid()


@pytest.mark.e2e
def test_a_second_sync_refuses_while_one_runs(tmp_path, holder, medusa_stack, source_server):
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "DUMMYJSON_BASE_URL": source_server.url,
        "MEDUSA_BASE_URL": medusa_stack.base_url,
        "MEDUSA_API_KEY": medusa_stack.api_key,
    }
    command = [sys.executable, "-m", "sync_pipeline.cli", "sync"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert f"Not syncing: another sync (pid {holder.pid}" in done.stderr


@pytest.mark.e2e
def test_a_run_launched_elsewhere_waits_for_the_lock_then_fails_clearly(
    tmp_path, sync_settings, stack_resources, source_server
):
    import dataclasses

    import dagster as dg

    from sync_pipeline.cli.runner import SyncRunner

    settings = dataclasses.replace(sync_settings, lock_wait_seconds=0.3)
    path = lock_path(tmp_path / "home")
    hold = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert hold.stdout.readline().strip() == "held"
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            runner = SyncRunner(instance, settings, stack_resources(source_server.url, settings))
            summary = runner.run(pages=["000"])
    finally:
        hold.kill()
        hold.wait()
    assert not summary.ok
    assert f"another sync (pid {hold.pid}" in summary.catalog_error
    assert f"another sync (pid {hold.pid}" in summary.pages[0].error


@pytest.mark.e2e
def test_two_syncs_started_together_leave_the_exact_catalog(
    tmp_path, empty_store, medusa_stack, generated_catalog, store_catalog
):
    data = generated_catalog(tmp_path, count=60)
    with DummyJSONServer(data) as server:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(tmp_path / "home"),
            "DUMMYJSON_BASE_URL": server.url,
            "MEDUSA_BASE_URL": medusa_stack.base_url,
            "MEDUSA_API_KEY": medusa_stack.api_key,
            "SYNC_PAGE_SIZE": "20",
        }
        command = [sys.executable, "-m", "sync_pipeline.cli", "sync"]
        both = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in both]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 3]), results
    for code, stderr in results:
        if code == 3:
            assert "another sync" in stderr
    _, products = store_catalog()
    ids = [p["external_id"] for p in products]
    assert sorted(ids) == sorted(f"dummyjson:{i}" for i in range(1, 61))
