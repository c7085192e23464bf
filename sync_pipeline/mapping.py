"""DummyJSON records → what the sync wants in Medusa. Pure functions: no I/O, no clock.

Validation and normalization of source records, identity (external id, handle), and what
the sync owns on a Medusa product: exactly what ``desired_state`` lists, fingerprinted to
skip unchanged products and compared field by field for a readable plan. The Medusa
request bodies built from it are in ``payloads.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from slugify import slugify

from sync_pipeline.models import (
    DummyJSONCategory,
    DummyJSONProduct,
    ExistingProduct,
    ExistingVariant,
)

SOURCE_NAME = "dummyjson"
EXTERNAL_ID_PREFIX = f"{SOURCE_NAME}:"
# Bump when the mapping changes what it writes, so every product is rewritten once.
# 2: stock moved from metadata to the variant's inventory level.
MAPPING_VERSION = 2
DEFAULT_OPTION = "Default"
FINGERPRINT_KEY = "sync_fingerprint"
OWNED_IMAGES_KEY = "sync_images"
OWNED_CATEGORY_KEY = "sync_category_id"
OWNED_TAGS_KEY = "sync_tag_ids"
# Source fields kept in Medusa metadata (Medusa has no column for them).
METADATA_FIELDS = {
    "brand": "brand",
    "rating": "rating",
    "discountPercentage": "discount_percentage",
    "warrantyInformation": "warranty_information",
    "shippingInformation": "shipping_information",
    "returnPolicy": "return_policy",
    "minimumOrderQuantity": "minimum_order_quantity",
}
# Metadata keys earlier mapping versions wrote; an update removes them. The supplier's stock is
# the inventory level now, and its availability label only restated the stock.
RETIRED_METADATA_KEYS = ("stock", "availability_status")


def external_id(source_id: int) -> str:
    return f"{EXTERNAL_ID_PREFIX}{source_id}"


def source_id_of(external: str | None) -> int | None:
    """The DummyJSON id behind a Medusa ``external_id``, or None if the sync did not make it."""
    if not external or not external.startswith(EXTERNAL_ID_PREFIX):
        return None
    tail = external[len(EXTERNAL_ID_PREFIX) :]
    return int(tail) if tail.isdigit() else None


def category_name(slug: str) -> str:
    """DummyJSON's own rule: split the slug on '-' and capitalise each word."""
    return " ".join(word[:1].upper() + word[1:] for word in slug.split("-") if word)


def category_handle(slug: str) -> str:
    """A handle that follows Medusa's product-handle rule (categories are not validated)."""
    return slugify(slug) or "category"


def product_handle(title: str, source_id: int) -> str:
    """Deterministic and unique: the title's slug plus the source id.

    Titles repeat in DummyJSON (ids 96 and 191), and two different titles can slugify alike
    (ids 91 and 92), so the id is always part of the handle.
    """
    base = slugify(title, max_length=80, word_boundary=True) or "product"
    return f"{base}-{source_id}"


@dataclass(frozen=True)
class SourceCategory:
    slug: str
    name: str
    url: str | None = None


def normalize_categories(raw: Iterable[Any]) -> list[SourceCategory]:
    """Both API shapes: ``[{slug, name, url}]`` and the legacy ``["slug", …]``; deduplicated."""
    seen: dict[str, SourceCategory] = {}
    for item in raw:
        record = (
            DummyJSONCategory(slug=item)
            if isinstance(item, str)
            else (DummyJSONCategory.model_validate(item))
        )
        slug = record.slug.strip()
        if slug and slug not in seen:
            seen[slug] = SourceCategory(
                slug=slug,
                name=(record.name or "").strip() or category_name(slug),
                url=item.get("url") if isinstance(item, Mapping) else None,
            )
    return list(seen.values())


