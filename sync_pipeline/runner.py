"""A full sync through Dagster, run by ``sync-pipeline sync``: the same assets as the UI's.

Each run is executed in this process but recorded in the Dagster instance at
``DAGSTER_HOME``, so ``dagster dev`` shows it, its metadata and its failed pages.
Order: one run for categories and store, then one run per page (a failed page fails
alone and can be re-run from the UI).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from sync_pipeline.definitions import build_definitions
from sync_pipeline.defs.assets import CATALOG_FITS_CHECK, RECORDS_SYNCED_CHECK
from sync_pipeline.defs.partitions import CAPACITY, PAGE_COUNT, page_key, pages_needed
from sync_pipeline.defs.schedules import ARCHIVAL_ASSETS, CATALOG_ASSETS, PAGE_ASSETS
from sync_pipeline.settings import LOCAL_DIR, REPO_ROOT

DEFAULT_DAGSTER_HOME = LOCAL_DIR / "dagster_home"
COUNT_KEYS = ("created", "updated", "unchanged", "failed")
REQUEST_KEYS = ("medusa_reads", "medusa_writes")


def ensure_dagster_home() -> Path:
    """``DAGSTER_HOME``, defaulting to ``.local/dagster_home``, with the project's dagster.yaml."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME)))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


@dataclass
class PageOutcome:
    key: str
    ok: bool
    seconds: float
    products: int = 0
    total: int | None = None
    fetch_attempts: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    failed_records: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    run_id: str = ""
    plan: str = ""


@dataclass
class SyncSummary:
    dry_run: bool = False
    catalog_ok: bool = False
    catalog_error: str | None = None
    total: int | None = None
    pages: list[PageOutcome] = field(default_factory=list)
    seconds: float = 0.0
    archival_ok: bool = True
    archived: int = 0
    archival_note: str = ""
    # Medusa requests of the categories/store and archival runs (pages keep their own).
    other_requests: Counter = field(default_factory=Counter)

    def add_requests(self, metadata: dict[str, Any]) -> None:
        for key in REQUEST_KEYS:
            self.other_requests[key] += int(metadata.get(key, 0))

    @property
    def capacity_exceeded(self) -> bool:
        return self.total is not None and self.total > CAPACITY

    @property
    def ok(self) -> bool:
        return (
            self.catalog_ok
            and bool(self.pages)
            and all(p.ok for p in self.pages)
            and not self.capacity_exceeded
            and self.archival_ok
        )

    def count(self, key: str) -> int:
        return sum(p.counts.get(key, 0) for p in self.pages)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "total": self.total,
            "seconds": round(self.seconds, 3),
            "pages": len(self.pages),
            "failed_pages": [p.key for p in self.pages if not p.ok],
            **{key: self.count(key) for key in COUNT_KEYS},
            **{key: self.requests(key) for key in REQUEST_KEYS},
            "archived": self.archived,
            "archival_note": self.archival_note,
            "catalog_error": self.catalog_error,
        }

    def requests(self, key: str) -> int:
        """Medusa requests of the whole sync (``medusa_reads`` or ``medusa_writes``)."""
        return sum(p.requests.get(key, 0) for p in self.pages) + self.other_requests[key]


# Dagster's console logs go to the run's event log (and the UI); the CLI prints a summary.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# Serialized errors start with the exception's qualified name.
OWN_ERRORS = "sync_pipeline."


def _error_message(error) -> str:
    """Past Dagster's wrappers (a step error, "Exceeded max_retries"), the pipeline's own
    exception says what failed; its cause (a requests error naming the full URL) says less.
    Other errors are reported by their root cause."""
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    error = next((e for e in chain if e.message.startswith(OWN_ERRORS)), None)
    error = error or (chain[-1] if chain else None)
    return error.message.strip().splitlines()[0] if error else "unknown error"


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The user-facing reason of a failed run: the exception raised, not Dagster's wrapper."""
    messages = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data and data.user_failure_data.description:
            message = data.user_failure_data.description
        else:
            message = _error_message(data.error)
        messages.append(f"{event.step_key}: {message}")
    if not messages:  # e.g. a resource that could not start: no step ran
        for event in result.all_events:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                messages.append(_error_message(error))
    return "; ".join(dict.fromkeys(messages)) or "run failed"


def _check_metadata(result: dg.ExecuteInProcessResult, check_name: str) -> dict[str, Any] | None:
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.check_name == check_name:
                return {key: value.value for key, value in evaluation.metadata.items()}
    return None


def _dry_run_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """A dry run's plan, observed (not materialized) on ``medusa_products``."""
    for observation in result.asset_observations_for_node("medusa_products"):
        meta = {key: value.value for key, value in observation.metadata.items()}
        return {
            "created": meta["would_create"],
            "updated": meta["would_update"],
            "unchanged": meta["unchanged"],
            "failed": meta["would_fail"],
            "failed_records": observation.metadata.get("failed_records"),
            "plan": meta["plan"],
            "medusa_reads": meta.get("medusa_reads", 0),
            "medusa_writes": meta.get("medusa_writes", 0),
        }
    return {}


