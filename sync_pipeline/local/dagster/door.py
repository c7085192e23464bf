"""The project's code location behind a real ``dagster dev`` (webserver, daemon, run queue), for
the tests of the Dagster doors and the benchmark of them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus

from sync_pipeline.defs.partitions import registered_pages
from sync_pipeline.defs.plan import Plan, next_steps
from sync_pipeline.local.dagster.server import dagster_dev
from sync_pipeline.local.dummyjson_server.server import DummyJSONServer
from sync_pipeline.settings import REPO_ROOT

SCHEDULE = "nightly_catalog_sync"
BUSY_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _busy(instance: dg.DagsterInstance) -> bool:
    """A run queued or running, or a backfill not yet done."""
    running = instance.get_run_records(dg.RunsFilter(statuses=BUSY_STATUSES), limit=1)
    return bool(running) or bool(
        instance.get_backfills(
            filters=BulkActionsFilter(statuses=[BulkActionStatus.REQUESTED]), limit=1
        )
    )


def wait_for_cycle(instance: dg.DagsterInstance, since: float, timeout: float = 300) -> Plan:
    """Wait until a cycle started after ``since`` has nothing left to run or running, and
    no run or backfill of the instance is still going; returns the plan then.

    While a run or a backfill is going, only that is polled (one query), not the whole plan:
    polling takes CPU from the sync being waited for (and timed, by ``bench.doors``).
    """
    deadline = time.monotonic() + timeout
    plan: Plan | None = None
    while True:
        if not _busy(instance):
            plan = next_steps(instance)
            settled = (
                plan.cycle is not None
                and plan.cycle.started >= since
                and plan.finished
                and not plan.waiting_for
                and (plan.failed or not plan.archival_due)
            )
            if settled and not _busy(instance):
                return plan
        if time.monotonic() > deadline:
            raise TimeoutError(f"the sync did not settle in {timeout:.0f} s: {plan}")
        time.sleep(0.5)  # polling the instance, not synchronising on time


@dataclass
class DagsterDoor:
    """A running ``dagster dev``: its URL, its instance, and the source data it syncs."""

    url: str
    home: Path
    data: Path
    source: DummyJSONServer
    env: dict[str, str]

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def schedule(self, action: str) -> None:
        """``dagster schedule start|stop``, as a person would from a shell (or the UI toggle)."""
        dagster = Path(sys.executable).with_name("dagster")
        subprocess.run(
            [str(dagster), "schedule", action, SCHEDULE, "-w", "workspace.yaml"],
            cwd=REPO_ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def wait_for_cycle(self, since: float, timeout: float = 300) -> Plan:
        """See :func:`wait_for_cycle`, on this server's instance."""
        with self.instance() as instance:
            return wait_for_cycle(instance, since, timeout)

    def runs_since(self, since: float) -> list[dg.RunRecord]:
        with self.instance() as instance:
            records = instance.get_run_records(dg.RunsFilter())
        return [r for r in records if r.create_timestamp.timestamp() >= since]

    def wait_for_run(self, matches, since: float, timeout: float = 150) -> dg.DagsterRun:
        """The first run created after ``since`` for which ``matches(run)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r.dagster_run for r in self.runs_since(since) if matches(r.dagster_run)]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no such run within {timeout:.0f} s")
            time.sleep(0.5)

    def wait_for_first_page(self, timeout: float = 120) -> None:
        """A new instance gets page 000 from the sensor's first tick."""
        deadline = time.monotonic() + timeout
        with self.instance() as instance:
            while not registered_pages(instance):
                if time.monotonic() > deadline:
                    raise TimeoutError("the sensor registered no page")
                time.sleep(0.5)


@contextmanager
def dagster_door(
    root: Path,
    data: Path,
    stack: Any,
    settings: Mapping[str, str],
    *,
    daemon_loop_seconds: float | None = None,
) -> Iterator[DagsterDoor]:
    """``dagster dev`` on the project's code location, in a fresh ``DAGSTER_HOME`` under
    ``root`` with the project's ``dagster.yaml`` (a new user's instance), reading a local
    DummyJSON that serves a copy of ``data`` (rewrite ``door.data``: the server reloads it),
    writing to the local ``stack``'s Medusa, with the extra ``settings`` in its environment.
    The nightly schedule is stopped before the daemon starts: no tick fires until asked for.
    ``daemon_loop_seconds``: see :func:`dagster_dev` (tests shorten it; ``bench.doors`` not).
    """
    home = root / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    copy = root / "products.json"
    shutil.copyfile(data, copy)
    with DummyJSONServer(copy) as source:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "DUMMYJSON_BASE_URL": source.url,
            "MEDUSA_BASE_URL": stack.base_url,
            "MEDUSA_API_KEY": stack.api_key,
            **settings,
        }
        door = DagsterDoor("", home, copy, source, env)
        door.schedule("stop")
        with dagster_dev(
            ["-w", "workspace.yaml"],
            dagster_home=home,
            port=free_port(),
            cwd=REPO_ROOT,
            env=env,
            log_path=root / "dagster-dev.log",
            daemon_loop_seconds=daemon_loop_seconds,
        ) as url:
            door.url = url
            yield door
