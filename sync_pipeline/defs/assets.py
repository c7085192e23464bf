"""The catalog sync as assets: DummyJSON pages → normalized products → Medusa products.

Categories and the store's settings are read once per sync (unpartitioned); products
move page by page (partitioned) so that a page that fails can be re-run on its own.
"""

import json
import os
import time
from collections import Counter
from dataclasses import dataclass

import dagster as dg

from sync_pipeline.defs.cycle import ids_on_earlier_pages
from sync_pipeline.defs.partitions import (
    CAPACITY,
    PAGE_COUNT,
    PAGE_SIZE,
    page_index,
    product_pages,
)
from sync_pipeline.defs.resources import DummyJSONResource, MedusaResource
from sync_pipeline.dummyjson import SourceError, SourceUnavailable
from sync_pipeline.mapping import (
    NormalizedProduct,
    RejectedRecord,
    SourceCategory,
    StoreContext,
    normalize_categories,
    normalize_products,
)
from sync_pipeline.store_setup import ensure_categories, ensure_store
from sync_pipeline.upsert import PlannedChange, ProductUpserter

GROUP = "catalog_sync"
OWNERS = ["team:data-engineering"]
CATALOG_FITS_CHECK = "catalog_fits_partitions"
RECORDS_SYNCED_CHECK = "all_records_synced"


class DoublingRetryPolicy(dg.RetryPolicy):
    """Exponential backoff that doubles: ``delay``, 2×, 4×… (Dagster's own gives 1×, 3×, 7×)."""

    def calculate_delay(self, attempt_num: int) -> float:
        return float(self.delay or 0) * 2 ** (attempt_num - 1)


def fetch_retry_policy() -> DoublingRetryPolicy:
    """1 s, 2 s, 4 s by default; ``SYNC_FETCH_RETRY_DELAY`` / ``SYNC_FETCH_MAX_RETRIES`` tune it."""
    return DoublingRetryPolicy(
        max_retries=int(os.getenv("SYNC_FETCH_MAX_RETRIES", "3")),
        delay=float(os.getenv("SYNC_FETCH_RETRY_DELAY", "1.0")),
        backoff=dg.Backoff.EXPONENTIAL,
    )


class MedusaProductsConfig(dg.Config):
    dry_run: bool = False
    """Compute what would be created, updated and left unchanged, and write nothing."""


@dataclass(frozen=True)
class NormalizedPage:
    products: list[NormalizedProduct]
    rejected: list[RejectedRecord]


def _records_table(records: list[RejectedRecord]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r.as_row()) for r in records],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn("source_id", "string"),
                dg.TableColumn("sku", "string"),
                dg.TableColumn("stage", "string"),
                dg.TableColumn("reason", "string"),
            ]
        ),
    )


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plan_markdown(plan: list[PlannedChange], limit: int = 200) -> str:
    """Creates and updates as a table a person can read; updates show ``field: old → new``."""
    if not plan:
        return "Nothing to create or update."
    lines = ["| source id | handle | action | changes |", "|---|---|---|---|"]
    for change in plan[:limit]:
        fields = "<br>".join(
            f"{name}: {_short(old)} → {_short(new)}" for name, (old, new) in change.changes.items()
        )
        lines.append(f"| {change.source_id} | {change.handle} | {change.action} | {fields} |")
    if len(plan) > limit:
        lines.append(f"| … | {len(plan) - limit} more | | |")
    return "\n".join(lines)


