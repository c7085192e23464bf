"""Archiving products that left the source, once a sync cycle is known to be complete
(see ``cycle.py``): only then can "not seen" mean "gone from the source"."""

from typing import Literal

import dagster as dg

from sync_pipeline.defs.cycle import WRITTEN, cycle_status
from sync_pipeline.defs.dummyjson_assets import GROUP, OWNERS
from sync_pipeline.defs.medusa_assets import MEDUSA_POOL, RequestMeter
from sync_pipeline.defs.reports import ArchivalReport, VanishedProduct
from sync_pipeline.defs.resources import MedusaResource
from sync_pipeline.sync.archival import archive_products, list_owned_products, plan_archival


class ArchivalConfig(dg.Config):
    mode: Literal["draft", "delete"] = "draft"
    """``draft`` unpublishes vanished products (reversible); ``delete`` deletes them."""
    max_share: float = 0.10
    """Largest share of the synced catalog one run may archive without an override."""
    allow_mass_archive: bool = False
    """Archive even beyond ``max_share`` (when the source really dropped that much)."""
    dry_run: bool = False
    """List what would be archived; change nothing."""


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"medusa"},
    deps=[WRITTEN],
    pool=MEDUSA_POOL,
    output_required=False,
    description=(
        "Products the sync created that are no longer in the source (or that the merchant's "
        "selection now leaves out), set to draft (or "
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
    if status.pages_missing and status.first_run == context.run_id:
        # The cycle's first run (the UI's or the schedule's) gets here while the other pages
        # run beside it: nothing to decide yet, and no report that could pass for this
        # cycle's. sync_cycle_sensor runs archival once the last page has succeeded.
        context.log.info("Archival waits for the cycle's other pages (%s)", status.reason)
        return
    if not status.complete:
        context.log.warning("Nothing archived: %s", status.reason)
        report = ArchivalReport(mode=config.mode, skipped_because=status.reason)
        yield dg.MaterializeResult(metadata=report.to_metadata())
        return
    meter = RequestMeter(medusa)
    plan = plan_archival(
        list_owned_products(meter.client),
        status.seen_ids,
        left_out_ids=status.left_out_ids,
        max_share=config.max_share,
        allow_mass_archive=config.allow_mass_archive,
    )
    vanished = [VanishedProduct(p.source_id, p.handle, p.id) for p in plan.vanished]
    if config.dry_run:
        report = ArchivalReport(
            archived=len(vanished),
            mode=config.mode,
            owned=plan.owned,
            vanished=vanished,
            refusal=plan.refusal or "",
            requests=meter.counts(),
            dry_run=True,
        )
        yield dg.AssetObservation(asset_key=context.asset_key, metadata=report.to_metadata())
        return
    if plan.refusal:
        report = ArchivalReport(
            mode=config.mode, owned=plan.owned, vanished=vanished, refusal=plan.refusal
        )
        raise dg.Failure(plan.refusal, metadata=report.to_metadata(), allow_retries=False)
    archived = archive_products(meter.client, plan.vanished, config.mode)
    context.log.info(
        "Archived %d products (%s): %d left the source, %d the merchant's selection",
        archived,
        config.mode,
        archived - plan.left_out,
        plan.left_out,
    )
    report = ArchivalReport(
        archived=archived,
        mode=config.mode,
        owned=plan.owned,
        vanished=vanished,
        requests=meter.counts(),
    )
    yield dg.MaterializeResult(metadata=report.to_metadata())
