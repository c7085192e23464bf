"""``sync-pipeline sync``: the same plan as the sensor's, executed in this process.

Each run is executed here but recorded in the Dagster instance at ``DAGSTER_HOME``, so
``dagster dev`` shows it, its metadata and its failed pages. Order, as the plan says: the
catalog run (categories, store, the source's size and its pages), then the pages the
catalog needs (``SYNC_MEDUSA_CONCURRENCY`` at a time, in forked workers that share this
process's sync lock), then archival after a complete cycle.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from sync_pipeline.cli.summary import PageOutcome, SyncSummary
from sync_pipeline.definitions import build_definitions
from sync_pipeline.defs.automation import prepare_instance
from sync_pipeline.defs.medusa_assets import RECORDS_SYNCED_CHECK
from sync_pipeline.defs.partitions import page_key, page_keys, register_pages, registered_pages
from sync_pipeline.defs.plan import (
    ARCHIVAL_ASSETS,
    CATALOG_ASSETS,
    DOOR_TAG,
    PAGE_ASSETS,
    STORE_SETUP,
    next_steps,
)
from sync_pipeline.defs.reports import (
    ArchivalReport,
    CatalogReport,
    FetchReport,
    RequestCounts,
    RulesReport,
    WriteReport,
)
from sync_pipeline.settings import LOCAL_DIR, REPO_ROOT, SyncSettings
from sync_pipeline.sync.rules import RulesError, load_rules

DEFAULT_DAGSTER_HOME = LOCAL_DIR / "dagster_home"


def ensure_dagster_home() -> Path:
    """``DAGSTER_HOME``, defaulting to ``.local/dagster_home``, with the project's dagster.yaml."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME)))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


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


def _check_metadata(result: dg.ExecuteInProcessResult, check_name: str) -> dict[str, Any]:
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.check_name == check_name:
                return dict(evaluation.metadata)
    return {}


