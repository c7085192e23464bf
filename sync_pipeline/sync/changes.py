"""Change detection: what the sync owns on a Medusa product, and whether Medusa still holds it.

Pure functions: no I/O, no clock. ``desired_state`` lists every owned field: fingerprinted (in
the product's metadata) to skip unchanged products, and compared field by field with
``current_state`` for a readable plan. Apart from ``mapping.py`` because it is about Medusa's
side (the store, the variant and the metadata keys the sync keeps there), not the source's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sync_pipeline.clients.models import ExistingProduct, ExistingVariant
from sync_pipeline.sync.mapping import METADATA_FIELDS, NormalizedProduct

# Bump when the mapping changes what it writes, so every product is rewritten once.
# 2: stock moved from metadata to the variant's inventory level.
# 3: the barcode moved from metadata to the variant's own ``barcode``.
MAPPING_VERSION = 3
FINGERPRINT_KEY = "sync_fingerprint"
OWNED_IMAGES_KEY = "sync_images"
OWNED_CATEGORY_KEY = "sync_category_id"
OWNED_TAGS_KEY = "sync_tag_ids"
OWNED_SALE_KEY = "sync_sale_price"
# Metadata keys earlier mapping versions wrote; an update removes them. The supplier's stock is
# the inventory level now, its availability label only restated the stock, and the barcode is
# the variant's own.
RETIRED_METADATA_KEYS = ("stock", "availability_status", "barcode")


@dataclass(frozen=True)
class StoreContext:
    """What every product written to this store needs, read once per run."""

    currency_code: str
    sales_channel_id: str | None
    shipping_profile_id: str | None
    # Where the supplier's stock goes; None when the sync does not manage inventory.
    stock_location_id: str | None = None
    # The sync's own sale price list, if it exists yet (sync/sale_prices.py).
    sale_list_id: str | None = None

    @property
    def manages_inventory(self) -> bool:
        return self.stock_location_id is not None


def owned_variant(existing: ExistingProduct, sku: str | None) -> ExistingVariant | None:
    """The variant the sync writes: the one with the product's SKU, else the first."""
    if not existing.variants:
        return None
    return next((v for v in existing.variants if sku and v.sku == sku), existing.variants[0])


def desired_state(product: NormalizedProduct, currency_code: str) -> dict[str, Any]:
    """Everything the sync owns on a product, in a canonical form (the fingerprint's input)."""
    return {
        "version": MAPPING_VERSION,
        "title": product.title,
        "description": product.description,
        "status": "published",
        "thumbnail": product.thumbnail,
        "images": list(product.images),
        "category": product.category_slug,
        "tags": list(product.tags),
        "sku": product.sku,
        "barcode": product.barcode,
        "price": [currency_code, str(product.price)],
        "sale": [currency_code, str(product.sale_price)] if product.sale_price else None,
        "dimensions": [product.weight, product.length, product.height, product.width],
        "metadata": dict(product.metadata),
    }


def current_state(existing: ExistingProduct, currency_code: str) -> dict[str, Any]:
    """What Medusa holds today for the fields ``desired_state`` lists (for a readable diff)."""
    meta = existing.metadata or {}
    image_urls = {i.url for i in existing.images}
    tag_values = {t.id: t.value for t in existing.tags}
    owned_category = meta.get(OWNED_CATEGORY_KEY)
    variant = existing.variants[0] if existing.variants else None  # as a storefront shows it
    price = next(
        (p for p in (variant.prices if variant else []) if p.currency_code == currency_code), None
    )
    sale = meta.get(OWNED_SALE_KEY)
    return {
        "title": existing.title,
        "description": existing.description,
        "status": existing.status,
        "thumbnail": existing.thumbnail,
        # In the order the sync wrote them, so that only real changes show.
        "images": [u for u in meta.get(OWNED_IMAGES_KEY) or [] if u in image_urls],
        "category": next((c.handle for c in existing.categories if c.id == owned_category), None),
        "tags": [tag_values[i] for i in meta.get(OWNED_TAGS_KEY) or [] if i in tag_values],
        "sku": variant.sku if variant else None,
        "barcode": variant.barcode if variant else None,
        "price": [currency_code, str(price.amount)] if price else None,
        # Medusa's admin API shows no price list's price on a variant: the sale the sync set
        # is the one it noted.
        "sale": [currency_code, sale] if sale else None,
        "dimensions": [existing.weight, existing.length, existing.height, existing.width],
        "metadata": {
            k: meta[k]
            for k in (
                "source",
                "source_id",
                *METADATA_FIELDS.values(),
                *RETIRED_METADATA_KEYS,
            )
            if k in meta
        },
    }


def changed_fields(
    product: NormalizedProduct, existing: ExistingProduct, currency_code: str
) -> dict[str, tuple[Any, Any]]:
    """Owned fields whose value in Medusa differs from the source's: ``{field: (old, new)}``."""
    desired = desired_state(product, currency_code)
    current = current_state(existing, currency_code)
    changes = {}
    for key, new in desired.items():
        if key == "version":
            continue
        old = current.get(key)
        if (
            key in ("price", "sale")
            and old
            and new
            and Decimal(old[1]) == Decimal(new[1])
            and old[0] == new[0]
        ):
            continue
        if key == "dimensions" and _same_numbers(old, new):
            continue
        if key == "metadata":
            diff = {k: (old.get(k), v) for k, v in new.items() if not _same(old.get(k), v)}
            diff.update({k: (v, None) for k, v in old.items() if k not in new})
            if diff:
                changes["metadata"] = (
                    {k: o for k, (o, _) in diff.items()},
                    {k: n for k, (_, n) in diff.items()},
                )
            continue
        if not _same(old, new):
            changes[key] = (old, new)
    return changes


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, int | float) and isinstance(new, int | float):
        return float(old) == float(new)
    return old == new


def _same_numbers(old: list[Any] | None, new: list[Any]) -> bool:
    if old is None or len(old) != len(new):
        return False
    return all(_same(a, b) for a, b in zip(old, new, strict=True))


def fingerprint(product: NormalizedProduct, currency_code: str) -> str:
    canonical = json.dumps(
        desired_state(product, currency_code), sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def stored_fingerprint(existing: ExistingProduct) -> str | None:
    value = (existing.metadata or {}).get(FINGERPRINT_KEY)
    return value if isinstance(value, str) else None
