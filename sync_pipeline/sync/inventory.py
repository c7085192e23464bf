"""Stock in Medusa from the supplier's ``stock``: the level of each synced variant at one stock
location, compared with what Medusa holds and written only where it differs, in batches.

Only ``stocked_quantity`` is ever set; reservations (what orders hold) are never touched.
Like product writes, a level batch is all-or-nothing: a rejected batch is split until the
bad record stands alone, and a batch whose answer was lost is not sent again blindly: the
levels are read again and only what still differs is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sync_pipeline.clients.medusa import (
    MedusaAuthError,
    MedusaClient,
    MedusaError,
    MedusaUnavailable,
)
from sync_pipeline.clients.models import ExistingProduct, MedusaStockLevel, to_json
from sync_pipeline.sync.changes import owned_variant
from sync_pipeline.sync.mapping import NormalizedProduct, RejectedRecord, Stage
from sync_pipeline.sync.store_setup import AMBIGUOUS_WRITE_ATTEMPTS

log = logging.getLogger(__name__)

# What a product lookup adds to read its variant's inventory item and levels.
INVENTORY_FIELDS = ",".join(
    [
        "variants.id",
        "variants.sku",
        "variants.manage_inventory",
        "variants.inventory_items.inventory_item_id",
        "variants.inventory_items.inventory.location_levels.location_id",
        "variants.inventory_items.inventory.location_levels.stocked_quantity",
    ]
)
# Levels are small (~120 bytes each): a page's levels (500 by default) go in one request, well
# under the batch routes' 2 MB body limit; one write per page, not one per product batch.
LEVEL_BATCH_SIZE = 1000
# Medusa's answer to an update of a level someone deleted meanwhile (one created meanwhile
# is a duplicate): read the level again rather than fail the record.
_NOT_STOCKED = "is not stocked at location"

Lookup = Callable[[list[str]], dict[str, ExistingProduct]]


@dataclass(frozen=True)
class StockState:
    """What Medusa holds for a product's variant at the sync's stock location."""

    inventory_item_id: str | None  # None: the variant has no inventory item
    stocked: int | None  # None: no level at the location yet
    # (product id, variant id) of a variant that manages inventory but has no item to stock:
    # what Medusa before 2.21.1 leaves when manage_inventory is turned on for it.
    unlinked: tuple[str, str] | None = None


def stock_state(existing: ExistingProduct, sku: str | None, location_id: str) -> StockState:
    variant = owned_variant(existing, sku)
    if variant is None or not variant.manage_inventory:
        return StockState(None, None)
    if not variant.inventory_items:
        return StockState(None, None, unlinked=(existing.id, variant.id))
    link = variant.inventory_items[0]
    levels = link.inventory.location_levels if link.inventory else []
    stocked = next((lv.stocked_quantity for lv in levels if lv.location_id == location_id), None)
    return StockState(link.inventory_item_id, stocked)


@dataclass(frozen=True)
class StockChange:
    """A level the sync sets: ``old`` None means the level is created."""

    product: NormalizedProduct
    inventory_item_id: str
    old: int | None
    new: int


@dataclass
class StockResult:
    written: int = 0
    unchanged: int = 0
    failures: list[RejectedRecord] = field(default_factory=list)
    changes: list[StockChange] = field(default_factory=list)
    ambiguous_retries: int = 0


class StockWriter:
    """Sets the levels of one page's products; with ``dry_run`` it only plans."""

    def __init__(
        self,
        client: MedusaClient,
        location_id: str,
        lookup: Lookup,
        *,
        batch_size: int = LEVEL_BATCH_SIZE,
        dry_run: bool = False,
    ) -> None:
        self.client = client
        self.location_id = location_id
        self.lookup = lookup
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.result = StockResult()

    def run(self, products: list[NormalizedProduct], known: dict[str, StockState]) -> StockResult:
        """``known`` holds the states the product writes already read; the rest are looked up."""
        products = [p for p in products if p.stock is not None]
        unknown = [p for p in products if p.external_id not in known]
        if unknown:
            known = {**known, **self._read(unknown)}
        if not self.dry_run:
            known = {**known, **self._link_items(products, known)}
        self.result.changes = self._plan(products, known)
        if self.dry_run:
            self.result.written = len(self.result.changes)
            return self.result
        changes = self.result.changes
        for start in range(0, len(changes), self.batch_size):
            self._write(changes[start : start + self.batch_size], AMBIGUOUS_WRITE_ATTEMPTS)
        return self.result

    def _read(self, products: list[NormalizedProduct]) -> dict[str, StockState]:
        found = self.lookup([p.external_id for p in products])
        return {
            p.external_id: stock_state(found[p.external_id], p.sku, self.location_id)
            for p in products
            if p.external_id in found
        }

    def _link_items(
        self, products: list[NormalizedProduct], states: dict[str, StockState]
    ) -> dict[str, StockState]:
        """Give each variant that manages inventory but has no item one, found by SKU or made.

        Medusa 2.21.1 and later make the item when manage_inventory is turned on; older
        releases leave none, so stock turned on for products synced without it would fail.
        An item found by SKU is one an earlier attempt made before its link was lost.
        """
        unlinked = [p for p in products if (s := states.get(p.external_id)) and s.unlinked]
        if not unlinked:
            return {}
        found = self.client.find_inventory_items_by_sku([p.sku for p in unlinked if p.sku])
        linked = {}
        for product in unlinked:
            product_id, variant_id = states[product.external_id].unlinked or ("", "")
            try:
                item_id = found.get(product.sku or "") or self._make_item(product)
                self.client.link_inventory_item(product_id, variant_id, item_id)
            except MedusaAuthError:
                raise
            except MedusaError as error:
                self._fail(product, f"no inventory item to stock, and making one failed: {error}")
                continue
            linked[product.external_id] = StockState(item_id, None)
        return linked

    def _make_item(self, product: NormalizedProduct) -> str:
        """A new item; Medusa keeps SKUs unique, so an item made meanwhile is found, not doubled."""
        try:
            return self.client.create_inventory_item(sku=product.sku, title=product.title)
        except MedusaError as error:
            if not (error.is_duplicate and product.sku):
                raise
            return self.client.find_inventory_items_by_sku([product.sku])[product.sku]

    def _fail(self, product: NormalizedProduct, reason: str) -> None:
        self.result.failures.append(RejectedRecord.of(product, Stage.INVENTORY, reason))

    def _plan(
        self, products: list[NormalizedProduct], states: dict[str, StockState]
    ) -> list[StockChange]:
        changes = []
        for product in products:
            assert product.stock is not None
            state = states.get(product.external_id)
            if state is None:
                if self.dry_run:  # a product the run would create: its level is new
                    changes.append(StockChange(product, "(new)", None, product.stock))
                else:
                    self._fail(product, "the product is not in Medusa, so its stock is not set")
            elif state.unlinked and self.dry_run:  # the run would give it an item
                changes.append(StockChange(product, "(new)", None, product.stock))
            elif state.unlinked:
                pass  # failed in _link_items, named there
            elif state.inventory_item_id is None:
                self._fail(
                    product,
                    "its variant does not manage inventory in Medusa (manage_inventory is off), "
                    "so its stock cannot be set",
                )
            elif state.stocked == product.stock:
                self.result.unchanged += 1
            else:
                changes.append(
                    StockChange(product, state.inventory_item_id, state.stocked, product.stock)
                )
        return changes

    def _level(self, change: StockChange) -> dict:
        return to_json(
            MedusaStockLevel(
                inventory_item_id=change.inventory_item_id,
                location_id=self.location_id,
                stocked_quantity=change.new,
            )
        )

    def _write(self, changes: list[StockChange], attempts_left: int) -> None:
        if not changes:
            return
        try:
            self.client.batch_stock_levels(
                create=[self._level(c) for c in changes if c.old is None],
                update=[self._level(c) for c in changes if c.old is not None],
            )
        except MedusaAuthError:
            raise
        except MedusaUnavailable as error:
            log.warning("Stock batch of %d got no usable answer (%s)", len(changes), error)
            self.result.ambiguous_retries += 1
            self._reconcile(changes, attempts_left, error)
            return
        except MedusaError as error:
            if len(changes) > 1:
                middle = len(changes) // 2
                self._write(changes[:middle], attempts_left)
                self._write(changes[middle:], attempts_left)
            elif error.is_duplicate or _NOT_STOCKED in error.message:
                self._reconcile(changes, attempts_left, error)
            else:
                self._fail(changes[0].product, f"HTTP {error.status}: {error.message}")
            return
        self.result.written += len(changes)

    def _reconcile(
        self, changes: list[StockChange], attempts_left: int, error: MedusaError
    ) -> None:
        """Read the levels again; count what already holds, write only what still differs."""
        states = None
        if attempts_left > 1:
            try:
                states = self._read([c.product for c in changes])
            except MedusaUnavailable as lookup_error:
                error = lookup_error
        if states is None:
            for change in changes:
                self._fail(change.product, f"stock not set: {error.message}")
            return
        remaining = []
        for change in changes:
            state = states.get(change.product.external_id)
            if state is not None and state.stocked == change.new:
                self.result.written += 1  # it committed
            elif state is None or state.inventory_item_id is None:
                self._fail(change.product, f"stock not set: {error.message}")
            else:
                remaining.append(
                    StockChange(change.product, state.inventory_item_id, state.stocked, change.new)
                )
        self._write(remaining, attempts_left - 1)
