"""The source side of the sync: DummyJSON's categories, its catalog size, and its pages.

Built by ``build_dummyjson_assets(settings)`` because the fetch's retry policy is part of
an asset's definition and comes from the settings.
"""

import functools
from collections.abc import Callable
from typing import TypeVar

import dagster as dg

from sync_pipeline.clients.dummyjson import DummyJSONClient, SourceError, SourceUnavailable
from sync_pipeline.defs.cycle import ids_on_earlier_pages
from sync_pipeline.defs.partitions import (
    page_index,
    page_key,
    page_keys,
    product_pages,
    register_pages,
)
from sync_pipeline.defs.reports import CatalogReport, FetchReport, NormalizeReport
from sync_pipeline.defs.resources import DummyJSONResource, MerchantRulesResource
from sync_pipeline.settings import SyncSettings
from sync_pipeline.sync.mapping import (
    NormalizedPage,
    SourceCategory,
    normalize_categories,
    normalize_products,
)
from sync_pipeline.sync.rules import RulesError, apply_rules

T = TypeVar("T")
GROUP = "catalog_sync"
OWNERS = ["team:data-engineering"]


class DoublingRetryPolicy(dg.RetryPolicy):
    """Exponential backoff that doubles: ``delay``, 2×, 4×… (Dagster's own gives 1×, 3×, 7×)."""

    def calculate_delay(self, attempt_num: int) -> float:
        return float(self.delay or 0) * 2 ** (attempt_num - 1)


def fetch_retry_policy(settings: SyncSettings) -> DoublingRetryPolicy:
    """1 s, 2 s, 4 s by default (``SYNC_FETCH_RETRY_DELAY`` / ``SYNC_FETCH_MAX_RETRIES``)."""
    return DoublingRetryPolicy(
        max_retries=settings.fetch_max_retries,
        delay=settings.fetch_retry_delay,
        backoff=dg.Backoff.EXPONENTIAL,
    )


def _source_failure(error: SourceError) -> dg.Failure:
    """A failure that may pass is retried by the policy; one that will not, is not."""
    return dg.Failure(str(error), allow_retries=isinstance(error, SourceUnavailable))


