"""Archiving products that left the source, once a sync cycle is known to be complete.

A cycle starts with the categories run of a sync; it is complete when every page the
source's total needs has materialized ``medusa_products`` since then (none failed
later) and the source ids those pages saw are exactly ``total`` distinct ids. Only then
can "not seen" mean "gone from the source".
"""

from dataclasses import dataclass, field
from typing import Literal

import dagster as dg

from sync_pipeline.archival import (
    archive_products,
    list_owned_products,
    plan_archival,
)
from sync_pipeline.defs.assets import (
    GROUP,
    OWNERS,
    RequestMeter,
    dummyjson_categories,
    medusa_products,
    normalized_products,
)
from sync_pipeline.defs.partitions import CAPACITY, page_key, pages_needed, product_pages
from sync_pipeline.defs.resources import MedusaResource


class ArchivalConfig(dg.Config):
    mode: Literal["draft", "delete"] = "draft"
    """``draft`` unpublishes vanished products (reversible); ``delete`` deletes them."""
    max_share: float = 0.10
    """Largest share of the synced catalog one run may archive without an override."""
    allow_mass_archive: bool = False
    """Archive even beyond ``max_share`` (when the source really dropped that much)."""
    dry_run: bool = False
    """List what would be archived; change nothing."""


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
    start = _latest(instance, dummyjson_categories.key)
    if start is None:
        return CycleStatus(False, "no sync has run yet")
    first_page = _latest(instance, normalized_products.key, page_key(0))
    if first_page is None or first_page.timestamp < start.timestamp:
        return CycleStatus(False, "page 000 has not been synced in this cycle")
    total = int(first_page.asset_materialization.metadata["total"].value)
    if total > CAPACITY:
        return CycleStatus(False, f"the source's {total} products outgrow the pages", total)
    keys = [page_key(i) for i in range(pages_needed(total))]
    statuses = instance.get_status_by_partition(medusa_products.key, keys, product_pages)
    seen: set[int] = set()
    for key in keys:
        written = _latest(instance, medusa_products.key, key)
        if (
            written is None
            or written.timestamp < start.timestamp
            or (statuses or {}).get(key) != dg.AssetPartitionStatus.MATERIALIZED
        ):
            return CycleStatus(False, f"page {key} has not succeeded in this cycle", total)
        page = _latest(instance, normalized_products.key, key)
        metadata = page.asset_materialization.metadata
        if int(metadata["total"].value) != total:
            return CycleStatus(False, f"the source's total changed during the cycle (page {key})")
        seen.update(int(i) for i in metadata["source_ids"].value)
    if len(seen) != total:
        return CycleStatus(
            False, f"the pages saw {len(seen)} distinct ids, the source says {total}", total
        )
    return CycleStatus(True, total=total, seen_ids=seen)


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"medusa"},
    deps=[medusa_products],
    output_required=False,
    description=(
        "Products the sync created that are no longer in the source, set to draft (or "
        "deleted, if configured). Runs only after a complete cycle (every page succeeded and "
        "the ids seen equal the source's total), and refuses to archive more than max_share "
        "of the catalog (10%) unless allow_mass_archive is set. A product that comes back is "
        "published again by its page."
    ),
)
def medusa_archived_products(
    context: dg.AssetExecutionContext, config: ArchivalConfig, medusa: MedusaResource
):
    status = cycle_status(context.instance)
    if not status.complete:
        context.log.warning("Nothing archived: %s", status.reason)
        yield dg.MaterializeResult(metadata={"archived": 0, "skipped_because": status.reason})
        return
    meter = RequestMeter(medusa)
    plan = plan_archival(
        list_owned_products(meter.client),
        status.seen_ids,
        max_share=config.max_share,
        allow_mass_archive=config.allow_mass_archive,
    )
    listing = dg.MetadataValue.json(
        [{"source_id": p.source_id, "handle": p.handle, "id": p.id} for p in plan.vanished]
    )
    if config.dry_run:
        yield dg.AssetObservation(
            asset_key=context.asset_key,
            metadata={
                "dry_run": True,
                "would_archive": len(plan.vanished),
                "vanished": listing,
                "refusal": plan.refusal or "",
            },
        )
        return
    if plan.refusal:
        raise dg.Failure(
            plan.refusal, metadata={"vanished": listing, "owned": plan.owned}, allow_retries=False
        )
    archived = archive_products(meter.client, plan.vanished, config.mode)
    context.log.info("Archived %d vanished products (%s)", archived, config.mode)
    yield dg.MaterializeResult(
        metadata={
            "archived": archived,
            "mode": config.mode,
            "owned": plan.owned,
            "vanished": listing,
            **meter.counts(),
        }
    )
