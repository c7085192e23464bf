"""HTTP client for Medusa v2's Admin API: one session, timeouts, honest errors, counted requests.

Reads (GET) are retried on transport failures and 5xx, with backoff, because repeating
them is harmless. Writes are never repeated here: a write whose answer was lost may
have committed, so only the caller, who can look up what happened, may try again.

The sync calls the named methods at the bottom, so Admin API paths and response envelopes
are spelled here only; the generic ``get``/``post``/``list_all`` under them stay for probes.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import requests

from sync_pipeline.clients.models import (
    ExistingCategory,
    ExistingProduct,
    ExistingTag,
    ProductBatch,
)

log = logging.getLogger(__name__)

# Node's header limit is ~16 KB; 200 filter values (~6 KB of URL) keep lookups well under it.
LOOKUP_CHUNK = 200
PRODUCTS_BATCH_PATH = "/admin/products/batch"
LEVELS_BATCH_PATH = "/admin/inventory-items/location-levels/batch"


class MedusaError(Exception):
    """Medusa answered a request with an error (or not at all)."""

    def __init__(self, method: str, path: str, status: int | None, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        where = f"{method} {path}"
        super().__init__(f"{where}: HTTP {status}: {message}" if status else f"{where}: {message}")

    @property
    def is_duplicate(self) -> bool:
        """A unique value (handle, SKU, tag, stock level) is taken. Medusa 2.21 says so only in
        its message: 400 ``invalid_data`` "… already exists.", the type and status of any bad
        input."""
        return "already exists" in self.message


class MedusaAuthError(MedusaError):
    """The credentials were refused; the message names the setting to fix."""


class MedusaUnavailable(MedusaError):
    """No usable answer (connection refused or dropped, timeout, 5xx).

    For a write this is ambiguous: the change may or may not have been committed.
    """


class MedusaClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        admin_email: str | None = None,
        admin_password: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        read_retries: int = 3,
        retry_backoff: float = 0.5,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url:
            raise ValueError("MEDUSA_BASE_URL is not set: the Medusa server's URL is required")
        if not api_key and not (admin_email and admin_password):
            raise ValueError(
                "No Medusa credentials: set MEDUSA_API_KEY (a secret API key), "
                "or MEDUSA_ADMIN_EMAIL and MEDUSA_ADMIN_PASSWORD"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.read_retries = read_retries
        self.retry_backoff = retry_backoff
        self.session = session or requests.Session()
        self._sleep = sleep
        self._api_key = api_key
        self._admin_email = admin_email
        self._admin_password = admin_password
        self._token: str | None = None
        if api_key:
            # A secret key goes as HTTP Basic (as Bearer Medusa answers 401).
            self.session.auth = (api_key, "")
        self.request_counts: Counter[str] = Counter()

    def __repr__(self) -> str:  # never show credentials
        return f"MedusaClient({self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    # --- transport --------------------------------------------------------------------------

    def get(self, path: str, params: Any = None) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return self._request("GET", path, params=params)
            except MedusaUnavailable:
                if attempt >= self.read_retries:
                    raise
                attempt += 1
                self._sleep(self.retry_backoff * 2 ** (attempt - 1))

    def post(self, path: str, body: Any, params: Any = None) -> dict[str, Any]:
        return self._request("POST", path, params=params, json=body)

    def delete(self, path: str) -> dict[str, Any]:
        return self._request("DELETE", path)

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.request_counts["read" if method == "GET" else "write"] += 1
        headers = {"Accept": "application/json"}
        if not self._api_key:
            headers["Authorization"] = f"Bearer {self._login()}"
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.Timeout as error:
            raise MedusaUnavailable(
                method, path, None, f"timed out ({type(error).__name__})"
            ) from error
        except requests.RequestException as error:
            raise MedusaUnavailable(
                method, path, None, f"no answer from {self.base_url} ({type(error).__name__})"
            ) from error
        if response.status_code == 401:
            if not self._api_key and self._token:
                self._token = None  # an expired JWT: log in again, once
                return self._request(method, path, **kwargs)
            raise MedusaAuthError(method, path, 401, self._auth_hint())
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise MedusaUnavailable(method, path, response.status_code, _message(response))
        if response.status_code >= 400:
            raise MedusaError(method, path, response.status_code, _message(response))
        try:
            return response.json()
        except ValueError as error:
            raise MedusaUnavailable(
                method, path, response.status_code, "answer is not JSON (cut off?)"
            ) from error

    def _auth_hint(self) -> str:
        if self._api_key:
            return (
                f"Medusa at {self.base_url} refused the API key: check MEDUSA_API_KEY "
                "(a secret key, sk_…, valid and not revoked, for this server)"
            )
        return (
            f"Medusa at {self.base_url} refused the admin login: "
            "check MEDUSA_ADMIN_EMAIL and MEDUSA_ADMIN_PASSWORD"
        )

    def _login(self) -> str:
        if self._token:
            return self._token
        path = "/auth/user/emailpass"
        self.request_counts["write"] += 1
        try:
            response = self.session.post(
                f"{self.base_url}{path}",
                json={"email": self._admin_email, "password": self._admin_password},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise MedusaUnavailable(
                "POST", path, None, f"no answer from {self.base_url} ({type(error).__name__})"
            ) from error
        if response.status_code == 401:
            raise MedusaAuthError("POST", path, 401, self._auth_hint())
        if response.status_code >= 400:
            raise MedusaError("POST", path, response.status_code, _message(response))
        answer = response.json()
        refusal = _login_refusal(answer, self.base_url)
        if refusal:
            raise MedusaAuthError("POST", path, 200, refusal)
        self._token = answer["token"]
        return self._token

    # --- what the server has ------------------------------------------------------------------

    def has_route(self, path: str) -> bool:
        """Whether the server serves ``GET path``: where no route is, Express answers 404."""
        try:
            self.get(path, {"limit": 1})
        except MedusaAuthError:
            raise
        except MedusaError as error:
            if error.status == 404:
                return False
            raise
        return True

    # --- listing ------------------------------------------------------------------------------

    def list_all(
        self, path: str, key: str, params: dict[str, Any] | None = None, page_size: int = 500
    ) -> list[dict[str, Any]]:
        """Every row of a list endpoint, paged by offset in a stable order."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = self.get(
                path, {**(params or {}), "limit": page_size, "offset": offset, "order": "id"}
            )
            batch = body.get(key, [])
            rows.extend(batch)
            offset += len(batch)
            if not batch or offset >= body.get("count", 0):
                return rows

    def list_by(
        self,
        path: str,
        key: str,
        field: str,
        values: Iterable[str],
        extra: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows whose ``field`` is one of ``values``, in chunks that keep URLs short."""
        rows: list[dict[str, Any]] = []
        for chunk in _chunks(sorted(set(values)), LOOKUP_CHUNK):
            rows.extend(self.list_all(path, key, {**(extra or {}), field: chunk}))
        return rows

    # --- the store ------------------------------------------------------------------------------

    def list_stores(self, *, fields: str | None = None, limit: int | None = None) -> list[dict]:
        """The stores (Medusa makes one); only the first page, which is all there is."""
        params = {k: v for k, v in (("fields", fields), ("limit", limit)) if v is not None}
        return self.get("/admin/stores", params or None).get("stores", [])

    def get_store(self, store_id: str) -> dict[str, Any]:
        return self.get(f"/admin/stores/{store_id}")["store"]

    def update_store(self, store_id: str, *, supported_currencies: list[dict[str, Any]]) -> None:
        """Set the store's currencies (the whole list: what is left out is removed)."""
        self.post(f"/admin/stores/{store_id}", {"supported_currencies": supported_currencies})

    def list_shipping_profiles(self, *, type: str | None = None) -> list[dict[str, Any]]:
        params = {"type": type} if type else None
        return self.get("/admin/shipping-profiles", params).get("shipping_profiles", [])

    def get_stock_location(self, location_id: str) -> dict[str, Any]:
        """The location's id (a ``MedusaError`` with status 404 if there is none)."""
        return self.get(f"/admin/stock-locations/{location_id}", {"fields": "id"})["stock_location"]

    def oldest_stock_location(self) -> dict[str, Any] | None:
        rows = self.get(
            "/admin/stock-locations", {"fields": "id", "order": "created_at", "limit": 1}
        ).get("stock_locations", [])
        return rows[0] if rows else None

    def list_stock_locations(self, *, sales_channel_id: str) -> list[dict[str, Any]]:
        """The ids of the stock locations linked to a sales channel."""
        return self.list_all(
            "/admin/stock-locations",
            "stock_locations",
            {"sales_channel_id": sales_channel_id, "fields": "id"},
        )

    def count_regions(self, *, currency_code: str) -> int:
        params = {"currency_code": currency_code, "fields": "id", "limit": 1}
        return self.get("/admin/regions", params).get("count", 0)

    def list_publishable_keys(self, *, fields: str) -> list[dict[str, Any]]:
        return self.list_all(
            "/admin/api-keys", "api_keys", {"type": "publishable", "fields": fields}
        )

    # --- categories and tags ----------------------------------------------------------------

    def find_categories_by_handle(self, handles: Iterable[str]) -> list[ExistingCategory]:
        rows = self.list_by("/admin/product-categories", "product_categories", "handle", handles)
        return [ExistingCategory.model_validate(row) for row in rows]

    def create_category(
        self, *, name: str, handle: str, metadata: dict[str, Any]
    ) -> ExistingCategory:
        """An active category (Medusa has no batch endpoint for categories)."""
        body = {"name": name, "handle": handle, "is_active": True, "metadata": metadata}
        row = self.post("/admin/product-categories", body)["product_category"]
        return ExistingCategory.model_validate(row)

    def find_tags_by_value(self, values: Iterable[str]) -> list[ExistingTag]:
        rows = self.list_by("/admin/product-tags", "product_tags", "value", values)
        return [ExistingTag.model_validate(row) for row in rows]

    def create_tag(self, value: str) -> ExistingTag:
        row = self.post("/admin/product-tags", {"value": value})["product_tag"]
        return ExistingTag.model_validate(row)

    # --- products -------------------------------------------------------------------------------

    def list_products(self, *, fields: str) -> list[ExistingProduct]:
        rows = self.list_all("/admin/products", "products", {"fields": fields})
        return [ExistingProduct.model_validate(row) for row in rows]

    def find_products_by_external_id(
        self, external_ids: Iterable[str], *, fields: str
    ) -> list[ExistingProduct]:
        return self._find_products("external_id", external_ids, fields)

    def find_products_by_id(self, ids: Iterable[str], *, fields: str) -> list[ExistingProduct]:
        return self._find_products("id", ids, fields)

    def find_products_by_handle(
        self, handles: Iterable[str], *, fields: str
    ) -> list[ExistingProduct]:
        return self._find_products("handle", handles, fields)

    def _find_products(
        self, field: str, values: Iterable[str], fields: str
    ) -> list[ExistingProduct]:
        rows = self.list_by("/admin/products", "products", field, values, {"fields": fields})
        return [ExistingProduct.model_validate(row) for row in rows]

    def batch_products(
        self,
        *,
        create: list[dict[str, Any]] | None = None,
        update: list[dict[str, Any]] | None = None,
        delete: list[str] | None = None,
        fields: str,
    ) -> ProductBatch:
        """One all-or-nothing batch; ``fields`` says what the answer holds of each product."""
        body = _batch_body(create=create, update=update, delete=delete)
        answer = self.post(PRODUCTS_BATCH_PATH, body, params={"fields": fields})
        return ProductBatch.model_validate(answer)

    def find_variant_by_barcode(self, barcode: str) -> dict[str, Any] | None:
        """The variant holding ``barcode`` (Medusa keeps barcodes unique), with its product."""
        rows = self.get(
            "/admin/product-variants",
            {"barcode": barcode, "fields": "id,sku,product.id,product.handle,product.external_id"},
        ).get("variants", [])
        return rows[0] if rows else None

    # --- price lists --------------------------------------------------------------------------

    def list_price_lists(self) -> list[dict[str, Any]]:
        """Every price list (a store has a few): id, title, description, type, status, created."""
        return self.list_all(
            "/admin/price-lists",
            "price_lists",
            {"fields": "id,title,description,type,status,created_at"},
        )

    def create_price_list(
        self, *, title: str, description: str, type: str, status: str
    ) -> dict[str, Any]:
        body = {"title": title, "description": description, "type": type, "status": status}
        return self.post("/admin/price-lists", body)["price_list"]

    def delete_price_list(self, list_id: str) -> None:
        self.delete(f"/admin/price-lists/{list_id}")

    def remove_products_from_price_list(self, list_id: str, product_ids: list[str]) -> None:
        """Remove every price these products' variants have in the list."""
        if product_ids:
            self.post(
                f"/admin/price-lists/{list_id}/products",
                {"remove": product_ids},
                params={"fields": "id"},  # not the whole list back
            )

    def batch_price_list_prices(
        self,
        list_id: str,
        *,
        create: list[dict[str, Any]] | None = None,
        update: list[dict[str, Any]] | None = None,
        delete: list[str] | None = None,
    ) -> None:
        """Add, change or remove prices of one price list, all-or-nothing."""
        body = _batch_body(create=create, update=update, delete=delete)
        self.post(f"/admin/price-lists/{list_id}/prices/batch", body)

    # --- stock ------------------------------------------------------------------------------------

    def batch_stock_levels(
        self,
        *,
        create: list[dict[str, Any]] | None = None,
        update: list[dict[str, Any]] | None = None,
    ) -> None:
        """Create or update levels (keyed by inventory item and location), all-or-nothing."""
        self.post(LEVELS_BATCH_PATH, _batch_body(create=create, update=update))

    def find_inventory_items_by_sku(self, skus: Iterable[str]) -> dict[str, str]:
        """``{sku: inventory item id}`` of the items that exist."""
        rows = self.list_by(
            "/admin/inventory-items", "inventory_items", "sku", skus, {"fields": "id,sku"}
        )
        return {row["sku"]: row["id"] for row in rows}

    def create_inventory_item(self, *, sku: str | None, title: str) -> str:
        body = {"sku": sku, "title": title}
        return self.post("/admin/inventory-items", body)["inventory_item"]["id"]

    def link_inventory_item(self, product_id: str, variant_id: str, item_id: str) -> None:
        """The variant takes one unit of the item per unit sold."""
        self.post(
            f"/admin/products/{product_id}/variants/{variant_id}/inventory-items",
            {"inventory_item_id": item_id, "required_quantity": 1},
        )


def _login_refusal(answer: dict[str, Any], base_url: str) -> str | None:
    """Why a login that answered 200 gives no admin token: from Medusa 2.16 a user may owe a
    second factor or an email verification first (the token then given acts for no one)."""
    fallback = "or set MEDUSA_API_KEY to a secret API key, which a sync uses without a login"
    if answer.get("mfa_required"):
        return (
            f"Medusa at {base_url} asks the user in MEDUSA_ADMIN_EMAIL for a second factor "
            f"(MFA), which a sync cannot give: {fallback}"
        )
    if answer.get("verification_required"):
        return (
            f"Medusa at {base_url} wants the email in MEDUSA_ADMIN_EMAIL verified before it "
            f"logs the user in: verify it in the admin, {fallback}"
        )
    return None


def _batch_body(**parts: list[Any] | None) -> dict[str, list[Any]]:
    """A batch endpoint's body: the parts given (an empty list is sent as one)."""
    return {name: items for name, items in parts.items() if items is not None}


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason
    if isinstance(body, dict):
        return str(body.get("message") or body)[:1000]
    return str(body)[:300]
