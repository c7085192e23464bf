"""Alerts: one message per failed sync run (page, failed records, reasons, run link), one per
successful run with a failed check (the storefront's missing pieces), none for a run Dagster
will retry, none posted without a webhook, and never a secret.

The failed runs are real: the project's ``medusa_products`` runs for one page in a test
instance, on stub upstream assets whose page holds only rejected records, so it fails as in
production (``dg.Failure`` with the page's report) without a request to Medusa.
"""

from __future__ import annotations

import logging

import dagster as dg

from sync_pipeline.defs.alerts import build_alerts
from sync_pipeline.defs.medusa_assets import STOREFRONT_CHECK, medusa_products
from sync_pipeline.defs.partitions import PRODUCT_PAGES, product_pages
from sync_pipeline.defs.resources import MedusaResource
from sync_pipeline.settings import SyncSettings
from sync_pipeline.sync.changes import StoreContext
from sync_pipeline.sync.mapping import NormalizedPage, RejectedRecord, Stage

API_KEY = "sk_test_do_not_leak_4242"
ADMIN_PASSWORD = "hunter2-do-not-leak"
REJECTED = [
    RejectedRecord(str(i), f"SKU-{i}", Stage.VALIDATION, f"price: {i} is not a number")
    for i in range(101, 109)
]


def settings_with(webhook_url: str | None) -> SyncSettings:
    environ = {
        "MEDUSA_API_KEY": API_KEY,
        "MEDUSA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SYNC_UI_BASE_URL": "http://dagster.test:3000/",
    }
    if webhook_url:
        environ["SYNC_ALERT_WEBHOOK_URL"] = webhook_url
    return SyncSettings.from_environment(environ, env_file=None)


def page_assets(rejected: list[RejectedRecord]) -> list:
    """``medusa_products`` on stubs of its upstream assets (same keys, fixed values)."""

    @dg.asset(name="normalized_products", partitions_def=product_pages)
    def normalized_products() -> NormalizedPage:
        return NormalizedPage(products=[], rejected=list(rejected))

    @dg.asset(name="medusa_category_map")
    def medusa_category_map() -> dict[str, str]:
        return {}

    @dg.asset(name="medusa_store")
    def medusa_store() -> StoreContext:
        return StoreContext("usd", "sc_1", "sp_1")

    return [normalized_products, medusa_category_map, medusa_store, medusa_products]


def run_page(
    instance: dg.DagsterInstance, page: str, rejected: list[RejectedRecord]
) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions(PRODUCT_PAGES, [page])
    medusa = MedusaResource(
        base_url="http://127.0.0.1:1", api_key=API_KEY, admin_password=ADMIN_PASSWORD
    )
    return dg.materialize(
        page_assets(rejected),
        instance=instance,
        partition_key=page,
        resources={"medusa": medusa},
        raise_on_error=False,
    )


def failure_sensor(settings: SyncSettings) -> dg.RunStatusSensorDefinition:
    return next(s for s in build_alerts(settings) if s.name == "sync_failure_alert")


def warning_sensor(settings: SyncSettings) -> dg.RunStatusSensorDefinition:
    return next(s for s in build_alerts(settings) if s.name == "sync_warning_alert")


def call_failure_sensor(
    settings, instance, run_id: str, event: dg.DagsterEvent, log_to: logging.Handler | None = None
) -> None:
    """Call the sensor's function on one run, as its daemon tick does for each failed run;
    ``log_to`` also receives what it logs (the sensor's logger is Dagster's own, unrooted)."""
    context = dg.build_run_status_sensor_context(
        sensor_name="sync_failure_alert",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),  # as stored: tags added since included
    ).for_run_failure()
    if log_to is not None:
        context.log.addHandler(log_to)
    failure_sensor(settings)(context)


def tick(sensor: dg.SensorDefinition, instance, cursor: str | None) -> str | None:
    """One daemon tick of a run-status sensor (``evaluate_tick``): returns the new cursor."""
    data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
    return data.cursor


def test_a_failed_page_run_posts_one_message_with_page_count_reasons_and_link(
    dagster_instance, webhook
):
    result = run_page(dagster_instance, "003", REJECTED)
    assert not result.success
    settings = settings_with(webhook.url)

    call_failure_sensor(settings, dagster_instance, result.run_id, result.get_run_failure_event())

    assert len(webhook.texts) == 1
    text = webhook.texts[0]
    assert "page 003" in text
    assert "8 record(s) not synced" in text
    assert "101 (SKU SKU-101), validation: price: 101 is not a number" in text
    assert "First 5 of 8" in text and "SKU-106" not in text  # the first few, not all
    assert f"http://dagster.test:3000/runs/{result.run_id}" in text


def test_a_run_dagster_will_retry_is_not_alerted(dagster_instance, webhook):
    result = run_page(dagster_instance, "000", REJECTED[:1])
    dagster_instance.add_run_tags(result.run_id, {"dagster/will_retry": "true"})

    call_failure_sensor(
        settings_with(webhook.url),
        dagster_instance,
        result.run_id,
        result.get_run_failure_event(),
    )

    assert webhook.bodies == []


