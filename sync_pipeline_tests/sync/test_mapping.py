"""The pure mapping, on the real DummyJSON data and its traps.

The traps are described in ``sync_pipeline/data/dummyjson/README.md``."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

import pytest

from sync_pipeline.clients.models import to_json
from sync_pipeline.sync.changes import StoreContext
from sync_pipeline.sync.mapping import (
    category_name,
    normalize_categories,
    normalize_products,
    product_handle,
    source_id_of,
)
from sync_pipeline.sync.payloads import build_create

# Medusa's product handle rule (its product handle validator), ASCII part.
HANDLE_RULE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
STORE = StoreContext(currency_code="usd", sales_channel_id="sc_1", shipping_profile_id="sp_1")


@pytest.fixture(scope="module")
def legacy_products(snapshot_dir):
    return json.loads((snapshot_dir / "products-100.json").read_text(encoding="utf-8"))


def test_every_real_product_normalizes_with_external_id(normalized):
    assert sorted(normalized) == list(range(1, 195))
    assert normalized[1].external_id == "dummyjson:1"
    assert source_id_of("dummyjson:194") == 194
    assert source_id_of("shopify:1") is None


def test_handles_are_unique_valid_and_deterministic(normalized, products):
    handles = [p.handle for p in normalized.values()]
    assert len(set(handles)) == len(handles) == 194
    assert all(HANDLE_RULE.match(h) for h in handles), [
        h for h in handles if not HANDLE_RULE.match(h)
    ]
    # Duplicate titles (96, 191) and titles that slugify alike (91, 92) stay apart.
    assert normalized[96].title == normalized[191].title
    assert normalized[96].handle == "rolex-cellini-moonphase-96"
    assert normalized[191].handle == "rolex-cellini-moonphase-191"
    assert normalized[91].handle != normalized[92].handle
    again, _ = normalize_products(products)
    assert [p.handle for p in again] == [p.handle for p in normalized.values()]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Dior J'adore", "dior-j-adore-7"),
        ("Blue & Black Check Shirt", "blue-black-check-shirt-7"),
        ("MotoGP CI.H1", "motogp-ci-h1-7"),
        ("- Daal Masoor 500 grams", "daal-masoor-500-grams-7"),
        ("!!!", "product-7"),
    ],
)
def test_handle_of_awkward_titles(title, expected):
    assert product_handle(title, 7) == expected


def test_prices_are_exact_decimals_in_major_units(normalized, products):
    for raw in products:
        product = normalized[raw["id"]]
        assert product.price == Decimal(str(raw["price"]))
    # 0.29 * 100 is 28.999999999999996 in floats; the mapping never multiplies.
    body = to_json(build_create(normalized[1], STORE, "cat_1", ["tag_1"]))
    price = body["variants"][0]["prices"][0]
    assert price == {"currency_code": "usd", "amount": 9.99}
    assert isinstance(price["amount"], float)


def test_categories_accept_both_api_shapes(snapshot_dir):
    current = json.loads((snapshot_dir / "categories.json").read_text())
    mapped = normalize_categories(current)
    assert len(mapped) == 24
    assert mapped[0].slug == "beauty" and mapped[0].name == "Beauty"
    legacy = normalize_categories(["skincare", "home-decoration", "skincare"])
    assert [(c.slug, c.name) for c in legacy] == [
        ("skincare", "Skincare"),
        ("home-decoration", "Home Decoration"),
    ]
    assert category_name("mens-shirts") == "Mens Shirts"


def test_legacy_products_normalize(legacy_products):
    good, rejected = normalize_products(legacy_products)
    assert rejected == []
    assert len(good) == 100
    iphone = good[0]
    assert iphone.title == "iPhone 9" and iphone.price == Decimal("549")
    assert iphone.sku is None and iphone.tags == ()
    assert len({p.handle for p in good}) == 100


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title is empty"),
        ({"price": -1}, "price"),
        ({"price": "9.99"}, "price must be a number"),
        ({"price": math.nan}, "finite"),
        ({"price": math.inf}, "finite"),
        ({"price": 1e12}, "price"),
        ({"price": 9.999}, "more than 2 decimals"),
        ({"id": "7"}, "id"),
        ({"id": None}, "id"),
        ({"category": None}, "category"),
        ({"tags": "beauty"}, "tags"),
        ({"images": [None]}, "images"),
    ],
)
def test_bad_records_are_set_aside_with_reason(products, change, reason):
    bad = {**products[0], **change}
    good, rejected = normalize_products([bad, products[1]])
    assert [p.source_id for p in good] == [products[1]["id"]]
    assert len(rejected) == 1
    assert rejected[0].stage == "validation"
    assert reason in rejected[0].reason
    assert rejected[0].sku == products[0]["sku"]


def test_missing_field_and_duplicate_ids_are_named(products):
    no_title = {k: v for k, v in products[0].items() if k != "title"}
    good, rejected = normalize_products([no_title, products[1], products[1], "junk"])
    assert [p.source_id for p in good] == [2]
    reasons = {(r.source_id, r.reason.split(":")[0]) for r in rejected}
    assert ("1", "title") in reasons
    assert ("2", "duplicate id") in reasons
    assert ("?", "not an object") in reasons
