"""Freshness: ``medusa_products`` is stale when the nightly sync has not written products by
``SYNC_FRESHNESS_DEADLINE``, evaluated as Dagster 1.13 does it.

In 1.13 the state comes from the ``FreshnessDaemon`` (one of the daemons ``dagster dev`` and
``dagster-daemon run`` start; on unless ``freshness: enabled: false`` in ``dagster.yaml``): each
iteration it evaluates every asset's policy and stores a ``FreshnessStateChange``. The UI reads
that stored state (GraphQL ``AssetNode.freshnessStatusInfo.freshnessStatus``: HEALTHY = PASS,
DEGRADED = FAIL, UNKNOWN before any evaluation or materialization). Here one daemon iteration
runs in-process on this module's code location, with the clock frozen (no sleeps).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._daemon.freshness import FreshnessDaemon
from dagster_graphql.test.utils import execute_dagster_graphql

from sync_pipeline.definitions import build_definitions
from sync_pipeline.defs.cycle import WRITTEN
from sync_pipeline.defs.resources import DummyJSONResource, MedusaResource
from sync_pipeline.settings import SyncSettings

SETTINGS = SyncSettings.from_environment({"SYNC_FRESHNESS_DEADLINE": "02:00"}, env_file=None)
# The code location the in-process workspace loads (module attribute, as workspace.yaml does).
defs = build_definitions(
    SETTINGS,
    {"dummyjson": DummyJSONResource(), "medusa": MedusaResource(base_url="http://127.0.0.1:1")},
)

FRESHNESS_QUERY = """
query Freshness {
  assetNodeOrError(assetKey: {path: ["medusa_products"]}) {
    ... on AssetNode {
      freshnessStatusInfo { freshnessStatus }
      internalFreshnessPolicy {
        ... on CronFreshnessPolicy { deadlineCron lowerBoundDeltaSeconds timezone }
      }
    }
  }
}
"""


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def workspace(dagster_instance):
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=__name__, attribute="defs"), location_name="sync"
    )
    with WorkspaceProcessContext(
        dagster_instance, InProcessTestWorkspaceLoadTarget(origin)
    ) as context:
        yield context


def evaluate(workspace: WorkspaceProcessContext) -> None:
    """One iteration of the freshness daemon, as ``dagster dev`` runs every 30 s."""
    list(FreshnessDaemon().run_iteration(workspace))


def freshness(workspace: WorkspaceProcessContext) -> dict:
    result = execute_dagster_graphql(workspace.create_request_context(), FRESHNESS_QUERY)
    assert not result.errors, result.errors
    return result.data["assetNodeOrError"]


def write_page(instance: dg.DagsterInstance, page: str) -> None:
    """A page's materialization of ``medusa_products``, recorded at the (frozen) time."""
    instance.add_dynamic_partitions("product_pages", [page])
    instance.report_runless_asset_event(dg.AssetMaterialization(WRITTEN, partition=page))


@pytest.mark.parametrize(
    ("environ", "cron", "hours"),
    [({}, "0 2 * * *", 2), ({"SYNC_FRESHNESS_DEADLINE": "06:45"}, "45 6 * * *", 6.75)],
)
def test_medusa_products_carries_the_deadline_of_the_setting(environ, cron, hours):
    settings = SyncSettings.from_environment(environ, env_file=None)
    spec = build_definitions(settings, {}).resolve_assets_def(WRITTEN).specs_by_key[WRITTEN]

    assert spec.freshness_policy == dg.FreshnessPolicy.cron(
        deadline_cron=cron, lower_bound_delta=timedelta(hours=hours), timezone="UTC"
    )


def test_stale_after_a_missed_deadline_fresh_again_once_written(dagster_instance, workspace):
    with freeze_time(at(4, 0, 10)):  # Sunday's nightly sync, on time
        write_page(dagster_instance, "000")
    with freeze_time(at(4, 2, 30)):
        evaluate(workspace)
        assert freshness(workspace) == {
            "freshnessStatusInfo": {"freshnessStatus": "HEALTHY"},
            "internalFreshnessPolicy": {
                "deadlineCron": "0 2 * * *",
                "lowerBoundDeltaSeconds": 7200,
                "timezone": "UTC",
            },
        }
    with freeze_time(at(5, 1, 59)):  # Monday, before the deadline: still Sunday's window
        evaluate(workspace)
        assert freshness(workspace)["freshnessStatusInfo"]["freshnessStatus"] == "HEALTHY"

    with freeze_time(at(5, 2, 1)):  # Monday's sync has written nothing by 02:00
        evaluate(workspace)
        assert freshness(workspace)["freshnessStatusInfo"]["freshnessStatus"] == "DEGRADED"
        records = dagster_instance.get_freshness_state_records([WRITTEN])
        assert records[WRITTEN].freshness_state == FreshnessState.FAIL

    with freeze_time(at(5, 3, 15)):  # late, but written: fresh until Tuesday's deadline
        write_page(dagster_instance, "001")  # any page counts: freshness is per asset
        evaluate(workspace)
        assert freshness(workspace)["freshnessStatusInfo"]["freshnessStatus"] == "HEALTHY"
        records = dagster_instance.get_freshness_state_records([WRITTEN])
        assert records[WRITTEN].freshness_state == FreshnessState.PASS


def test_a_write_before_the_nightly_window_does_not_count(dagster_instance, workspace):
    with freeze_time(at(4, 23, 30)):  # the evening before: earlier than the 00:00 schedule
        write_page(dagster_instance, "000")
    with freeze_time(at(5, 2, 5)):
        evaluate(workspace)
        assert freshness(workspace)["freshnessStatusInfo"]["freshnessStatus"] == "DEGRADED"


def test_never_written_is_unknown_not_stale(dagster_instance, workspace):
    with freeze_time(at(5, 3, 0)):
        evaluate(workspace)
        assert freshness(workspace)["freshnessStatusInfo"]["freshnessStatus"] == "UNKNOWN"
