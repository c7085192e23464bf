"""Sale prices through Medusa's own pricing: one price list of type ``sale``, the sync's own.

A storefront then shows the sale as Medusa computes it (``calculated_price`` below
``original_price``, ``price_list_type == "sale"``). The list is found by a marker in its
description, never by title, so the merchant may rename it; it is made only when a first sale
price is, and never twice: two page runs that make one at once keep the oldest. Only this
list's prices are ever written; the merchant's own price lists are never touched.

Which products need a sale write comes from change detection: the sale price is part of the
fingerprint (and noted in ``metadata.sync_sale_price``; Medusa's admin API shows no price
list's price on a variant), so only products a page wrote are looked at. Their prices in the
list are replaced: the products' old ones removed, the new ones added, one request each (the
batch's answer says which variant each product has, so nothing is read again). A sale
that cannot be set clears the product's fingerprint, so the next sync writes it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sync_pipeline.clients.medusa import MedusaAuthError, MedusaClient, MedusaError
from sync_pipeline.clients.models import ExistingProduct
from sync_pipeline.sync.changes import FINGERPRINT_KEY, StoreContext, owned_variant
from sync_pipeline.sync.mapping import NormalizedProduct, RejectedRecord, Stage

log = logging.getLogger(__name__)

SALE_LIST_TITLE = "DummyJSON sale"
SALE_LIST_MARKER = "[sync-pipeline:dummyjson-sale]"
SALE_LIST_DESCRIPTION = (
    f"The supplier's discounts as sale prices, kept by the catalog sync {SALE_LIST_MARKER}: "
    "edits here are replaced at its next sync."
)


def find_sale_list(client: MedusaClient) -> str | None:
    """The sync's sale price list, if there is one (the oldest, should there be two)."""
    ours = [
        pl for pl in client.list_price_lists() if SALE_LIST_MARKER in (pl.get("description") or "")
    ]
    ours.sort(key=lambda pl: (pl.get("created_at") or "", pl["id"]))
    return ours[0]["id"] if ours else None


def ensure_sale_list(client: MedusaClient) -> str:
    """The sync's sale price list, made (active, type sale) if there is none yet."""
    found = find_sale_list(client)
    if found:
        return found
    made = client.create_price_list(
        title=SALE_LIST_TITLE, description=SALE_LIST_DESCRIPTION, type="sale", status="active"
    )["id"]
    kept = find_sale_list(client) or made
    if kept != made:  # another page run made one first: keep its, drop ours (still empty)
        client.delete_price_list(made)
    log.info("Sale price list %s (%s)", kept, SALE_LIST_TITLE)
    return kept


@dataclass
class SaleResult:
    written: int = 0
    failures: list[RejectedRecord] = field(default_factory=list)


class SalePriceWriter:
    """Sets the sale prices of the products a page wrote: replaces theirs in the sync's list."""

    def __init__(self, client: MedusaClient, store: StoreContext) -> None:
        self.client = client
        self.store = store
        self.result = SaleResult()

    def run(
        self, products: list[NormalizedProduct], written: dict[str, ExistingProduct]
    ) -> SaleResult:
        """``products``: those the page created or updated; ``written``: Medusa's answer for
        each (its id and variant), by external id."""
        on_sale = [p for p in products if p.sale_price]
        if not products or (self.store.sale_list_id is None and not on_sale):
            return self.result  # no sale, and no list that could hold an old one
        products = [p for p in products if p.external_id in written]
        try:
            list_id = self.store.sale_list_id or ensure_sale_list(self.client)
            if self.store.sale_list_id:  # an older sale of these products may be in it
                self.client.remove_products_from_price_list(
                    list_id, [written[p.external_id].id for p in products]
                )
            prices = [self._price(p, written[p.external_id]) for p in products if p.sale_price]
            if prices:
                self.client.batch_price_list_prices(list_id, create=prices)
        except MedusaAuthError:
            raise
        except MedusaError as error:
            self._fail(products, written, error)
            return self.result
        self.result.written = len(prices)
        return self.result

    def _price(self, product: NormalizedProduct, existing: ExistingProduct) -> dict:
        variant = owned_variant(existing, product.sku)
        assert variant is not None and product.sale_price is not None
        return {
            "variant_id": variant.id,
            "currency_code": self.store.currency_code,
            "amount": float(product.sale_price),
        }

    def _fail(
        self,
        products: list[NormalizedProduct],
        found: dict[str, ExistingProduct],
        error: MedusaError,
    ) -> None:
        """Each product's sale is unknown now: clear its fingerprint, so the next sync writes
        it again, and report it."""
        reason = f"sale price not set: {error}"
        for product in products:
            self.result.failures.append(RejectedRecord.of(product, Stage.SALE, reason))
        try:
            self.client.batch_products(
                update=[
                    {"id": found[p.external_id].id, "metadata": {FINGERPRINT_KEY: ""}}
                    for p in products
                ],
                fields="id",
            )
        except MedusaError as clear_error:  # the page fails anyway; say what is left
            log.warning(
                "Could not mark %d products to be written again: %s", len(products), clear_error
            )
