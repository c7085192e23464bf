"""The floor: the sync's Medusa writes made directly, with no Dagster and no lookups.

What it writes is what a full sync into an empty store writes, built with the project's own
mapping: the store's currency (if missing), every source category, every tag value (one
request each, Medusa has no batch endpoint for them: created concurrently, bounded), then
``POST /admin/products/batch`` creates of the same payloads, cut into the same batches as the
sync (pages of ``page_size``, batches of ``batch_size`` within a page), one after another,
and after each page the one request holding its products' stock levels (as the sync writes
them, with stock on).

The catalog is read from the source and mapped before the clock starts; the clock covers
every Medusa request. Run alone against an empty store::

    python -m bench.floor --source http://127.0.0.1:PORT   # the stack's URL and key by default
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from sync_pipeline.clients.dummyjson import DummyJSONClient
from sync_pipeline.clients.medusa import MedusaClient
from sync_pipeline.clients.models import to_json
from sync_pipeline.sync.mapping import (
    NormalizedProduct,
    SourceCategory,
    normalize_categories,
    normalize_products,
)
from sync_pipeline.sync.payloads import build_create, category_fields
from sync_pipeline.sync.product_lookup import BATCH_RESPONSE_FIELDS
from sync_pipeline.sync.store_setup import CREATE_CONCURRENCY, ensure_store

CREATE_FIELDS = f"{BATCH_RESPONSE_FIELDS},variants.inventory_items.inventory_item_id"

FETCH_PAGE = 1000


@dataclass
class FloorResult:
    products: int
    categories: int
    tags: int
    batches: int
    seconds: float
    reads: int
    writes: int
    phases: dict[str, float] = field(default_factory=dict)
    batch_seconds: list[float] = field(default_factory=list)
    page_size: int = 100
    batch_size: int = 100
    concurrency: int = CREATE_CONCURRENCY

    @property
    def creation_writes(self) -> int:
        """Single-item creates (categories and tags), which have no batch endpoint."""
        return self.categories + self.tags

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "creation_writes": self.creation_writes}


def read_source(source_url: str) -> tuple[list[SourceCategory], list[NormalizedProduct]]:
    """The source's categories and products, validated and mapped as the sync does."""
    client = DummyJSONClient(source_url)
    try:
        categories = normalize_categories(client.fetch_categories())
        raw: list[dict[str, Any]] = []
        while True:
            page = client.fetch_page(skip=len(raw), limit=FETCH_PAGE)
            raw.extend(page.products)
            if not page.products or len(raw) >= page.total:
                break
    finally:
        client.close()
    products, rejected = normalize_products(raw)
    if rejected:
        reasons = "; ".join(f"{r.source_id}: {r.reason}" for r in rejected[:5])
        print(f"floor: {len(rejected)} source records set aside ({reasons})", file=sys.stderr)
    return categories, products


def _create_all(items: list[Any], create) -> dict[Any, str]:
    with ThreadPoolExecutor(max_workers=CREATE_CONCURRENCY) as pool:
        return dict(zip(items, pool.map(create, items), strict=True))


def batches(items: list[Any], page_size: int, batch_size: int) -> list[list[Any]]:
    """The sync's cut: pages of ``page_size``, then batches of ``batch_size`` within a page."""
    out = []
    for page_start in range(0, len(items), page_size):
        page = items[page_start : page_start + page_size]
        out.extend(page[i : i + batch_size] for i in range(0, len(page), batch_size))
    return out


def run_floor(
    client: MedusaClient,
    categories: list[SourceCategory],
    products: list[NormalizedProduct],
    *,
    currency_code: str = "usd",
    page_size: int = 100,
    batch_size: int = 100,
) -> FloorResult:
    """Write the catalog into an empty store; returns the time and requests it took."""
    before = dict(client.request_counts)
    phases: dict[str, float] = {}
    started = mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        phases[name] = round(now - mark, 3)
        mark = now

    store = ensure_store(client, currency_code)
    lap("store")

    def create_category(category: SourceCategory) -> str:
        return client.create_category(**category_fields(category)).id

    category_ids = {c.slug: i for c, i in _create_all(categories, create_category).items()}
    lap("categories")

    def create_tag(value: str) -> str:
        return client.create_tag(value).id

    tag_values = list(dict.fromkeys(t for p in products for t in p.tags))
    tag_ids = _create_all(tag_values, create_tag)
    lap("tags")

    bodies = [
        to_json(build_create(p, store, category_ids[p.category_slug], [tag_ids[t] for t in p.tags]))
        for p in products
    ]
    stock = {p.external_id: p.stock for p in products}
    pages = [bodies[i : i + page_size] for i in range(0, len(bodies), page_size)]
    batch_seconds = []
    for page in pages:
        levels: list[dict[str, Any]] = []
        for batch in batches(page, page_size, batch_size):
            sent = time.monotonic()
            created = client.batch_products(create=batch, fields=CREATE_FIELDS).created
            if len(created) != len(batch):
                raise RuntimeError(f"batch created {len(created)} of {len(batch)}")
            levels.extend(
                {
                    "inventory_item_id": row.variants[0].inventory_items[0].inventory_item_id,
                    "location_id": store.stock_location_id,
                    "stocked_quantity": stock[row.external_id],
                }
                for row in created
                if store.stock_location_id and stock[row.external_id] is not None
            )
            batch_seconds.append(round(time.monotonic() - sent, 3))
        if levels:  # the page's stock levels in one request, as the sync writes them
            client.batch_stock_levels(create=levels)
    lap("products")
    seconds = time.monotonic() - started
    return FloorResult(
        products=len(products),
        categories=len(categories),
        tags=len(tag_values),
        batches=len(batch_seconds),
        seconds=round(seconds, 3),
        reads=client.request_counts["read"] - before.get("read", 0),
        writes=client.request_counts["write"] - before.get("write", 0),
        phases=phases,
        batch_seconds=batch_seconds,
        page_size=page_size,
        batch_size=batch_size,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.floor",
        description="Write a source's catalog into an EMPTY Medusa store the shortest way, timed.",
    )
    parser.add_argument("--source", required=True, help="DummyJSON-compatible source URL")
    parser.add_argument("--medusa", help="Medusa URL (default: the local stack's)")
    parser.add_argument("--api-key", help="secret API key (default: the local stack's)")
    parser.add_argument("--currency", default="usd")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args(argv)
    if not (args.medusa and args.api_key):
        from sync_pipeline.local import stack

        info = stack.connection()
        args.medusa = args.medusa or info.base_url
        args.api_key = args.api_key or info.api_key
    categories, products = read_source(args.source)
    client = MedusaClient(args.medusa, api_key=args.api_key)
    try:
        result = run_floor(
            client,
            categories,
            products,
            currency_code=args.currency,
            page_size=args.page_size,
            batch_size=args.batch_size,
        )
    finally:
        client.close()
    print(json.dumps(result.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