def _materialization_metadata(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
    for materialization in result.asset_materializations_for_node(node):
        return {key: value.value for key, value in materialization.metadata.items()}
    return {}


class SyncRunner:
    """Runs the sync's Dagster runs in order and gathers what they report."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        resources: dict[str, dg.ConfigurableResource] | None = None,
        run_tags: dict[str, str] | None = None,
    ) -> None:
        self.instance = instance
        self.job = build_definitions(resources).resolve_implicit_global_asset_job_def()
        self.run_tags = run_tags or {}

    def run_catalog(self) -> dg.ExecuteInProcessResult:
        return self.job.execute_in_process(
            instance=self.instance,
            asset_selection=CATALOG_ASSETS,
            run_config=QUIET_RUN_CONFIG,
            tags=self.run_tags,
            raise_on_error=False,
        )

    def run_page(self, key: str, dry_run: bool = False) -> PageOutcome:
        started = time.monotonic()
        run_config = dict(QUIET_RUN_CONFIG)
        if dry_run:
            run_config["ops"] = {"medusa_products": {"config": {"dry_run": True}}}
        result = self.job.execute_in_process(
            instance=self.instance,
            asset_selection=PAGE_ASSETS,
            partition_key=key,
            run_config=run_config,
            tags={**self.run_tags, "sync/dry_run": str(dry_run).lower()},
            raise_on_error=False,
        )
        page = _materialization_metadata(result, "dummyjson_product_pages")
        fits = _check_metadata(result, CATALOG_FITS_CHECK) or {}
        if dry_run:
            synced = _dry_run_metadata(result)
        else:
            synced = _check_metadata(result, RECORDS_SYNCED_CHECK) or {}
            synced["plan"] = _materialization_metadata(result, "medusa_products").get("changes")
        failed_table = synced.get("failed_records")
        return PageOutcome(
            key=key,
            ok=result.success,
            seconds=time.monotonic() - started,
            products=int(page.get("products", 0)),
            total=page.get("total", fits.get("total")),
            fetch_attempts=int(page.get("fetch_attempts", 0)),
            counts={k: int(synced[k]) for k in COUNT_KEYS if k in synced},
            requests={k: int(synced[k]) for k in REQUEST_KEYS if k in synced},
            failed_records=[dict(r.data) for r in failed_table.records] if failed_table else [],
            error=None if result.success else _failure_message(result),
            run_id=result.run_id,
            plan=synced.get("plan") or "",
        )

    def run_archival(self, summary: SyncSummary, dry_run: bool, allow_mass_archive: bool) -> None:
        config = {"dry_run": dry_run, "allow_mass_archive": allow_mass_archive}
        result = self.job.execute_in_process(
            instance=self.instance,
            asset_selection=ARCHIVAL_ASSETS,
            run_config={
                **QUIET_RUN_CONFIG,
                "ops": {"medusa_archived_products": {"config": config}},
            },
            tags=self.run_tags,
            raise_on_error=False,
        )
        summary.archival_ok = result.success
        if not result.success:
            summary.archival_note = _failure_message(result)
            return
        if dry_run:
            for observation in result.asset_observations_for_node("medusa_archived_products"):
                meta = {key: value.value for key, value in observation.metadata.items()}
                summary.archived = int(meta["would_archive"])
                ids = ", ".join(str(p["source_id"]) for p in meta["vanished"])
                summary.archival_note = meta["refusal"] or (f"source ids {ids}" if ids else "")
            return
        meta = _materialization_metadata(result, "medusa_archived_products")
        summary.add_requests(meta)
        summary.archived = int(meta.get("archived", 0))
        summary.archival_note = meta.get("skipped_because", "")

    def has_catalog(self) -> bool:
        """Whether categories and store were ever set up (a dry run reads, never writes, them)."""
        return all(
            self.instance.get_latest_materialization_event(key) is not None
            for key in CATALOG_ASSETS
        )

    def run(
        self,
        pages: list[str] | None = None,
        on_page: Callable[[PageOutcome], None] | None = None,
        dry_run: bool = False,
        allow_mass_archive: bool = False,
    ) -> SyncSummary:
        """Categories and store, then the given pages, or as many pages as the source needs.

        A dry run skips the categories/store run (it writes) and plans each page from the
        categories and store of the last real sync.
        """
        started = time.monotonic()
        summary = SyncSummary(dry_run=dry_run)
        if dry_run:
            summary.catalog_ok = self.has_catalog()
            if not summary.catalog_ok:
                summary.catalog_error = (
                    "a dry run plans against the categories and store of a previous sync; "
                    "run one real sync first"
                )
                return summary
        else:
            catalog = self.run_catalog()
            for node in ("medusa_store", "medusa_category_map"):
                summary.add_requests(_materialization_metadata(catalog, node))
            summary.catalog_ok = catalog.success
            if not catalog.success:
                summary.catalog_error = _failure_message(catalog)
        keys = list(pages) if pages else [page_key(0)]
        if not summary.catalog_ok and not self.has_catalog():
            # Pages link products to the store and the categories; with neither there, a page
            # run could only fail on a missing input, which would say nothing about why.
            for key in keys:
                outcome = PageOutcome(
                    key=key,
                    ok=False,
                    seconds=0.0,
                    error="not run: the categories/store run failed and none has ever "
                    f"succeeded ({summary.catalog_error})",
                )
                summary.pages.append(outcome)
                if on_page:
                    on_page(outcome)
            summary.seconds = time.monotonic() - started
            return summary
        index = 0
        while index < len(keys):
            outcome = self.run_page(keys[index], dry_run=dry_run)
            summary.pages.append(outcome)
            if on_page:
                on_page(outcome)
            if outcome.total is not None:
                summary.total = outcome.total
                if not pages:
                    # Any page may report a larger total than page 000 did (products added
                    # during the sync land at the end): follow it, or they would be left out.
                    needed = min(pages_needed(outcome.total), PAGE_COUNT)
                    keys.extend(page_key(i) for i in range(len(keys), needed))
            index += 1
        if not pages:
            # Archival checks for itself that the cycle is complete before it touches anything.
            self.run_archival(summary, dry_run, allow_mass_archive)
        summary.seconds = time.monotonic() - started
        return summary
