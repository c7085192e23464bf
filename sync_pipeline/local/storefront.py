"""Medusa's Store API as a storefront calls it: the publishable key, a region, a cart, an order.

Tooling for the tests and the release matrix (``bench.compat``), never the sync's. It finds
the shop's pieces (region in the currency, publishable key) through the Admin API, so it works
on any store that has them, such as the local stack's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from sync_pipeline.clients.medusa import MedusaClient

# `+variants.manage_inventory` too: Medusa 2.8 fills `inventory_quantity` only for variants whose
# `manage_inventory` it was asked for (it left every quantity out without it); 2.21 adds it itself.
PRODUCT_FIELDS = (
    "id,handle,title,*variants.calculated_price,+variants.inventory_quantity,"
    "+variants.manage_inventory,+variants.barcode"
)


class StoreAPIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Storefront:
    def __init__(self, admin: MedusaClient, currency_code: str = "usd") -> None:
        self.base_url = admin.base_url
        regions = admin.get("/admin/regions", {"currency_code": currency_code})["regions"]
        assert regions, f"the store has no region in {currency_code}"
        self.region_id = regions[0]["id"]
        keys = admin.get("/admin/api-keys", {"type": "publishable"})["api_keys"]
        live = [k for k in keys if not k.get("revoked_at")]
        assert live, "the store has no publishable API key"
        self.session = requests.Session()
        self.session.headers["x-publishable-api-key"] = live[0]["token"]

    def call(self, method: str, path: str, body: Any = None, params: Any = None) -> dict:
        response = self.session.request(
            method, f"{self.base_url}{path}", json=body, params=params, timeout=60
        )
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise StoreAPIError(response.status_code, message)
        return response.json()

    def products(self) -> list[dict]:
        """Every product the storefront lists, with calculated prices and stock."""
        rows: list[dict] = []
        while True:
            page = self.call(
                "GET",
                "/store/products",
                params={
                    "region_id": self.region_id,
                    "fields": PRODUCT_FIELDS,
                    "limit": 100,
                    "offset": len(rows),
                    "order": "id",
                },
            )
            rows.extend(page["products"])
            if not page["products"] or len(rows) >= page["count"]:
                return rows

    def new_cart(self) -> str:
        return self.call("POST", "/store/carts", {"region_id": self.region_id})["cart"]["id"]

    def add(self, cart_id: str, variant_id: str, quantity: int = 1) -> dict:
        body = {"variant_id": variant_id, "quantity": quantity}
        return self.call("POST", f"/store/carts/{cart_id}/line-items", body)["cart"]

    def checkout(self, cart_id: str) -> tuple[dict, Decimal]:
        """Ship with the first option, pay with the system provider, complete.

        Returns the order and the shipping method's amount."""
        options = self.call("GET", "/store/shipping-options", params={"cart_id": cart_id})
        assert options["shipping_options"], "no shipping option for the cart"
        option = options["shipping_options"][0]
        self.call("POST", f"/store/carts/{cart_id}/shipping-methods", {"option_id": option["id"]})
        collection = self.call("POST", "/store/payment-collections", {"cart_id": cart_id})
        self.call(
            "POST",
            f"/store/payment-collections/{collection['payment_collection']['id']}/payment-sessions",
            {"provider_id": "pp_system_default"},
        )
        done = self.call("POST", f"/store/carts/{cart_id}/complete")
        assert done.get("type") == "order", done
        return done["order"], Decimal(str(option["amount"]))
