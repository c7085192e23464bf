"""The exact catalog, and nothing twice: what the resilience scenarios and the release matrix
(``bench.compat``) end with. Test tooling: it asserts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sync_pipeline.clients.medusa import MedusaClient

STORE_PRODUCT_FIELDS = (
    "id,handle,title,external_id,status,metadata,updated_at,*categories,*variants,"
    "*variants.prices,*images,*tags,*sales_channels,"
    "variants.inventory_items.inventory.location_levels.stocked_quantity"
)


def read_store_catalog(client: MedusaClient) -> tuple[list[dict], list[dict]]:
    """What Medusa holds now: ``(categories, products)``, every row."""
    categories = client.list_all(
        "/admin/product-categories",
        "product_categories",
        {"fields": "id,handle,name,is_active,metadata"},
    )
    products = client.list_all(
        "/admin/products", "products", {"fields": STORE_PRODUCT_FIELDS}, page_size=200
    )
    return categories, products


def assert_exact_catalog(
    medusa_client: MedusaClient,
    store_catalog: Callable[[], tuple[list[dict], list[dict]]],
    expected: list[dict[str, Any]],
    *,
    currency: str = "usd",
    exact_tags: bool = True,
    categories: set[str] | None = None,
) -> None:
    """Medusa holds exactly ``expected`` (raw source records): one product per external id,
    its price, SKU, stock level, category link and tags; every category and tag once. With
    ``exact_tags=False`` other tags may exist (a record that failed after its tags were made);
    ``categories``: the category handles expected, when not exactly those of ``expected``."""
    stored_categories, products = store_catalog()

    handles = Counter(c["handle"] for c in stored_categories)
    assert not [h for h, n in handles.items() if n > 1], f"duplicate categories: {handles}"
    assert set(handles) == (categories or {raw["category"] for raw in expected})
    category_by_id = {c["id"]: c["handle"] for c in stored_categories}

    external_ids = Counter(p["external_id"] for p in products)
    duplicates = sorted(e for e, n in external_ids.items() if n > 1)
    assert not duplicates, f"duplicate products by external id: {duplicates}"
    assert len(products) == len(expected), (len(products), len(expected))
    assert set(external_ids) == {f"dummyjson:{raw['id']}" for raw in expected}

    by_external_id = {p["external_id"]: p for p in products}
    for raw in expected:
        product = by_external_id[f"dummyjson:{raw['id']}"]
        where = f"product {raw['id']}"
        assert product["status"] == "published", where
        assert [category_by_id[c["id"]] for c in product["categories"]] == [raw["category"]], where
        (variant,) = product["variants"]
        assert variant["sku"] == raw.get("sku"), where
        amounts = [p["amount"] for p in variant["prices"] if p["currency_code"] == currency]
        assert [Decimal(str(a)) for a in amounts] == [Decimal(str(raw["price"]))], where
        levels = [
            level["stocked_quantity"]
            for item in variant["inventory_items"]
            for level in item["inventory"]["location_levels"]
        ]
        assert levels == [raw["stock"]], where  # one item, one level: never made twice
        wanted_tags = sorted({t.strip() for t in raw.get("tags") or [] if t.strip()})
        assert sorted(t["value"] for t in product["tags"]) == wanted_tags, where

    tags = medusa_client.list_all("/admin/product-tags", "product_tags", {"fields": "id,value"})
    values = Counter(t["value"] for t in tags)
    assert not [v for v, n in values.items() if n > 1], f"duplicate tags: {values}"
    wanted = {t.strip() for raw in expected for t in raw.get("tags") or [] if t.strip()}
    if exact_tags:
        assert set(values) == wanted
    else:
        assert wanted <= set(values)
