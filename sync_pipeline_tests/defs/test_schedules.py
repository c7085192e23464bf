"""The nightly schedule: what it asks for, and that running its requests syncs the catalog."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from sync_pipeline.definitions import build_definitions
from sync_pipeline.defs.partitions import product_pages
from sync_pipeline.defs.resources import DummyJSONResource, MedusaResource
from sync_pipeline.defs.schedules import (
    ARCHIVAL_ASSETS,
    CATALOG_ASSETS,
    PAGE_ASSETS,
    nightly_catalog_sync,
)


def test_schedule_is_daily_at_midnight_utc():
    assert nightly_catalog_sync.cron_schedule == "0 0 * * *"
    assert nightly_catalog_sync.execution_timezone == "UTC"
    assert nightly_catalog_sync.default_status == dg.DefaultScheduleStatus.RUNNING


def _requests_for(day: datetime) -> list[dg.RunRequest]:
    context = dg.build_schedule_context(scheduled_execution_time=day)
    return list(nightly_catalog_sync(context))


def test_schedule_requests_catalog_first_then_every_page_then_archival():
    requests = _requests_for(datetime(2026, 11, 29, tzinfo=UTC))
    catalog, pages, archival = requests[0], requests[1:-1], requests[-1]
    assert catalog.partition_key is None
    assert list(catalog.asset_selection) == CATALOG_ASSETS
    assert [r.partition_key for r in pages] == product_pages.get_partition_keys()
    assert all(list(r.asset_selection) == PAGE_ASSETS for r in pages)
    assert archival.partition_key is None
    assert list(archival.asset_selection) == ARCHIVAL_ASSETS
    run_keys = [r.run_key for r in requests]
    assert len(set(run_keys)) == len(run_keys)
    tomorrow = _requests_for(datetime(2026, 11, 30, tzinfo=UTC))
    assert not set(run_keys) & {r.run_key for r in tomorrow}


@pytest.mark.e2e
def test_executing_the_schedule_requests_syncs_the_catalog(
    empty_store, source_server, dagster_instance, store_catalog, medusa_stack
):
    resources = {
        "dummyjson": DummyJSONResource(base_url=source_server.url),
        "medusa": MedusaResource(base_url=medusa_stack.base_url, api_key=medusa_stack.api_key),
    }
    job = build_definitions(resources).resolve_implicit_global_asset_job_def()
    for request in _requests_for(datetime(2026, 11, 29, tzinfo=UTC)):
        result = job.execute_in_process(
            instance=dagster_instance,
            asset_selection=list(request.asset_selection),
            partition_key=request.partition_key,
            tags=request.tags,
        )
        assert result.success, request.run_key
    categories, products = store_catalog()
    assert len(categories) == 24
    assert sorted(p["external_id"] for p in products) == sorted(
        f"dummyjson:{i}" for i in range(1, 195)
    )
