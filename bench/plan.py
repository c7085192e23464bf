"""``python -m bench.plan``: what one evaluation of ``sync_cycle_sensor`` costs as the catalog
grows. The sensor asks the plan what to run every 5 s, so that cost must not grow with the
pages (issue 23: a constant number of storage queries, at most 1 s at 2,000 pages).

    python -m bench.plan --pages 20,200,2000

For each number of pages N, a fresh SQLite instance on disk (the project's ``dagster.yaml``, no
servers) holds a cycle whose every page succeeded: N pages registered, the catalog run (N × 100
products, pages of 100; it set up the categories and store, wrote page 000 and ended), and a
run per other page; each page has its ``dummyjson_product_pages``, ``normalized_products``
(100 source ids) and ``medusa_products`` materializations. Then the real sensor is evaluated,
and ``next_steps`` called, five times each (the median is printed), and the storage queries of
one more of each are counted (the sensor's first evaluation also sets the Medusa pool's
limit). Exits 1 if the plan is not "every page done, archival due", or if an evaluation takes
over 1 s at up to 2,000 pages.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
from dagster._core.events import DagsterEvent
from dagster._core.events.log import EventLogEntry

from bench.inputs import parse_sizes
from sync_pipeline.defs.automation import build_automation
from sync_pipeline.defs.cycle import CATALOG
from sync_pipeline.defs.partitions import page_keys, register_pages
from sync_pipeline.defs.plan import (
    ARCHIVAL_ASSETS,
    CATALOG_ASSETS,
    PAGE_ASSETS,
    next_steps,
)
from sync_pipeline.defs.reports import (
    CatalogReport,
    FetchReport,
    NormalizeReport,
    RequestCounts,
    WriteReport,
)
from sync_pipeline.local.dagster.recorded import materialization, run, storage_queries
from sync_pipeline.settings import REPO_ROOT, SyncSettings

PAGE_SIZE = 100
BUDGET_S, BUDGET_PAGES = 1.0, 2_000
REPEATS = 5


@dataclass
class Measure:
    """One row of the table; ``plan_right``: every page done and archival due, as recorded."""

    pages: int
    setup_s: float
    sensor_s: float
    plan_s: float
    sensor_queries: int
    plan_queries: int
    plan_right: bool


def store_materializations(
    instance: dg.DagsterInstance, events: list[tuple[str, DagsterEvent]]
) -> None:
    """Store each ``(run id, event)`` as ``SqliteEventLogStorage.store_event`` does in its index
    (what every query of the plan reads), but in one transaction: event by event
    (``report_dagster_event``) each opens two SQLite engines, 8 ms an event instead of 1.5
    (2,000 pages: 6,000 events)."""
    storage = instance.event_log_storage
    with storage.index_transaction() as conn:
        for run_id, event in events:
            entry = EventLogEntry(
                error_info=None,
                level=logging.INFO,
                user_message="",
                run_id=run_id,
                timestamp=time.time(),
                job_name=event.job_name,
                dagster_event=event,
            )
            storage_id = conn.execute(storage.prepare_insert_event(entry)).inserted_primary_key[0]
            storage._store_asset_event_tags(conn, [entry], [storage_id])
            storage._store_asset_event(conn, entry, storage_id)


def page_materializations(index: int, key: str, total: int) -> list[DagsterEvent]:
    """What a page run of the full page ``key`` reports, with the metadata the assets write."""
    skip = index * PAGE_SIZE
    fetched = FetchReport(PAGE_SIZE, skip, total, fetch_attempts=1, rate_limit_waits=0)
    ids = list(range(skip + 1, skip + PAGE_SIZE + 1))
    read = NormalizeReport(valid=PAGE_SIZE, rejected=[], total=total, source_ids=ids)
    written = WriteReport(unchanged=PAGE_SIZE, requests=RequestCounts(reads=2), seconds=0.5)
    reports = zip(PAGE_ASSETS, (fetched, read, written), strict=True)
    return [materialization(asset, key, report.to_metadata()) for asset, report in reports]


def record_cycle(instance: dg.DagsterInstance, pages: int) -> None:
    """A cycle of ``pages`` full pages, every one written, its catalog run ended."""
    total = pages * PAGE_SIZE
    keys = page_keys(total, PAGE_SIZE)
    register_pages(instance, keys, retire=True)
    ended = dg.DagsterRunStatus.SUCCESS
    runs = [run(instance, ended, keys[0], CATALOG_ASSETS + PAGE_ASSETS)]
    runs += [run(instance, ended, key, PAGE_ASSETS) for key in keys[1:]]
    catalog = CatalogReport(total, PAGE_SIZE, keys).to_metadata()
    events = [
        (runs[0], materialization(key, metadata=catalog if key == CATALOG else None))
        for key in CATALOG_ASSETS
    ]
    for index, (key, run_id) in enumerate(zip(keys, runs, strict=True)):
        events += [(run_id, event) for event in page_materializations(index, key, total)]
    store_materializations(instance, events)


def median_seconds(call: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(pages: int, sensor: dg.SensorDefinition) -> Measure:
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as home:
        shutil.copy(REPO_ROOT / "dagster.yaml", home)
        with dg.DagsterInstance.from_config(home) as instance:
            started = time.perf_counter()
            record_cycle(instance, pages)
            setup_s = time.perf_counter() - started

            def evaluate() -> dg.SensorExecutionData:
                return sensor.evaluate_tick(dg.build_sensor_context(instance=instance))

            sensor_s = median_seconds(evaluate)
            plan_s = median_seconds(lambda: next_steps(instance))
            sensor_queries, tick = storage_queries(evaluate)
            plan_queries, plan = storage_queries(lambda: next_steps(instance))
    plan_right = (
        plan.done == plan.pages == page_keys(pages * PAGE_SIZE, PAGE_SIZE)
        and plan.archival_due
        and [request.asset_selection for request in tick.run_requests] == [ARCHIVAL_ASSETS]
    )
    return Measure(pages, setup_s, sensor_s, plan_s, sensor_queries, plan_queries, plan_right)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.plan",
        description="Time one sync_cycle_sensor evaluation on cycles of growing size.",
    )
    parser.add_argument(
        "--pages",
        type=parse_sizes,
        default=[20, 200, 2_000],
        help="numbers of pages (of 100 products) to measure, e.g. 20,200,2000",
    )
    args = parser.parse_args(argv)
    _, sensor = build_automation(SyncSettings())
    print("| pages | setup s | sensor evaluation s | next_steps s | storage queries |")
    print("|---:|---:|---:|---:|---:|")
    results = []
    for pages in args.pages:
        m = measure(pages, sensor)
        results.append(m)
        queries = f"{m.sensor_queries} (next_steps {m.plan_queries})"
        verdict = "" if m.plan_right else " plan wrong!"
        print(
            f"| {pages:,} | {m.setup_s:.1f} | {m.sensor_s:.3f} | {m.plan_s:.3f} | {queries} |"
            + verdict,
            flush=True,
        )
    wrong = [m.pages for m in results if not m.plan_right]
    slow = [m.pages for m in results if m.pages <= BUDGET_PAGES and m.sensor_s > BUDGET_S]
    if wrong:
        print(f"The plan was not 'every page done, archival due' at {wrong} pages.")
    if slow:
        print(f"One evaluation took over {BUDGET_S:.0f} s at {slow} pages.")
    return 1 if wrong or slow else 0


if __name__ == "__main__":
    sys.exit(main())
