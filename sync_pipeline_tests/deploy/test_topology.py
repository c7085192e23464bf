"""deploy/'s topology, run here: the code server, the webserver and the daemon as separate
processes with separate ``DAGSTER_HOME`` folders (as containers have), on deploy/dagster.yaml
over a database of the stack's PostgreSQL, and an operator's CLI from a fourth home.

The sync lock must hold across all of them: it lives in the storage database, not in any
home. Page runs are held at their first product write (by a proxy in front of Medusa) so the
moments the test acts in are certain, not guessed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import dagster as dg
import pytest

from sync_pipeline.defs.plan import PARTITION_TAG
from sync_pipeline.local.catalog_check import assert_exact_catalog
from sync_pipeline.local.dagster.deployment import DEPLOY, deployment, home_for
from sync_pipeline.local.dagster.door import wait_for_cycle
from sync_pipeline_tests.dagster_storage import dagster_storage, stack_database
from sync_pipeline_tests.resilience.proxy import FaultProxy, ProxyRecord

pytestmark = pytest.mark.e2e

PRODUCT_WRITE = re.compile(r"^/admin/products/batch$")
RUN_PREFIX = "Dagster run "


class PageGate:
    """Holds every product batch write at the proxy until opened: a page run held there is
    inside its sync, holding the lock."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.arrived = 0
        self._changed = threading.Condition()

    def hook(self, stage: str, record: ProxyRecord) -> None:
        if stage == "received" and record.method == "POST" and PRODUCT_WRITE.match(record.path):
            with self._changed:
                self.arrived += 1
                self._changed.notify_all()
            self.opened.wait(timeout=300)

    def wait_for(self, writes: int, timeout: float = 180) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.arrived >= writes, timeout):
                raise TimeoutError(f"{self.arrived} of {writes} page writes arrived")


def _until(what: str, condition, timeout: float = 60):
    """Poll the deployment's state (the storage) until ``condition()`` is truthy."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        time.sleep(0.2)
    return result


def _page_run_holders(observer) -> list[dict]:
    """The page runs holding the lock now (each a run's process, holding it shared)."""
    holders = []
    for holder, shared in observer.lock.holders():
        run = observer.instance.get_run_by_id(holder["what"].removeprefix(RUN_PREFIX))
        if shared and run is not None and PARTITION_TAG in run.tags:
            holders.append({**holder, "run_id": run.run_id})
    return holders


def test_one_sync_at_a_time_across_the_deployment_s_processes_and_hosts(
    medusa_stack, empty_store, source_server, snapshot_dir, tmp_path, medusa_client, store_catalog
):
    expected = json.loads((snapshot_dir / "products.json").read_text())
    pages = -(-len(expected) // int(os.environ["SYNC_PAGE_SIZE"]))
    gate = PageGate()
    with (
        stack_database("dagster_topology") as database,
        FaultProxy(medusa_stack.base_url) as medusa,
        deployment(
            tmp_path,
            database.dagster_env(),
            {
                "MEDUSA_BASE_URL": medusa.url,
                "MEDUSA_API_KEY": medusa_stack.api_key,
                "DUMMYJSON_BASE_URL": source_server.url,
            },
        ) as deployed,
        dagster_storage(
            tmp_path / "observer", DEPLOY / "dagster.yaml", database.dagster_env()
        ) as observer,
    ):
        medusa.hook = gate.hook
        started = time.time()
        deployed.launch("whole_catalog_sync")

        # Every page's run is inside its sync, each holding the lock shared, from processes
        # the code server launched (the daemon dequeued them; the sensor requested them).
        gate.wait_for(pages)
        runs = _until("the page runs holding the lock", lambda: _page_run_holders(observer))
        assert len(runs) == pages
        code_server = deployed.processes["code-server"].pid
        assert all(run["pid"] not in (os.getpid(), code_server) for run in runs)

        # An operator's CLI sync from a fourth home, on the same storage, refuses.
        operator = {
            **os.environ,
            **database.dagster_env(),
            "DAGSTER_HOME": str(home_for(tmp_path, "operator")),
            "MEDUSA_BASE_URL": medusa_stack.base_url,
            "MEDUSA_API_KEY": medusa_stack.api_key,
            "DUMMYJSON_BASE_URL": source_server.url,
        }
        command = [sys.executable, "-m", "sync_pipeline.cli", "sync"]
        cli = subprocess.run(command, env=operator, capture_output=True, text=True, timeout=120)
        assert cli.returncode == 3, cli.stderr
        assert cli.stderr.startswith(
            "Not syncing: a sync running in Dagster is running against this store"
        ), cli.stderr

        # kill -9 of one page run: the database ends its session, and with it its lock.
        victim = runs[0]
        os.kill(victim["pid"], signal.SIGKILL)
        _until(
            "the killed run's lock released",
            lambda: victim["pid"] not in [h["pid"] for h, _ in observer.lock.holders()],
        )
        killed = _until(
            "the killed run marked failed",
            lambda: (run := observer.instance.get_run_by_id(victim["run_id"])).is_finished and run,
        )
        assert killed.status == dg.DagsterRunStatus.FAILURE

        # The deployment carries on: the crashed run is retried, the cycle completes.
        gate.opened.set()
        retried = dg.RunsFilter(tags={"dagster/parent_run_id": victim["run_id"]})
        _until("the crashed run retried", lambda: observer.instance.get_runs(retried), 120)
        plan = wait_for_cycle(observer.instance, started, timeout=300)
        assert plan.failed == [] and len(plan.done) == pages, plan
        retries = observer.instance.get_runs(retried)
        assert [r.status for r in retries] == [dg.DagsterRunStatus.SUCCESS]
        assert observer.lock.holders() == []

    assert_exact_catalog(medusa_client, store_catalog, expected)
