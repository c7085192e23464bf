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

from sync_pipeline.mapping import SOURCE_NAME, SourceCategory, StoreContext, category_handle
from sync_pipeline.medusa import MedusaAuthError, MedusaClient, MedusaError, MedusaUnavailable

log = logging.getLogger(__name__)

# Concurrent single-item creates (Medusa has no batch endpoint for categories or tags).
CREATE_CONCURRENCY = 4
# How often a write whose answer was lost is re-checked and re-sent.
AMBIGUOUS_WRITE_ATTEMPTS = 3


# --- store ------------------------------------------------------------------------------------


def ensure_store(client: MedusaClient, currency_code: str) -> StoreContext:
    """Make the store sell in ``currency_code`` and return what new products must link to."""
    currency_code = currency_code.lower()
    stores = client.get("/admin/stores").get("stores", [])
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
            client.post(f"/admin/stores/{store['id']}", {"supported_currencies": wanted})
        except MedusaUnavailable:
            if attempts_left <= 1:
                raise
            # No usable answer: read the store again, and write only if it still lacks it.
            store = client.get(f"/admin/stores/{store['id']}")["store"]
            continue
        log.info("Store %s now supports %s", store["id"], currency_code)
        break
    profiles = client.get("/admin/shipping-profiles", {"type": "default"}).get(
        "shipping_profiles", []
    ) or client.get("/admin/shipping-profiles").get("shipping_profiles", [])
    return StoreContext(
        currency_code=currency_code,
        sales_channel_id=store.get("default_sales_channel_id"),
        shipping_profile_id=profiles[0]["id"] if profiles else None,
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
    rows = client.list_by("/admin/product-categories", "product_categories", "handle", handles)
    return {row["handle"]: row["id"] for row in rows}


def ensure_categories(
    client: MedusaClient, categories: Iterable[SourceCategory]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Every category exists once, matched by handle; returns ``{slug: id}`` and failures."""
    by_handle = {category_handle(c.slug): c for c in categories}

    def find() -> dict[str, str]:
        return find_categories(client, by_handle)

    def create(handle: str, category: SourceCategory) -> str:
        metadata = {"source": SOURCE_NAME, "source_slug": category.slug}
        if category.url:
            metadata["source_url"] = category.url
        body = {"name": category.name, "handle": handle, "is_active": True, "metadata": metadata}
        return client.post("/admin/product-categories", body)["product_category"]["id"]

    existing = find()
    missing = {h: c for h, c in by_handle.items() if h not in existing}
    created, failures = _create_missing(missing, create, find)
    ids = existing | created
    slug_map = {c.slug: ids[h] for h, c in by_handle.items() if h in ids}
    return slug_map, [(by_handle[h].slug, error) for h, error in failures]


def find_tags(client: MedusaClient, values: Iterable[str]) -> dict[str, str]:
    """``{value: id}`` of the tags that exist."""
    rows = client.list_by("/admin/product-tags", "product_tags", "value", values)
    return {row["value"]: row["id"] for row in rows}


def ensure_tags(client: MedusaClient, values: Iterable[str]) -> tuple[dict[str, str], list]:
    """Every tag value exists once; returns ``{value: id}`` and failures."""
    wanted = set(values)
    if not wanted:
        return {}, []

    def find() -> dict[str, str]:
        return find_tags(client, wanted)

    def create(value: str, _: Any) -> str:
        return client.post("/admin/product-tags", {"value": value})["product_tag"]["id"]

    existing = find()
    created, failures = _create_missing({v: v for v in wanted if v not in existing}, create, find)
    return existing | created, failures
