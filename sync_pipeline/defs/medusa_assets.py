"""The target side of the sync: the Medusa store, its categories, and the products, page by
page (a page that fails can be re-run on its own)."""

import json
import time
from collections import Counter

import dagster as dg

from sync_pipeline.clients.medusa_release import UnsupportedMedusa, learn_release
from sync_pipeline.defs.dummyjson_assets import GROUP, OWNERS
from sync_pipeline.defs.partitions import product_pages
from sync_pipeline.defs.reports import RequestCounts, RulesReport, WriteReport
from sync_pipeline.defs.resources import MedusaResource, MerchantRulesResource
from sync_pipeline.settings import SyncSettings
from sync_pipeline.sync.changes import StoreContext
from sync_pipeline.sync.mapping import NormalizedPage, SourceCategory
from sync_pipeline.sync.page_plan import PlannedChange
from sync_pipeline.sync.rules import RulesError
from sync_pipeline.sync.store_setup import (
    StoreSetupError,
    ensure_categories,
    ensure_store,
    storefront_gaps,
)
from sync_pipeline.sync.upsert import ProductUpserter

RECORDS_SYNCED_CHECK = "all_records_synced"
STOREFRONT_CHECK = "storefront_ready"
# Steps that write products to Medusa share this pool; its limit (SYNC_MEDUSA_CONCURRENCY)
# is how many pages write at once.
MEDUSA_POOL = "medusa"


class MedusaProductsConfig(dg.Config):
    dry_run: bool = False
    """Compute what would be created, updated and left unchanged, and write nothing."""


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


class RequestMeter:
    """Medusa requests made by one step (the client may be shared by the run's steps)."""

    def __init__(self, medusa: MedusaResource) -> None:
        self.client = medusa.get_client()
        self.before = Counter(self.client.request_counts)

    def counts(self) -> RequestCounts:
        used = self.client.request_counts - self.before
        return RequestCounts(reads=used["read"], writes=used["write"])


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"medusa"},
    check_specs=[
        dg.AssetCheckSpec(
            STOREFRONT_CHECK,
            asset="medusa_store",
            description="A storefront can sell the synced products: a region in the sync's "
            "currency, a publishable API key and a stock location on the products' sales "
            "channel. A warning names each missing piece and the admin screen or Admin API "
            "call that adds it; the sync never creates them in a store it did not make.",
        )
    ],
    description=(
        "The Medusa store the catalog goes into: checked to run a supported release (2.8 or "
        "later), made to support the sync's currency, with the default sales channel and "
        "shipping profile every new product is attached to, and the stock location the "
        "supplier's stock goes to. The merchant's rules (SYNC_RULES_FILE) are checked here, "
        "before anything is written, and shown with their digest."
    ),
)
def medusa_store(
    context: dg.AssetExecutionContext, medusa: MedusaResource, rules: MerchantRulesResource
):
    meter = RequestMeter(medusa)
    try:
        merchant_rules = rules.load()
        release = learn_release(meter.client)
        store = ensure_store(
            meter.client,
            medusa.currency_code,
            inventory=medusa.inventory,
            stock_location_id=medusa.stock_location_id,
        )
    except (RulesError, StoreSetupError, UnsupportedMedusa) as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    rules_report = RulesReport.of(rules.rules_file, merchant_rules)
    gaps = storefront_gaps(meter.client, store)
    for gap in gaps:
        context.log.warning("Storefront: %s", gap)
    context.log.info("Store ready: currency %s", store.currency_code)
    yield dg.Output(
        store,
        metadata={
            "medusa_release": release.label,
            "currency_code": store.currency_code,
            "sales_channel_id": store.sales_channel_id or "",
            "shipping_profile_id": store.shipping_profile_id or "",
            "stock_location_id": store.stock_location_id or "(stock not synced)",
            **rules_report.to_metadata(),
            **meter.counts().to_metadata(),
        },
    )
    yield dg.AssetCheckResult(
        check_name=STOREFRONT_CHECK,
        passed=not gaps,
        severity=dg.AssetCheckSeverity.WARN,
        description="\n".join(gaps) or "Region, publishable key and stock location in place.",
        metadata={"missing": dg.MetadataValue.json(gaps)},
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"medusa"},
    # After the store step: a store on a release the sync does not support gets no category.
    deps=[medusa_store],
    description=(
        "Every source category as a Medusa product category (handle = slug, readable name, "
        "active, source in metadata), created once and found again by handle, once the store "
        "step has found the store fit. "
        "The value is the {slug: category id} map the product pages link with."
    ),
)
def medusa_category_map(
    context: dg.AssetExecutionContext,
    dummyjson_categories: list[SourceCategory],
    medusa: MedusaResource,
    rules: MerchantRulesResource,
) -> dg.Output[dict[str, str]]:
    _check_rule_categories(rules, {c.slug for c in dummyjson_categories})
    meter = RequestMeter(medusa)
    slug_map, failures = ensure_categories(meter.client, dummyjson_categories)
    if failures:
        listing = "; ".join(f"{slug}: {error}" for slug, error in failures)
        raise dg.Failure(f"{len(failures)} categories could not be created: {listing}")
    context.log.info("%d categories mapped", len(slug_map))
    return dg.Output(
        slug_map,
        metadata={"categories": len(slug_map), **meter.counts().to_metadata()},
    )


