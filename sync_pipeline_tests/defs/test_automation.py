"""The Dagster doors of a sync, through the real webserver, daemon and run queue: the UI's
"Materialize all" clicked in a browser, a schedule tick fired by the daemon, a failed page
re-run by a backfill of its partition, and the whole-catalog job launched from its page. Each
ends with the exact catalog in Medusa.

The tests run in this order on one ``dagster dev`` (see ``conftest.py``): the first click
is a new user's, on an instance where nothing has run yet.
"""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest

from sync_pipeline.defs.automation import whole_catalog_sync
from sync_pipeline.defs.cycle import WRITTEN
from sync_pipeline.defs.partitions import product_pages, registered_pages
from sync_pipeline.defs.plan import PAGE_ASSETS, PARTITION_TAG
from sync_pipeline.local.catalog_check import assert_exact_catalog
from sync_pipeline.local.dagster.server import graphql
from sync_pipeline.local.dagster.ui import job_path, materialize_all, open_browser

pytestmark = pytest.mark.e2e

PAGES = ["000", "001"]  # 194 products in pages of 100


def _source(door) -> list[dict]:
    return json.loads(door.data.read_text())


def _partition_statuses(door) -> dict[str, dg.AssetPartitionStatus]:
    with door.instance() as instance:
        keys = registered_pages(instance)
        return instance.get_status_by_partition(WRITTEN, keys, product_pages) or {}


def test_materialize_all_in_the_ui_of_a_new_instance_syncs_the_exact_catalog(
    dagster_door, empty_store, medusa_client, store_catalog
):
    dagster_door.wait_for_first_page()  # what makes "Materialize all" launchable at once
    started = time.time()
    with open_browser() as page:
        launched = materialize_all(page, dagster_door.url)
    plan = dagster_door.wait_for_cycle(started)
    seconds = time.time() - started

    # One page registered: the UI launches one run of the whole graph; the catalog finds a
    # second page, which the sensor runs, then archival.
    assert launched.kind == "run"
    runs = dagster_door.runs_since(started)
    print(f"\nUI 'Materialize all', new instance: {len(runs)} runs, {seconds:.1f} s")
    assert {r.dagster_run.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    assert len(runs) <= len(PAGES) + 3
    assert plan.pages == PAGES and plan.done == PAGES and not plan.failed
    assert _partition_statuses(dagster_door) == dict.fromkeys(
        PAGES, dg.AssetPartitionStatus.MATERIALIZED
    )
    assert_exact_catalog(medusa_client, store_catalog, _source(dagster_door))


def test_a_schedule_tick_fired_by_the_daemon_runs_only_the_needed_runs(
    dagster_door, empty_store, medusa_client, store_catalog
):
    started = time.time()
    dagster_door.schedule("start")  # every minute here: the daemon fires the next one
    try:
        tick_run = dagster_door.wait_for_run(lambda r: "dagster/schedule_name" in r.tags, started)
    finally:
        dagster_door.schedule("stop")
    plan = dagster_door.wait_for_cycle(started)

    assert plan.cycle.run_id == tick_run.run_id
    runs = dagster_door.runs_since(started)
    print(f"\nOne schedule tick: {len(runs)} runs")
    kinds = sorted(r.dagster_run.tags.get(PARTITION_TAG, "") or "other" for r in runs)
    # The tick's run (catalog and page 000), page 001, archival: no empty page, nothing twice.
    assert kinds == [*PAGES, "other"]
    assert {r.dagster_run.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    assert _partition_statuses(dagster_door) == dict.fromkeys(
        PAGES, dg.AssetPartitionStatus.MATERIALIZED
    )
    assert_exact_catalog(medusa_client, store_catalog, _source(dagster_door))


LAUNCH_BACKFILL = """
mutation ($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


def test_a_failed_page_is_re_run_alone_by_a_backfill_of_its_partition(
    dagster_door, empty_store, medusa_client, store_catalog
):
    good = _source(dagster_door)
    broken = [dict(r, price="free") if r["id"] == 150 else r for r in good]
    dagster_door.data.write_text(json.dumps(broken))
    try:
        started = time.time()
        with open_browser() as page:
            materialize_all(page, dagster_door.url)
        plan = dagster_door.wait_for_cycle(started, timeout=600)
        assert plan.failed == ["001"] and plan.done == ["000"], plan
        assert not plan.archival_due  # no archival without a complete cycle
    finally:
        dagster_door.data.write_text(json.dumps(good))

    # "Backfill failed and missing partitions" of the page's assets: only page 001 runs.
    before = time.time()
    params = {
        "partitionNames": ["001"],
        "assetSelection": [{"path": key.path} for key in PAGE_ASSETS],
    }
    result = graphql(dagster_door.url, LAUNCH_BACKFILL, {"params": params})
    launched = result["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    plan = dagster_door.wait_for_cycle(started, timeout=300)

    reruns = dagster_door.runs_since(before)
    page_runs = [r for r in reruns if r.dagster_run.tags.get(PARTITION_TAG)]
    assert [r.dagster_run.tags[PARTITION_TAG] for r in page_runs] == ["001"]
    assert page_runs[0].dagster_run.tags.get("dagster/backfill") == launched["backfillId"]
    assert {r.dagster_run.status for r in reruns} == {dg.DagsterRunStatus.SUCCESS}
    # The cycle is now complete, so the sensor ran archival after the page.
    assert plan.done == PAGES and not plan.failed and not plan.archival_due
    assert _partition_statuses(dagster_door) == dict.fromkeys(
        PAGES, dg.AssetPartitionStatus.MATERIALIZED
    )
    assert_exact_catalog(medusa_client, store_catalog, good)


def test_the_whole_catalog_job_launched_in_the_ui_is_one_run_and_the_sensor_does_the_rest(
    dagster_door, empty_store, medusa_client, store_catalog
):
    # Both pages are registered by now, so "Materialize all" on the lineage page would launch
    # an asset backfill; the job's "Materialize all" launches one run at any catalog size.
    with dagster_door.instance() as instance:
        assert registered_pages(instance) == PAGES
    started = time.time()
    with open_browser() as page:
        launched = materialize_all(page, dagster_door.url, path=job_path(whole_catalog_sync.name))
    plan = dagster_door.wait_for_cycle(started)

    assert launched.kind == "run"
    runs = dagster_door.runs_since(started)
    print(f"\nUI job {whole_catalog_sync.name}: {len(runs)} runs")
    assert plan.cycle.run_id.startswith(launched.id)
    assert not any("dagster/backfill" in r.dagster_run.tags for r in runs)
    # The job's run (catalog and store), one run per page, archival: nothing twice.
    kinds = sorted(r.dagster_run.tags.get(PARTITION_TAG, "") or "other" for r in runs)
    assert kinds == [*PAGES, "other", "other"]
    assert {r.dagster_run.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    assert plan.done == PAGES and not plan.failed and not plan.archival_due
    assert _partition_statuses(dagster_door) == dict.fromkeys(
        PAGES, dg.AssetPartitionStatus.MATERIALIZED
    )
    assert_exact_catalog(medusa_client, store_catalog, _source(dagster_door))