def _materialized(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
    return _first_metadata(result.asset_materializations_for_node(node))


def _observed(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
    return _first_metadata(result.asset_observations_for_node(node))


def _first_metadata(events) -> dict[str, Any]:
    return dict(events[0].metadata) if events else {}


class SyncRunner:
    """Runs the plan's Dagster runs in this process and gathers what they report."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        settings: SyncSettings,
        resources: dict[str, dg.ConfigurableResource] | None = None,
        run_tags: dict[str, str] | None = None,
    ) -> None:
        self.instance = instance
        self.settings = settings
        self.job = build_definitions(settings, resources).resolve_implicit_global_asset_job_def()
        self.run_tags = {**(run_tags or {}), DOOR_TAG: "cli"}

    def _execute(self, selection, run_config=None, partition_key=None, tags=None):
        return self.job.execute_in_process(
            instance=self.instance,
            asset_selection=selection,
            partition_key=partition_key,
            run_config={**QUIET_RUN_CONFIG, **(run_config or {})},
            tags={**self.run_tags, **(tags or {})},
            raise_on_error=False,
        )

    def run_catalog(self) -> dg.ExecuteInProcessResult:
        return self._execute(CATALOG_ASSETS)

    def run_page(self, key: str, dry_run: bool = False) -> PageOutcome:
        started = time.monotonic()
        result = self._execute(
            PAGE_ASSETS,
            {"ops": {"medusa_products": {"config": {"dry_run": True}}}} if dry_run else None,
            partition_key=key,
            tags={"sync/dry_run": str(dry_run).lower()},
        )
        fetched = _materialized(result, "dummyjson_product_pages")
        page = FetchReport.from_metadata(fetched) if fetched else None
        written = _check_metadata(result, RECORDS_SYNCED_CHECK)
        report = WriteReport.from_metadata(written) if written else None
        return PageOutcome(
            key=key,
            ok=result.success,
            seconds=time.monotonic() - started,
            products=page.products if page else 0,
            total=page.total if page else None,
            fetch_attempts=page.fetch_attempts if page else 0,
            counts=report.counts() if report else {},
            requests=report.requests.to_metadata() if report else {},
            failed_records=[r.as_row() for r in report.failed_records] if report else [],
            error=None if result.success else _failure_message(result),
            run_id=result.run_id,
            plan=report.changes if report else "",
        )

    def run_archival(self, summary: SyncSummary, dry_run: bool, allow_mass_archive: bool) -> None:
        config = {"dry_run": dry_run, "allow_mass_archive": allow_mass_archive}
        result = self._execute(
            ARCHIVAL_ASSETS, {"ops": {"medusa_archived_products": {"config": config}}}
        )
        summary.archival_ok = result.success
        if not result.success:
            summary.archival_note = _failure_message(result)
            return
        node = "medusa_archived_products"
        metadata = _observed(result, node) if dry_run else _materialized(result, node)
        report = ArchivalReport.from_metadata(metadata)
        summary.other_requests += report.requests
        summary.archived = report.archived
        ids = ", ".join(str(p.source_id) for p in report.vanished)
        summary.archival_note = (
            report.refusal or report.skipped_because or (f"source ids {ids}" if ids else "")
        )

    def rules_in_effect(self) -> RulesReport:
        """The merchant's rules the runs will apply (a bad file fails the catalog run)."""
        file = self.settings.rules_file
        try:
            return RulesReport.of(file, load_rules(file) if file else None)
        except RulesError:
            return RulesReport()

    def has_store_setup(self) -> bool:
        """Whether categories and store were ever set up (a dry run reads, never writes, them)."""
        return all(
            self.instance.get_latest_materialization_event(key) is not None for key in STORE_SETUP
        )

    def run_pages(
        self, keys: list[str], dry_run: bool, on_page: Callable[[PageOutcome], None] | None
    ) -> list[PageOutcome]:
        """Run ``keys``, up to ``medusa_concurrency`` at a time, reporting each as it ends."""
        workers = min(self.settings.medusa_concurrency, len(keys))
        ref = self.instance.get_ref() if not self.instance.is_ephemeral else None
        if workers <= 1 or ref is None:
            outcomes = []
            for key in keys:
                outcomes.append(self.run_page(key, dry_run))
                if on_page:
                    on_page(outcomes[-1])
            return outcomes
        outcomes = {}
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(self, ref)
        ) as pool:
            futures = {pool.submit(_run_page_in_worker, key, dry_run): key for key in keys}
            for future in as_completed(futures):
                outcome = future.result()
                outcomes[outcome.key] = outcome
                if on_page:
                    on_page(outcome)
        return [outcomes[key] for key in keys]

    def run(
        self,
        pages: list[str] | None = None,
        on_page: Callable[[PageOutcome], None] | None = None,
        dry_run: bool = False,
        allow_mass_archive: bool = False,
    ) -> SyncSummary:
        """The catalog run, then the pages the plan asks for (or the given ``pages``), then
        archival. A dry run writes nothing: it skips the catalog run, plans the pages the
        instance knows (following the totals they see), and plans archival."""
        started = time.monotonic()
        summary = SyncSummary(dry_run=dry_run, rules=self.rules_in_effect())
        prepare_instance(self.instance, self.settings)
        end_dead_cli_runs(self.instance)
        if pages:
            register_pages(self.instance, list(pages), retire=False)
        if dry_run:
            summary.catalog_ok = self.has_store_setup()
            if not summary.catalog_ok:
                summary.catalog_error = (
                    "a dry run plans against the categories and store of a previous sync; "
                    "run one real sync first"
                )
                return summary
        else:
            catalog = self.run_catalog()
            summary.catalog_ok = catalog.success
            if not catalog.success:
                summary.catalog_error = _failure_message(catalog)
            for node in ("medusa_store", "medusa_category_map"):
                summary.other_requests += RequestCounts.from_metadata(_materialized(catalog, node))
            read = _materialized(catalog, "dummyjson_catalog")
            if read:
                summary.total = CatalogReport.from_metadata(read).total
        if not summary.catalog_ok and not self.has_store_setup():
            # Pages link products to the store and the categories; with neither there, a page
            # run could only fail on a missing input, which would say nothing about why.
            for key in pages or [page_key(0)]:
                error = (
                    "not run: the categories/store run failed and none has ever succeeded "
                    f"({summary.catalog_error})"
                )
                self._report(summary, [PageOutcome(key, False, 0.0, error=error)], on_page)
            summary.seconds = time.monotonic() - started
            return summary
        if pages:
            self._report(summary, self.run_pages(list(pages), dry_run, on_page))
        elif dry_run or summary.total is None:
            # No new cycle (a dry run, or the source could not be read): the known pages,
            # and those the totals they see need; no archival without a complete cycle.
            self._follow_totals(summary, dry_run, on_page)
            if dry_run:
                self.run_archival(summary, dry_run, allow_mass_archive)
            else:
                summary.archival_note = "not run: the source's size could not be read"
        else:
            self._follow_plan(summary, allow_mass_archive, on_page)
        summary.seconds = time.monotonic() - started
        return summary

    def _report(self, summary, outcomes, on_page=None) -> None:
        summary.pages.extend(outcomes)
        for outcome in outcomes:
            if outcome.total is not None:
                summary.total = max(summary.total or 0, outcome.total)
            if on_page:
                on_page(outcome)

    def _follow_plan(self, summary, allow_mass_archive, on_page) -> None:
        ran: set[str] = set()
        while True:
            plan = next_steps(self.instance, defer_to_backfills=False)
            steps = [step for step in plan.steps if step.name not in ran]
            if not steps:
                failed = [key for key in plan.failed if key != "archival"]
                if failed and not summary.archival_note:
                    listing = ", ".join(failed)
                    summary.archival_note = f"not run: page {listing} did not succeed"
                return
            ran.update(step.name for step in steps)
            keys = [step.partition for step in steps if step.partition is not None]
            if keys:
                self._report(summary, self.run_pages(keys, False, on_page))
            elif plan.archival_due:
                self.run_archival(summary, False, allow_mass_archive)

    def _follow_totals(self, summary, dry_run, on_page) -> None:
        keys = registered_pages(self.instance) or [page_key(0)]
        index = 0
        while index < len(keys):
            outcomes = self.run_pages(keys[index:], dry_run, on_page)
            index = len(keys)
            self._report(summary, outcomes)
            if summary.total is not None:
                keys += page_keys(summary.total, self.settings.page_size)[len(keys) :]


_WORKER_RUNNER: SyncRunner | None = None


def _start_worker(runner: SyncRunner, ref: Any) -> None:
    """In a forked worker, once: the parent's runner on the worker's own instance (opening
    one costs a storage set-up, so the worker keeps it for all its pages)."""
    global _WORKER_RUNNER
    runner.instance = dg.DagsterInstance.from_ref(ref)
    _WORKER_RUNNER = runner


def _run_page_in_worker(key: str, dry_run: bool) -> PageOutcome:
    assert _WORKER_RUNNER is not None
    return _WORKER_RUNNER.run_page(key, dry_run)


def end_dead_cli_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs of an earlier CLI sync that still look in progress. Called under
    the CLI's exclusive lock: a CLI sync still running would hold it, so these were killed
    (``kill -9``, a lost machine) and must not count as pages in flight.

    Returns the run ids ended.
    """
    records = instance.get_run_records(
        dg.RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES), tags={DOOR_TAG: "cli"})
    )
    for record in records:
        instance.report_run_failed(
            record.dagster_run, "Its sync-pipeline sync process ended without finishing it."
        )
    return [record.dagster_run.run_id for record in records]
