"""The shop `stack up` makes on the template, against the real stack: a storefront can order."""

from __future__ import annotations

import subprocess
import sys
import uuid
from decimal import Decimal

import pytest
import requests

from sync_pipeline.local import stack
from sync_pipeline.local.stack import config
from sync_pipeline.local.stack.shop import PAYMENT_PROVIDER, SHIPPING_PRICE, ShopInfo, ensure_shop
from sync_pipeline.settings import MEDUSA_ENV_FILE, REPO_ROOT, read_env_file

PRODUCT_PRICE = Decimal("25.5")

# What ensure_shop makes; none of it may be duplicated by a second run.
COUNTED = (
    ("/admin/regions", {}),
    ("/admin/stock-locations", {}),
    ("/admin/shipping-options", {}),
    ("/admin/api-keys", {"type": "publishable"}),
    ("/admin/shipping-option-types", {}),
)


@pytest.fixture
def shop(stack_info: stack.StackInfo) -> ShopInfo:
    assert stack_info.shop is not None, "stack up recorded no shop"
    return stack_info.shop


@pytest.fixture
def store(stack_info: stack.StackInfo, shop: ShopInfo) -> requests.Session:
    """A Store API session: the publishable key, no admin credentials."""
    session = requests.Session()
    session.headers["x-publishable-api-key"] = shop.publishable_key
    session.headers["Content-Type"] = "application/json"
    yield session
    session.close()


def _ok(response: requests.Response) -> dict:
    assert response.status_code == 200, f"{response.request.method} {response.url}: {response.text}"
    return response.json()


def _counts(admin: requests.Session, base_url: str) -> dict[str, int]:
    return {
        path: _ok(admin.get(f"{base_url}{path}", params={**params, "limit": 0}, timeout=10))[
            "count"
        ]
        for path, params in COUNTED
    }


def _create_product(admin: requests.Session, base_url: str, shop: ShopInfo) -> dict:
    suffix = uuid.uuid4().hex[:8]
    body = {
        "title": f"Shop test {suffix}",
        "handle": f"shop-test-{suffix}",
        "status": "published",
        "options": [{"title": "Default", "values": ["Default"]}],
        "shipping_profile_id": shop.shipping_profile_id,
        "sales_channels": [{"id": shop.sales_channel_id}],
        "variants": [
            {
                "title": "Default",
                "options": {"Default": "Default"},
                "manage_inventory": False,
                "prices": [{"currency_code": shop.currency_code, "amount": float(PRODUCT_PRICE)}],
            }
        ],
    }
    return _ok(admin.post(f"{base_url}/admin/products", json=body, timeout=30))["product"]


def test_the_recorded_shop_is_the_stores(
    stack_info: stack.StackInfo, admin: requests.Session, shop: ShopInfo
) -> None:
    url = stack_info.base_url
    assert shop.currency_code == config.currency_code()
    assert shop.publishable_key.startswith("pk_")
    region = _ok(
        admin.get(
            f"{url}/admin/regions/{shop.region_id}",
            params={"fields": "id,currency_code,countries.iso_2,payment_providers.id"},
            timeout=10,
        )
    )["region"]
    assert region["currency_code"] == shop.currency_code
    assert [c["iso_2"] for c in region["countries"]] == [shop.country_code]
    assert PAYMENT_PROVIDER in [p["id"] for p in region["payment_providers"]]
    store_row = _ok(
        admin.get(f"{url}/admin/stores", params={"fields": "*supported_currencies"}, timeout=10)
    )["stores"][0]
    defaults = [c["currency_code"] for c in store_row["supported_currencies"] if c["is_default"]]
    assert defaults == [shop.currency_code]
    assert store_row["default_sales_channel_id"] == shop.sales_channel_id


