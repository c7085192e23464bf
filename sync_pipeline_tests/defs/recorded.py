"""Runs and materializations written straight into a Dagster instance, for tests of the
plan and the cycle that need no code location: the cycle's first run (the UI's "Materialize
all" over page 000), page runs, and their materializations."""

from __future__ import annotations

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.test_utils import create_run_for_test

from sync_pipeline.defs.cycle import CATALOG, NORMALIZED, WRITTEN
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


def run(instance, status, partition: str | None, assets) -> str:
    tags = {PARTITION_TAG: partition} if partition else {}
    run = create_run_for_test(
        instance, job_name=JOB, status=status, tags=tags, asset_selection=set(assets)
    )
    return run.run_id


def materialize(instance, run_id: str, key: dg.AssetKey, partition=None, metadata=None):
    materialization = dg.AssetMaterialization(key, partition=partition, metadata=metadata)
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name=JOB,
        event_specific_data=StepMaterializationData(materialization),
    )
    instance.report_dagster_event(event, run_id=run_id)


def end(instance, run_id: str) -> None:
    event = DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=JOB)
    instance.report_dagster_event(event, run_id=run_id)
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS


def first_run(instance, *, set_up_store: bool) -> str:
    """The UI's first click: one busy run of the whole graph for page 000, which has read
    a catalog of three pages (and, if ``set_up_store``, set up the categories and store)."""
    run_id = run(
        instance, dg.DagsterRunStatus.STARTED, "000", CATALOG_ASSETS + PAGE_ASSETS + ARCHIVAL_ASSETS
    )
    catalog = CatalogReport(total=TOTAL, page_size=PAGE_SIZE, pages=PAGES)
    materialize(instance, run_id, CATALOG, metadata=catalog.to_metadata())
    for key in STORE_SETUP if set_up_store else []:
        materialize(instance, run_id, key)
    return run_id


def write_page(instance, run_id: str, key: str) -> None:
    """Page ``key`` read (its share of ids 1..TOTAL) and written by run ``run_id``."""
    first = int(key) * PAGE_SIZE + 1
    ids = list(range(first, min(first + PAGE_SIZE, TOTAL + 1)))
    read = NormalizeReport(valid=len(ids), rejected=[], total=TOTAL, source_ids=ids)
    materialize(instance, run_id, NORMALIZED, key, read.to_metadata())
    materialize(instance, run_id, WRITTEN, key)


def page_written(instance, key: str) -> None:
    """A page run of ``key`` that succeeded."""
    write_page(instance, run(instance, dg.DagsterRunStatus.SUCCESS, key, PAGE_ASSETS), key)
