"""A sync cycle, read back from the Dagster instance: which pages ran, which ids they saw.

A cycle starts with the categories run of a sync. It is complete when every page the
source's total needs has materialized ``medusa_products`` since then (none failed
later) and the source ids those pages saw are exactly ``total`` distinct ids.
"""

from dataclasses import dataclass, field

import dagster as dg

from sync_pipeline.defs.partitions import (
    CAPACITY,
    page_index,
    page_key,
    pages_needed,
    product_pages,
)

CATEGORIES = dg.AssetKey("dummyjson_categories")
NORMALIZED = dg.AssetKey("normalized_products")
WRITTEN = dg.AssetKey("medusa_products")


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None):
    records_filter = dg.AssetRecordsFilter(
        asset_key=key, asset_partitions=[partition] if partition else None
    )
    records = instance.fetch_materializations(records_filter, limit=1).records
    return records[0].event_log_entry if records else None


def ids_on_earlier_pages(instance: dg.DagsterInstance, key: str) -> dict[int, str]:
    """Source ids the earlier pages of this cycle saw, with the page that saw each first."""
    start = _latest(instance, CATEGORIES)
    seen: dict[int, str] = {}
    for index in range(page_index(key)):
        earlier = page_key(index)
        page = _latest(instance, NORMALIZED, earlier)
        if page is None or (start is not None and page.timestamp < start.timestamp):
            continue
        ids = page.asset_materialization.metadata.get("source_ids")
        for source_id in ids.value if ids else []:
            seen.setdefault(int(source_id), earlier)
    return seen


@dataclass
class CycleStatus:
    complete: bool
    reason: str = ""
    total: int | None = None
    seen_ids: set[int] = field(default_factory=set)


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None):
    records_filter = dg.AssetRecordsFilter(
        asset_key=key, asset_partitions=[partition] if partition else None
    )
    records = instance.fetch_materializations(records_filter, limit=1).records
    return records[0].event_log_entry if records else None


def cycle_status(instance: dg.DagsterInstance) -> CycleStatus:
    """Whether the latest sync cycle saw the whole source, and which ids it saw."""
    start = _latest(instance, CATEGORIES)
    if start is None:
        return CycleStatus(False, "no sync has run yet")
    first_page = _latest(instance, NORMALIZED, page_key(0))
    if first_page is None or first_page.timestamp < start.timestamp:
        return CycleStatus(False, "page 000 has not been synced in this cycle")
    total = int(first_page.asset_materialization.metadata["total"].value)
    if total > CAPACITY:
        return CycleStatus(False, f"the source's {total} products outgrow the pages", total)
    keys = [page_key(i) for i in range(pages_needed(total))]
    statuses = instance.get_status_by_partition(WRITTEN, keys, product_pages)
    seen: set[int] = set()
    for key in keys:
        written = _latest(instance, WRITTEN, key)
        if (
            written is None
            or written.timestamp < start.timestamp
            or (statuses or {}).get(key) != dg.AssetPartitionStatus.MATERIALIZED
        ):
            return CycleStatus(False, f"page {key} has not succeeded in this cycle", total)
        page = _latest(instance, NORMALIZED, key)
        metadata = page.asset_materialization.metadata
        if int(metadata["total"].value) != total:
            return CycleStatus(False, f"the source's total changed during the cycle (page {key})")
        seen.update(int(i) for i in metadata["source_ids"].value)
    if len(seen) != total:
        return CycleStatus(
            False, f"the pages saw {len(seen)} distinct ids, the source says {total}", total
        )
    return CycleStatus(True, total=total, seen_ids=seen)
