"""The store as the sync finds it, on the real Medusa: the storefront check warns, naming each
missing piece and its fix, and never creates one; a missing stock location, or a release older
than 2.8, stops the store step with a message naming it."""

from __future__ import annotations

import dagster as dg
import pytest

from sync_pipeline.defs.medusa_assets import STOREFRONT_CHECK, medusa_store
from sync_pipeline.defs.resources import MedusaResource, MerchantRulesResource


def _materialize_store(medusa_stack, **fields):
    resource = MedusaResource(
        base_url=medusa_stack.base_url, api_key=medusa_stack.api_key, **fields
    )
    return dg.materialize(
        [medusa_store],
        resources={"medusa": resource, "rules": MerchantRulesResource()},
        raise_on_error=False,
    )


@pytest.fixture
def broken_shop(empty_store):
    """An empty store that a test may take pieces of the shop from; reset again afterwards, so
    the tests that use the stack's shop as it is find it whole."""
    from sync_pipeline.local import stack

    yield empty_store
    stack.reset_store(store=empty_store)


def _failure(result) -> str:
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    return failure.step_failure_data.user_failure_data.description


def _counts(client) -> dict[str, int]:
    return {
        path: client.get(path, {"limit": 0})["count"]
        for path in ("/admin/regions", "/admin/stock-locations", "/admin/api-keys")
    }


def test_the_local_shop_passes_the_storefront_check(empty_store, medusa_stack):
    result = _materialize_store(medusa_stack)
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == STOREFRONT_CHECK and evaluation.passed
    (materialization,) = result.asset_materializations_for_node("medusa_store")
    assert materialization.metadata["medusa_release"].value == "2.8.0 or later"


def test_a_release_older_than_2_8_fails_the_store_step_and_writes_nothing(old_medusa):
    result = _materialize_store(old_medusa)  # the fake has the stack's two fields
    assert not result.success
    assert _failure(result).startswith(f"Medusa at {old_medusa.url} is a release older than 2.8.0")
    assert old_medusa.writes == []


def test_missing_pieces_are_a_warning_that_names_each_fix(broken_shop, medusa_stack, medusa_client):
    store = medusa_client.get("/admin/stores")["stores"][0]
    channel = store["default_sales_channel_id"]
    for region in medusa_client.get("/admin/regions")["regions"]:
        medusa_client.delete(f"/admin/regions/{region['id']}")
    keys = medusa_client.get("/admin/api-keys", {"type": "publishable"})["api_keys"]
    for key in keys:
        medusa_client.post(f"/admin/api-keys/{key['id']}/sales-channels", {"remove": [channel]})
    (location,) = medusa_client.get("/admin/stock-locations")["stock_locations"]
    medusa_client.post(
        f"/admin/stock-locations/{location['id']}/sales-channels", {"remove": [channel]}
    )
    before = _counts(medusa_client)

    result = _materialize_store(medusa_stack)
    assert result.success  # a warning, not a failure: the sync goes on
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    gaps = evaluation.metadata["missing"].value
    assert len(gaps) == 3
    assert gaps[0].startswith("No region sells in USD") and "POST /admin/regions" in gaps[0]
    assert f"No publishable API key is linked to the sales channel {channel}" in gaps[1]
    assert "POST /admin/api-keys/{id}/sales-channels" in gaps[1]
    assert gaps[2].startswith(f"The stock location {location['id']} is not linked")
    assert f"POST /admin/stock-locations/{location['id']}/sales-channels" in gaps[2]
    assert _counts(medusa_client) == before  # nothing was created


def test_no_stock_location_stops_the_store_step_naming_the_setting(
    broken_shop, medusa_stack, medusa_client
):
    (location,) = medusa_client.get("/admin/stock-locations")["stock_locations"]
    medusa_client.delete(f"/admin/stock-locations/{location['id']}")

    result = _materialize_store(medusa_stack)
    assert not result.success
    message = _failure(result)
    assert "has no stock location for the supplier's stock" in message
    assert "MEDUSA_STOCK_LOCATION_ID" in message and "SYNC_INVENTORY=off" in message

    assert _materialize_store(medusa_stack, inventory=False).success  # stock off: not needed


def test_on_a_release_older_than_2_8_a_sync_writes_no_category(old_medusa, source_server):
    # The Dagster door has no preflight: the category step waits for the store step. The
    # stand-in lists no category, as a real 2.7 store would, so a category step would write.
    old_medusa.routes["/admin/product-categories"] = {"product_categories": [], "count": 0}
    from sync_pipeline.cli.runner import SyncRunner
    from sync_pipeline.defs.resources import DummyJSONResource
    from sync_pipeline.settings import SyncSettings

    settings = SyncSettings.from_environment({}, env_file=None)
    resources = {
        "dummyjson": DummyJSONResource(base_url=source_server.url, page_size=100),
        "medusa": MedusaResource(base_url=old_medusa.url, api_key="sk_test"),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        summary = SyncRunner(instance, settings, resources).run()
    assert not summary.ok and summary.catalog_error.startswith("medusa_store: Medusa at ")
    assert "is a release older than 2.8.0" in summary.catalog_error
    assert not any(p.ok for p in summary.pages)
    assert old_medusa.writes == []


def test_a_bad_rules_file_fails_the_store_step_before_any_request(old_medusa, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text("[stock]\nbuffer = -1\n")
    result = dg.materialize(
        [medusa_store],
        resources={
            "medusa": MedusaResource(base_url=old_medusa.url, api_key="sk_test"),
            "rules": MerchantRulesResource(rules_file=str(rules)),
        },
        raise_on_error=False,
    )
    assert not result.success
    assert _failure(result) == f"SYNC_RULES_FILE={rules}: stock.buffer must be 0 or more (got -1)"
    assert old_medusa.requests == []