def _check_rule_categories(rules: MerchantRulesResource, source_slugs: set[str]) -> None:
    """Before any category is made: the rules name only categories the source has."""
    try:
        merchant_rules = rules.load()
    except RulesError as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    unknown = merchant_rules.unknown_categories(source_slugs) if merchant_rules else None
    if unknown:
        raise dg.Failure(f"SYNC_RULES_FILE={rules.rules_file}: {unknown}", allow_retries=False)


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"medusa"},
    partitions_def=product_pages,
    pool=MEDUSA_POOL,
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
        "left alone when unchanged; each variant's stock level at the stock location set from "
        "the source's stock when it differs (stock_set); with the merchant's sale rule, each "
        "discounted variant's price in the sync's sale price list (sale_prices_set). A page "
        "with any failed record fails "
        "(red) after writing every good record, so it can be re-run on its own. With dry_run, "
        "nothing is written: the plan is recorded as an observation instead of a materialization."
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
    report = WriteReport(
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        failed_records=normalized_products.rejected + result.failures,
        requests=meter.counts(),
        seconds=time.monotonic() - started,
        changes=plan_markdown(result.plan),
        dry_run=config.dry_run,
        stock_set=result.stock.written,
        sale_prices_set=result.sale_written,
    )
    metadata = report.to_metadata()
    if config.dry_run:
        yield dg.AssetObservation(
            asset_key=context.asset_key,
            partition=context.partition_key,
            metadata={
                **metadata,
                "new_categories": dg.MetadataValue.json(result.new_categories),
                "new_tags": dg.MetadataValue.json(result.new_tags),
            },
        )
    context.log.info("Page %s: %s", context.partition_key, report.counts())
    # In a dry run, the check says which records a real run would fail (a warning).
    yield dg.AssetCheckResult(
        check_name=RECORDS_SYNCED_CHECK,
        passed=not report.failed_records,
        severity=dg.AssetCheckSeverity.WARN if config.dry_run else dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
    if config.dry_run:
        return
    if report.failed_records:
        listing = "; ".join(
            f"{f.source_id} ({f.sku or 'no sku'}): {f.reason}" for f in report.failed_records
        )
        raise dg.Failure(
            f"Page {context.partition_key}: {report.failed} record(s) not synced: {listing}",
            metadata=metadata,
            allow_retries=False,
        )
    yield dg.MaterializeResult(metadata=metadata)


def freshness_policy(settings: SyncSettings) -> dg.FreshnessPolicy:
    """Stale when the nightly sync has not written products by ``SYNC_FRESHNESS_DEADLINE``:
    fresh only with a materialization between the schedule's last tick before the deadline
    and the deadline (00:00–02:00 UTC by default), or any time after a missed deadline.

    Dagster evaluates it per asset, not per partition: the latest materialization of any page
    counts (a failed page is the failure alert's business).
    """
    return dg.FreshnessPolicy.cron(
        deadline_cron=settings.freshness_deadline_cron,
        lower_bound_delta=settings.freshness_window,
        timezone="UTC",
    )


def with_freshness(assets_def: dg.AssetsDefinition, settings: SyncSettings) -> dg.AssetsDefinition:
    """``medusa_products`` with the freshness policy of ``settings`` (which the decorator, at
    import time, cannot know)."""
    policy = freshness_policy(settings)
    return assets_def.map_asset_specs(lambda spec: spec.replace_attributes(freshness_policy=policy))