def test_each_failed_run_is_alerted_once_and_a_successful_run_never(dagster_instance, webhook):
    settings = settings_with(webhook.url)
    sensor = failure_sensor(settings)
    cursor = tick(sensor, dagster_instance, None)  # a new sensor starts from now
    ok = run_page(dagster_instance, "000", [])
    failed = run_page(dagster_instance, "001", REJECTED[:2])
    assert ok.success and not failed.success

    cursor = tick(sensor, dagster_instance, cursor)
    cursor = tick(sensor, dagster_instance, cursor)  # the same failed run, evaluated again

    assert len(webhook.texts) == 1
    assert "page 001, 2 record(s) not synced" in webhook.texts[0]
    assert failed.run_id in webhook.texts[0]
    # The success sensor has nothing to say about a run whose checks all passed.
    warnings = warning_sensor(settings)
    warning_cursor = tick(warnings, dagster_instance, None)
    run_page(dagster_instance, "002", [])
    tick(warnings, dagster_instance, warning_cursor)
    assert len(webhook.texts) == 1


def test_without_a_webhook_the_alert_is_only_logged(dagster_instance, webhook, caplog):
    result = run_page(dagster_instance, "004", REJECTED[:1])
    settings = settings_with(None)

    call_failure_sensor(
        settings, dagster_instance, result.run_id, result.get_run_failure_event(), caplog.handler
    )

    assert webhook.bodies == []
    logged = [r.getMessage() for r in caplog.records if "WEBHOOK_URL not set" in r.getMessage()]
    assert len(logged) == 1
    assert "page 004, 1 record(s) not synced" in logged[0]


def test_a_failing_webhook_is_logged_and_never_raises(dagster_instance, webhook, caplog):
    result = run_page(dagster_instance, "005", REJECTED[:1])
    webhook.status = 500

    call_failure_sensor(
        settings_with(webhook.url),
        dagster_instance,
        result.run_id,
        result.get_run_failure_event(),
        caplog.handler,
    )
    call_failure_sensor(  # nobody listening at all
        settings_with("http://127.0.0.1:1/hooks/T0/secret-token"),
        dagster_instance,
        result.run_id,
        result.get_run_failure_event(),
        caplog.handler,
    )

    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "Alert webhook answered HTTP 500" in messages
    assert "Alert webhook unreachable (ConnectionError)" in messages
    assert "secret-token" not in messages


def test_no_secret_is_ever_in_a_message(dagster_instance, webhook):
    result = run_page(dagster_instance, "006", REJECTED)
    settings = settings_with(webhook.url)

    call_failure_sensor(settings, dagster_instance, result.run_id, result.get_run_failure_event())

    assert len(webhook.texts) == 1
    for secret in (API_KEY, ADMIN_PASSWORD, webhook.url, "secret-token"):
        assert secret not in webhook.texts[0]


@dg.asset(
    name="medusa_store",
    check_specs=[dg.AssetCheckSpec(STOREFRONT_CHECK, asset="medusa_store")],
)
def store_missing_pieces():
    """What ``medusa_store`` records for a store a storefront cannot sell from (a warning)."""
    gaps = ["no region sells in usd: add one", "no publishable API key on sales channel sc_1"]
    yield dg.Output(StoreContext("usd", "sc_1", "sp_1"))
    yield dg.AssetCheckResult(
        check_name=STOREFRONT_CHECK,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description="\n".join(gaps),
        metadata={"missing": dg.MetadataValue.json(gaps)},
    )


def test_a_storefront_warning_in_a_successful_run_is_posted_once(dagster_instance, webhook):
    settings = settings_with(webhook.url)
    sensor = warning_sensor(settings)
    cursor = tick(sensor, dagster_instance, None)
    result = dg.materialize([store_missing_pieces], instance=dagster_instance)
    assert result.success  # a WARN check does not fail the run: no failure alert

    cursor = tick(sensor, dagster_instance, cursor)
    tick(sensor, dagster_instance, cursor)

    assert len(webhook.texts) == 1
    text = webhook.texts[0]
    assert "Check storefront_ready on medusa_store" in text
    assert "no region sells in usd: add one" in text
    assert "no publishable API key on sales channel sc_1" in text
    assert f"/runs/{result.run_id}" in text
    # The failure sensor never saw it.
    failures = failure_sensor(settings)
    tick(failures, dagster_instance, tick(failures, dagster_instance, None))
    assert len(webhook.texts) == 1


def test_a_dry_runs_failed_records_are_not_alerted(dagster_instance, webhook):
    settings = settings_with(webhook.url)
    sensor = warning_sensor(settings)
    cursor = tick(sensor, dagster_instance, None)
    dagster_instance.add_dynamic_partitions(PRODUCT_PAGES, ["007"])
    result = dg.materialize(
        page_assets(REJECTED[:1]),
        instance=dagster_instance,
        partition_key="007",
        resources={"medusa": MedusaResource(base_url="http://127.0.0.1:1", api_key=API_KEY)},
        run_config={"ops": {"medusa_products": {"config": {"dry_run": True}}}},
    )
    assert result.success

    tick(sensor, dagster_instance, cursor)

    assert webhook.bodies == []


@dg.asset(name="medusa_category_map")
def categories_refused():
    raise dg.Failure("2 categories could not be created: beauty: HTTP 400", allow_retries=False)


def test_a_failed_run_that_is_not_a_page_names_the_step_and_its_error(dagster_instance, webhook):
    result = dg.materialize([categories_refused], instance=dagster_instance, raise_on_error=False)

    call_failure_sensor(
        settings_with(webhook.url),
        dagster_instance,
        result.run_id,
        result.get_run_failure_event(),
    )

    assert len(webhook.texts) == 1
    text = webhook.texts[0]
    assert text.startswith("Sync run failed.\n")
    assert (
        "• step medusa_category_map: 2 categories could not be created: beauty: HTTP 400\n" in text
    )
    assert f"/runs/{result.run_id}" in text
