"""Stock levels against a fake of Medusa's level batch: only changed levels are written, in
batches; a rejected batch is split to the bad record; a lost answer is settled by reading.

The end-to-end tests run the same code against the real Medusa (``test_storefront.py``); the
fake mimics the batch endpoint's all-or-nothing rule and lost answers, hard to provoke there.
"""

from __future__ import annotations

from collections import Counter

import pytest

from sync_pipeline.clients.medusa import LEVELS_BATCH_PATH, MedusaError, MedusaUnavailable
from sync_pipeline.clients.models import ExistingProduct
from sync_pipeline.sync.inventory import StockState, StockWriter
from sync_pipeline.sync.mapping import NormalizedProduct
from sync_pipeline_tests.products import product

LOCATION = "sloc_1"


class FakeLevels:
    """Levels keyed by inventory item; a batch holding a ``poison`` item is refused whole."""

    def __init__(self, levels: dict[str, int], *, poison=(), lose_answers=0, commit_lost=True):
        self.levels = dict(levels)
        self.poison = set(poison)
        self.lose_answers = lose_answers
        self.commit_lost = commit_lost
        self.batches: list[int] = []
        self.request_counts: Counter[str] = Counter()
        self.lookups = 0

    def batch_stock_levels(self, create=None, update=None) -> None:
        path = LEVELS_BATCH_PATH
        self.request_counts["write"] += 1
        items = (create or []) + (update or [])
        assert all(item["location_id"] == LOCATION for item in items)
        self.batches.append(len(items))
        for item in create or []:
            if item["inventory_item_id"] in self.levels:
                raise MedusaError("POST", path, 400, "Inventory level ... already exists.")
        if self.poison & {item["inventory_item_id"] for item in items}:
            raise MedusaError("POST", path, 400, "stocked_quantity refused")
        if self.lose_answers and not self.commit_lost:
            self.lose_answers -= 1
            raise MedusaUnavailable("POST", path, 502, "Bad Gateway")
        for item in items:
            self.levels[item["inventory_item_id"]] = item["stocked_quantity"]
        if self.lose_answers:
            self.lose_answers -= 1
            raise MedusaUnavailable("POST", path, None, "timed out")

    def lookup(self, ids: list[str]) -> dict[str, ExistingProduct]:
        """What the product lookup reads: each product's variant, item and level."""
        self.lookups += 1
        found = {}
        for ext in ids:
            item = f"iitem_{ext.split(':')[1]}"
            levels = (
                [{"location_id": LOCATION, "stocked_quantity": self.levels[item]}]
                if item in self.levels
                else []
            )
            found[ext] = ExistingProduct.model_validate(
                {
                    "id": f"prod_{item}",
                    "external_id": ext,
                    "variants": [
                        {
                            "id": "v",
                            "sku": f"SKU-{ext.split(':')[1]}",
                            "manage_inventory": True,
                            "inventory_items": [
                                {
                                    "inventory_item_id": item,
                                    "inventory": {"location_levels": levels},
                                }
                            ],
                        }
                    ],
                }
            )
        return found


def writer(fake: FakeLevels, **kwargs) -> StockWriter:
    return StockWriter(fake, LOCATION, fake.lookup, **kwargs)


def known(fake: FakeLevels, products: list[NormalizedProduct]) -> dict[str, StockState]:
    return {
        p.external_id: StockState(f"iitem_{p.source_id}", fake.levels.get(f"iitem_{p.source_id}"))
        for p in products
    }


def test_only_changed_levels_are_written_in_batches():
    products = [product(i, stock=10) for i in range(1, 51)]
    fake = FakeLevels({f"iitem_{i}": 10 for i in range(1, 51)})
    changed = {3, 17, 18, 40, 41}
    products = [product(p.source_id, 0 if p.source_id in changed else 10) for p in products]
    result = writer(fake, batch_size=2).run(products, known(fake, products))
    assert result.written == 5 and result.unchanged == 45 and not result.failures
    assert fake.batches == [2, 2, 1]  # five changed levels, batches of two
    assert fake.lookups == 0  # the states came from the product lookup
    assert {i for i in changed if fake.levels[f"iitem_{i}"] == 0} == changed


def test_new_levels_are_created_and_products_without_stock_are_left_alone():
    products = [product(1, 5), product(2, None)]
    fake = FakeLevels({})
    result = writer(fake).run(products, {})  # unknown states: looked up once
    assert fake.lookups == 1
    assert result.written == 1 and fake.levels == {"iitem_1": 5}
    assert [(c.old, c.new) for c in result.changes] == [(None, 5)]


def test_a_refused_level_fails_alone_and_names_the_record():
    products = [product(i, 3) for i in range(1, 9)]
    fake = FakeLevels({f"iitem_{i}": 1 for i in range(1, 9)}, poison={"iitem_6"})
    result = writer(fake).run(products, known(fake, products))
    assert result.written == 7
    [failure] = result.failures
    assert (failure.source_id, failure.sku, failure.stage) == ("6", "SKU-6", "inventory")
    assert "HTTP 400: stocked_quantity refused" in failure.reason
    assert fake.levels["iitem_6"] == 1 and fake.levels["iitem_5"] == 3


