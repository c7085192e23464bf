"""The merchant's rules (the documented example) end to end, read back through Medusa's Store
API as a storefront calls it: exactly the selected products are for sale, at the rules' prices,
on sale through Medusa's own price list, with the stock buffer kept and the barcode native.
Then the rules change."""

from __future__ import annotations

import dataclasses
import json
from decimal import ROUND_FLOOR, Decimal

import pytest

from sync_pipeline.cli.runner import SyncRunner
from sync_pipeline.local.dummyjson_server.server import DummyJSONServer
from sync_pipeline.local.storefront import Storefront
from sync_pipeline.sync.mapping import product_handle
from sync_pipeline.sync.sale_prices import SALE_LIST_MARKER
from sync_pipeline_tests.rules_example import EXAMPLE

pytestmark = pytest.mark.e2e


def _rules(path, markup=30, categories=("smartphones", "laptops")):
    """The documented example, with another base markup or selection."""
    text = EXAMPLE.replace("markup_percent = 30 ", f"markup_percent = {markup} ", 1)
    text = text.replace('["smartphones", "laptops"]', json.dumps(list(categories)), 1)
    assert (markup, categories) == (30, ("smartphones", "laptops")) or text != EXAMPLE
    path.write_text(text)
    return path


def _expected(source, markup=30, categories=("smartphones", "laptops")) -> dict[str, dict]:
    """The issue's formulas, worked out here apart from the code under test."""

    def rounded(value: Decimal) -> Decimal:
        return max(Decimal("1.00"), value.to_integral_value(ROUND_FLOOR) + Decimal("0.99"))

    wanted = {}
    for raw in source:
        if raw["category"] not in categories or raw.get("brand") == "Apple":
            continue
        rate = Decimal(15 if raw["category"] == "laptops" else markup)
        price = rounded(Decimal(str(raw["price"])) * (1 + rate / 100))
        sale = rounded(price * (1 - Decimal(str(raw["discountPercentage"])) / 100))
        wanted[product_handle(raw["title"], raw["id"])] = {
            "price": price,
            "sale": sale if sale < price else None,
            "stock": max(0, raw["stock"] - 2),
            "barcode": raw["meta"]["barcode"],
        }
    return wanted


def _assert_storefront_shows(medusa_client, wanted: dict[str, dict]) -> None:
    listed = {p["handle"]: p for p in Storefront(medusa_client).products()}
    assert set(listed) == set(wanted)
    for handle, want in wanted.items():
        (variant,) = listed[handle]["variants"]
        price = variant["calculated_price"]
        assert Decimal(str(price["original_amount"])) == want["price"], handle
        shown = Decimal(str(price["calculated_amount"]))
        if want["sale"] is None:
            assert shown == want["price"], handle
        else:
            assert shown == want["sale"], handle
            assert price["calculated_price"]["price_list_type"] == "sale", handle
        assert variant["inventory_quantity"] == want["stock"], handle
        assert variant["barcode"] == want["barcode"], handle


def test_the_merchants_rules_as_a_storefront_sees_them_then_changed(
    empty_store,
    tmp_path,
    snapshot_dir,
    stack_resources,
    dagster_instance,
    sync_settings,
    medusa_client,
):
    source = json.loads((snapshot_dir / "products.json").read_text())
    rules = _rules(tmp_path / "rules.toml")
    # The merchant's own sale, which the sync must neither take for its own nor touch.
    merchant = medusa_client.post(
        "/admin/price-lists",
        {"title": "Black Friday", "description": "ours", "type": "sale", "status": "draft"},
    )["price_list"]
    settings = dataclasses.replace(sync_settings, rules_file=rules)
    with DummyJSONServer(snapshot_dir / "products.json") as server:
        runner = SyncRunner(dagster_instance, settings, stack_resources(server.url))

        first = runner.run()
        wanted = _expected(source)
        assert first.ok and first.count("created") == len(wanted) > 0
        assert first.rules.digest and first.rules.settings["stock.buffer"] == "2"
        _assert_storefront_shows(medusa_client, wanted)
        on_sale = sum(1 for w in wanted.values() if w["sale"])
        assert first.count("sale_prices_set") == on_sale > 0
        fields = "id,title,description,type,status,prices.id"
        lists = {
            pl["id"]: pl
            for pl in medusa_client.get("/admin/price-lists", {"fields": fields})["price_lists"]
        }
        theirs = lists.pop(merchant["id"])
        assert (theirs["title"], theirs["status"], theirs["prices"]) == (
            "Black Friday",
            "draft",
            [],
        )
        (sale_list,) = lists.values()
        assert SALE_LIST_MARKER in sale_list["description"]
        assert (sale_list["type"], sale_list["status"]) == ("sale", "active")
        rows = medusa_client.list_all("/admin/products", "products", {"fields": "metadata"})
        assert not [r for r in rows if "barcode" in (r["metadata"] or {})]

        again = runner.run()
        assert again.ok and again.count("unchanged") == len(wanted)
        assert again.requests("medusa_writes") == 0

        _rules(rules, markup=40)  # the laptops keep their own 15 %
        before, wanted = wanted, _expected(source, markup=40)
        planned = runner.run(dry_run=True)
        phone = next(h for h in wanted if wanted[h]["price"] != before[h]["price"])
        plan = "".join(page.plan for page in planned.pages)
        assert (
            f'price: ["usd", "{before[phone]["price"]}"] → ["usd", "{wanted[phone]["price"]}"]'
            in plan
        )
        repriced = runner.run()
        assert repriced.ok and repriced.count("stock_set") == 0
        assert repriced.count("updated") == sum(
            1 for raw in source if raw["category"] == "smartphones" and raw.get("brand") != "Apple"
        )
        _assert_storefront_shows(medusa_client, wanted)

        _rules(rules, markup=40, categories=("smartphones",))
        narrowed = runner.run()
        kept = _expected(source, 40, ("smartphones",))
        assert narrowed.ok and narrowed.archived == len(wanted) - len(kept) > 0  # the laptops
        _assert_storefront_shows(medusa_client, kept)
        assert len(medusa_client.get("/admin/price-lists")["price_lists"]) == 2  # ours, theirs
