"""Alerts: a message to a Slack-compatible webhook when a sync run fails, or succeeds with a
warning a person must act on (the storefront is missing a piece).

``sync_failure_alert`` (a run-failure sensor) posts one message per failed run: the page
(partition), how many records failed and the first reasons, read back from what the run
recorded (the ``dg.Failure`` metadata of ``medusa_products``, else its ``all_records_synced``
check), and the run's link in the UI. A run Dagster will retry is left to its retry.

A failed asset check does not fail a run, so it never reaches a failure sensor:
``sync_warning_alert`` (a run-status sensor on success) reads the run's check evaluations and
posts one message naming what failed (``storefront_ready``'s missing pieces). The store is set up
once per sync, in its catalog run, so a sync yields at most one such message; a failed run's
warnings are in its failure message instead. Both sensors cursor on run events, so a run is
alerted once. Dry runs are plans: their warnings are not alerted.

Without a webhook, an alert is only logged. Messages carry no secret: counts, record ids,
reasons and links, never the API key, the admin password or the webhook URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg
import requests

from sync_pipeline.defs.medusa_assets import RECORDS_SYNCED_CHECK, STOREFRONT_CHECK
from sync_pipeline.defs.plan import PARTITION_TAG
from sync_pipeline.defs.reports import WriteReport, plain
from sync_pipeline.settings import SyncSettings
from sync_pipeline.sync.mapping import RejectedRecord

logger = logging.getLogger(__name__)

WILL_RETRY_TAG = "dagster/will_retry"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
FIRST_REASONS = 5
ERROR_CHARS = 300
WEBHOOK_TIMEOUT = 10


@dataclass(frozen=True)
class CheckWarning:
    """A check that did not pass in a run: its name, asset, and what it says is wrong."""

    check: str
    asset: str
    lines: list[str]


def run_link(settings: SyncSettings, run_id: str) -> str:
    return f"{settings.ui_base_url}/runs/{run_id}"


def run_pages(run: dg.DagsterRun) -> str | None:
    """The page(s) a run wrote: its partition, or the range of a backfill run."""
    if run.tags.get(PARTITION_TAG):
        return run.tags[PARTITION_TAG]
    start, end = (run.tags.get(tag) for tag in RANGE_TAGS)
    if start and end:
        return start if start == end else f"{start}…{end}"
    return None


def _describe(record: RejectedRecord) -> str:
    return f"{record.source_id} (SKU {record.sku or 'none'}), {record.stage}: {record.reason}"


def _first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 1] + "…"


def _error_line(error) -> str:
    """The error's first line, without Dagster's ``module.ClassName: `` prefix."""
    message = error.message or ""
    prefix, sep, rest = message.partition(": ")
    if sep and error.cls_name and prefix.split(".")[-1] == error.cls_name:
        message = rest
    return _first_line(message) or error.cls_name or "failed"


def _failed_records(instance: dg.DagsterInstance, run_id: str, step_failures) -> list:
    """The failed records of the run's page: the ``dg.Failure`` metadata of the failed step,
    else the failed ``all_records_synced`` evaluation (both hold ``WriteReport``'s table)."""
    records: list[RejectedRecord] = []
    for event in step_failures:
        data = event.step_failure_data
        user = data.user_failure_data if data else None
        if user is not None and "failed_records" in (user.metadata or {}):
            records.extend(WriteReport.from_metadata(user.metadata).failed_records)
    if records:
        return records
    for evaluation in _check_evaluations(instance, run_id):
        if evaluation.check_name == RECORDS_SYNCED_CHECK and not evaluation.passed:
            records.extend(WriteReport.from_metadata(evaluation.metadata).failed_records)
    return records


def _check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list:
    entries = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return [entry.dagster_event.event_specific_data for entry in entries if entry.dagster_event]


def check_warnings(instance: dg.DagsterInstance, run_id: str) -> list[CheckWarning]:
    """The checks that did not pass in the run (the last evaluation of each), dry runs aside."""
    latest = {}
    for evaluation in _check_evaluations(instance, run_id):
        latest[(evaluation.asset_key, evaluation.check_name)] = evaluation
    warnings = []
    for (asset_key, name), evaluation in latest.items():
        values = plain(evaluation.metadata or {})
        if evaluation.passed or values.get("dry_run"):
            continue
        if name == RECORDS_SYNCED_CHECK:
            failed = WriteReport.from_metadata(evaluation.metadata).failed_records
            lines = [f"{len(failed)} record(s) not synced"]
            lines += [_describe(r) for r in failed[:FIRST_REASONS]]
        elif name == STOREFRONT_CHECK and values.get("missing"):
            lines = [str(gap) for gap in values["missing"]]
        else:
            lines = [_first_line(evaluation.description or "") or "failed"]
        warnings.append(CheckWarning(name, asset_key.to_user_string(), lines))
    return warnings


def _bullets(lines: Iterable[str]) -> list[str]:
    return [f"• {line}" for line in lines]


def _warning_lines(warnings: Sequence[CheckWarning]) -> list[str]:
    lines = []
    for warning in warnings:
        lines.append(f"Check {warning.check} on {warning.asset}:")
        lines += _bullets(warning.lines)
    return lines


def failure_message(
    settings: SyncSettings, instance: dg.DagsterInstance, run: dg.DagsterRun, step_failures
) -> str:
    pages = run_pages(run)
    records = _failed_records(instance, run.run_id, step_failures)
    head = f"Sync run failed: page {pages}" if pages else "Sync run failed"
    if records:
        head += f", {len(records)} record(s) not synced"
    lines = [head + "."]
    if records:
        shown = records[:FIRST_REASONS]
        lines.append(f"First {len(shown)} of {len(records)}:" if len(records) > 1 else "Record:")
        lines += _bullets(_describe(r) for r in shown)
    else:
        for event in step_failures:
            data = event.step_failure_data
            error = _error_line(data.error) if data and data.error else "failed"
            lines.append(f"• step {event.step_key}: {error}")
    others = [w for w in check_warnings(instance, run.run_id) if w.check != RECORDS_SYNCED_CHECK]
    lines += _warning_lines(others)
    lines.append(f"Run: {run_link(settings, run.run_id)}")
    return "\n".join(lines)


def warning_message(settings: SyncSettings, run: dg.DagsterRun, warnings) -> str:
    pages = run_pages(run)
    where = f" (page {pages})" if pages else ""
    lines = [f"Sync run succeeded{where}, with warnings to act on:", *_warning_lines(warnings)]
    lines.append(f"Run: {run_link(settings, run.run_id)}")
    return "\n".join(lines)


def notify(settings: SyncSettings, text: str, log: logging.Logger | None = None) -> bool:
    """Post ``text`` to the webhook, or only log it when none is set. Never raises.

    Returns whether a webhook accepted it.
    """
    log = log or logger
    url = settings.alert_webhook_url
    if url:  # never in a message, whatever a run recorded
        text = text.replace(url, "[webhook]")
    if not url:
        log.warning("Alert (SYNC_ALERT_WEBHOOK_URL not set, so only logged):\n%s", text)
        return False
    try:
        response = requests.post(url, json={"text": text}, timeout=WEBHOOK_TIMEOUT)
        response.raise_for_status()
    except requests.HTTPError as error:
        # The exception's text holds the URL, a credential: say only what went wrong.
        status = error.response.status_code if error.response is not None else "?"
        log.warning("Alert webhook answered HTTP %s; the alert was:\n%s", status, text)
        return False
    except requests.RequestException as error:
        log.warning(
            "Alert webhook unreachable (%s); the alert was:\n%s", type(error).__name__, text
        )
        return False
    return True


# Both sensors also watch the runs `sync-pipeline sync` executes in-process (they have no code
# location origin, so a sensor limited to its own location would never see them), and are on
# wherever a daemon runs.
_WATCH_EVERY_RUN = {
    "monitor_all_code_locations": True,
    "default_status": dg.DefaultSensorStatus.RUNNING,
}


def build_alerts(settings: SyncSettings) -> list[dg.SensorDefinition]:
    @dg.run_failure_sensor(
        name="sync_failure_alert",
        **_WATCH_EVERY_RUN,
        description=(
            "Posts one message per failed sync run to SYNC_ALERT_WEBHOOK_URL (else logs it): "
            "the page, how many records failed, the first reasons and the run's link. Runs "
            "Dagster will retry are left to their retry."
        ),
    )
    def sync_failure_alert(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        if run.tags.get(WILL_RETRY_TAG, "").lower() == "true":
            context.log.info("Run %s will be retried: its retry is alerted.", run.run_id)
            # Nothing returned: a returned value would end the tick before the next failed run.
            return
        text = failure_message(settings, context.instance, run, context.get_step_failure_events())
        notify(settings, text, context.log)

    @dg.run_status_sensor(
        name="sync_warning_alert",
        run_status=dg.DagsterRunStatus.SUCCESS,
        **_WATCH_EVERY_RUN,
        description=(
            "Posts one message when a sync run succeeds with a failed asset check (the "
            "storefront_ready warning names the store's missing pieces): a failed check does "
            "not fail a run, so the failure alert never sees it."
        ),
    )
    def sync_warning_alert(context: dg.RunStatusSensorContext):
        run = context.dagster_run
        warnings = check_warnings(context.instance, run.run_id)
        if warnings:
            notify(settings, warning_message(settings, run, warnings), context.log)

    return [sync_failure_alert, sync_warning_alert]
