"""The sync on a Dagster instance whose storage is dagster-postgres (deploy/dagster.yaml), on
a real PostgreSQL: the stack's own server, in a database of its own that the test drops.

``dagster-postgres`` is a project dependency (pinned with Dagster, deploy/README.md
"Versions"), so this runs wherever the suite does.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster_graphql.test.utils import execute_dagster_graphql

from sync_pipeline.definitions import build_definitions
from sync_pipeline.defs.partitions import registered_pages
from sync_pipeline.defs.resources import DummyJSONResource, MedusaResource
from sync_pipeline.local.catalog_check import assert_exact_catalog
from sync_pipeline.settings import SyncSettings
from sync_pipeline_tests.lock_holder import lock_held_elsewhere

pytestmark = pytest.mark.e2e

# The code location the UI's GraphQL API loads in-process (partitions need no resources).
defs = build_definitions(
    SyncSettings(),
    {"dummyjson": DummyJSONResource(), "medusa": MedusaResource(base_url="http://127.0.0.1:1")},
)
PARTITION_STATS = """
query PartitionStats {
  assetNodeOrError(assetKey: {path: ["medusa_products"]}) {
    ... on AssetNode { partitionStats { numMaterialized numFailed numPartitions } }
  }
}
"""


def test_a_full_sync_on_postgres_backed_dagster_storage(
    postgres_storage,
    empty_store,
    source_server,
    snapshot_dir: Path,
    sync_settings,
    stack_resources,
    medusa_client,
    store_catalog,
):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    from sync_pipeline.cli.runner import SyncRunner

    instance = postgres_storage.instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)

    runner = SyncRunner(instance, sync_settings, stack_resources(source_server.url))
    summary = runner.run()
    assert summary.ok, summary
    expected = json.loads((snapshot_dir / "products.json").read_text())
    assert summary.total == len(expected) == 194
    assert_exact_catalog(medusa_client, store_catalog, expected)

    # What the instance recorded, read back from PostgreSQL: every page the catalog needs
    # registered and materialized, the runs successful, the pool at SYNC_MEDUSA_CONCURRENCY.
    pages = registered_pages(instance)
    assert len(pages) == -(-194 // sync_settings.page_size)
    assert instance.get_materialized_partitions(dg.AssetKey("medusa_products")) == set(pages)
    runs = instance.get_runs()
    assert runs and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    slots = instance.event_log_storage.get_concurrency_info("medusa").slot_count
    assert slots == sync_settings.medusa_concurrency

    # The sync lock with this instance (an advisory lock in its database): a CLI sync holding
    # it makes a Dagster run wait SYNC_LOCK_WAIT_SECONDS, then fail naming the holder; nothing
    # is written meanwhile.
    impatient = dataclasses.replace(sync_settings, lock_wait_seconds=1.0)
    blocked = SyncRunner(instance, impatient, stack_resources(source_server.url, impatient))
    with lock_held_elsewhere(postgres_storage.lock, "CLI sync held by the test") as holder:
        outcome = blocked.run_page(pages[0])
    assert not outcome.ok
    assert f"pid {holder.pid}" in outcome.error and "CLI sync held by the test" in outcome.error
    assert instance.get_run_by_id(outcome.run_id).status == dg.DagsterRunStatus.FAILURE

    again = blocked.run_page(pages[0])
    assert again.ok, again.error
    assert again.counts.get("unchanged") == 100, again.counts

    # What the UI shows for the partitions, through its own GraphQL API on this instance.
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=__name__, attribute="defs"), location_name="sync"
    )
    with WorkspaceProcessContext(instance, InProcessTestWorkspaceLoadTarget(origin)) as context:
        answer = execute_dagster_graphql(context.create_request_context(), PARTITION_STATS)
    assert answer.errors is None, answer.errors
    stats = answer.data["assetNodeOrError"]["partitionStats"]
    assert stats == {"numMaterialized": len(pages), "numFailed": 0, "numPartitions": len(pages)}
