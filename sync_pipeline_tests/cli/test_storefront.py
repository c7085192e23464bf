"""End to end through Medusa's Store API, as a storefront sells: the synced products are listed
with the source's price and stock, an order can be placed, and stock follows the source."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from sync_pipeline.local.dummyjson_server.server import DummyJSONServer
from sync_pipeline.local.storefront import StoreAPIError, Storefront
from sync_pipeline.sync.mapping import product_handle

pytestmark = pytest.mark.e2e


def _by_source_id(products: list[dict], source: list[dict]) -> dict[int, dict]:
    handles = {product_handle(raw["title"], raw["id"]): raw["id"] for raw in source}
    return {handles[p["handle"]]: p for p in products}


def _variant(listed: dict) -> dict:
    (variant,) = listed["variants"]
    return variant


def _levels(medusa_client, variant_id: str) -> list[dict]:
    fields = "inventory_items.inventory.location_levels.*"
    variant = medusa_client.get("/admin/product-variants", {"id": variant_id, "fields": fields})
    (item,) = variant["variants"][0]["inventory_items"]
    return item["inventory"]["location_levels"]


def _assert_unorderable(shop: Storefront, variant_id: str) -> None:
    with pytest.raises(StoreAPIError) as refused:
        shop.add(shop.new_cart(), variant_id)
    assert refused.value.status == 400
    assert "inventory" in refused.value.message


def test_the_synced_catalog_sells_at_the_source_price_and_stock(
    empty_store, source_server, snapshot_dir, sync_catalog, medusa_client
):
    source = json.loads((snapshot_dir / "products.json").read_text())
    summary = sync_catalog(source_server.url)
    assert summary.ok, summary
    assert summary.count("stock_set") == 194

    shop = Storefront(medusa_client)
    listed = _by_source_id(shop.products(), source)
    assert sorted(listed) == sorted(raw["id"] for raw in source)
    for raw in source:
        variant = _variant(listed[raw["id"]])
        price = variant["calculated_price"]
        assert price["currency_code"] == "usd"
        assert Decimal(str(price["calculated_amount"])) == Decimal(str(raw["price"])), raw["id"]
        assert variant["inventory_quantity"] == raw["stock"], raw["id"]

    in_stock = next(raw for raw in source if raw["stock"] >= 2)
    cart = shop.new_cart()
    shop.add(cart, _variant(listed[in_stock["id"]])["id"], quantity=2)
    order, shipping = shop.checkout(cart)
    assert Decimal(str(order["total"])) == 2 * Decimal(str(in_stock["price"])) + shipping
    assert [item["quantity"] for item in order["items"]] == [2]

    sold_out = [raw for raw in source if raw["stock"] == 0]
    assert sold_out, "the real data has products with stock 0"
    _assert_unorderable(shop, _variant(listed[sold_out[0]["id"]])["id"])

    # The order reserved two units: a re-sync leaves the reservation (and the level) alone.
    again = sync_catalog(source_server.url)
    assert again.ok and again.requests("medusa_writes") == 0
    (level,) = _levels(medusa_client, _variant(listed[in_stock["id"]])["id"])
    assert (level["stocked_quantity"], level["reserved_quantity"]) == (in_stock["stock"], 2)
    relisted = {p["id"]: p for p in shop.products()}[listed[in_stock["id"]]["id"]]
    assert _variant(relisted)["inventory_quantity"] == in_stock["stock"] - 2


def test_a_stock_change_is_a_level_write_and_decides_what_can_be_ordered(
    empty_store, tmp_path, snapshot_dir, sync_catalog, medusa_client
):
    source = json.loads((snapshot_dir / "products.json").read_text())[:150]  # two pages
    watched = source[120]
    watched["stock"] = 10
    data = tmp_path / "products.json"
    data.write_text(json.dumps(source))
    shop = Storefront(medusa_client)
    with DummyJSONServer(data) as server:
        assert sync_catalog(server.url).ok
        variant_id = _variant(_by_source_id(shop.products(), source)[watched["id"]])["id"]
        assert shop.add(shop.new_cart(), variant_id)["items"]

        # 10 -> 0 for the watched product, and 49 other stock-only changes on both pages.
        changed = [watched, *source[:25], *source[100:120], *source[121:125]]
        for raw in changed:
            raw["stock"] = 0 if raw is watched else raw["stock"] + 3
        data.write_text(json.dumps(source))
        summary = sync_catalog(server.url)
        assert summary.ok, summary
        assert summary.count("stock_set") == 50
        assert summary.count("updated") == 0 and summary.count("created") == 0
        assert summary.requests("medusa_writes") == 2  # one level batch per page
        listed = _by_source_id(shop.products(), source)
        assert {raw["id"]: _variant(listed[raw["id"]])["inventory_quantity"] for raw in source} == {
            raw["id"]: raw["stock"] for raw in source
        }
        _assert_unorderable(shop, variant_id)

        watched["stock"] = 5
        data.write_text(json.dumps(source))
        summary = sync_catalog(server.url)
        assert summary.count("stock_set") == 1 and summary.requests("medusa_writes") == 1
        assert shop.add(shop.new_cart(), variant_id, quantity=5)["items"]

        unchanged = sync_catalog(server.url)
        assert unchanged.count("unchanged") == 150
        assert unchanged.requests("medusa_writes") == 0  # inventory included


def test_with_stock_sync_off_nothing_about_inventory_is_touched_until_it_is_on(
    empty_store,
    tmp_path,
    snapshot_dir,
    stack_resources,
    dagster_instance,
    sync_settings,
    medusa_client,
):
    import dataclasses

    from sync_pipeline.cli.runner import SyncRunner
    from sync_pipeline.defs.resources import MedusaResource

    source = json.loads((snapshot_dir / "products.json").read_text())[:20]
    data = tmp_path / "products.json"
    data.write_text(json.dumps(source))
    settings = dataclasses.replace(sync_settings, inventory=False)

    def no_stock(**fields):
        return MedusaResource(**fields, inventory=False)

    with DummyJSONServer(data) as server:
        runner = SyncRunner(
            dagster_instance, settings, stack_resources(server.url, medusa=no_stock)
        )
        summary = runner.run()
        assert summary.ok and summary.count("created") == 20 and summary.count("stock_set") == 0
        rows = medusa_client.list_all(
            "/admin/product-variants",
            "variants",
            {"fields": "id,manage_inventory,inventory_items.inventory_item_id"},
        )
        assert len(rows) == 20
        assert all(v["manage_inventory"] is False and not v["inventory_items"] for v in rows)
        source[0]["stock"] += 7  # a stock change alone: not the sync's business now
        data.write_text(json.dumps(source))
        again = runner.run()
        assert again.ok and again.count("unchanged") == 20
        assert again.requests("medusa_writes") == 0
        # Stock turned on later: each variant gets an item (made by Medusa from 2.21.1, by the
        # sync before it) and its level.
        stocked = SyncRunner(dagster_instance, sync_settings, stack_resources(server.url)).run()
        assert stocked.ok and stocked.count("stock_set") == 20, stocked
    levels = {
        v["sku"]: [
            lv["stocked_quantity"] for lv in v["inventory_items"][0]["inventory"]["location_levels"]
        ]
        for v in medusa_client.list_all(
            "/admin/product-variants",
            "variants",
            {"fields": "sku,inventory_items.inventory.location_levels.stocked_quantity"},
        )
    }
    assert levels == {raw["sku"]: [raw["stock"]] for raw in source}


def test_a_barcode_another_variant_holds_fails_that_record_alone_naming_both(
    empty_store, tmp_path, snapshot_dir, sync_runner, medusa_client
):
    source = json.loads((snapshot_dir / "products.json").read_text())[:6]
    holder, copier = source[1], source[3]
    barcode = holder["meta"]["barcode"]
    copier["meta"]["barcode"] = barcode  # Medusa keeps a variant's barcode unique
    data = tmp_path / "products.json"
    data.write_text(json.dumps(source))
    with DummyJSONServer(data) as server:
        summary = sync_runner(server.url).run()
    assert summary.count("created") == 5 and summary.count("failed") == 1
    [failure] = [r for page in summary.pages for r in page.failed_records]
    assert failure["source_id"] == str(copier["id"]) and failure["stage"] == "medusa"
    holder_handle = product_handle(holder["title"], holder["id"])
    assert f"barcode {barcode} is already held by variant variant_" in failure["reason"]
    assert f"of product {holder_handle} (external id dummyjson:{holder['id']})" in failure["reason"]
    rows = medusa_client.get(
        "/admin/product-variants", {"barcode": barcode, "fields": "id,product.handle"}
    )["variants"]
    assert [row["product"]["handle"] for row in rows] == [holder_handle]