def test_env_file_and_status_name_the_shop(stack_info: stack.StackInfo, shop: ShopInfo) -> None:
    values = read_env_file(MEDUSA_ENV_FILE)
    assert values["MEDUSA_PUBLISHABLE_KEY"] == shop.publishable_key
    assert values["MEDUSA_REGION_ID"] == shop.region_id
    result = subprocess.run(
        [sys.executable, "-m", "sync_pipeline.cli", "stack", "status"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for value in (
        shop.region_id,
        shop.publishable_key,
        shop.stock_location_id,
        shop.shipping_option_id,
    ):
        assert value in result.stdout
    assert stack_info.api_key not in result.stdout


def test_a_cart_checks_out_through_the_store_api(
    stack_info: stack.StackInfo, admin: requests.Session, store: requests.Session, shop: ShopInfo
) -> None:
    url = stack_info.base_url
    product = _create_product(admin, url, shop)
    variant_id = product["variants"][0]["id"]

    # The storefront sees the product, priced in the region.
    listed = _ok(
        store.get(
            f"{url}/store/products",
            params={
                "handle": product["handle"],
                "region_id": shop.region_id,
                "fields": "id,*variants.calculated_price",
            },
            timeout=10,
        )
    )["products"]
    assert [p["id"] for p in listed] == [product["id"]]
    price = listed[0]["variants"][0]["calculated_price"]
    assert Decimal(str(price["calculated_amount"])) == PRODUCT_PRICE
    assert price["currency_code"] == shop.currency_code

    cart = _ok(
        store.post(
            f"{url}/store/carts",
            json={"region_id": shop.region_id, "email": "buyer@example.com"},
            timeout=10,
        )
    )["cart"]
    assert cart["currency_code"] == shop.currency_code
    cart_url = f"{url}/store/carts/{cart['id']}"
    cart = _ok(
        store.post(
            f"{cart_url}/line-items", json={"variant_id": variant_id, "quantity": 1}, timeout=30
        )
    )["cart"]
    assert [item["variant_id"] for item in cart["items"]] == [variant_id]

    options = _ok(
        store.get(f"{url}/store/shipping-options", params={"cart_id": cart["id"]}, timeout=30)
    )["shipping_options"]
    by_id = {option["id"]: option for option in options}
    assert shop.shipping_option_id in by_id, options
    assert Decimal(str(by_id[shop.shipping_option_id]["amount"])) == SHIPPING_PRICE

    cart = _ok(
        store.post(
            f"{cart_url}/shipping-methods", json={"option_id": shop.shipping_option_id}, timeout=30
        )
    )["cart"]
    assert [m["shipping_option_id"] for m in cart["shipping_methods"]] == [shop.shipping_option_id]

    collection = _ok(
        store.post(f"{url}/store/payment-collections", json={"cart_id": cart["id"]}, timeout=30)
    )["payment_collection"]
    collection = _ok(
        store.post(
            f"{url}/store/payment-collections/{collection['id']}/payment-sessions",
            json={"provider_id": PAYMENT_PROVIDER},
            timeout=30,
        )
    )["payment_collection"]
    assert [s["provider_id"] for s in collection["payment_sessions"]] == [PAYMENT_PROVIDER]

    completed = _ok(store.post(f"{cart_url}/complete", json={}, timeout=60))
    assert completed["type"] == "order", completed
    order = completed["order"]
    assert order["currency_code"] == shop.currency_code
    assert Decimal(str(order["total"])) == PRODUCT_PRICE + SHIPPING_PRICE
    assert Decimal(str(order["shipping_total"])) == SHIPPING_PRICE
    assert [item["variant_id"] for item in order["items"]] == [variant_id]
    stack.reset_store()


def test_ensure_shop_twice_creates_nothing(
    stack_info: stack.StackInfo, admin: requests.Session, shop: ShopInfo
) -> None:
    url = stack_info.base_url
    before = _counts(admin, url)
    assert all(count >= 1 for count in before.values()), before

    again = ensure_shop(url, stack_info.api_key, shop.currency_code, shop.country_code)
    twice = ensure_shop(url, stack_info.api_key, shop.currency_code, shop.country_code)

    # The working database is a clone of the template: same rows, so the same ids.
    assert again == shop
    assert twice == shop
    assert _counts(admin, url) == before


def test_reset_keeps_the_shop(
    stack_info: stack.StackInfo, admin: requests.Session, store: requests.Session, shop: ShopInfo
) -> None:
    url = stack_info.base_url
    product = _create_product(admin, url, shop)

    stack.reset_store()

    gone = admin.get(f"{url}/admin/products/{product['id']}", timeout=10)
    assert gone.status_code == 404
    region = _ok(admin.get(f"{url}/admin/regions/{shop.region_id}", timeout=10))["region"]
    assert region["currency_code"] == shop.currency_code
    location = admin.get(f"{url}/admin/stock-locations/{shop.stock_location_id}", timeout=10)
    assert location.status_code == 200
    option = admin.get(f"{url}/admin/shipping-options/{shop.shipping_option_id}", timeout=10)
    assert option.status_code == 200
    # The publishable key still opens the Store API, and a cart can be made in the region.
    cart = _ok(store.post(f"{url}/store/carts", json={"region_id": shop.region_id}, timeout=10))
    assert cart["cart"]["region_id"] == shop.region_id
    stack.reset_store()
