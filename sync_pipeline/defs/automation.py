"""What starts and carries a sync inside Dagster: the nightly schedule, the whole-catalog job
and the cycle sensor.

The schedule, the job (or the UI's "Materialize all") runs the catalog: categories, store,
and ``dummyjson_catalog``, which registers the pages the source needs. Once that run has set
up the categories and store, the sensor asks the plan (``plan.py``) what the cycle needs next
and requests exactly those runs, each under a ``run_key`` so none is requested twice: the
pages, then archival once every page succeeded.
"""

from __future__ import annotations

import dagster as dg

from sync_pipeline.defs.medusa_assets import MEDUSA_POOL
from sync_pipeline.defs.partitions import PRODUCT_PAGES, page_key, registered_pages
from sync_pipeline.defs.plan import (
    ARCHIVAL_ASSETS,
    CATALOG_ASSETS,
    DOOR_TAG,
    PAGE_ASSETS,
    next_steps,
)
from sync_pipeline.settings import SyncSettings

# A door the UI can open at any catalog size with one click and one run: "Materialize all" on
# the lineage page becomes an asset backfill as soon as several pages are registered, which
# Dagster's backfill daemon advances once every 30 s; this job's run starts the cycle as the
# schedule's does, and the sensor carries it.
whole_catalog_sync = dg.define_asset_job(
    "whole_catalog_sync",
    selection=CATALOG_ASSETS,
    description=(
        "Syncs the whole catalog, at any size, from one click (Materialize all on this job): "
        "this run reads the catalog and sets up the categories and store, then "
        "sync_cycle_sensor runs every page the catalog needs and archival, as after the "
        "nightly schedule's run. Materialize all on the lineage page syncs the same, but with "
        "several pages it is an asset backfill, which Dagster's backfill daemon advances only "
        "once every 30 s."
    ),
)


def prepare_instance(instance: dg.DagsterInstance, settings: SyncSettings) -> list[str]:
    """Make the Medusa pool's limit the ``SYNC_MEDUSA_CONCURRENCY`` setting, and give a new
    instance its first page, so the UI's "Materialize all" has a partition to launch.

    Returns the pages added (``[]`` or ``["000"]``).
    """
    storage = instance.event_log_storage
    if storage.get_concurrency_info(MEDUSA_POOL).slot_count != settings.medusa_concurrency:
        storage.set_concurrency_slots(MEDUSA_POOL, settings.medusa_concurrency)
    if registered_pages(instance):
        return []
    instance.add_dynamic_partitions(PRODUCT_PAGES, [page_key(0)])
    return [page_key(0)]


def build_automation(
    settings: SyncSettings,
) -> tuple[dg.ScheduleDefinition, dg.SensorDefinition]:
    @dg.schedule(
        name="nightly_catalog_sync",
        cron_schedule=settings.schedule_cron,
        execution_timezone="UTC",
        target=CATALOG_ASSETS + PAGE_ASSETS + ARCHIVAL_ASSETS,
        # The product is a nightly sync: on as soon as a daemon runs (dagster dev starts one).
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            "Every night: one run reads the catalog (categories, store setup, and the pages "
            'the source needs) and syncs page 000, as the UI\'s "Materialize all" does; '
            "sync_cycle_sensor then runs the other pages the catalog needs, and archival."
        ),
    )
    def nightly_catalog_sync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
        prepare_instance(context.instance, settings)
        # With one page (the last cycle's count), archival can close the cycle in this run.
        one_page = len(registered_pages(context.instance)) == 1
        return dg.RunRequest(
            run_key=f"sync:{tick}",
            asset_selection=CATALOG_ASSETS + PAGE_ASSETS + (ARCHIVAL_ASSETS if one_page else []),
            partition_key=page_key(0),
        )

    # Page runs the sensor keeps queued or running at once: the pool's writers, and as many
    # ready behind them. A catalog of 2,000 pages is not 2,000 queued runs in one tick (each
    # one made, stored and sorted by the queue every second), and the UI's run list stays
    # readable. A tick every 5 s refills the queue before the writers run dry (a page of 500
    # products takes about 13 s to write).
    queue_depth = 2 * settings.medusa_concurrency

    @dg.sensor(
        name="sync_cycle_sensor",
        target=PAGE_ASSETS + ARCHIVAL_ASSETS,
        # Dagster's sensor daemon loops every 5 s at best (MIN_INTERVAL_LOOP_TIME): asking for
        # less changes nothing.
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Carries a sync started by the schedule or the UI: once the catalog run has set up "
            "the categories and store, requests one run per page the catalog needs (not yet "
            "written in this cycle, not failed, not running; at most twice "
            "SYNC_MEDUSA_CONCURRENCY queued or running at once), then archival when every page "
            "succeeded and the catalog run has ended. Leaves pages to a "
            "running backfill, and cycles started by `sync-pipeline sync` to the CLI."
        ),
    )
    def sync_cycle_sensor(context: dg.SensorEvaluationContext):
        instance = context.instance
        if prepare_instance(instance, settings):
            return dg.SkipReason("A new instance: page 000 registered for the first sync.")
        plan = next_steps(instance)
        if plan.cycle is None:
            return dg.SkipReason("No sync has started yet.")
        started_by = instance.get_run_by_id(plan.cycle.run_id)
        if started_by is not None and started_by.tags.get(DOOR_TAG) == "cli":
            return dg.SkipReason("The current cycle was started by sync-pipeline sync.")
        if not plan.steps:
            return dg.SkipReason(
                plan.waiting_for
                or f"{len(plan.done)}/{len(plan.pages)} pages done, {len(plan.in_flight)} "
                f"running, {len(plan.failed)} failed."
            )
        queued_or_running = len(set(plan.in_flight) & set(plan.pages))
        steps = plan.steps[: max(0, queue_depth - queued_or_running)]
        if not steps:
            return dg.SkipReason(
                f"{queued_or_running} page runs queued or running: the most it keeps at once "
                f"({queue_depth}, twice SYNC_MEDUSA_CONCURRENCY)."
            )
        return [
            dg.RunRequest(
                run_key=f"{plan.cycle.run_id}:{step.name}",
                asset_selection=step.assets,
                partition_key=step.partition,
            )
            for step in steps
        ]

    return nightly_catalog_sync, sync_cycle_sensor
