"""A sync cycle, read back from the Dagster instance: which pages ran, which ids they saw.

A cycle starts when ``dummyjson_catalog`` materializes (it reads the source's size). It is
complete when every page that size needs has materialized ``medusa_products`` since then
(none failed later) and the source ids those pages saw are exactly ``total`` distinct ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from sync_pipeline.defs.partitions import page_index, page_key, page_keys, product_pages
from sync_pipeline.defs.reports import CatalogReport, NormalizeReport

CATALOG = dg.AssetKey("dummyjson_catalog")
NORMALIZED = dg.AssetKey("normalized_products")
WRITTEN = dg.AssetKey("medusa_products")
ARCHIVED = dg.AssetKey("medusa_archived_products")


def latest_materialization(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> dg.EventLogEntry | None:
    records_filter = dg.AssetRecordsFilter(
        asset_key=key, asset_partitions=[partition] if partition else None
    )
    records = instance.fetch_materializations(records_filter, limit=1).records
    return records[0].event_log_entry if records else None


@dataclass(frozen=True)
class Cycle:
    """The latest sync cycle: when its catalog run read the source, and what it found."""

    started: float
    run_id: str
    catalog: CatalogReport

    def since_start(self, entry: dg.EventLogEntry | None) -> bool:
        return entry is not None and entry.timestamp >= self.started


def current_cycle(instance: dg.DagsterInstance) -> Cycle | None:
    entry = latest_materialization(instance, CATALOG)
    if entry is None:
        return None
    return Cycle(
        started=entry.timestamp,
        run_id=entry.run_id,
        catalog=CatalogReport.from_metadata(entry.asset_materialization.metadata),
    )


def page_report(instance: dg.DagsterInstance, cycle: Cycle, key: str) -> NormalizeReport | None:
    """What page ``key`` saw in this cycle, if it was read since the cycle began."""
    entry = latest_materialization(instance, NORMALIZED, key)
    if not cycle.since_start(entry):
        return None
    return NormalizeReport.from_metadata(entry.asset_materialization.metadata)


def ids_on_earlier_pages(instance: dg.DagsterInstance, key: str) -> dict[int, str]:
    """Source ids the earlier pages of this cycle saw, with the page that saw each first."""
    cycle = current_cycle(instance)
    seen: dict[int, str] = {}
    if cycle is None:
        return seen
    for index in range(page_index(key)):
        earlier = page_key(index)
        report = page_report(instance, cycle, earlier)
        for source_id in report.source_ids if report else []:
            seen.setdefault(source_id, earlier)
    return seen


def cycle_pages(instance: dg.DagsterInstance, cycle: Cycle) -> list[str]:
    """The pages this cycle needs: the catalog's, or more if a page saw a larger total."""
    total = cycle.catalog.total
    index = 0
    while index < len(keys := page_keys(total, cycle.catalog.page_size)):
        report = page_report(instance, cycle, keys[index])
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
    keys = cycle_pages(instance, cycle)
    statuses = instance.get_status_by_partition(WRITTEN, keys, product_pages) or {}
    seen: set[int] = set()
    left_out: set[int] = set()
    total: int | None = None
    for key in keys:
        report = page_report(instance, cycle, key)
        if (
            report is None
            or not cycle.since_start(latest_materialization(instance, WRITTEN, key))
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
