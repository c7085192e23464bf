"""The one plan of a sync, shared by every door (the sensor behind the UI and the schedule,
and ``sync-pipeline sync``): what to run next in the current cycle.

A cycle starts with the catalog run (categories, store, and ``dummyjson_catalog``, which
registers the pages the source needs). Then each needed page runs once (as soon as that run
has set up the categories and store), and archival runs when every page has succeeded. What
has happened is read back from the Dagster instance (materializations and run records), so
the plan holds no state of its own: any door can pick a cycle up where another left it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from sync_pipeline.defs.cycle import (
    ARCHIVED,
    CATALOG,
    WRITTEN,
    Cycle,
    current_cycle,
    cycle_pages,
    latest_materialization,
    written_at,
    written_pages,
)

CATALOG_ASSETS = [
    dg.AssetKey("dummyjson_categories"),
    CATALOG,
    dg.AssetKey("medusa_store"),
    dg.AssetKey("medusa_category_map"),
]
STORE_SETUP = CATALOG_ASSETS[2:]
PAGE_ASSETS = [dg.AssetKey("dummyjson_product_pages"), dg.AssetKey("normalized_products"), WRITTEN]
ARCHIVAL_ASSETS = [ARCHIVED]

PARTITION_TAG = "dagster/partition"
# Runs that ``sync-pipeline sync`` executes in its own process carry this tag; the sensor
# leaves a cycle the CLI started to the CLI.
DOOR_TAG = "sync/door"
FAILED_STATUSES = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


@dataclass(frozen=True)
class Step:
    """One run to launch: a page (``partition`` set) or archival."""

    name: str
    assets: list[dg.AssetKey]
    partition: str | None = None


@dataclass
class Plan:
    """Where the current cycle stands, and the runs it needs next."""

    cycle: Cycle | None
    pages: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    archival_due: bool = False
    waiting_for: str = ""

    @property
    def finished(self) -> bool:
        """Nothing left to launch and nothing running: the cycle is over (maybe with failures)."""
        return not self.steps and not self.in_flight


def _run_partition(record: dg.RunRecord) -> str | None:
    return record.dagster_run.tags.get(PARTITION_TAG)


def _writes(record: dg.RunRecord, key: dg.AssetKey) -> bool:
    selection = record.dagster_run.asset_selection
    return selection is None or key in selection


def _is_archival(record: dg.RunRecord) -> bool:
    return _run_partition(record) is None and _writes(record, ARCHIVED)


def _materialized_in(instance: dg.DagsterInstance, key: dg.AssetKey, run_id: str) -> bool:
    latest = latest_materialization(instance, key)
    return latest is not None and latest.run_id == run_id


def _backfill_in_progress(instance: dg.DagsterInstance) -> bool:
    """An asset backfill (the UI's "Materialize all" over several pages, or "Backfill failed
    and missing") is running the pages itself: the plan must not launch them twice."""
    backfills = instance.get_backfills(
        filters=BulkActionsFilter(statuses=[BulkActionStatus.REQUESTED])
    )
    for backfill in backfills:
        selection = backfill.asset_selection or []
        if WRITTEN in selection or ARCHIVED in selection:
            return True
    return False


def next_steps(instance: dg.DagsterInstance, *, defer_to_backfills: bool = True) -> Plan:
    """The runs the current cycle needs now: the pages that have neither succeeded since the
    cycle began nor failed in it nor are running, then archival once every page succeeded.

    With ``defer_to_backfills``, nothing is planned while an asset backfill of the pages runs.
    """
    cycle = current_cycle(instance)
    if cycle is None:
        return Plan(None, waiting_for="no sync has started yet")
    plan = Plan(cycle, pages=cycle_pages(instance, cycle))
    started_by = instance.get_run_by_id(cycle.run_id)
    first_run_busy = started_by is not None and started_by.status in IN_PROGRESS_RUN_STATUSES
    if first_run_busy:
        plan.in_flight.append("catalog")
        # Its categories and store come before any page; once it has set them up, the other
        # pages need not wait for the page it writes itself (the UI's and the schedule's run).
        if not all(_materialized_in(instance, key, cycle.run_id) for key in STORE_SETUP):
            return plan
    if any(latest_materialization(instance, key) is None for key in STORE_SETUP):
        plan.waiting_for = "the categories and store have never been set up"
        return plan
    if defer_to_backfills and _backfill_in_progress(instance):
        plan.waiting_for = "a backfill is running the pages"
        return plan
    running = instance.get_run_records(dg.RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES)))
    ended = instance.get_run_records(
        dg.RunsFilter(
            statuses=list(FAILED_STATUSES),
            updated_after=datetime.fromtimestamp(cycle.started, tz=UTC),
        )
    )
    in_flight = {_run_partition(r) for r in running if _writes(r, WRITTEN)}
    failed = {_run_partition(r) for r in ended if _writes(r, WRITTEN)}
    written = written_pages(instance, cycle)
    for key in plan.pages:
        if key in written:
            plan.done.append(key)
        elif key in in_flight:
            plan.in_flight.append(key)
        elif key in failed:
            plan.failed.append(key)
        else:
            plan.steps.append(Step(f"page:{key}", PAGE_ASSETS, key))
    if len(plan.done) < len(plan.pages) or first_run_busy:
        return plan  # archival only once every page has succeeded and the first run has ended
    last_write = written_at(instance, max(written[key] for key in plan.pages))
    if any(_is_archival(r) for r in running):
        plan.in_flight.append("archival")
        return plan
    if any(_is_archival(r) and (r.end_time or 0) >= last_write for r in ended):
        plan.failed.append("archival")  # e.g. refused a mass archive: a person decides
        return plan
    archived = latest_materialization(instance, ARCHIVED)
    if archived is None or archived.timestamp < last_write:
        plan.archival_due = True
        plan.steps.append(Step(f"archival:{int(last_write * 1000)}", ARCHIVAL_ASSETS))
    return plan
