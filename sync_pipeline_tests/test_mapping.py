"""The pure mapping, on the real DummyJSON data and its traps (see shared/dummyjson/README.md)."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

import pytest

from sync_pipeline.mapping import (
    OWNED_CATEGORY_KEY,
    OWNED_IMAGES_KEY,
    OWNED_TAGS_KEY,
    StoreContext,
    build_create,
    build_update,
    category_name,
    fingerprint,
    normalize_categories,
    normalize_products,
    product_handle,
    source_id_of,
)
from sync_pipeline.models import ExistingProduct, to_json

# Medusa's product handle rule (shared/medusa/README.md B5), ASCII part.
HANDLE_RULE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
STORE = StoreContext(currency_code="usd", sales_channel_id="sc_1", shipping_profile_id="sp_1")


@pytest.fixture(scope="module")
def products(shared_data_dir):
    return json.loads((shared_data_dir / "products.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def legacy_products(shared_data_dir):
    return json.loads((shared_data_dir / "products-100.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def normalized(products):
    good, rejected = normalize_products(products)
    assert rejected == []
    return {p.source_id: p for p in good}


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


def test_create_payload_carries_everything_the_sync_owns(normalized):
    product = normalized[1]
    body = to_json(build_create(product, STORE, "cat_beauty", ["tag_a", "tag_b"]))
    assert body["external_id"] == "dummyjson:1"
    assert body["status"] == "published"
    assert body["handle"] == "essence-mascara-lash-princess-1"
    assert body["categories"] == [{"id": "cat_beauty"}]
    assert body["tags"] == [{"id": "tag_a"}, {"id": "tag_b"}]
    assert body["sales_channels"] == [{"id": "sc_1"}]
    assert body["shipping_profile_id"] == "sp_1"
    assert body["options"] == [{"title": "Default", "values": ["Default"]}]
    variant = body["variants"][0]
    assert variant["sku"] == "BEA-ESS-ESS-001"
    assert variant["options"] == {"Default": "Default"}
    assert variant["manage_inventory"] is False
    assert body["thumbnail"].endswith("thumbnail.webp")
    assert len(body["images"]) == 1
    assert body["weight"] == 4 and body["length"] == 22.99
    meta = body["metadata"]
    assert meta["brand"] == "Essence" and meta["rating"] == 2.56 and meta["stock"] == 99
    assert meta["discount_percentage"] == 10.48
    assert meta[OWNED_CATEGORY_KEY] == "cat_beauty"
    assert meta[OWNED_TAGS_KEY] == ["tag_a", "tag_b"]


def test_missing_brand_is_left_out_not_null(normalized):
    body = to_json(build_create(normalized[16], STORE, "cat", []))
    assert "brand" not in body["metadata"]


def test_categories_accept_both_api_shapes(shared_data_dir):
    current = json.loads((shared_data_dir / "categories.json").read_text())
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


def test_fingerprint_changes_only_with_owned_fields(normalized, products):
    base = normalized[5]
    assert fingerprint(base, "usd") == fingerprint(base, "usd")
    assert fingerprint(base, "usd") != fingerprint(base, "eur")
    changed, _ = normalize_products([{**products[4], "price": products[4]["price"] + 1}])
    assert fingerprint(changed[0], "usd") != fingerprint(base, "usd")
    review_only, _ = normalize_products([{**products[4], "reviews": []}])
    assert fingerprint(review_only[0], "usd") == fingerprint(base, "usd")


def test_update_keeps_merchant_edits(normalized):
    product = normalized[1]
    existing = ExistingProduct.model_validate(
        {
            "id": "prod_1",
            "external_id": "dummyjson:1",
            "status": "published",
            "metadata": {
                OWNED_IMAGES_KEY: ["https://old/1.webp"],
                OWNED_CATEGORY_KEY: "cat_old",
                OWNED_TAGS_KEY: ["tag_old"],
                "brand": "Essence",
                "merchant_note": "keep me",
            },
            "variants": [
                {
                    "id": "var_1",
                    "sku": "BEA-ESS-ESS-001",
                    "prices": [
                        {"id": "price_usd", "currency_code": "usd", "amount": 1},
                        {"id": "price_eur", "currency_code": "eur", "amount": 8},
                    ],
                },
                {"id": "var_merchant", "sku": "EXTRA", "prices": []},
            ],
            "images": [
                {"id": "img_old", "url": "https://old/1.webp"},
                {"id": "img_merchant", "url": "https://merchant/1.png"},
            ],
            "categories": [{"id": "cat_old"}, {"id": "cat_merchant"}],
            "tags": [{"id": "tag_old"}, {"id": "tag_merchant"}],
        }
    )
    body = to_json(build_update(product, existing, STORE, "cat_new", ["tag_new"]))
    assert body["id"] == "prod_1"
    assert "handle" not in body  # the storefront URL is never changed by a sync
    assert [c["id"] for c in body["categories"]] == ["cat_new", "cat_merchant"]
    assert [t["id"] for t in body["tags"]] == ["tag_new", "tag_merchant"]
    urls = [i["url"] for i in body["images"]]
    assert urls[-1] == "https://merchant/1.png" and "https://old/1.webp" not in urls
    assert {"id": "img_merchant", "url": "https://merchant/1.png"} in body["images"]
    ours, merchants = body["variants"]
    assert merchants == {"id": "var_merchant"}
    assert ours["id"] == "var_1"
    assert ours["prices"] == [
        {"id": "price_usd", "currency_code": "usd", "amount": 9.99},
        {"id": "price_eur", "currency_code": "eur", "amount": 8.0},
    ]
    assert "merchant_note" not in body["metadata"]  # merged by Medusa, so left untouched
    assert body["metadata"]["brand"] == "Essence"
