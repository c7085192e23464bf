"""Medusa payloads for a normalized product: the create body, and an update that keeps
every merchant edit. Pure functions: no I/O.

Updates send only the fields the sync owns (see ``changes.desired_state``) and rebuild
Medusa's replace-all sets (images, categories, tags, variants, prices) from what is
already there plus what the source says.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sync_pipeline.clients.models import (
    ExistingProduct,
    IdRef,
    ImageRef,
    MedusaOption,
    MedusaPrice,
    MedusaProductCreate,
    MedusaProductUpdate,
    MedusaVariant,
)
from sync_pipeline.sync.changes import (
    FINGERPRINT_KEY,
    OWNED_CATEGORY_KEY,
    OWNED_IMAGES_KEY,
    OWNED_SALE_KEY,
    OWNED_TAGS_KEY,
    RETIRED_METADATA_KEYS,
    StoreContext,
    fingerprint,
    owned_variant,
)
from sync_pipeline.sync.mapping import (
    METADATA_FIELDS,
    SOURCE_NAME,
    NormalizedProduct,
    SourceCategory,
    category_handle,
)

# A synced product's one option, with one value: its one variant.
DEFAULT_OPTION = "Default"


def _owned_metadata(
    product: NormalizedProduct, currency_code: str, category_id: str, tag_ids: list[str]
) -> dict[str, Any]:
    return {
        **product.metadata,
        FINGERPRINT_KEY: fingerprint(product, currency_code),
        OWNED_IMAGES_KEY: list(product.images),
        OWNED_CATEGORY_KEY: category_id,
        OWNED_TAGS_KEY: tag_ids,
        **({OWNED_SALE_KEY: str(product.sale_price)} if product.sale_price else {}),
    }


def _default_variant(product: NormalizedProduct, store: StoreContext) -> MedusaVariant:
    """The one variant a source product becomes: its SKU, price and size. Medusa gives it an
    inventory item when the sync manages stock."""
    currency_code = store.currency_code
    return MedusaVariant(
        title=DEFAULT_OPTION,
        sku=product.sku,
        barcode=product.barcode,
        manage_inventory=store.manages_inventory,
        weight=product.weight,
        length=product.length,
        height=product.height,
        width=product.width,
        prices=[MedusaPrice(currency_code=currency_code, amount=product.price)],
        options={DEFAULT_OPTION: DEFAULT_OPTION},
    )


def build_create(
    product: NormalizedProduct,
    store: StoreContext,
    category_id: str,
    tag_ids: list[str],
) -> MedusaProductCreate:
    return MedusaProductCreate(
        title=product.title,
        handle=product.handle,
        external_id=product.external_id,
        status="published",
        description=product.description,
        thumbnail=product.thumbnail,
        images=[ImageRef(url=url) for url in product.images],
        categories=[IdRef(id=category_id)],
        tags=[IdRef(id=tag_id) for tag_id in tag_ids],
        options=[MedusaOption(title=DEFAULT_OPTION, values=[DEFAULT_OPTION])],
        variants=[_default_variant(product, store)],
        sales_channels=[IdRef(id=store.sales_channel_id)] if store.sales_channel_id else [],
        shipping_profile_id=store.shipping_profile_id,
        weight=product.weight,
        length=product.length,
        height=product.height,
        width=product.width,
        metadata=_owned_metadata(product, store.currency_code, category_id, tag_ids),
    )


def _replace_owned(
    current: list[str], previously_owned: Iterable[str], owned: list[str]
) -> list[str]:
    """A replace-all set: the merchant's members kept, the sync's members swapped for new ones."""
    dropped = set(previously_owned) | set(owned)
    return owned + [item for item in dict.fromkeys(current) if item not in dropped]


def build_update(
    product: NormalizedProduct,
    existing: ExistingProduct,
    store: StoreContext,
    category_id: str,
    tag_ids: list[str],
) -> MedusaProductUpdate:
    """An update that rewrites owned fields and keeps every merchant edit."""
    meta = existing.metadata or {}
    previous_images = meta.get(OWNED_IMAGES_KEY) or []
    image_ids = {image.url: image.id for image in existing.images}
    image_urls = _replace_owned(
        [image.url for image in existing.images], previous_images, list(product.images)
    )
    previous_category = meta.get(OWNED_CATEGORY_KEY)
    categories = _replace_owned(
        [ref.id for ref in existing.categories],
        [previous_category] if previous_category else [],
        [category_id],
    )
    tags = _replace_owned(
        [ref.id for ref in existing.tags], meta.get(OWNED_TAGS_KEY) or [], tag_ids
    )
    # Metadata is merged by Medusa: an empty string deletes a key the source no longer has.
    dropped = (*METADATA_FIELDS.values(), *RETIRED_METADATA_KEYS, OWNED_SALE_KEY)
    metadata: dict[str, Any] = {key: "" for key in dropped if key in meta}
    metadata.update(_owned_metadata(product, store.currency_code, category_id, tag_ids))
    return MedusaProductUpdate(
        id=existing.id,
        external_id=product.external_id,
        title=product.title,
        status="published",
        description=product.description,
        thumbnail=product.thumbnail,
        images=[ImageRef(id=image_ids.get(url), url=url) for url in image_urls],
        categories=[IdRef(id=cid) for cid in categories],
        tags=[IdRef(id=tid) for tid in tags],
        variants=_updated_variants(product, existing, store),
        weight=product.weight,
        length=product.length,
        height=product.height,
        width=product.width,
        metadata=metadata,
    )


def _updated_variants(
    product: NormalizedProduct, existing: ExistingProduct, store: StoreContext
) -> list[MedusaVariant]:
    """The whole variant set: the sync's variant updated, every other variant kept as is.

    ``manage_inventory`` is sent only to turn it on (Medusa then adds the inventory item);
    with the sync's stock off, it is never sent, so the merchant's inventory is untouched.
    """
    ours = owned_variant(existing, product.sku)
    if ours is None:
        return [_default_variant(product, store)]
    currency_code = store.currency_code
    prices = [
        MedusaPrice(id=price.id, currency_code=price.currency_code, amount=price.amount)
        for price in ours.prices
        if price.currency_code != currency_code
    ]
    own_price = next((p for p in ours.prices if p.currency_code == currency_code), None)
    prices.insert(
        0,
        MedusaPrice(
            id=own_price.id if own_price else None,
            currency_code=currency_code,
            amount=product.price,
        ),
    )
    return [
        MedusaVariant(
            id=variant.id,
            sku=product.sku,
            barcode=product.barcode,
            manage_inventory=True
            if store.manages_inventory and ours.manage_inventory is False
            else None,
            weight=product.weight,
            length=product.length,
            height=product.height,
            width=product.width,
            prices=prices,
        )
        if variant.id == ours.id
        else MedusaVariant(id=variant.id)
        for variant in existing.variants
    ]


def category_fields(category: SourceCategory) -> dict[str, Any]:
    """A category as the sync creates it: handle from the slug, the source in its metadata."""
    metadata = {"source": SOURCE_NAME, "source_slug": category.slug}
    if category.url:
        metadata["source_url"] = category.url
    return {"name": category.name, "handle": category_handle(category.slug), "metadata": metadata}
