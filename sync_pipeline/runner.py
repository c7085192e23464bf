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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from sync_pipeline.definitions import build_definitions
from sync_pipeline.defs.assets import CATALOG_FITS_CHECK, RECORDS_SYNCED_CHECK
from sync_pipeline.defs.partitions import CAPACITY, PAGE_COUNT, page_key, pages_needed
from sync_pipeline.defs.schedules import CATALOG_ASSETS, PAGE_ASSETS
from sync_pipeline.settings import LOCAL_DIR, REPO_ROOT

DEFAULT_DAGSTER_HOME = LOCAL_DIR / "dagster_home"
COUNT_KEYS = ("created", "updated", "unchanged", "failed")


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
    failed_records: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    run_id: str = ""


@dataclass
class SyncSummary:
    catalog_ok: bool = False
    catalog_error: str | None = None
    total: int | None = None
    pages: list[PageOutcome] = field(default_factory=list)
    seconds: float = 0.0

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
        )

    def count(self, key: str) -> int:
        return sum(p.counts.get(key, 0) for p in self.pages)


# Dagster's console logs go to the run's event log (and the UI); the CLI prints a summary.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The user-facing reason of each failed step (the exception raised, not Dagster's wrapper)."""
    messages = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data and data.user_failure_data.description:
            message = data.user_failure_data.description
        else:
            error = data.error
            while error is not None and error.cause is not None:
                error = error.cause
            message = error.message.strip().splitlines()[0] if error else "unknown error"
        messages.append(f"{event.step_key}: {message}")
    return "; ".join(messages) or "run failed"


def _check_metadata(result: dg.ExecuteInProcessResult, check_name: str) -> dict[str, Any] | None:
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.check_name == check_name:
                return {key: value.value for key, value in evaluation.metadata.items()}
    return None


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

    def run_page(self, key: str) -> PageOutcome:
        started = time.monotonic()
        result = self.job.execute_in_process(
            instance=self.instance,
            asset_selection=PAGE_ASSETS,
            partition_key=key,
            run_config=QUIET_RUN_CONFIG,
            tags=self.run_tags,
            raise_on_error=False,
        )
        page = _materialization_metadata(result, "dummyjson_product_pages")
        synced = _check_metadata(result, RECORDS_SYNCED_CHECK) or {}
        fits = _check_metadata(result, CATALOG_FITS_CHECK) or {}
        failed_table = synced.get("failed_records")
        return PageOutcome(
            key=key,
            ok=result.success,
            seconds=time.monotonic() - started,
            products=int(page.get("products", 0)),
            total=page.get("total", fits.get("total")),
            fetch_attempts=int(page.get("fetch_attempts", 0)),
            counts={k: int(synced[k]) for k in COUNT_KEYS if k in synced},
            failed_records=[dict(r.data) for r in failed_table.records] if failed_table else [],
            error=None if result.success else _failure_message(result),
            run_id=result.run_id,
        )

    def run(
        self,
        pages: list[str] | None = None,
        on_page: Callable[[PageOutcome], None] | None = None,
    ) -> SyncSummary:
        """Categories and store, then the given pages, or as many pages as the source needs."""
        started = time.monotonic()
        summary = SyncSummary()
        catalog = self.run_catalog()
        summary.catalog_ok = catalog.success
        if not catalog.success:
            summary.catalog_error = _failure_message(catalog)
        keys = list(pages) if pages else [page_key(0)]
        index = 0
        while index < len(keys):
            outcome = self.run_page(keys[index])
            summary.pages.append(outcome)
            if on_page:
                on_page(outcome)
            if outcome.total is not None:
                summary.total = outcome.total
                if not pages and index == 0:
                    needed = min(pages_needed(outcome.total), PAGE_COUNT)
                    keys.extend(page_key(i) for i in range(1, needed))
            index += 1
        summary.seconds = time.monotonic() - started
        return summary
