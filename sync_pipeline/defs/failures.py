"""The records a sync could not write, read back from the instance: what ``sync-pipeline errors``
prints for the supplier. Every page's ``all_records_synced`` check keeps its failed records
(source id, SKU, stage, reason); this reads the latest evaluation of each page, or one run's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.defs.cycle import WRITTEN
from sync_pipeline.defs.medusa_assets import RECORDS_SYNCED_CHECK
from sync_pipeline.defs.partitions import product_pages
from sync_pipeline.defs.plan import PARTITION_TAG
from sync_pipeline.defs.reports import WriteReport
from sync_pipeline.sync.mapping import RejectedRecord

RECORDS_CHECK = dg.AssetCheckKey(WRITTEN, RECORDS_SYNCED_CHECK)
COLUMNS = ("source_id", "sku", "page", "stage", "reason", "first_seen", "run_id")
_HISTORY_PAGE = 1000


@dataclass(frozen=True)
class FailedRecord:
    source_id: str
    sku: str
    page: str
    stage: str
    reason: str
    first_seen: str  # ISO 8601, UTC: the first evaluation of the page that had it failing
    run_id: str

    def as_row(self) -> dict[str, str]:
        return {column: getattr(self, column) for column in COLUMNS}


class UnknownRun(LookupError):
    pass


def _history(instance: dg.DagsterInstance) -> list[tuple[object, list[RejectedRecord]]]:
    """Every real (not dry-run) evaluation of the check with its failed records, oldest first."""
    storage = instance.event_log_storage
    records, cursor = [], None
    while True:
        batch = storage.get_asset_check_execution_history(
            RECORDS_CHECK, limit=_HISTORY_PAGE, cursor=cursor
        )
        records.extend(batch)
        if len(batch) < _HISTORY_PAGE:
            break
        cursor = batch[-1].id
    evaluated = []
    for record in sorted(records, key=lambda r: r.id):
        evaluation = record.event.asset_check_evaluation if record.event else None
        report = WriteReport.from_metadata(evaluation.metadata) if evaluation else None
        if report is not None and not report.dry_run:
            evaluated.append((record, report.failed_records))
    return evaluated


def _pages_of_runs(instance: dg.DagsterInstance, run_ids: set[str]) -> dict[str, str]:
    """The page each run wrote (its partition tag: the check itself is not partitioned)."""
    runs = instance.get_runs(dg.RunsFilter(run_ids=sorted(run_ids))) if run_ids else []
    return {run.run_id: run.tags[PARTITION_TAG] for run in runs if PARTITION_TAG in run.tags}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def failed_records(instance: dg.DagsterInstance, run_id: str | None = None) -> list[FailedRecord]:
    """The failed records of the latest evaluation of every page the catalog needs now (or of
    run ``run_id``). ``first_seen`` is when the page began reporting the record, unbroken."""
    if run_id is not None and instance.get_run_by_id(run_id) is None:
        raise UnknownRun(f"no run {run_id!r} in this Dagster instance ({instance.root_directory})")
    history = _history(instance)
    pages = _pages_of_runs(instance, {record.run_id for record, _ in history})
    first_seen: dict[tuple[str | None, str, str], float] = {}
    chosen: dict[str | None, tuple[object, list[RejectedRecord], dict]] = {}
    for record, failed in history:
        page = pages.get(record.run_id)
        keys = {(page, r.source_id, r.stage) for r in failed}
        for key in [k for k in first_seen if k[0] == page and k not in keys]:
            del first_seen[key]  # fixed in between
        for key in keys:
            first_seen.setdefault(key, record.create_timestamp)
        if run_id is None or record.run_id == run_id:
            chosen[page] = (record, failed, {k: first_seen[k] for k in keys})
    if run_id is None:
        pages = set(instance.get_dynamic_partitions(product_pages.name))
        chosen = {page: value for page, value in chosen.items() if page in pages}
    rows = []
    for page in sorted(chosen, key=lambda p: p or ""):
        record, failed, seen = chosen[page]
        for failure in failed:
            rows.append(
                FailedRecord(
                    source_id=failure.source_id,
                    sku=failure.sku or "",
                    page=page or "",
                    stage=failure.stage,
                    reason=failure.reason,
                    first_seen=_iso(seen[(page, failure.source_id, failure.stage)]),
                    run_id=record.run_id,
                )
            )
    return rows
