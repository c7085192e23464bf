"""DummyJSON records → normalized products and categories. Pure functions: no I/O, no clock.

Validation and normalization of source records, and their identity in Medusa (external id,
handle). Only the source side: how they compare with what Medusa holds is ``changes.py``,
the Medusa request bodies are ``payloads.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from slugify import slugify

from sync_pipeline.clients.models import DummyJSONCategory, DummyJSONProduct

SOURCE_NAME = "dummyjson"
EXTERNAL_ID_PREFIX = f"{SOURCE_NAME}:"
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


class Stage(StrEnum):
    """Where a record was set aside, as failure reports name it."""

    VALIDATION = "validation"  # the source record itself (this module)
    CATEGORY = "category"  # its category could not be made in Medusa
    TAGS = "tags"  # one of its tags could not be made
    MAPPING = "mapping"  # its request body would be refused
    MEDUSA = "medusa"  # Medusa refused or never answered the write
    INVENTORY = "inventory"  # its stock level could not be set
    SALE = "sale"  # its sale price could not be set


@dataclass(frozen=True)
class RejectedRecord:
    """A record the sync set aside, with enough to find it in the source."""

    source_id: str
    sku: str | None
    stage: Stage
    reason: str

    @classmethod
    def of(cls, product: NormalizedProduct, stage: Stage, reason: str) -> RejectedRecord:
        """A normalized product set aside after validation."""
        return cls(str(product.source_id), product.sku, stage, reason)

    def as_row(self) -> dict[str, str]:
        return {
            "source_id": self.source_id,
            "sku": self.sku or "",
            "stage": str(self.stage),
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
    barcode: str | None = None
    brand: str | None = None
    discount_percent: Decimal | None = None
    # What the merchant's rules add (sync/rules.py): the sale price, below ``price``.
    sale_price: Decimal | None = None


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
    barcode = record.meta.get("barcode") if record.meta else None
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
        barcode=barcode.strip() or None if isinstance(barcode, str) else None,
        brand=record.brand,
        discount_percent=(
            Decimal(str(record.discountPercentage))
            if record.discountPercentage is not None
            else None
        ),
    )


def _readable(text: str) -> str:
    """Text for a report: bytes that were not UTF-8 (decoded as lone surrogates) become U+FFFD,
    so printing or storing the report cannot fail on them."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that came as a JSON escape (\ud800)
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def _invalid(source_id: str, sku: str | None, reason: str) -> RejectedRecord:
    return RejectedRecord(source_id, sku, Stage.VALIDATION, reason)


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
        if not isinstance(raw, Mapping):
            rejected.append(_invalid("?", None, f"not an object: {_readable(str(raw))[:80]}"))
            continue
        raw_sku = raw.get("sku")
        sku = _readable(raw_sku) if isinstance(raw_sku, str) else None
        try:
            product = normalize_product(raw)
        except ValidationError as error:
            raw_id = _readable(str(raw.get("id")))[:40]
            rejected.append(_invalid(raw_id, sku, _describe_validation_error(error)))
            continue
        if product.source_id in seen_elsewhere:
            page = seen_elsewhere[product.source_id]
            reason = f"duplicate id: already on page {page}"
            rejected.append(_invalid(str(product.source_id), product.sku, reason))
            continue
        if product.source_id in seen_ids:
            reason = "duplicate id: appears more than once in the page"
            rejected.append(_invalid(str(product.source_id), product.sku, reason))
            continue
        seen_ids.add(product.source_id)
        good.append(product)
    return good, rejected


@dataclass(frozen=True)
class NormalizedPage:
    """One source page after validation: the products to write and the records set aside."""

    products: list[NormalizedProduct]
    rejected: list[RejectedRecord]