# --- categories and store (once per sync) --------------------------------------------------


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"dummyjson"},
    retry_policy=fetch_retry_policy(),
    description=(
        "The supplier's product categories (slug and display name), read from DummyJSON's "
        "/products/categories. Both the current shape and the old bare-slug shape are accepted."
    ),
)
def dummyjson_categories(
    context: dg.AssetExecutionContext, dummyjson: DummyJSONResource
) -> dg.Output[list[SourceCategory]]:
    client = dummyjson.get_client()
    try:
        categories = normalize_categories(client.fetch_categories())
    except SourceError as error:
        raise dg.Failure(str(error), allow_retries=isinstance(error, SourceUnavailable)) from error
    finally:
        client.close()
    context.log.info("%d categories in the source", len(categories))
    return dg.Output(
        categories,
        metadata={
            "categories": len(categories),
            "slugs": dg.MetadataValue.json([c.slug for c in categories]),
        },
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"medusa"},
    description=(
        "The Medusa store the catalog goes into: made to support the sync's currency, with the "
        "default sales channel and shipping profile every new product is attached to."
    ),
)
def medusa_store(context: dg.AssetExecutionContext, medusa: MedusaResource) -> dg.Output:
    meter = RequestMeter(medusa)
    store = ensure_store(meter.client, medusa.currency_code)
    context.log.info("Store ready: currency %s", store.currency_code)
    return dg.Output(
        store,
        metadata={
            "currency_code": store.currency_code,
            "sales_channel_id": store.sales_channel_id or "",
            "shipping_profile_id": store.shipping_profile_id or "",
            **meter.counts(),
        },
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"medusa"},
    description=(
        "Every source category as a Medusa product category (handle = slug, readable name, "
        "active, source in metadata), created once and found again by handle. "
        "The value is the {slug: category id} map the product pages link with."
    ),
)
def medusa_category_map(
    context: dg.AssetExecutionContext,
    dummyjson_categories: list[SourceCategory],
    medusa: MedusaResource,
) -> dg.Output[dict[str, str]]:
    meter = RequestMeter(medusa)
    slug_map, failures = ensure_categories(meter.client, dummyjson_categories)
    if failures:
        listing = "; ".join(f"{slug}: {error}" for slug, error in failures)
        raise dg.Failure(f"{len(failures)} categories could not be created: {listing}")
    context.log.info("%d categories mapped", len(slug_map))
    return dg.Output(
        slug_map,
        metadata={"categories": len(slug_map), **meter.counts()},
    )


