"""Reading a page's products back from Medusa, and remembering each one's stock on the way.

Identity is the source id (``external_id = dummyjson:{id}``), never a page position, so a
re-run finds what an earlier run wrote. A first read asks only for what tells an unchanged
product; the full read is made for the products that will be written. With stock managed,
every read also reads the variant's inventory, so the stock step needs no lookup of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sync_pipeline.clients.medusa import MedusaClient
from sync_pipeline.clients.models import ExistingProduct
from sync_pipeline.sync.changes import StoreContext
from sync_pipeline.sync.inventory import INVENTORY_FIELDS, StockState, stock_state

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
        "variants.barcode",
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

# What the sale step needs of each written product: its variant.
BATCH_RESPONSE_FIELDS = "id,handle,external_id,variants.id,variants.sku"


class ProductLookup:
    """Products of one page as Medusa holds them, keyed by external id."""

    def __init__(
        self, client: MedusaClient, store: StoreContext, skus: Mapping[str, str | None]
    ) -> None:
        self.client = client
        self.location_id = store.stock_location_id
        self.skus = skus  # {external id: SKU} of the page: whose stock state to keep
        extra = f",{INVENTORY_FIELDS}" if store.manages_inventory else ""
        self.fingerprint_fields = FINGERPRINT_FIELDS + extra
        self.lookup_fields = PRODUCT_LOOKUP_FIELDS + extra
        self.response_fields = BATCH_RESPONSE_FIELDS + extra
        self.stock_states: dict[str, StockState] = {}

    def find(
        self, external_ids: list[str], fields: str | None = None
    ) -> dict[str, ExistingProduct]:
        """By external id, with every field an update needs unless ``fields`` says less."""
        found = self.client.find_products_by_external_id(
            external_ids, fields=fields or self.lookup_fields
        )
        return self._keep(found)

    def find_by_id(self, ids: list[str]) -> dict[str, ExistingProduct]:
        """By Medusa id, with every field an update needs (still keyed by external id)."""
        return self._keep(self.client.find_products_by_id(ids, fields=self.lookup_fields))

    def find_by_handle(self, handle: str) -> ExistingProduct | None:
        rows = self.client.find_products_by_handle([handle], fields=self.lookup_fields)
        return rows[0] if rows else None

    def remember(self, products: Iterable[ExistingProduct]) -> None:
        """Keep the stock state of each product read (only when stock is managed)."""
        if self.location_id is None:
            return
        for product in products:
            if product.external_id in self.skus:
                sku = self.skus[product.external_id]
                self.stock_states[product.external_id] = stock_state(product, sku, self.location_id)

    def _keep(self, products: list[ExistingProduct]) -> dict[str, ExistingProduct]:
        """Keyed by external id (the oldest wins if a duplicate ever slipped in); remembered."""
        found: dict[str, ExistingProduct] = {}
        for product in products:
            if product.external_id and product.external_id not in found:
                found[product.external_id] = product
        self.remember(found.values())
        return found