def _source_id(record: object) -> int | None:
    """A raw record's id, if it has a usable one."""
    value = record.get("id") if isinstance(record, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _read(dummyjson: DummyJSONResource, request: Callable[[DummyJSONClient], T]) -> T:
    """One request through a fresh client; a source error becomes the step's failure."""
    client = dummyjson.get_client()
    try:
        return request(client)
    except SourceError as error:
        raise _source_failure(error) from error
    finally:
        client.close()


_SourceAsset = Callable[..., Callable[[Callable[..., object]], dg.AssetsDefinition]]


def _source_asset(settings: SyncSettings) -> _SourceAsset:
    """``dg.asset`` with what every asset that reads DummyJSON shares, so it is said once."""
    return functools.partial(
        dg.asset,
        group_name=GROUP,
        owners=OWNERS,
        kinds={"dummyjson"},
        retry_policy=fetch_retry_policy(settings),
    )


def _categories_asset(source_asset: _SourceAsset) -> dg.AssetsDefinition:
    """The source's categories, which the store's categories are made from."""

    @source_asset(
        description=(
            "The supplier's product categories (slug and display name), read from DummyJSON's "
            "/products/categories. Both the current shape and the old bare-slug shape are "
            "accepted."
        ),
    )
    def dummyjson_categories(
        context: dg.AssetExecutionContext, dummyjson: DummyJSONResource
    ) -> dg.Output[list[SourceCategory]]:
        categories = normalize_categories(_read(dummyjson, DummyJSONClient.fetch_categories))
        context.log.info("%d categories in the source", len(categories))
        return dg.Output(
            categories,
            metadata={
                "categories": len(categories),
                "slugs": dg.MetadataValue.json([c.slug for c in categories]),
            },
        )

    return dummyjson_categories


def _catalog_asset(source_asset: _SourceAsset) -> dg.AssetsDefinition:
    """The catalog's size, which decides the page partitions a sync cycle runs."""

    @source_asset(
        description=(
            "How many products the source has now, and so which pages a sync needs. Each "
            "materialization starts a sync cycle: it adds the pages the catalog needs to the "
            "product_pages partitions and retires the pages it no longer needs."
        ),
    )
    def dummyjson_catalog(
        context: dg.AssetExecutionContext, dummyjson: DummyJSONResource
    ) -> dg.MaterializeResult:
        total = _read(dummyjson, DummyJSONClient.fetch_total)
        needed = page_keys(total, dummyjson.page_size)
        added, retired = register_pages(context.instance, needed, retire=True)
        context.log.info(
            "%d products: pages %s (added %s, retired %s)", total, needed, added, retired
        )
        report = CatalogReport(total, dummyjson.page_size, needed, added, retired)
        return dg.MaterializeResult(metadata=report.to_metadata())

    return dummyjson_catalog


def _product_pages_asset(
    source_asset: _SourceAsset, catalog: dg.AssetsDefinition, page_size: int
) -> dg.AssetsDefinition:
    """One raw page per partition, kept as fetched so the later steps can be replayed."""

    @source_asset(
        partitions_def=product_pages,
        deps=[catalog],
        description=(
            f"One raw page of GET /products ({page_size} products per page, ordered "
            "by id so new products append at the end), kept as fetched so later steps can be "
            "replayed. Network failures are retried with exponential backoff; a 429 waits for "
            "Retry-After. A page that sees more products than the catalog read adds the pages "
            "they need. From page 001 on, the previous page's last record is read too (and "
            "not kept), so an id on two pages is caught whichever page runs first."
        ),
    )
    def dummyjson_product_pages(
        context: dg.AssetExecutionContext, dummyjson: DummyJSONResource
    ) -> dg.Output[dict]:
        index = page_index(context.partition_key)
        skip = index * dummyjson.page_size
        # From page 001 on, one record more at the front: the previous page's last one. Pages
        # are sorted by id, so an id on two pages always meets itself at a page boundary, and
        # this page finds it whichever page runs first (pages may run side by side).
        overlap = 1 if skip else 0
        client = dummyjson.get_client()
        try:
            page = client.fetch_page(skip=skip - overlap, limit=dummyjson.page_size + overlap)
        except SourceUnavailable as error:
            context.log.warning(
                "Page %s, attempt %d: %s", context.partition_key, context.retry_number + 1, error
            )
            raise
        except SourceError as error:
            raise dg.Failure(str(error), allow_retries=False) from error
        finally:
            client.close()
        # Products added since the catalog was read land on later pages: make them known.
        added, _ = register_pages(
            context.instance, page_keys(page.total, dummyjson.page_size), retire=False
        )
        if added:
            context.log.warning("The source grew to %d products: pages %s added", page.total, added)
        boundary, products = page.products[:overlap], page.products[overlap:]
        report = FetchReport(
            products=len(products),
            skip=skip,
            total=page.total,
            fetch_attempts=context.retry_number + 1,
            rate_limit_waits=client.rate_limit_waits,
        )
        raw = {
            **page.model_dump(),
            "products": products,
            "skip": skip,
            "ids_at_previous_page_end": {
                r["id"]: page_key(index - 1) for r in boundary if _source_id(r) is not None
            },
        }
        return dg.Output(raw, metadata=report.to_metadata())

    return dummyjson_product_pages


def _normalized_products_asset() -> dg.AssetsDefinition:
    """A page's records validated and mapped: plain Python, so no source kind and no retries."""

    @dg.asset(
        group_name=GROUP,
        owners=OWNERS,
        kinds={"python"},
        partitions_def=product_pages,
        description=(
            "The page's products validated and mapped to what the sync writes (handle, price "
            "in major units, images, tags, metadata). Invalid records are set aside with the "
            "reason; they never stop the rest of the page. With the merchant's rules "
            "(SYNC_RULES_FILE): only the selected products, priced, put on sale and stocked "
            "by the rules; those left out are listed (left_out_by_selection)."
        ),
    )
    def normalized_products(
        context: dg.AssetExecutionContext,
        dummyjson_product_pages: dict,
        rules: MerchantRulesResource,
    ):
        try:
            merchant_rules = rules.load()
        except RulesError as error:
            raise dg.Failure(str(error), allow_retries=False) from None
        earlier = ids_on_earlier_pages(context.instance, context.partition_key)
        for source_id, key in dummyjson_product_pages.get("ids_at_previous_page_end", {}).items():
            earlier.setdefault(source_id, key)
        raw = dummyjson_product_pages["products"]
        products, rejected = normalize_products(raw, earlier)
        for record in rejected:
            context.log.warning("Record %s set aside: %s", record.source_id, record.reason)
        left_out: list[int] = []
        if merchant_rules:
            products, left_out = apply_rules(products, merchant_rules)
        raw_ids = [_source_id(r) for r in raw]
        report = NormalizeReport(
            valid=len(products),
            rejected=rejected,
            total=dummyjson_product_pages["total"],
            source_ids=sorted({i for i in raw_ids if i is not None}),
            left_out=sorted(left_out),
        )
        return dg.Output(NormalizedPage(products, rejected), metadata=report.to_metadata())

    return normalized_products


def build_dummyjson_assets(settings: SyncSettings) -> list[dg.AssetsDefinition]:
    source_asset = _source_asset(settings)
    categories = _categories_asset(source_asset)
    catalog = _catalog_asset(source_asset)
    pages = _product_pages_asset(source_asset, catalog, settings.page_size)
    return [categories, catalog, pages, _normalized_products_asset()]
