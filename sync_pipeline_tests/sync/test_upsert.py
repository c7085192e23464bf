"""The page upsert against a fake Medusa: bisecting rejected batches, settling lost answers.

The end-to-end tests run the same code against the real Medusa; this fake only mimics
the batch endpoint's all-or-nothing rule and a lost answer, which are hard to provoke there.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sync_pipeline.clients.medusa import PRODUCTS_BATCH_PATH, MedusaError, MedusaUnavailable
from sync_pipeline.clients.models import ExistingProduct, ExistingTag, ProductBatch
from sync_pipeline.sync.changes import StoreContext
from sync_pipeline.sync.mapping import normalize_products
from sync_pipeline.sync.upsert import ProductUpserter

STORE = StoreContext("usd", "sc_1", "sp_1")


class FakeMedusa:
    """Products keyed by id; a batch containing a ``poison`` title is rejected whole."""

    def __init__(self, poison: set[str] = frozenset(), lose_answers: int = 0) -> None:
        self.products: dict[str, dict] = {}
        self.tags: dict[str, str] = {}
        self.poison = poison
        self.lose_answers = lose_answers
        self.batches: list[int] = []
        self.request_counts: Counter[str] = Counter()

    def _products_where(self, field, values):
        values = set(values)
        rows = [p for p in self.products.values() if p.get(field) in values]
        return [ExistingProduct.model_validate(row) for row in rows]

    def find_products_by_external_id(self, external_ids, *, fields):
        return self._products_where("external_id", external_ids)

    def find_products_by_id(self, ids, *, fields):
        return self._products_where("id", ids)

    def find_products_by_handle(self, handles, *, fields):
        return self._products_where("handle", handles)

    def find_tags_by_value(self, values):
        return [ExistingTag(id=i, value=v) for v, i in self.tags.items() if v in set(values)]

    def create_tag(self, value):
        self.tags[value] = f"tag_{len(self.tags)}"
        return ExistingTag(id=self.tags[value], value=value)

    def batch_products(self, *, create, update, fields):
        path = PRODUCTS_BATCH_PATH
        self.batches.append(len(create) + len(update))
        bad = [i["title"] for i in create + update if i.get("title") in self.poison]
        if bad:
            raise MedusaError("POST", path, 400, f"Product with title {bad[0]} is not allowed")
        handles = {p["handle"] for p in self.products.values()}
        taken = [i["handle"] for i in create if i["handle"] in handles]
        if taken:
            raise MedusaError(
                "POST", path, 400, f"Product with handle: {taken[0]}, already exists."
            )
        created = []
        for item in create:
            new_id = f"prod_{len(self.products)}"
            self.products[new_id] = {**item, "id": new_id, "variants": []}
            created.append(self.products[new_id])
        for item in update:
            self.products[item["id"]].update(item)
        if self.lose_answers:
            self.lose_answers -= 1
            raise MedusaUnavailable("POST", path, 502, "Bad Gateway")
        return ProductBatch(
            created=[ExistingProduct(id=p["id"]) for p in created],
            updated=[ExistingProduct(id=item["id"]) for item in update],
        )


@pytest.fixture
def page(snapshot_dir):
    raw = json.loads((snapshot_dir / "products.json").read_text())[:40]
    products, _ = normalize_products(raw)
    return products


def _categories(products):
    return {p.category_slug: f"cat_{p.category_slug}" for p in products}


def test_a_rejected_batch_is_split_until_the_bad_record_stands_alone(page):
    fake = FakeMedusa(poison={page[13].title, page[31].title})
    result = ProductUpserter(fake, STORE, _categories(page), batch_size=40).run(page)
    assert result.created == 38
    assert sorted(f.source_id for f in result.failures) == [
        str(page[13].source_id),
        str(page[31].source_id),
    ]
    failure = result.failures[0]
    assert failure.stage == "medusa" and "HTTP 400" in failure.reason and failure.sku
    assert len(fake.products) == 38
    # Bisection costs O(bad × log n) extra batches, not one request per product.
    assert len(fake.batches) <= 1 + 2 * 2 * 6  # 1 + 2 × bad × ceil(log2 40)


def test_a_lost_answer_after_commit_is_settled_without_duplicates(page):
    fake = FakeMedusa(lose_answers=1)
    result = ProductUpserter(fake, STORE, _categories(page), batch_size=40).run(page)
    assert result.failures == []
    assert result.created == 40 and result.ambiguous_retries == 1
    assert len(fake.products) == 40
    assert fake.batches == [40]  # found committed: nothing was sent twice


def test_unchanged_products_cost_no_write(page):
    fake = FakeMedusa()
    ProductUpserter(fake, STORE, _categories(page)).run(page)
    batches = len(fake.batches)
    again = ProductUpserter(fake, STORE, _categories(page)).run(page)
    assert again.unchanged == 40 and again.created == again.updated == 0
    assert len(fake.batches) == batches


def test_a_product_without_its_category_fails_by_name(page):
    categories = _categories(page)
    missing = page[0].category_slug
    del categories[missing]

    class NoCategories(FakeMedusa):
        def find_categories_by_handle(self, handles):
            return []

        def create_category(self, *, name, handle, metadata):
            raise MedusaError("POST", "/admin/product-categories", 400, "nope")

    fake = NoCategories()
    result = ProductUpserter(fake, STORE, categories).run(page)
    failed = [f for f in result.failures if f.stage == "category"]
    assert failed and all(missing in f.reason for f in failed)
    assert result.created == 40 - len(failed)


def test_a_product_holding_our_handle_without_external_id_is_adopted(page):
    fake = FakeMedusa()
    fake.products["prod_hand"] = {"id": "prod_hand", "handle": page[5].handle, "variants": []}
    fake.products["prod_other"] = {
        "id": "prod_other",
        "handle": page[6].handle,
        "external_id": "shopify:1",
        "variants": [],
    }
    result = ProductUpserter(fake, STORE, _categories(page)).run(page)
    assert result.created == 38 and result.updated == 1
    assert fake.products["prod_hand"]["external_id"] == page[5].external_id
    (failure,) = result.failures
    assert failure.source_id == str(page[6].source_id)
    assert "Handle taken by prod_other (external id shopify:1)" in failure.reason
    assert fake.products["prod_other"]["external_id"] == "shopify:1"
