"""Store setup in Medusa: the store's currency, and categories and tags found or created once.

Medusa has no batch endpoint for categories or tags, so each missing one is one request,
made a few at a time. A create whose answer was lost or refused is settled by reading
again (handle for categories, value for tags) before anything is sent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sync_pipeline.clients.medusa import (
    MedusaAuthError,
    MedusaClient,
    MedusaError,
    MedusaUnavailable,
)
from sync_pipeline.sync.changes import StoreContext
from sync_pipeline.sync.mapping import SourceCategory, category_handle
from sync_pipeline.sync.payloads import category_fields
from sync_pipeline.sync.sale_prices import find_sale_list

log = logging.getLogger(__name__)

# Concurrent single-item creates (Medusa has no batch endpoint for categories or tags).
CREATE_CONCURRENCY = 4
# How often a write whose answer was lost is re-checked and re-sent.
AMBIGUOUS_WRITE_ATTEMPTS = 3


# --- store ------------------------------------------------------------------------------------


class StoreSetupError(Exception):
    """The target store lacks something the sync needs and must not create; the message
    names the setting or the Medusa call that fixes it."""


def stock_location(client: MedusaClient, store: dict[str, Any], configured: str | None) -> str:
    """The stock location the supplier's stock goes to: ``MEDUSA_STOCK_LOCATION_ID``, else the
    store's default location, else its first. The sync never creates one (the store is the
    merchant's)."""
    if configured:
        try:
            return client.get_stock_location(configured)["id"]
        except MedusaError as error:
            if error.status != 404:
                raise
            raise StoreSetupError(
                f"MEDUSA_STOCK_LOCATION_ID={configured!r}: Medusa at {client.base_url} has no "
                "such stock location (GET /admin/stock-locations lists them)"
            ) from None
    if store.get("default_location_id"):
        return store["default_location_id"]
    oldest = client.oldest_stock_location()
    if oldest is None:
        raise StoreSetupError(
            f"Medusa at {client.base_url} has no stock location for the supplier's stock: "
            "create one (admin: Settings → Locations & Shipping, or POST /admin/stock-locations) "
            "and set MEDUSA_STOCK_LOCATION_ID, or set SYNC_INVENTORY=off to leave stock alone"
        )
    return oldest["id"]


def ensure_store(
    client: MedusaClient,
    currency_code: str,
    *,
    inventory: bool = True,
    stock_location_id: str | None = None,
) -> StoreContext:
    """Make the store sell in ``currency_code`` and return what new products must link to
    (with ``inventory``, the stock location their stock goes to; the sync's sale price list,
    if there is one yet)."""
    currency_code = currency_code.lower()
    stores = client.list_stores()
    if not stores:
        raise MedusaError("GET", "/admin/stores", 200, "Medusa has no store (was it ever started?)")
    store = stores[0]
    for attempts_left in range(AMBIGUOUS_WRITE_ATTEMPTS, 0, -1):
        supported = store.get("supported_currencies") or []
        codes = [c.get("currency_code") for c in supported]
        if currency_code in codes:
            break
        wanted = [
            {"currency_code": c.get("currency_code"), "is_default": bool(c.get("is_default"))}
            for c in supported
        ]
        wanted.append({"currency_code": currency_code, "is_default": not supported})
        try:
            client.update_store(store["id"], supported_currencies=wanted)
        except MedusaUnavailable:
            if attempts_left <= 1:
                raise
            # No usable answer: read the store again, and write only if it still lacks it.
            store = client.get_store(store["id"])
            continue
        log.info("Store %s now supports %s", store["id"], currency_code)
        break
    profiles = client.list_shipping_profiles(type="default") or client.list_shipping_profiles()
    return StoreContext(
        currency_code=currency_code,
        sales_channel_id=store.get("default_sales_channel_id"),
        shipping_profile_id=profiles[0]["id"] if profiles else None,
        stock_location_id=stock_location(client, store, stock_location_id) if inventory else None,
        sale_list_id=find_sale_list(client),
    )


# --- categories and tags ---------------------------------------------------------------------


