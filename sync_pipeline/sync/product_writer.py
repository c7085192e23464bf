"""Writing a page's planned products into Medusa in batches, and recovering from what fails.

Medusa's batch endpoint is all-or-nothing, so a rejected batch is split until the bad record
is isolated; a batch whose answer was lost is never blindly resent: the products are looked
up again and only what is still missing or stale is written. A create refused because its
handle is taken updates the holder when the holder is this product.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sync_pipeline.clients.medusa import (
    MedusaAuthError,
    MedusaClient,
    MedusaError,
    MedusaUnavailable,
)
from sync_pipeline.clients.models import ExistingProduct
from sync_pipeline.sync.changes import StoreContext
from sync_pipeline.sync.mapping import NormalizedProduct, RejectedRecord, Stage
from sync_pipeline.sync.page_plan import Action, Links, Write, is_current
from sync_pipeline.sync.product_lookup import ProductLookup
from sync_pipeline.sync.store_setup import AMBIGUOUS_WRITE_ATTEMPTS

log = logging.getLogger(__name__)


@dataclass
class WriteResult:
    created: int = 0
    updated: int = 0
    failures: list[RejectedRecord] = field(default_factory=list)
    ambiguous_retries: int = 0
    # Each product written, as Medusa answered it (its id and variants), by external id.
    written: dict[str, ExistingProduct] = field(default_factory=dict)


class ProductWriter:
    """Sends a page's planned writes; a dry run never makes one."""

    def __init__(
        self,
        client: MedusaClient,
        store: StoreContext,
        links: Links,
        lookup: ProductLookup,
        *,
        batch_size: int,
    ) -> None:
        self.client = client
        self.store = store
        self.links = links
        self.lookup = lookup
        self.batch_size = batch_size
        self.result = WriteResult()

    def run(self, writes: list[Write]) -> WriteResult:
        for start in range(0, len(writes), self.batch_size):
            self._write(writes[start : start + self.batch_size], AMBIGUOUS_WRITE_ATTEMPTS)
        return self.result

    def _fail(self, write: Write, reason: str) -> None:
        self.result.failures.append(RejectedRecord.of(write.product, Stage.MEDUSA, reason))

    def _write(self, writes: list[Write], attempts_left: int) -> None:
        if not writes:
            return
        try:
            answer = self.client.batch_products(
                create=[w.body for w in writes if w.action is Action.CREATE],
                update=[w.body for w in writes if w.action is Action.UPDATE],
                fields=self.lookup.response_fields,
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
        self._written([*answer.created, *answer.updated])

    def _written(self, products: list[ExistingProduct]) -> None:
        self.lookup.remember(products)
        self.result.written.update((p.external_id, p) for p in products if p.external_id)

    def _split(self, writes: list[Write], attempts_left: int, error: MedusaError) -> None:
        """All-or-nothing batch rejected: halve until the bad record stands alone."""
        if len(writes) == 1:
            write = writes[0]
            if error.is_duplicate and "barcode" in error.message and write.product.barcode:
                self._fail(write, self._barcode_taken(write.product))
            elif write.action is Action.CREATE and error.is_duplicate:
                self._adopt_by_handle(write, attempts_left, error)
            else:
                self._fail(write, f"HTTP {error.status}: {error.message}")
            return
        middle = len(writes) // 2
        self._write(writes[:middle], attempts_left)
        self._write(writes[middle:], attempts_left)

    def _barcode_taken(self, product: NormalizedProduct) -> str:
        """Whose the barcode is: the two records a supplier must tell apart."""
        holder = self.client.find_variant_by_barcode(product.barcode or "")
        owner = (holder or {}).get("product") or {}
        by = (
            f"variant {holder['id']} (SKU {holder.get('sku')}) of product {owner.get('handle')} "
            f"(external id {owner.get('external_id')})"
            if holder
            else "another variant"
        )
        return f"barcode {product.barcode} is already held by {by}; this product was not written"

    def _adopt_by_handle(self, write: Write, attempts_left: int, error: MedusaError) -> None:
        """A create whose handle is taken: update the holder if it is this product's, else fail.

        The handle embeds the source id, so a product holding it without an external id (made
        by hand, or by an older sync) is this one; one with another external id is not ours.
        """
        holder = self.lookup.find_by_handle(write.product.handle)
        if holder is None or holder.external_id not in (None, "", write.product.external_id):
            taken_by = f" by {holder.id} (external id {holder.external_id})" if holder else ""
            self._fail(write, f"HTTP {error.status}: {error.message} Handle taken{taken_by}.")
            return
        self._write([self.links.write(write.product, holder, self.store)], attempts_left)

    def _settle_ambiguous(
        self, writes: list[Write], attempts_left: int, error: MedusaUnavailable
    ) -> None:
        """The batch may have committed: look the products up, then write only what is left."""
        log.warning("Batch of %d got no usable answer (%s); checking Medusa", len(writes), error)
        self.result.ambiguous_retries += 1
        try:
            existing = self.lookup.find([w.product.external_id for w in writes])
        except MedusaUnavailable as lookup_error:
            error = lookup_error
            existing = None
        if existing is None or attempts_left <= 1:
            for write in writes:
                self._fail(write, f"no answer from Medusa: {error.message}")
            return
        remaining = []
        for write in writes:
            current = existing.get(write.product.external_id)
            if current and is_current(write.product, current, self.store):
                # It committed: count it as what it was meant to be.
                self._written([current])
                if write.action is Action.CREATE:
                    self.result.created += 1
                else:
                    self.result.updated += 1
            else:
                remaining.append(self.links.write(write.product, current, self.store))
        self._write(remaining, attempts_left - 1)