# --- products, page by page --------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"dummyjson"},
    partitions_def=product_pages,
    retry_policy=fetch_retry_policy(),
    check_specs=[
        dg.AssetCheckSpec(
            CATALOG_FITS_CHECK,
            asset="dummyjson_product_pages",
            description="The source's total fits in the configured pages; else products are "
            "left out. Raise SYNC_PAGE_COUNT (or SYNC_PAGE_SIZE) when this fails.",
        )
    ],
    description=(
        f"One raw page of GET /products ({PAGE_SIZE} products per page, ordered by id so new "
        "products append at the end), kept as fetched so later steps can be replayed. "
        "Network failures are retried with exponential backoff; a 429 waits for Retry-After."
    ),
)
def dummyjson_product_pages(
    context: dg.AssetExecutionContext, dummyjson: DummyJSONResource
) -> dg.Output[dict]:
    skip = page_index(context.partition_key) * PAGE_SIZE
    client = dummyjson.get_client()
    try:
        page = client.fetch_page(skip=skip, limit=PAGE_SIZE)
    except SourceUnavailable as error:
        context.log.warning(
            "Page %s, attempt %d: %s", context.partition_key, context.retry_number + 1, error
        )
        raise
    except SourceError as error:
        raise dg.Failure(str(error), allow_retries=False) from error
    finally:
        client.close()
    fits = page.total <= CAPACITY
    if not fits:
        context.log.error(
            "The source has %d products but %d pages of %d hold only %d: raise SYNC_PAGE_COUNT",
            page.total,
            PAGE_COUNT,
            PAGE_SIZE,
            CAPACITY,
        )
    yield dg.Output(
        page.model_dump(),
        metadata={
            "products": len(page.products),
            "skip": skip,
            "total": page.total,
            "fetch_attempts": context.retry_number + 1,
            "rate_limit_waits": client.rate_limit_waits,
        },
    )
    yield dg.AssetCheckResult(
        check_name=CATALOG_FITS_CHECK,
        passed=fits,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"total": page.total, "capacity": CAPACITY, "page_count": PAGE_COUNT},
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python"},
    partitions_def=product_pages,
    description=(
        "The page's products validated and mapped to what the sync writes (handle, price in "
        "major units, images, tags, metadata). Invalid records are set aside with the reason; "
        "they never stop the rest of the page."
    ),
)
def normalized_products(
    context: dg.AssetExecutionContext, dummyjson_product_pages: dict
) -> dg.Output[NormalizedPage]:
    earlier = ids_on_earlier_pages(context.instance, context.partition_key)
    products, rejected = normalize_products(dummyjson_product_pages["products"], earlier)
    for record in rejected:
        context.log.warning("Record %s set aside: %s", record.source_id, record.reason)
    raw_ids = [r.get("id") for r in dummyjson_product_pages["products"] if isinstance(r, dict)]
    return dg.Output(
        NormalizedPage(products, rejected),
        metadata={
            "valid": len(products),
            "rejected": len(rejected),
            "rejected_records": _records_table(rejected),
            "total": dummyjson_product_pages["total"],
            # Which source ids this page saw: archival needs the whole cycle's ids.
            "source_ids": dg.MetadataValue.json(
                sorted({i for i in raw_ids if isinstance(i, int) and not isinstance(i, bool)})
            ),
        },
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"medusa"},
    partitions_def=product_pages,
    check_specs=[
        dg.AssetCheckSpec(
            RECORDS_SYNCED_CHECK,
            asset="medusa_products",
            description="Every source record of the page is in Medusa; the failed ones are "
            "listed with source id, SKU, stage and reason.",
        )
    ],
    output_required=False,
    description=(
        "The page's products upserted into Medusa: looked up by external id (dummyjson:{id}), "
        "created or updated through /admin/products/batch, linked to their category and tags, "
        "left alone when unchanged. A page with any failed record fails (red) after writing "
        "every good record, so it can be re-run on its own. With dry_run, nothing is written: "
        "the plan is recorded as an observation instead of a materialization."
    ),
)
def medusa_products(
    context: dg.AssetExecutionContext,
    config: MedusaProductsConfig,
    normalized_products: NormalizedPage,
    medusa_category_map: dict[str, str],
    medusa_store: StoreContext,
    medusa: MedusaResource,
):
    started = time.monotonic()
    meter = RequestMeter(medusa)
    upserter = ProductUpserter(
        meter.client,
        medusa_store,
        medusa_category_map,
        batch_size=medusa.batch_size,
        dry_run=config.dry_run,
    )
    result = upserter.run(normalized_products.products)
    failures = normalized_products.rejected + result.failures
    if config.dry_run:
        yield dg.AssetObservation(
            asset_key=context.asset_key,
            partition=context.partition_key,
            metadata={
                "dry_run": True,
                "would_create": result.created,
                "would_update": result.updated,
                "unchanged": result.unchanged,
                "would_fail": len(failures),
                "new_categories": dg.MetadataValue.json(result.new_categories),
                "new_tags": dg.MetadataValue.json(result.new_tags),
                "plan": dg.MetadataValue.md(plan_markdown(result.plan)),
                "failed_records": _records_table(failures),
                **meter.counts(),
            },
        )
        # Dagster requires the check's result; it says which records a real run would fail.
        yield dg.AssetCheckResult(
            check_name=RECORDS_SYNCED_CHECK,
            passed=not failures,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"dry_run": True, "failed_records": _records_table(failures)},
        )
        return
    counts = {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "failed": len(failures),
        "seconds": round(time.monotonic() - started, 3),
        **meter.counts(),
    }
    context.log.info("Page %s: %s", context.partition_key, counts)
    yield dg.AssetCheckResult(
        check_name=RECORDS_SYNCED_CHECK,
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={**counts, "failed_records": _records_table(failures)},
    )
    if failures:
        listing = "; ".join(f"{f.source_id} ({f.sku or 'no sku'}): {f.reason}" for f in failures)
        raise dg.Failure(
            f"Page {context.partition_key}: {len(failures)} record(s) not synced: {listing}",
            metadata={**counts, "failed_records": _records_table(failures)},
            allow_retries=False,
        )
    yield dg.MaterializeResult(
        metadata={**counts, "changes": dg.MetadataValue.md(plan_markdown(result.plan))}
    )


class RequestMeter:
    """Medusa requests made by one step (the client may be shared by the run's steps)."""

    def __init__(self, medusa: MedusaResource) -> None:
        self.client = medusa.get_client()
        self.before = Counter(self.client.request_counts)

    def counts(self) -> dict[str, int]:
        used = self.client.request_counts - self.before
        return {"medusa_reads": used["read"], "medusa_writes": used["write"]}
