"""The sync's sale price list against a fake of Medusa's price-list routes: made once, found by
its marker, prices replaced for the products a page wrote; a failed write is retried next sync.
The real Medusa runs the same code in ``cli/test_merchant_rules.py``."""

from __future__ import annotations

from decimal import Decimal

from sync_pipeline.clients.medusa import MedusaError
from sync_pipeline.clients.models import ExistingProduct
from sync_pipeline.sync.changes import FINGERPRINT_KEY, StoreContext
from sync_pipeline.sync.sale_prices import SALE_LIST_MARKER, SalePriceWriter, ensure_sale_list
from sync_pipeline_tests.products import product


class FakePriceLists:
    def __init__(self, lists=(), refuse_prices=False):
        self.lists = [dict(pl) for pl in lists]
        self.prices: dict[str, dict] = {}  # variant id → price in the sync's list
        self.calls: list[str] = []
        self.refuse_prices = refuse_prices
        self.updates: list[dict] = []

    def list_price_lists(self):
        return list(self.lists)

    def create_price_list(self, *, title, description, type, status):
        self.calls.append("create_list")
        made = {
            "id": f"plist_{len(self.lists) + 1}",
            "title": title,
            "description": description,
            "type": type,
            "status": status,
            "created_at": f"2026-12-0{len(self.lists) + 1}",
        }
        self.lists.append(made)
        return made

    def delete_price_list(self, list_id):
        self.calls.append(f"delete_list {list_id}")
        self.lists = [pl for pl in self.lists if pl["id"] != list_id]

    def remove_products_from_price_list(self, list_id, product_ids):
        self.calls.append("remove")
        for variant in [v for v in self.prices if v.replace("variant", "prod") in product_ids]:
            del self.prices[variant]

    def batch_price_list_prices(self, list_id, *, create):
        self.calls.append("create_prices")
        if self.refuse_prices:
            raise MedusaError("POST", f"/admin/price-lists/{list_id}/prices/batch", 400, "no")
        for price in create:
            self.prices[price["variant_id"]] = price

    def batch_products(self, *, update, fields):
        self.updates.extend(update)


def written(*source_ids: int) -> dict[str, ExistingProduct]:
    return {
        f"dummyjson:{i}": ExistingProduct.model_validate(
            {
                "id": f"prod_{i}",
                "external_id": f"dummyjson:{i}",
                "variants": [{"id": f"variant_{i}", "sku": f"SKU-{i}"}],
            }
        )
        for i in source_ids
    }


def test_a_first_sale_makes_the_list_and_adds_one_price_per_discounted_variant():
    fake = FakePriceLists()
    store = StoreContext("usd", "sc", "sp")
    products = [product(1, sale_price=Decimal("9.99")), product(2)]
    result = SalePriceWriter(fake, store).run(products, written(1, 2))
    assert result.written == 1 and not result.failures
    assert fake.calls == ["create_list", "create_prices"]  # nothing to remove from a new list
    assert fake.prices == {
        "variant_1": {"variant_id": "variant_1", "currency_code": "usd", "amount": 9.99}
    }
    assert SALE_LIST_MARKER in fake.lists[0]["description"] and fake.lists[0]["type"] == "sale"


def test_no_sale_and_no_list_costs_nothing():
    fake = FakePriceLists()
    result = SalePriceWriter(fake, StoreContext("usd", "sc", "sp")).run([product(1)], written(1))
    assert result.written == 0 and fake.calls == []


def test_written_products_have_their_old_sale_replaced_or_removed():
    fake = FakePriceLists([{"id": "plist_1", "description": SALE_LIST_MARKER}])
    fake.prices = {
        "variant_1": {"amount": 5.0},
        "variant_2": {"amount": 6.0},
        "variant_3": {"amount": 7.0},
    }
    store = StoreContext("usd", "sc", "sp", sale_list_id="plist_1")
    products = [product(1, sale_price=Decimal("4.99")), product(2)]  # 2's discount ended
    SalePriceWriter(fake, store).run(products, written(1, 2))
    assert fake.calls == ["remove", "create_prices"]
    assert fake.prices["variant_1"]["amount"] == 4.99 and "variant_2" not in fake.prices
    assert fake.prices["variant_3"] == {"amount": 7.0}  # not written by this page: untouched


def test_a_refused_sale_fails_its_records_and_clears_their_fingerprints():
    fake = FakePriceLists([{"id": "plist_1", "description": SALE_LIST_MARKER}], refuse_prices=True)
    store = StoreContext("usd", "sc", "sp", sale_list_id="plist_1")
    result = SalePriceWriter(fake, store).run([product(1, sale_price=Decimal("1.99"))], written(1))
    [failure] = result.failures
    assert failure.stage == "sale" and "sale price not set" in failure.reason
    assert fake.updates == [{"id": "prod_1", "metadata": {FINGERPRINT_KEY: ""}}]


def test_two_runs_that_make_the_list_at_once_keep_the_older():
    fake = FakePriceLists(
        [{"id": "plist_0", "description": SALE_LIST_MARKER, "created_at": "2026-12-01"}]
    )
    fake.lists[0]["created_at"] = "2026-12-00"  # made by the other run a moment before
    assert ensure_sale_list(fake) == "plist_0" and fake.calls == []
    raced = FakePriceLists()
    original = raced.list_price_lists
    calls = iter([[], None])

    def list_after_race():  # empty when looked for, then the other run's is there too
        answer = next(calls)
        if answer is None:
            return original() + [
                {"id": "plist_0", "description": SALE_LIST_MARKER, "created_at": "2026-12-00"}
            ]
        return answer

    raced.list_price_lists = list_after_race
    assert ensure_sale_list(raced) == "plist_0"
    assert raced.calls == ["create_list", "delete_list plist_1"]
