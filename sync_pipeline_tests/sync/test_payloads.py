"""Medusa payloads from the real DummyJSON data: what a create carries, what an update keeps."""

from __future__ import annotations

import pytest

from sync_pipeline.clients.models import ExistingProduct, to_json
from sync_pipeline.sync.changes import (
    OWNED_CATEGORY_KEY,
    OWNED_IMAGES_KEY,
    OWNED_TAGS_KEY,
    StoreContext,
)
from sync_pipeline.sync.mapping import SourceCategory
from sync_pipeline.sync.payloads import build_create, build_update, category_fields

STORE = StoreContext(currency_code="usd", sales_channel_id="sc_1", shipping_profile_id="sp_1")
STOCKED_STORE = StoreContext(
    currency_code="usd", sales_channel_id="sc_1", shipping_profile_id="sp_1", stock_location_id="sl"
)


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
    assert meta["brand"] == "Essence" and meta["rating"] == 2.56
    # The stock is the inventory level's, not a metadata copy that would go stale.
    assert "stock" not in meta and "availability_status" not in meta
    assert meta["discount_percentage"] == 10.48
    assert meta[OWNED_CATEGORY_KEY] == "cat_beauty"
    assert meta[OWNED_TAGS_KEY] == ["tag_a", "tag_b"]


def test_missing_brand_is_left_out_not_null(normalized):
    body = to_json(build_create(normalized[16], STORE, "cat", []))
    assert "brand" not in body["metadata"]


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


def test_create_manages_inventory_when_the_sync_owns_stock(normalized):
    body = to_json(build_create(normalized[1], STOCKED_STORE, "cat", []))
    assert body["variants"][0]["manage_inventory"] is True
    assert normalized[1].stock == 99


def _existing_with_variant(**variant) -> ExistingProduct:
    return ExistingProduct.model_validate(
        {
            "id": "prod_1",
            "external_id": "dummyjson:1",
            "metadata": {"stock": 99, "availability_status": "In Stock", "brand": "Essence"},
            "variants": [{"id": "var_1", "sku": "BEA-ESS-ESS-001", **variant}],
        }
    )


@pytest.mark.parametrize(
    ("store", "manage_inventory", "sent"),
    [
        (STOCKED_STORE, False, True),  # turned on: Medusa then gives it an inventory item
        (STOCKED_STORE, True, None),  # already on: not sent again
        (STORE, False, None),  # stock sync off: the merchant's setting is never touched
    ],
)
def test_update_turns_inventory_on_only_when_needed(normalized, store, manage_inventory, sent):
    existing = _existing_with_variant(manage_inventory=manage_inventory)
    body = to_json(build_update(normalized[1], existing, store, "cat", []))
    assert body["variants"][0].get("manage_inventory") == sent


def test_update_removes_the_metadata_keys_of_older_mappings(normalized):
    body = to_json(build_update(normalized[1], _existing_with_variant(), STORE, "cat", []))
    assert body["metadata"]["stock"] == "" and body["metadata"]["availability_status"] == ""
    assert body["metadata"]["brand"] == "Essence"


def test_a_category_is_created_under_its_slug_with_the_source_in_its_metadata():
    url = "https://dummyjson.com/products/category/home-decoration"
    current = category_fields(SourceCategory("home-decoration", "Home Decoration", url))
    assert current == {
        "name": "Home Decoration",
        "handle": "home-decoration",
        "metadata": {"source": "dummyjson", "source_slug": "home-decoration", "source_url": url},
    }
    legacy = category_fields(SourceCategory("laptops", "Laptops"))  # the old shape has no url
    assert legacy["metadata"] == {"source": "dummyjson", "source_slug": "laptops"}
