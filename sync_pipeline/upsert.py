"""Writing the catalog into Medusa: store setup, categories, tags and the product upsert.

Identity is the source id (``external_id = dummyjson:{id}``), never a page position, so a
re-run finds what an earlier run wrote. Medusa's batch endpoint is all-or-nothing, so a
rejected batch is split until the bad record is isolated; a batch whose answer was lost
is never blindly resent: the products are looked up again and only what is still
missing or stale is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from sync_pipeline.mapping import (
    SOURCE_NAME,
    NormalizedProduct,
    RejectedRecord,
    SourceCategory,
    StoreContext,
    build_create,
    build_update,
    category_handle,
    category_name,
    changed_fields,
    fingerprint,
    stored_fingerprint,
)
from sync_pipeline.medusa import MedusaAuthError, MedusaClient, MedusaError, MedusaUnavailable
from sync_pipeline.models import ExistingProduct, to_json

log = logging.getLogger(__name__)

# Concurrent single-item creates (Medusa has no batch endpoint for categories or tags).
CREATE_CONCURRENCY = 4
# How often a batch whose answer was lost is re-checked and re-sent.
AMBIGUOUS_WRITE_ATTEMPTS = 3

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
        "variants.title",
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
BATCH_RESPONSE_FIELDS = "id,handle,external_id"


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


# --- products -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedChange:
    """A product the sync creates or updates, with the owned fields that change (old, new)."""

    source_id: int
    handle: str
    action: str
    changes: dict[str, tuple[Any, Any]]


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failures: list[RejectedRecord] = field(default_factory=list)
    ambiguous_retries: int = 0
    plan: list[PlannedChange] = field(default_factory=list)
    new_categories: list[str] = field(default_factory=list)
    new_tags: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


@dataclass(frozen=True)
class _Write:
    product: NormalizedProduct
    body: dict[str, Any]
    is_create: bool


def find_products(
    client: MedusaClient,
    external_ids: Iterable[str],
    fields: str = PRODUCT_LOOKUP_FIELDS,
    by: str = "external_id",
) -> dict[str, ExistingProduct]:
    """Existing products by external id (the oldest wins if a duplicate ever slipped in).

    ``by="id"`` looks products up by their Medusa ids instead (still keyed by external id).
    """
    rows = client.list_by("/admin/products", "products", by, external_ids, {"fields": fields})
    found: dict[str, ExistingProduct] = {}
    for row in rows:
        product = ExistingProduct.model_validate(row)
        if product.external_id and product.external_id not in found:
            found[product.external_id] = product
    return found


class ProductUpserter:
    """Plans and writes one page of products; with ``dry_run`` it only plans (no writes)."""

    def __init__(
        self,
        client: MedusaClient,
        store: StoreContext,
        category_ids: dict[str, str],
        *,
        batch_size: int = 100,
        dry_run: bool = False,
    ) -> None:
        self.client = client
        self.store = store
        self.category_ids = dict(category_ids)
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.tag_ids: dict[str, str] = {}
        self.result = UpsertResult()

    def run(self, products: list[NormalizedProduct]) -> UpsertResult:
        if not products:
            return self.result
        products = self._with_categories(products)
        products = self._with_tags(products)
        existing = find_products(self.client, [p.external_id for p in products], FINGERPRINT_FIELDS)
        stale = [
            existing[p.external_id].id
            for p in products
            if p.external_id in existing and not self._is_current(p, existing[p.external_id])
        ]
        if stale:  # what an update must rebuild: variants, prices, images, links
            existing.update(find_products(self.client, stale, by="id"))
        writes = self._plan(products, existing)
        if self.dry_run:
            self.result.created = sum(w.is_create for w in writes)
            self.result.updated = len(writes) - self.result.created
            return self.result
        for start in range(0, len(writes), self.batch_size):
            self._write(
                writes[start : start + self.batch_size], attempts_left=AMBIGUOUS_WRITE_ATTEMPTS
            )
        return self.result

    # planning

    def _fail(self, product: NormalizedProduct, stage: str, reason: str) -> None:
        self.result.failures.append(
            RejectedRecord(str(product.source_id), product.sku, stage, reason)
        )

    def _with_categories(self, products: list[NormalizedProduct]) -> list[NormalizedProduct]:
        missing = {p.category_slug for p in products} - set(self.category_ids)
        if missing and self.dry_run:
            found = find_categories(self.client, [category_handle(s) for s in missing])
            for slug in sorted(missing):
                handle = category_handle(slug)
                if handle not in found:
                    self.result.new_categories.append(slug)
                self.category_ids[slug] = found.get(handle, f"(new category {slug})")
        elif missing:
            # The category map predates this page's categories: create them now.
            found, failures = ensure_categories(
                self.client, [SourceCategory(slug, category_name(slug)) for slug in sorted(missing)]
            )
            self.category_ids.update(found)
            for slug, error in failures:
                log.warning("Category %s could not be created: %s", slug, error)
        keep = []
        for product in products:
            if product.category_slug in self.category_ids:
                keep.append(product)
            else:
                self._fail(
                    product, "category", f"category {product.category_slug!r} is not in Medusa"
                )
        return keep

    def _with_tags(self, products: list[NormalizedProduct]) -> list[NormalizedProduct]:
        values = {t for p in products for t in p.tags}
        if self.dry_run:
            tag_ids, failures = (find_tags(self.client, values) if values else {}), []
            self.result.new_tags = sorted(values - set(tag_ids))
            tag_ids.update({v: f"(new tag {v})" for v in self.result.new_tags})
        else:
            tag_ids, failures = ensure_tags(self.client, values)
        failed = dict(failures)
        self.tag_ids = tag_ids
        keep = []
        for product in products:
            bad = [t for t in product.tags if t not in tag_ids]
            if bad:
                reasons = "; ".join(f"{t!r}: {failed.get(t, 'not created')}" for t in bad)
                self._fail(product, "tags", f"tag could not be created: {reasons}")
            else:
                keep.append(product)
        return keep

    def _plan(
        self, products: list[NormalizedProduct], existing: dict[str, ExistingProduct]
    ) -> list[_Write]:
        writes: list[_Write] = []
        for product in products:
            current = existing.get(product.external_id)
            if current and self._is_current(product, current):
                self.result.unchanged += 1
                continue
            try:
                writes.append(self._payload(product, current))
            except ValidationError as error:
                self._fail(product, "mapping", str(error))
                continue
            changes = changed_fields(product, current, self.store.currency_code) if current else {}
            action = "update" if current else "create"
            # Updates never change a handle (storefront URLs stay), so show the one in Medusa.
            handle = current.handle if current and current.handle else product.handle
            self.result.plan.append(PlannedChange(product.source_id, handle, action, changes))
        return writes

    def _is_current(self, product: NormalizedProduct, current: ExistingProduct) -> bool:
        return (
            stored_fingerprint(current) == fingerprint(product, self.store.currency_code)
            and current.status == "published"
        )

    def _payload(self, product: NormalizedProduct, current: ExistingProduct | None) -> _Write:
        category_id = self.category_ids[product.category_slug]
        tag_ids = [self.tag_ids[t] for t in product.tags]
        if current is None:
            body = to_json(build_create(product, self.store, category_id, tag_ids))
            return _Write(product, body, is_create=True)
        body = to_json(build_update(product, current, self.store, category_id, tag_ids))
        return _Write(product, body, is_create=False)

    # writing

    def _write(self, writes: list[_Write], attempts_left: int) -> None:
        if not writes:
            return
        body = {
            "create": [w.body for w in writes if w.is_create],
            "update": [w.body for w in writes if not w.is_create],
        }
        try:
            answer = self.client.post(
                "/admin/products/batch", body, params={"fields": BATCH_RESPONSE_FIELDS}
            )
        except MedusaAuthError:
            raise
        except MedusaUnavailable as error:
            self._settle_ambiguous(writes, attempts_left, error)
            return
        except MedusaError as error:
            self._split(writes, attempts_left, error)
            return
        self.result.created += len(answer.get("created", []))
        self.result.updated += len(answer.get("updated", []))

    def _split(self, writes: list[_Write], attempts_left: int, error: MedusaError) -> None:
        """All-or-nothing batch rejected: halve until the bad record stands alone."""
        if len(writes) == 1:
            write = writes[0]
            if write.is_create and "already exists" in error.message:
                self._adopt_by_handle(write, attempts_left, error)
            else:
                self._fail(write.product, "medusa", f"HTTP {error.status}: {error.message}")
            return
        middle = len(writes) // 2
        self._write(writes[:middle], attempts_left)
        self._write(writes[middle:], attempts_left)

    def _adopt_by_handle(self, write: _Write, attempts_left: int, error: MedusaError) -> None:
        """A create whose handle is taken: update the holder if it is this product's, else fail.

        The handle embeds the source id, so a product holding it without an external id (made
        by hand, or by an older sync) is this one; one with another external id is not ours.
        """
        rows = self.client.list_by(
            "/admin/products",
            "products",
            "handle",
            [write.product.handle],
            {"fields": PRODUCT_LOOKUP_FIELDS},
        )
        holder = ExistingProduct.model_validate(rows[0]) if rows else None
        if holder is None or holder.external_id not in (None, "", write.product.external_id):
            taken_by = f" by {holder.id} (external id {holder.external_id})" if holder else ""
            self._fail(
                write.product,
                "medusa",
                f"HTTP {error.status}: {error.message} Handle taken{taken_by}.",
            )
            return
        self._write([self._payload(write.product, holder)], attempts_left)

    def _settle_ambiguous(
        self, writes: list[_Write], attempts_left: int, error: MedusaUnavailable
    ) -> None:
        """The batch may have committed: look the products up, then write only what is left."""
        log.warning("Batch of %d got no usable answer (%s); checking Medusa", len(writes), error)
        self.result.ambiguous_retries += 1
        try:
            existing = find_products(self.client, [w.product.external_id for w in writes])
        except MedusaUnavailable as lookup_error:
            error = lookup_error
            existing = None
        if existing is None or attempts_left <= 1:
            for write in writes:
                self._fail(write.product, "medusa", f"no answer from Medusa: {error.message}")
            return
        remaining = []
        for write in writes:
            current = existing.get(write.product.external_id)
            if current and self._is_current(write.product, current):
                # It committed: count it as what it was meant to be.
                if write.is_create:
                    self.result.created += 1
                else:
                    self.result.updated += 1
            else:
                remaining.append(self._payload(write.product, current))
        self._write(remaining, attempts_left - 1)
