"""A sync cycle, read back from the Dagster instance: which pages ran, which ids they saw.

A cycle starts when ``dummyjson_catalog`` materializes (it reads the source's size). It is
complete when every page that size needs has materialized ``medusa_products`` since then
(none failed later) and the source ids those pages saw are exactly ``total`` distinct ids.

"Since then" is "stored after the catalog's materialization" (a larger storage id: exact,
where timestamps from different processes may tie or skew). The sensor reads the cycle every
few seconds, so each read takes a few storage queries whatever the number of pages, never one
per page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg

from sync_pipeline.defs.partitions import (
    page_index,
    page_key,
    page_keys,
    product_pages,
    registered_pages,
)
from sync_pipeline.defs.reports import CatalogReport, NormalizeReport

CATALOG = dg.AssetKey("dummyjson_catalog")
NORMALIZED = dg.AssetKey("normalized_products")
WRITTEN = dg.AssetKey("medusa_products")
ARCHIVED = dg.AssetKey("medusa_archived_products")

# Materializations read per storage query when a cycle's page reports are read (Dagster allows
# up to 10,000): memory per query stays bounded, and up to 999 page runs take one query.
REPORTS_PER_QUERY = 1_000


def latest_materialization(
    instance: dg.DagsterInstance, key: dg.AssetKey
) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0] if records else None


@dataclass(frozen=True)
class Cycle:
    """The latest sync cycle: its catalog materialization (when, in which run, and where in
    the event log the cycle begins) and what the catalog found."""

    started: float
    run_id: str
    storage_id: int
    catalog: CatalogReport


def current_cycle(instance: dg.DagsterInstance) -> Cycle | None:
    record = latest_materialization(instance, CATALOG)
    if record is None:
        return None
    return Cycle(
        started=record.timestamp,
        run_id=record.run_id,
        storage_id=record.storage_id,
        catalog=CatalogReport.from_metadata(record.asset_materialization.metadata),
    )


def page_reports(instance: dg.DagsterInstance, cycle: Cycle) -> dict[str, NormalizeReport]:
    """What each page read since the cycle began saw (its latest ``normalized_products``)."""
    latest: dict[str, dg.EventLogRecord] = {}
    records_filter = dg.AssetRecordsFilter(asset_key=NORMALIZED, after_storage_id=cycle.storage_id)
    cursor = None
    while True:
        result = instance.fetch_materializations(
            records_filter, limit=REPORTS_PER_QUERY, cursor=cursor, ascending=True
        )
        latest.update((record.partition_key, record) for record in result.records)
        if not result.has_more:
            break
        cursor = result.cursor
    return {
        key: NormalizeReport.from_metadata(record.asset_materialization.metadata)
        for key, record in latest.items()
    }


def written_pages(instance: dg.DagsterInstance, cycle: Cycle) -> Mapping[str, int]:
    """The pages that materialized ``medusa_products`` since the cycle began, each with the
    storage id of its latest such materialization."""
    return instance.event_log_storage.get_latest_storage_id_by_partition(
        WRITTEN, dg.DagsterEventType.ASSET_MATERIALIZATION, after_cursor=cycle.storage_id
    )


def written_at(instance: dg.DagsterInstance, storage_id: int) -> float:
    """When the ``medusa_products`` materialization stored as ``storage_id`` happened."""
    records_filter = dg.AssetRecordsFilter(asset_key=WRITTEN, storage_ids=[storage_id])
    (record,) = instance.fetch_materializations(records_filter, limit=1).records
    return record.timestamp


def ids_on_earlier_pages(instance: dg.DagsterInstance, key: str) -> dict[int, str]:
    """Source ids the earlier pages of this cycle saw, with the page that saw each first."""
    cycle = current_cycle(instance)
    seen: dict[int, str] = {}
    if cycle is None:
        return seen
    reports = page_reports(instance, cycle)
    for index in range(page_index(key)):
        earlier = page_key(index)
        report = reports.get(earlier)
        for source_id in report.source_ids if report else []:
            seen.setdefault(source_id, earlier)
    return seen


def cycle_pages(
    instance: dg.DagsterInstance,
    cycle: Cycle,
    reports: Mapping[str, NormalizeReport] | None = None,
) -> list[str]:
    """The pages this cycle needs: the catalog's, or more if a page saw a larger total.

    A page that sees a larger total registers the pages it needs, so what the pages saw
    (``reports``, read if not given) matters only when pages beyond the catalog's are
    registered.
    """
    keys = page_keys(cycle.catalog.total, cycle.catalog.page_size)
    if set(registered_pages(instance)) <= set(keys):
        return keys
    if reports is None:
        reports = page_reports(instance, cycle)
    total = cycle.catalog.total
    index = 0
    while index < len(keys := page_keys(total, cycle.catalog.page_size)):
        report = reports.get(keys[index])
        if report is not None:
            total = max(total, report.total)
        index += 1
    return keys


@dataclass
class CycleStatus:
    complete: bool
    reason: str = ""
    total: int | None = None
    seen_ids: set[int] = field(default_factory=set)
    left_out_ids: set[int] = field(default_factory=set)
    """Seen, but outside the merchant's selection: the store should not carry them."""
    first_run: str = ""
    """The run that read the catalog and so began the cycle (none before any sync)."""
    pages_missing: bool = False
    """Some page has not (yet) succeeded in the cycle."""


def cycle_status(instance: dg.DagsterInstance) -> CycleStatus:
    """Whether the latest sync cycle saw the whole source, and which ids it saw."""
    cycle = current_cycle(instance)
    if cycle is None:
        return CycleStatus(False, "no sync has run yet")
    reports = page_reports(instance, cycle)
    keys = cycle_pages(instance, cycle, reports)
    written = written_pages(instance, cycle)
    statuses = instance.get_status_by_partition(WRITTEN, keys, product_pages) or {}
    seen: set[int] = set()
    left_out: set[int] = set()
    total: int | None = None
    for key in keys:
        report = reports.get(key)
        if (
            report is None
            or key not in written
            or statuses.get(key) != dg.AssetPartitionStatus.MATERIALIZED
        ):
            return CycleStatus(
                False,
                f"page {key} has not succeeded in this cycle",
                total,
                first_run=cycle.run_id,
                pages_missing=True,
            )
        if total is not None and report.total != total:
            return CycleStatus(
                False,
                f"the source's total changed during the cycle (page {key})",
                first_run=cycle.run_id,
            )
        total = report.total
        seen.update(report.source_ids)
        left_out.update(report.left_out)
    if len(seen) != total:
        return CycleStatus(
            False,
            f"the pages saw {len(seen)} distinct ids, the source says {total}",
            total,
            first_run=cycle.run_id,
        )
    return CycleStatus(
        True, total=total, seen_ids=seen, left_out_ids=left_out, first_run=cycle.run_id
    )
