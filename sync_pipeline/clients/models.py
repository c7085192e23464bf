"""Pydantic models at the two edges: what DummyJSON sends and what Medusa accepts.

Source models are tolerant readers (unknown fields are ignored, both the current and
the legacy 100-product shapes validate) but strict about what the sync relies on.
Medusa models mirror Medusa's zod validators: unknown fields are forbidden, so a
payload that Medusa would reject with 400 fails here first, naming the field.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    field_validator,
)

# Prices above this are treated as data errors, not products (DummyJSON tops out at 36,999.99).
MAX_PRICE = Decimal("10000000")
MAX_TEXT_LENGTH = 100_000


def _finite_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# --- DummyJSON ---------------------------------------------------------------------------


class SourceModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DummyJSONDimensions(SourceModel):
    width: float | None = None
    height: float | None = None
    depth: float | None = None

    _finite = field_validator("width", "height", "depth", mode="before")(_finite_number)


class DummyJSONProduct(SourceModel):
    """One product as DummyJSON serves it (current shape; the legacy shape lacks most optionals)."""

    id: StrictInt = Field(gt=0)
    title: str = Field(min_length=1, max_length=1000)
    description: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)
    category: str = Field(min_length=1, max_length=200)
    price: Decimal = Field(ge=0, le=MAX_PRICE)
    discountPercentage: float | None = None
    rating: float | None = None
    stock: int | None = Field(default=None, ge=0)
    tags: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list)
    brand: str | None = None
    sku: str | None = Field(default=None, min_length=1, max_length=200)
    weight: float | None = Field(default=None, ge=0)
    dimensions: DummyJSONDimensions | None = None
    warrantyInformation: str | None = None
    shippingInformation: str | None = None
    availabilityStatus: str | None = None
    returnPolicy: str | None = None
    minimumOrderQuantity: int | None = None
    meta: dict[str, Any] | None = None
    images: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(default_factory=list)
    thumbnail: str | None = Field(default=None, max_length=2000)

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("title is empty")
        return value

    @field_validator("price", mode="before")
    @classmethod
    def _price_is_a_finite_number(cls, value: Any) -> Any:
        if isinstance(value, str) or value is None:
            raise ValueError("price must be a number")
        value = _finite_number(value)
        # Through str() so that 9.99 stays 9.99, not 9.9900000000000002131628...
        return Decimal(str(value))

    @field_validator("price")
    @classmethod
    def _price_has_cents_at_most(cls, value: Decimal) -> Decimal:
        if value != value.quantize(Decimal("0.01")):
            raise ValueError(f"price {value} has more than 2 decimals")
        return value

    _finite = field_validator("discountPercentage", "rating", "weight", mode="before")(
        _finite_number
    )


class DummyJSONCategory(SourceModel):
    """A category; the legacy API sent only the slug, so the name may be derived."""

    slug: str = Field(min_length=1)
    name: str | None = None


class DummyJSONPage(SourceModel):
    """One page of ``GET /products``; products stay raw so one bad record cannot sink the page."""

    products: list[Any]
    total: StrictInt = Field(ge=0)
    skip: int | None = None
    limit: int | None = None


# --- Medusa --------------------------------------------------------------------------------


class MedusaModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Medusa wants amounts as JSON numbers in major units (a string amount is a 400).
Amount = Annotated[
    Decimal, Field(ge=0), PlainSerializer(float, return_type=float, when_used="json")
]


class MedusaPrice(MedusaModel):
    id: str | None = None
    currency_code: str = Field(pattern=r"^[a-z]{3}$")
    amount: Amount


class MedusaOption(MedusaModel):
    title: str
    values: list[str]


class MedusaVariant(MedusaModel):
    id: str | None = None
    title: str | None = None
    sku: str | None = None
    barcode: str | None = None
    manage_inventory: bool | None = None
    allow_backorder: bool | None = None
    weight: float | None = None
    length: float | None = None
    height: float | None = None
    width: float | None = None
    prices: list[MedusaPrice] | None = None
    options: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None


class IdRef(MedusaModel):
    id: str


class ImageRef(MedusaModel):
    id: str | None = None
    url: str


class MedusaProductCreate(MedusaModel):
    """Body item of ``create`` in ``POST /admin/products/batch``."""

    title: str
    handle: str
    external_id: str
    status: Literal["draft", "proposed", "published", "rejected"]
    description: str | None = None
    thumbnail: str | None = None
    images: list[ImageRef] = Field(default_factory=list)
    categories: list[IdRef] = Field(default_factory=list)
    tags: list[IdRef] = Field(default_factory=list)
    options: list[MedusaOption]
    variants: list[MedusaVariant]
    sales_channels: list[IdRef] = Field(default_factory=list)
    shipping_profile_id: str | None = None
    weight: float | None = None
    length: float | None = None
    height: float | None = None
    width: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class MedusaProductUpdate(MedusaModel):
    """Body item of ``update`` in ``POST /admin/products/batch``; sets are whole (replace)."""

    id: str
    external_id: str | None = None
    title: str | None = None
    status: Literal["draft", "proposed", "published", "rejected"] | None = None
    description: str | None = None
    thumbnail: str | None = None
    images: list[ImageRef] | None = None
    categories: list[IdRef] | None = None
    tags: list[IdRef] | None = None
    variants: list[MedusaVariant] | None = None
    weight: float | None = None
    length: float | None = None
    height: float | None = None
    width: float | None = None
    metadata: dict[str, Any] | None = None


class MedusaStockLevel(MedusaModel):
    """Item of ``create`` or ``update`` in ``POST /admin/inventory-items/location-levels/batch``
    (both are keyed by item and location); only ``stocked_quantity`` is set, never
    reservations."""

    inventory_item_id: str
    location_id: str
    stocked_quantity: int = Field(ge=0)


def to_json(model: BaseModel) -> dict[str, Any]:
    """A Medusa request body: unset fields left out, amounts as JSON numbers."""
    return model.model_dump(mode="json", exclude_none=True)


# --- What Medusa returns (only the fields the sync reads) -----------------------------------


class MedusaRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ExistingPrice(MedusaRecord):
    id: str
    currency_code: str
    amount: Decimal


class ExistingLevel(MedusaRecord):
    location_id: str
    stocked_quantity: int | None = None


class ExistingInventoryItem(MedusaRecord):
    location_levels: list[ExistingLevel] = Field(default_factory=list)


class ExistingInventoryLink(MedusaRecord):
    inventory_item_id: str
    inventory: ExistingInventoryItem | None = None


class ExistingVariant(MedusaRecord):
    id: str
    sku: str | None = None
    barcode: str | None = None
    title: str | None = None
    manage_inventory: bool | None = None
    prices: list[ExistingPrice] = Field(default_factory=list)
    inventory_items: list[ExistingInventoryLink] = Field(default_factory=list)


class ExistingImage(MedusaRecord):
    id: str | None = None
    url: str


class ExistingCategory(MedusaRecord):
    id: str
    handle: str | None = None


class ExistingTag(MedusaRecord):
    id: str
    value: str | None = None


class ExistingProduct(MedusaRecord):
    """A product already in Medusa, as the upsert lookup reads it."""

    id: str
    handle: str | None = None
    external_id: str | None = None
    status: str | None = None
    title: str | None = None
    description: str | None = None
    thumbnail: str | None = None
    weight: float | None = None
    length: float | None = None
    height: float | None = None
    width: float | None = None
    metadata: dict[str, Any] | None = None
    variants: list[ExistingVariant] = Field(default_factory=list)
    images: list[ExistingImage] = Field(default_factory=list)
    categories: list[ExistingCategory] = Field(default_factory=list)
    tags: list[ExistingTag] = Field(default_factory=list)


class ProductBatch(MedusaRecord):
    """The answer of ``POST /admin/products/batch``: the products written, with the asked fields."""

    created: list[ExistingProduct] = Field(default_factory=list)
    updated: list[ExistingProduct] = Field(default_factory=list)