@dataclass(frozen=True)
class RejectedRecord:
    """A record the sync set aside, with enough to find it in the source."""

    source_id: str
    sku: str | None
    stage: str
    reason: str

    def as_row(self) -> dict[str, str]:
        return {
            "source_id": self.source_id,
            "sku": self.sku or "",
            "stage": self.stage,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class NormalizedProduct:
    """What the sync wants Medusa to hold for one source product."""

    source_id: int
    external_id: str
    handle: str
    title: str
    description: str | None
    category_slug: str
    tags: tuple[str, ...]
    sku: str | None
    price: Decimal
    images: tuple[str, ...]
    thumbnail: str | None
    weight: float | None
    length: float | None
    height: float | None
    width: float | None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    stock: int | None = None


def _describe_validation_error(error: ValidationError) -> str:
    parts = []
    for issue in error.errors():
        where = ".".join(str(p) for p in issue["loc"]) or "record"
        parts.append(f"{where}: {issue['msg']}")
    return "; ".join(parts)


def normalize_product(raw: Mapping[str, Any]) -> NormalizedProduct:
    """Validate one source record; raises ``ValidationError`` naming the bad fields."""
    record = DummyJSONProduct.model_validate(raw)
    dims = record.dimensions
    metadata: dict[str, Any] = {"source": SOURCE_NAME, "source_id": record.id}
    for source_field, key in METADATA_FIELDS.items():
        value = getattr(record, source_field)
        if value is not None:
            metadata[key] = value
    if record.meta and isinstance(record.meta.get("barcode"), str):
        metadata["barcode"] = record.meta["barcode"]
    tags = tuple(dict.fromkeys(tag.strip() for tag in record.tags if tag.strip()))
    return NormalizedProduct(
        source_id=record.id,
        external_id=external_id(record.id),
        handle=product_handle(record.title, record.id),
        title=record.title,
        description=record.description,
        category_slug=record.category.strip(),
        tags=tags,
        sku=record.sku,
        price=record.price,
        images=tuple(dict.fromkeys(record.images)),
        thumbnail=record.thumbnail,
        weight=record.weight,
        length=dims.depth if dims else None,
        height=dims.height if dims else None,
        width=dims.width if dims else None,
        metadata=metadata,
        stock=record.stock,
    )


def _readable(text: str) -> str:
    """Text for a report: bytes that were not UTF-8 (decoded as lone surrogates) become U+FFFD,
    so printing or storing the report cannot fail on them."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that came as a JSON escape (\ud800)
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def normalize_products(
    raw_products: Iterable[Any],
    seen_elsewhere: Mapping[int, str] | None = None,
) -> tuple[list[NormalizedProduct], list[RejectedRecord]]:
    """Validate a page: good records out, bad ones set aside with the reason. Never raises.

    ``seen_elsewhere`` maps ids that earlier pages of the same sync already hold to their
    page: the same id again is a duplicate, reported rather than written twice.
    """
    seen_elsewhere = seen_elsewhere or {}
    good: list[NormalizedProduct] = []
    rejected: list[RejectedRecord] = []
    seen_ids: set[int] = set()
    for raw in raw_products:
        raw_id = raw.get("id") if isinstance(raw, Mapping) else None
        raw_sku = raw.get("sku") if isinstance(raw, Mapping) else None
        sku = _readable(raw_sku) if isinstance(raw_sku, str) else None
        if not isinstance(raw, Mapping):
            rejected.append(
                RejectedRecord(
                    "?", None, "validation", f"not an object: {_readable(str(raw))[:80]}"
                )
            )
            continue
        try:
            product = normalize_product(raw)
        except ValidationError as error:
            rejected.append(
                RejectedRecord(
                    _readable(str(raw_id))[:40],
                    sku,
                    "validation",
                    _describe_validation_error(error),
                )
            )
            continue
        if product.source_id in seen_elsewhere:
            rejected.append(
                RejectedRecord(
                    str(product.source_id),
                    product.sku,
                    "validation",
                    f"duplicate id: already on page {seen_elsewhere[product.source_id]}",
                )
            )
            continue
        if product.source_id in seen_ids:
            rejected.append(
                RejectedRecord(
                    str(product.source_id),
                    product.sku,
                    "validation",
                    "duplicate id: appears more than once in the page",
                )
            )
            continue
        seen_ids.add(product.source_id)
        good.append(product)
    return good, rejected


@dataclass(frozen=True)
class NormalizedPage:
    """One source page after validation: the products to write and the records set aside."""

    products: list[NormalizedProduct]
    rejected: list[RejectedRecord]


@dataclass(frozen=True)
class StoreContext:
    """What every product written to this store needs, read once per run."""

    currency_code: str
    sales_channel_id: str | None
    shipping_profile_id: str | None
    # Where the supplier's stock goes; None when the sync does not manage inventory.
    stock_location_id: str | None = None

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
        "price": [currency_code, str(product.price)],
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
        "price": [currency_code, str(price.amount)] if price else None,
        "dimensions": [existing.weight, existing.length, existing.height, existing.width],
        "metadata": {
            k: meta[k]
            for k in (
                "source",
                "source_id",
                *METADATA_FIELDS.values(),
                *RETIRED_METADATA_KEYS,
                "barcode",
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
            key == "price"
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
