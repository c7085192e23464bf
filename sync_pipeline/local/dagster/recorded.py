"""Runs and materializations written straight into a Dagster instance, for the tests of the
plan and the cycle and for ``bench.plan``, which need no code location: the cycle's first
run (the UI's "Materialize all" over page 000), page runs, and their materializations; and
a count of the storage queries that reading them back takes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import dagster as dg
import sqlalchemy as sa
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.test_utils import create_run_for_test

from sync_pipeline.defs.cycle import CATALOG, NORMALIZED, WRITTEN
from sync_pipeline.defs.partitions import page_keys, register_pages
from sync_pipeline.defs.plan import (
    ARCHIVAL_ASSETS,
    CATALOG_ASSETS,
    PAGE_ASSETS,
    PARTITION_TAG,
    STORE_SETUP,
)
from sync_pipeline.defs.reports import CatalogReport, NormalizeReport

PAGES = ["000", "001", "002"]
TOTAL, PAGE_SIZE = 250, 100
JOB = "__ASSET_JOB"
T = TypeVar("T")


def run(instance, status, partition: str | None, assets) -> str:
    tags = {PARTITION_TAG: partition} if partition else {}
    run = create_run_for_test(
        instance, job_name=JOB, status=status, tags=tags, asset_selection=set(assets)
    )
    return run.run_id


def materialization(key: dg.AssetKey, partition=None, metadata=None) -> DagsterEvent:
    """The event a run reports when one of its steps materializes ``key``."""
    asset_materialization = dg.AssetMaterialization(key, partition=partition, metadata=metadata)
    return DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name=JOB,
        event_specific_data=StepMaterializationData(asset_materialization),
    )


def materialize(instance, run_id: str, key: dg.AssetKey, partition=None, metadata=None):
    instance.report_dagster_event(materialization(key, partition, metadata), run_id=run_id)


def end(instance, run_id: str) -> None:
    event = DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=JOB)
    instance.report_dagster_event(event, run_id=run_id)
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS


def first_run(instance, *, set_up_store: bool, total: int = TOTAL) -> str:
    """The UI's first click: one busy run of the whole graph for page 000, which has read
    a catalog of ``total`` products (three pages by default) and registered its pages (and,
    if ``set_up_store``, set up the categories and store)."""
    run_id = run(
        instance, dg.DagsterRunStatus.STARTED, "000", CATALOG_ASSETS + PAGE_ASSETS + ARCHIVAL_ASSETS
    )
    pages = page_keys(total, PAGE_SIZE)
    register_pages(instance, pages, retire=True)
    catalog = CatalogReport(total=total, page_size=PAGE_SIZE, pages=pages)
    materialize(instance, run_id, CATALOG, metadata=catalog.to_metadata())
    for key in STORE_SETUP if set_up_store else []:
        materialize(instance, run_id, key)
    return run_id


def write_page(instance, run_id: str, key: str, total: int = TOTAL) -> None:
    """Page ``key`` read (its share of ids 1..``total``; the pages that total needs registered,
    as ``dummyjson_product_pages`` does) and written by run ``run_id``."""
    register_pages(instance, page_keys(total, PAGE_SIZE), retire=False)
    first = int(key) * PAGE_SIZE + 1
    ids = list(range(first, min(first + PAGE_SIZE, total + 1)))
    read = NormalizeReport(valid=len(ids), rejected=[], total=total, source_ids=ids)
    materialize(instance, run_id, NORMALIZED, key, read.to_metadata())
    materialize(instance, run_id, WRITTEN, key)


def page_written(instance, key: str, total: int = TOTAL) -> None:
    """A page run of ``key`` that succeeded, having seen ``total`` products in the source."""
    write_page(instance, run(instance, dg.DagsterRunStatus.SUCCESS, key, PAGE_ASSETS), key, total)


def whole_cycle(instance, total: int) -> None:
    """A cycle of ``total`` products whose every page succeeded and whose first run ended."""
    first = first_run(instance, set_up_store=True, total=total)
    write_page(instance, first, "000", total)
    for key in page_keys(total, PAGE_SIZE)[1:]:
        page_written(instance, key, total)
    end(instance, first)


def storage_queries(call: Callable[[], T]) -> tuple[int, T]:
    """How many SQL statements ``call`` sent to storage (any instance's), and what it returned."""
    count = 0

    def counted(*_args) -> None:
        nonlocal count
        count += 1

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", counted)
    try:
        result = call()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", counted)
    return count, result
