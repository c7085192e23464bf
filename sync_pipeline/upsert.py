"""Writing products into Medusa: lookup, plan (create / update / unchanged), batch writes.

Identity is the source id (``external_id = dummyjson:{id}``), never a page position, so a
re-run finds what an earlier run wrote. Medusa's batch endpoint is all-or-nothing, so a
rejected batch is split until the bad record is isolated; a batch whose answer was lost
is never blindly resent: the products are looked up again and only what is still
missing or stale is written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from sync_pipeline.changes import (
    StoreContext,
    changed_fields,
    fingerprint,
    owned_variant,
    stored_fingerprint,
)
from sync_pipeline.inventory import (
    INVENTORY_FIELDS,
    StockResult,
    StockState,
    StockWriter,
    stock_state,
)
from sync_pipeline.mapping import (
    NormalizedProduct,
    RejectedRecord,
    SourceCategory,
    category_handle,
    category_name,
)
from sync_pipeline.medusa import MedusaAuthError, MedusaClient, MedusaError, MedusaUnavailable
from sync_pipeline.models import ExistingProduct, to_json
from sync_pipeline.payloads import build_create, build_update
from sync_pipeline.store_setup import (
    AMBIGUOUS_WRITE_ATTEMPTS,
    ensure_categories,
    ensure_tags,
    find_categories,
    find_tags,
)

log = logging.getLogger(__name__)


PRODUCT_LOOKUP_FIELDS = ",".join(
    [
        "id",
        "handle",
        "external_id",
        "status",
        "title",
        "description",
        "thumbnail",
        "weight",
        "length",
        "height",
        "width",
        "metadata",
        "variants.id",
        "variants.sku",
        "variants.title",
        "variants.manage_inventory",
        "variants.prices.id",
        "variants.prices.amount",
        "variants.prices.currency_code",
        "images.id",
        "images.url",
        "categories.id",
        "categories.handle",
        "tags.id",
        "tags.value",
    ]
)
# Enough to tell an unchanged product (fingerprint, status): ~4x cheaper than the full
# lookup, which is only made for the products that will be written.
FINGERPRINT_FIELDS = "id,handle,external_id,status,metadata"
BATCH_RESPONSE_FIELDS = "id,handle,external_id"


# --- products -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedChange:
    """A product the sync creates or updates, with the owned fields that change (old, new)."""

    source_id: int
    handle: str
    action: str
    changes: dict[str, tuple[Any, Any]]


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

    @property
    def failed(self) -> int:
        return len(self.failures)


@dataclass(frozen=True)
class _Write:
    product: NormalizedProduct
    body: dict[str, Any]
    is_create: bool


def find_products(
    client: MedusaClient, external_ids: Iterable[str], fields: str = PRODUCT_LOOKUP_FIELDS
) -> dict[str, ExistingProduct]:
    """Existing products by external id."""
    return _by_external_id(client.find_products_by_external_id(external_ids, fields=fields))


def _by_external_id(products: Iterable[ExistingProduct]) -> dict[str, ExistingProduct]:
    """Products keyed by external id (the oldest wins if a duplicate ever slipped in)."""
    found: dict[str, ExistingProduct] = {}
    for product in products:
        if product.external_id and product.external_id not in found:
            found[product.external_id] = product
    return found


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
        self.category_ids = dict(category_ids)
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.tag_ids: dict[str, str] = {}
        self.result = UpsertResult()
        # With stock managed, every product read also reads its variant's inventory, so the
        # stock step knows the levels without another lookup.
        extra = f",{INVENTORY_FIELDS}" if store.manages_inventory else ""
        self.fingerprint_fields = FINGERPRINT_FIELDS + extra
        self.lookup_fields = PRODUCT_LOOKUP_FIELDS + extra
        self.response_fields = BATCH_RESPONSE_FIELDS + extra
        self.stock_states: dict[str, StockState] = {}
        self._skus: dict[str, str | None] = {}

    def run(self, products: list[NormalizedProduct]) -> UpsertResult:
        if not products:
            return self.result
        self._skus = {p.external_id: p.sku for p in products}
        products = self._with_categories(products)
        products = self._with_tags(products)
        existing = self._find([p.external_id for p in products], self.fingerprint_fields)
        stale = [
            existing[p.external_id].id
            for p in products
            if p.external_id in existing and not self._is_current(p, existing[p.external_id])
        ]
        if stale:  # what an update must rebuild: variants, prices, images, links
            existing.update(self._find_by_id(stale))
        writes = self._plan(products, existing)
        if self.dry_run:
            self.result.created = sum(w.is_create for w in writes)
            self.result.updated = len(writes) - self.result.created
        else:
            for start in range(0, len(writes), self.batch_size):
                self._write(
                    writes[start : start + self.batch_size], attempts_left=AMBIGUOUS_WRITE_ATTEMPTS
                )
        if self.store.manages_inventory:
            self._sync_stock(products)
        return self.result

    def _find(self, external_ids: list[str], fields: str) -> dict[str, ExistingProduct]:
        found = find_products(self.client, external_ids, fields)
        self._remember(found.values())
        return found

    def _find_by_id(self, ids: list[str]) -> dict[str, ExistingProduct]:
        found = _by_external_id(self.client.find_products_by_id(ids, fields=self.lookup_fields))
        self._remember(found.values())
        return found

    def _remember(self, products: Iterable[ExistingProduct]) -> None:
        """Keep the stock state of each product read (only when stock is managed)."""
        location = self.store.stock_location_id
        if location is None:
            return
        for product in products:
            if product.external_id in self._skus:
                sku = self._skus[product.external_id]
                self.stock_states[product.external_id] = stock_state(product, sku, location)

    def _sync_stock(self, products: list[NormalizedProduct]) -> None:
        failed = {f.source_id for f in self.result.failures}
        writer = StockWriter(
            self.client,
            self.store.stock_location_id,
            lambda ids: self._find(ids, self.lookup_fields),
            dry_run=self.dry_run,
        )
        synced = [p for p in products if str(p.source_id) not in failed]
        self.result.stock = writer.run(synced, self.stock_states)
        self.result.failures.extend(self.result.stock.failures)
        handles = {change.source_id: change.handle for change in self.result.plan}
        for change in self.result.stock.changes:
            if change.old is not None:
                product = change.product
                self.result.plan.append(
                    PlannedChange(
                        product.source_id,
                        handles.get(product.source_id, product.handle),
                        "stock",
                        {"stock": (change.old, change.new)},
                    )
                )

    # planning

    def _fail(self, product: NormalizedProduct, stage: str, reason: str) -> None:
        self.result.failures.append(
            RejectedRecord(str(product.source_id), product.sku, stage, reason)
        )

    def _with_categories(self, products: list[NormalizedProduct]) -> list[NormalizedProduct]:
        missing = {p.category_slug for p in products} - set(self.category_ids)
        if missing and self.dry_run:
            found = find_categories(self.client, [category_handle(s) for s in missing])
            for slug in sorted(missing):
                handle = category_handle(slug)
                if handle not in found:
                    self.result.new_categories.append(slug)
                self.category_ids[slug] = found.get(handle, f"(new category {slug})")
        elif missing:
            # The category map predates this page's categories: create them now.
            found, failures = ensure_categories(
                self.client, [SourceCategory(slug, category_name(slug)) for slug in sorted(missing)]
            )
            self.category_ids.update(found)
            for slug, error in failures:
                log.warning("Category %s could not be created: %s", slug, error)
        keep = []
        for product in products:
            if product.category_slug in self.category_ids:
                keep.append(product)
            else:
                self._fail(
                    product, "category", f"category {product.category_slug!r} is not in Medusa"
                )
        return keep

    def _with_tags(self, products: list[NormalizedProduct]) -> list[NormalizedProduct]:
        values = {t for p in products for t in p.tags}
        if self.dry_run:
            tag_ids, failures = (find_tags(self.client, values) if values else {}), []
            self.result.new_tags = sorted(values - set(tag_ids))
            tag_ids.update({v: f"(new tag {v})" for v in self.result.new_tags})
        else:
            tag_ids, failures = ensure_tags(self.client, values)
        failed = dict(failures)
        self.tag_ids = tag_ids
        keep = []
        for product in products:
            bad = [t for t in product.tags if t not in tag_ids]
            if bad:
                reasons = "; ".join(f"{t!r}: {failed.get(t, 'not created')}" for t in bad)
                self._fail(product, "tags", f"tag could not be created: {reasons}")
            else:
                keep.append(product)
        return keep

    def _plan(
        self, products: list[NormalizedProduct], existing: dict[str, ExistingProduct]
    ) -> list[_Write]:
        writes: list[_Write] = []
        for product in products:
            current = existing.get(product.external_id)
            if current and self._is_current(product, current):
                self.result.unchanged += 1
                continue
            try:
                writes.append(self._payload(product, current))
            except ValidationError as error:
                self._fail(product, "mapping", str(error))
                continue
            changes = changed_fields(product, current, self.store.currency_code) if current else {}
            action = "update" if current else "create"
            # Updates never change a handle (storefront URLs stay), so show the one in Medusa.
            handle = current.handle if current and current.handle else product.handle
            self.result.plan.append(PlannedChange(product.source_id, handle, action, changes))
        return writes

    def _is_current(self, product: NormalizedProduct, current: ExistingProduct) -> bool:
        if self.store.manages_inventory:
            variant = owned_variant(current, product.sku)
            if variant is not None and variant.manage_inventory is False:
                return False  # turned off in Medusa: the update turns it on again
        return (
            stored_fingerprint(current) == fingerprint(product, self.store.currency_code)
            and current.status == "published"
        )

    def _payload(self, product: NormalizedProduct, current: ExistingProduct | None) -> _Write:
        category_id = self.category_ids[product.category_slug]
        tag_ids = [self.tag_ids[t] for t in product.tags]
        if current is None:
            body = to_json(build_create(product, self.store, category_id, tag_ids))
            return _Write(product, body, is_create=True)
        body = to_json(build_update(product, current, self.store, category_id, tag_ids))
        return _Write(product, body, is_create=False)

    # writing

    def _write(self, writes: list[_Write], attempts_left: int) -> None:
        if not writes:
            return
        try:
            answer = self.client.batch_products(
                create=[w.body for w in writes if w.is_create],
                update=[w.body for w in writes if not w.is_create],
                fields=self.response_fields,
            )
        except MedusaAuthError:
            raise
        except MedusaUnavailable as error:
            self._settle_ambiguous(writes, attempts_left, error)
            return
        except MedusaError as error:
            self._split(writes, attempts_left, error)
            return
        self.result.created += len(answer.created)
        self.result.updated += len(answer.updated)
        self._remember([*answer.created, *answer.updated])

    def _split(self, writes: list[_Write], attempts_left: int, error: MedusaError) -> None:
        """All-or-nothing batch rejected: halve until the bad record stands alone."""
        if len(writes) == 1:
            write = writes[0]
            if write.is_create and "already exists" in error.message:
                self._adopt_by_handle(write, attempts_left, error)
            else:
                self._fail(write.product, "medusa", f"HTTP {error.status}: {error.message}")
            return
        middle = len(writes) // 2
        self._write(writes[:middle], attempts_left)
        self._write(writes[middle:], attempts_left)

    def _adopt_by_handle(self, write: _Write, attempts_left: int, error: MedusaError) -> None:
        """A create whose handle is taken: update the holder if it is this product's, else fail.

        The handle embeds the source id, so a product holding it without an external id (made
        by hand, or by an older sync) is this one; one with another external id is not ours.
        """
        rows = self.client.find_products_by_handle(
            [write.product.handle], fields=self.lookup_fields
        )
        holder = rows[0] if rows else None
        if holder is None or holder.external_id not in (None, "", write.product.external_id):
            taken_by = f" by {holder.id} (external id {holder.external_id})" if holder else ""
            self._fail(
                write.product,
                "medusa",
                f"HTTP {error.status}: {error.message} Handle taken{taken_by}.",
            )
            return
        self._write([self._payload(write.product, holder)], attempts_left)

    def _settle_ambiguous(
        self, writes: list[_Write], attempts_left: int, error: MedusaUnavailable
    ) -> None:
        """The batch may have committed: look the products up, then write only what is left."""
        log.warning("Batch of %d got no usable answer (%s); checking Medusa", len(writes), error)
        self.result.ambiguous_retries += 1
        try:
            existing = self._find([w.product.external_id for w in writes], self.lookup_fields)
        except MedusaUnavailable as lookup_error:
            error = lookup_error
            existing = None
        if existing is None or attempts_left <= 1:
            for write in writes:
                self._fail(write.product, "medusa", f"no answer from Medusa: {error.message}")
            return
        remaining = []
        for write in writes:
            current = existing.get(write.product.external_id)
            if current and self._is_current(write.product, current):
                # It committed: count it as what it was meant to be.
                if write.is_create:
                    self.result.created += 1
                else:
                    self.result.updated += 1
            else:
                remaining.append(self._payload(write.product, current))
        self._write(remaining, attempts_left - 1)
