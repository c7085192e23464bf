"""One page of products into Medusa: link, look up, plan, write, then set stock.

Each step has its own module: ``taxonomy`` makes the page's categories and tags exist,
``product_lookup`` reads what Medusa holds, ``page_plan`` decides (without I/O) what to
create, update or leave alone, and ``product_writer`` sends the batches and recovers from
what fails. This module runs them in order and adds up what happened; a dry run stops after
the plan, writing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sync_pipeline.clients.medusa import MedusaClient
from sync_pipeline.clients.models import ExistingProduct
from sync_pipeline.sync.changes import StoreContext
from sync_pipeline.sync.inventory import StockResult, StockWriter
from sync_pipeline.sync.mapping import NormalizedProduct, RejectedRecord
from sync_pipeline.sync.page_plan import Action, PlannedChange, is_current, plan_page
from sync_pipeline.sync.product_lookup import ProductLookup
from sync_pipeline.sync.product_writer import ProductWriter
from sync_pipeline.sync.sale_prices import SalePriceWriter
from sync_pipeline.sync.taxonomy import link_page


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failures: list[RejectedRecord] = field(default_factory=list)
    ambiguous_retries: int = 0
    plan: list[PlannedChange] = field(default_factory=list)
    new_categories: list[str] = field(default_factory=list)
    new_tags: list[str] = field(default_factory=list)
    stock: StockResult = field(default_factory=StockResult)
    sale_written: int = 0

    @property
    def failed(self) -> int:
        return len(self.failures)


class ProductUpserter:
    """Plans and writes one page of products; with ``dry_run`` it only plans (no writes)."""

    def __init__(
        self,
        client: MedusaClient,
        store: StoreContext,
        category_ids: dict[str, str],
        *,
        batch_size: int = 100,
        dry_run: bool = False,
    ) -> None:
        self.client = client
        self.store = store
        self.category_ids = category_ids
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.result = UpsertResult()

    def run(self, products: list[NormalizedProduct]) -> UpsertResult:
        if not products:
            return self.result
        result = self.result
        lookup = ProductLookup(self.client, self.store, {p.external_id: p.sku for p in products})
        page = link_page(self.client, products, self.category_ids, dry_run=self.dry_run)
        result.failures.extend(page.failures)
        result.new_categories, result.new_tags = page.new_categories, page.new_tags
        existing = lookup.find([p.external_id for p in page.products], lookup.fingerprint_fields)
        stale = [
            existing[p.external_id].id
            for p in page.products
            if p.external_id in existing and not is_current(p, existing[p.external_id], self.store)
        ]
        if stale:  # what an update must rebuild: variants, prices, images, links
            existing.update(lookup.find_by_id(stale))
        plan = plan_page(page.products, existing, self.store, page.links)
        result.unchanged, result.plan = plan.unchanged, plan.changes
        result.failures.extend(plan.failures)
        if self.dry_run:
            result.created = sum(w.action is Action.CREATE for w in plan.writes)
            result.updated = len(plan.writes) - result.created
        else:
            writer = ProductWriter(
                self.client, self.store, page.links, lookup, batch_size=self.batch_size
            )
            written = writer.run(plan.writes)
            result.created, result.updated = written.created, written.updated
            result.ambiguous_retries = written.ambiguous_retries
            result.failures.extend(written.failures)
            self._sync_sale_prices([w.product for w in plan.writes], written.written)
        if self.store.manages_inventory:
            self._sync_stock(page.products, lookup)
        return result

    def _sync_sale_prices(
        self, products: list[NormalizedProduct], written: dict[str, ExistingProduct]
    ) -> None:
        failed = {f.source_id for f in self.result.failures}
        sale = SalePriceWriter(self.client, self.store).run(
            [p for p in products if str(p.source_id) not in failed], written
        )
        self.result.sale_written = sale.written
        self.result.failures.extend(sale.failures)

    def _sync_stock(self, products: list[NormalizedProduct], lookup: ProductLookup) -> None:
        assert self.store.stock_location_id is not None
        failed = {f.source_id for f in self.result.failures}
        writer = StockWriter(
            self.client, self.store.stock_location_id, lookup.find, dry_run=self.dry_run
        )
        synced = [p for p in products if str(p.source_id) not in failed]
        self.result.stock = writer.run(synced, lookup.stock_states)
        self.result.failures.extend(self.result.stock.failures)
        handles = {change.source_id: change.handle for change in self.result.plan}
        for change in self.result.stock.changes:
            if change.old is not None:
                product = change.product
                self.result.plan.append(
                    PlannedChange(
                        product.source_id,
                        handles.get(product.source_id, product.handle),
                        Action.STOCK,
                        {"stock": (change.old, change.new)},
                    )
                )