def _create_missing(
    wanted: dict[str, Any], create: Callable[[str, Any], str], find: Callable[[], dict[str, str]]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Create each missing item (bounded concurrency); re-read to settle lost answers and races.

    A create that got no usable answer (refused with a 5xx, cut off, timed out) and is still
    missing after the re-read never reached Medusa: it is sent again, up to
    ``AMBIGUOUS_WRITE_ATTEMPTS`` times in all. Other errors (a 400) are final.
    """
    created: dict[str, str] = {}
    failures: list[tuple[str, str]] = []

    def attempt(key: str) -> tuple[str, str | None, MedusaError | None]:
        try:
            return key, create(key, wanted[key]), None
        except MedusaAuthError:
            raise
        except MedusaError as error:
            return key, None, error

    pending = list(wanted)
    for attempts_left in range(AMBIGUOUS_WRITE_ATTEMPTS, 0, -1):
        errors: dict[str, MedusaError] = {}
        with ThreadPoolExecutor(max_workers=CREATE_CONCURRENCY) as pool:
            for key, new_id, error in pool.map(attempt, pending):
                if new_id:
                    created[key] = new_id
                else:
                    errors[key] = error
        if not errors:
            return created, []
        # A duplicate (someone else made it) or a lost answer (we made it): look again.
        found = find()
        created.update({key: found[key] for key in errors if key in found})
        failures = [(key, str(error)) for key, error in errors.items() if key not in found]
        pending = [
            key
            for key, error in errors.items()
            if key not in found and isinstance(error, MedusaUnavailable)
        ]
        if not pending or attempts_left <= 1:
            break
        log.warning("%d creates got no answer and are not in Medusa; sending again", len(pending))
    return created, failures


def find_categories(client: MedusaClient, handles: Iterable[str]) -> dict[str, str]:
    """``{handle: id}`` of the categories that exist."""
    return {row.handle: row.id for row in client.find_categories_by_handle(handles)}


def ensure_categories(
    client: MedusaClient, categories: Iterable[SourceCategory]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Every category exists once, matched by handle; returns ``{slug: id}`` and failures."""
    by_handle = {category_handle(c.slug): c for c in categories}

    def find() -> dict[str, str]:
        return find_categories(client, by_handle)

    def create(_handle: str, category: SourceCategory) -> str:
        return client.create_category(**category_fields(category)).id

    existing = find()
    missing = {h: c for h, c in by_handle.items() if h not in existing}
    created, failures = _create_missing(missing, create, find)
    ids = existing | created
    slug_map = {c.slug: ids[h] for h, c in by_handle.items() if h in ids}
    return slug_map, [(by_handle[h].slug, error) for h, error in failures]


def find_tags(client: MedusaClient, values: Iterable[str]) -> dict[str, str]:
    """``{value: id}`` of the tags that exist."""
    return {row.value: row.id for row in client.find_tags_by_value(values)}


def ensure_tags(client: MedusaClient, values: Iterable[str]) -> tuple[dict[str, str], list]:
    """Every tag value exists once; returns ``{value: id}`` and failures."""
    wanted = set(values)
    if not wanted:
        return {}, []

    def find() -> dict[str, str]:
        return find_tags(client, wanted)

    def create(value: str, _: Any) -> str:
        return client.create_tag(value).id

    existing = find()
    created, failures = _create_missing({v: v for v in wanted if v not in existing}, create, find)
    return existing | created, failures


# --- what a storefront needs -------------------------------------------------------------------


def storefront_gaps(client: MedusaClient, store: StoreContext) -> list[str]:
    """What the store lacks for a storefront to sell the synced products, each with its fix.

    Only read: the region, the publishable key and the stock location are the merchant's to
    create (the local stack creates them for its own store).
    """
    gaps = []
    currency = store.currency_code
    if not client.count_regions(currency_code=currency):
        gaps.append(
            f"No region sells in {currency.upper()}, so a storefront cannot price the products: "
            "create one in the admin (Settings → Regions) or with POST /admin/regions "
            f'{{"name", "currency_code": "{currency}", "countries": [...], '
            '"payment_providers": ["pp_system_default"]}.'
        )
    channel = store.sales_channel_id
    if channel is None:
        gaps.append(
            "The store has no default sales channel, so the products are in none: set one in "
            "the admin (Settings → Store) or with POST /admin/stores/{id} "
            '{"default_sales_channel_id"}.'
        )
        return gaps
    keys = client.list_publishable_keys(fields="id,revoked_at,sales_channels.id")
    if not any(
        not key.get("revoked_at") and channel in {c["id"] for c in key.get("sales_channels") or []}
        for key in keys
    ):
        gaps.append(
            f"No publishable API key is linked to the sales channel {channel}, so the Store API "
            "shows no products: link one in the admin (Settings → Publishable API Keys) or with "
            f'POST /admin/api-keys/{{id}}/sales-channels {{"add": ["{channel}"]}}.'
        )
    linked = {row["id"] for row in client.list_stock_locations(sales_channel_id=channel)}
    wanted = store.stock_location_id
    if not linked or (wanted and wanted not in linked):
        which = f"The stock location {wanted}" if wanted else "No stock location"
        location = wanted or "{id}"
        gaps.append(
            f"{which} is not linked to the sales channel {channel}, so carts cannot take managed "
            "stock or ship: link it in the admin (Settings → Locations & Shipping) or with "
            f'POST /admin/stock-locations/{location}/sales-channels {{"add": ["{channel}"]}}.'
        )
    return gaps