@pytest.mark.parametrize("commit_lost", [True, False])
def test_a_lost_answer_is_settled_by_reading_never_blindly_resent(commit_lost):
    products = [product(i, 7) for i in range(1, 5)]
    fake = FakeLevels({}, lose_answers=1, commit_lost=commit_lost)
    result = writer(fake).run(products, known(fake, products))
    assert result.written == 4 and not result.failures and result.ambiguous_retries == 1
    # Committed: read back, nothing sent again. Not committed: sent once more.
    assert fake.batches == ([4] if commit_lost else [4, 4])
    assert fake.levels == {f"iitem_{i}": 7 for i in range(1, 5)}


def test_a_level_created_meanwhile_is_updated_not_failed():
    products = [product(1, 9)]
    fake = FakeLevels({})
    stale = known(fake, products)  # no level when the products were read
    fake.levels["iitem_1"] = 2  # then someone stocked it
    result = writer(fake).run(products, stale)
    assert result.written == 1 and not result.failures and fake.levels == {"iitem_1": 9}


def test_a_variant_without_managed_inventory_is_reported():
    products = [product(1, 9)]
    result = writer(FakeLevels({})).run(products, {products[0].external_id: StockState(None, None)})
    [failure] = result.failures
    assert failure.stage == "inventory" and "manage_inventory is off" in failure.reason


def test_dry_run_plans_without_writing():
    products = [product(1, 9), product(2, 4)]
    fake = FakeLevels({"iitem_1": 9, "iitem_2": 1})
    result = writer(fake, dry_run=True).run(products, known(fake, products))
    assert result.written == 1 and fake.batches == []
    assert [(c.product.source_id, c.old, c.new) for c in result.changes] == [(2, 1, 4)]


class FakeItems(FakeLevels):
    """Also Medusa's inventory items (a SKU held by one item) and the variants' links to them."""

    def __init__(self, *, items: dict[str, str] | None = None, refuse_sku: str | None = None):
        super().__init__({})
        self.items = dict(items or {})  # sku → item id
        self.links: dict[str, str] = {}  # variant id → item id
        self.refuse_sku = refuse_sku

    def find_inventory_items_by_sku(self, skus: list[str]) -> dict[str, str]:
        return {sku: self.items[sku] for sku in skus if sku in self.items}

    def create_inventory_item(self, *, sku: str, title: str) -> str:
        path = "/admin/inventory-items"
        if sku == self.refuse_sku:
            raise MedusaError("POST", path, 400, "title refused")
        if sku in self.items:
            raise MedusaError("POST", path, 400, f"Inventory item with sku: {sku}, already exists.")
        self.items[sku] = f"iitem_{sku.removeprefix('SKU-')}"
        return self.items[sku]

    def link_inventory_item(self, product_id: str, variant_id: str, item_id: str) -> None:
        self.links[variant_id] = item_id


def unlinked(products: list[NormalizedProduct]) -> dict[str, StockState]:
    """Variants that manage inventory with no item: Medusa before 2.21.1, stock turned on."""
    return {
        p.external_id: StockState(None, None, unlinked=(f"prod_{p.source_id}", f"v_{p.source_id}"))
        for p in products
    }


def test_stock_turned_on_before_2_21_1_gets_each_variant_an_item_then_its_level():
    products = [product(i, stock=i * 10) for i in (1, 2, 3)]
    # SKU-2's item was made by an earlier run whose link was lost: found, not made twice.
    fake = FakeItems(items={"SKU-2": "iitem_2"})
    result = writer(fake).run(products, unlinked(products))
    assert not result.failures and result.written == 3
    assert fake.items == {f"SKU-{i}": f"iitem_{i}" for i in (1, 2, 3)}
    assert fake.links == {f"v_{i}": f"iitem_{i}" for i in (1, 2, 3)}
    assert fake.levels == {"iitem_1": 10, "iitem_2": 20, "iitem_3": 30}


def test_an_item_that_cannot_be_made_fails_its_record_alone():
    products = [product(i, stock=5) for i in (1, 2)]
    fake = FakeItems(refuse_sku="SKU-1")
    result = writer(fake).run(products, unlinked(products))
    [failure] = result.failures
    assert (failure.source_id, failure.stage) == ("1", "inventory")
    assert "no inventory item to stock, and making one failed" in failure.reason
    assert "HTTP 400: title refused" in failure.reason
    assert fake.links == {"v_2": "iitem_2"} and fake.levels == {"iitem_2": 5}


def test_dry_run_plans_the_new_items_level_and_makes_nothing():
    products = [product(1, stock=4)]
    fake = FakeItems()
    result = writer(fake, dry_run=True).run(products, unlinked(products))
    assert [(c.old, c.new) for c in result.changes] == [(None, 4)]
    assert fake.items == {} and fake.links == {} and fake.batches == []
