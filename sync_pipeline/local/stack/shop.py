"""Make a fresh Medusa store able to take an order, through the Admin API, idempotently.

A store straight out of ``medusa db:migrate`` + first boot has a default sales channel and
a "Default Publishable API Key", but no region, no stock location and no shipping option,
so a storefront cannot make a cart or check out. :func:`ensure_shop` adds, for one currency
and one country:

* the currency as the store's default currency (``POST /admin/stores/{id}``);
* a region selling in it to the country, with the system payment provider;
* a publishable API key linked to the default sales channel (the store's own default key
  when there is one);
* a stock location linked to the sales channel and to the ``manual_manual`` fulfillment
  provider, a shipping fulfillment set with a service zone for the country, and a flat-rate
  shipping option in it, visible in the store.

Each piece is looked up before it is made, so a run that failed half-way, or a second run,
never duplicates anything. The stack runs this once on the template database, so every
clone of it (``stack reset``) is a working shop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sync_pipeline.clients.medusa import MedusaClient, MedusaError
from sync_pipeline.local.stack.config import StackError

PAYMENT_PROVIDER = "pp_system_default"
FULFILLMENT_PROVIDER = "manual_manual"
LOCATION_NAME = "Supplier warehouse"
FULFILLMENT_SET_NAME = "Supplier warehouse shipping"
SHIPPING_OPTION_NAME = "Standard shipping"
SHIPPING_OPTION_TYPE = {
    "label": "Standard",
    "description": "Shipped by the supplier",
    "code": "standard",
}
SHIPPING_PRICE = 10
# The Store API lists only options whose rules match {enabled_in_store: "true",
# is_return: "false"} (listShippingOptionsForCartWorkflow); these make that explicit.
STORE_OPTION_RULES = [
    {"attribute": "enabled_in_store", "value": "true", "operator": "eq"},
    {"attribute": "is_return", "value": "false", "operator": "eq"},
]
COUNTRY_NAMES = {"us": "United States"}

_LOCATION_FIELDS = ",".join(
    (
        "id",
        "name",
        "sales_channels.id",
        "fulfillment_providers.id",
        "fulfillment_sets.id",
        "fulfillment_sets.type",
        "fulfillment_sets.service_zones.id",
        "fulfillment_sets.service_zones.geo_zones.type",
        "fulfillment_sets.service_zones.geo_zones.country_code",
    )
)


@dataclass(frozen=True)
class ShopInfo:
    """What a storefront (or a test) needs to sell from the store."""

    region_id: str
    currency_code: str
    country_code: str
    publishable_key: str  # the token, pk_…: public by design (sent by browsers)
    sales_channel_id: str
    stock_location_id: str
    shipping_option_id: str
    shipping_profile_id: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShopInfo:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def ensure_shop(
    base_url: str,
    api_key: str,
    currency_code: str,
    country_code: str = "us",
    *,
    step: str = "set up the shop",
    log: Path | None = None,
) -> ShopInfo:
    """Make the store sellable in ``currency_code`` to ``country_code``; returns its ids.

    ``api_key`` is a secret API key (sk_…). Idempotent: every piece is looked up first.
    Medusa's errors become :class:`StackError` naming ``step`` and ``log``.
    """
    currency, country = currency_code.strip().lower(), country_code.strip().lower()
    client = MedusaClient(base_url, api_key=api_key, read_timeout=60.0, read_retries=1)
    try:
        store = _store(client, step, log)
        channel = store["default_sales_channel_id"]
        _ensure_store_currency(client, store, currency)
        region_id = _ensure_region(client, currency, country)
        publishable = _ensure_publishable_key(client, channel)
        profile_id = _default_shipping_profile(client, step, log)
        location = _ensure_location(client, channel)
        zone_id = _ensure_service_zone(client, location, country)
        option_id = _ensure_shipping_option(client, zone_id, profile_id, currency)
    except MedusaError as exc:
        raise StackError(step, str(exc), log) from exc
    finally:
        client.close()
    return ShopInfo(
        region_id=region_id,
        currency_code=currency,
        country_code=country,
        publishable_key=publishable,
        sales_channel_id=channel,
        stock_location_id=location["id"],
        shipping_option_id=option_id,
        shipping_profile_id=profile_id,
    )


# --- the store and its currency ------------------------------------------------------------


def _store(client: MedusaClient, step: str, log: Path | None) -> dict[str, Any]:
    stores = client.get(
        "/admin/stores",
        {"fields": "id,default_sales_channel_id,*supported_currencies", "order": "created_at"},
    )["stores"]
    if not stores or not stores[0].get("default_sales_channel_id"):
        raise StackError(step, "the store or its default sales channel does not exist yet", log)
    return stores[0]


def _ensure_store_currency(client: MedusaClient, store: dict[str, Any], currency: str) -> None:
    current = store.get("supported_currencies") or []
    if any(c["currency_code"] == currency and c.get("is_default") for c in current):
        return
    wanted = [{"currency_code": currency, "is_default": True}]
    wanted += [
        {"currency_code": c["currency_code"], "is_default": False}
        for c in current
        if c["currency_code"] != currency
    ]
    client.post(f"/admin/stores/{store['id']}", {"supported_currencies": wanted})


# --- region --------------------------------------------------------------------------------


def _ensure_region(client: MedusaClient, currency: str, country: str) -> str:
    regions = client.list_all(
        "/admin/regions",
        "regions",
        {"fields": "id,name,currency_code,countries.iso_2,payment_providers.id"},
    )

    def countries(region: dict[str, Any]) -> list[str]:
        return [c["iso_2"] for c in region.get("countries") or []]

    # A country belongs to at most one region: the region of another currency that holds
    # it (the shop made for a previous currency setting) has to let it go first.
    mine = [r for r in regions if r["currency_code"] == currency]
    mine.sort(key=lambda r: country not in countries(r))
    for other in regions:
        if other["currency_code"] != currency and country in countries(other):
            rest = [c for c in countries(other) if c != country]
            client.post(f"/admin/regions/{other['id']}", {"countries": rest})
    if not mine:
        created = client.post(
            "/admin/regions",
            {
                "name": COUNTRY_NAMES.get(country, country.upper()),
                "currency_code": currency,
                "countries": [country],
                "payment_providers": [PAYMENT_PROVIDER],
            },
        )
        return created["region"]["id"]
    region = mine[0]
    update: dict[str, Any] = {}
    if country not in countries(region):
        update["countries"] = [*countries(region), country]
    providers = [p["id"] for p in region.get("payment_providers") or []]
    if PAYMENT_PROVIDER not in providers:
        update["payment_providers"] = [*providers, PAYMENT_PROVIDER]
    if update:
        client.post(f"/admin/regions/{region['id']}", update)
    return region["id"]


# --- publishable key -----------------------------------------------------------------------


def _ensure_publishable_key(client: MedusaClient, channel: str) -> str:
    keys = [
        key
        for key in client.list_all(
            "/admin/api-keys",
            "api_keys",
            {"type": "publishable", "fields": "id,title,token,revoked_at,sales_channels.id"},
        )
        if not key.get("revoked_at")
    ]

    def linked(key: dict[str, Any]) -> bool:
        return channel in [sc["id"] for sc in key.get("sales_channels") or []]

    keys.sort(key=lambda k: (not linked(k), k.get("title") != "Default Publishable API Key"))
    if keys:
        key = keys[0]
    else:
        key = client.post("/admin/api-keys", {"title": "Storefront", "type": "publishable"})[
            "api_key"
        ]
    if not linked(key):
        client.post(f"/admin/api-keys/{key['id']}/sales-channels", {"add": [channel]})
    return key["token"]


# --- shipping ------------------------------------------------------------------------------


def _default_shipping_profile(client: MedusaClient, step: str, log: Path | None) -> str:
    profiles = client.list_all(
        "/admin/shipping-profiles", "shipping_profiles", {"fields": "id,type"}
    )
    profiles.sort(key=lambda p: p.get("type") != "default")
    if not profiles:
        raise StackError(step, "the store has no shipping profile", log)
    return profiles[0]["id"]


def _find_location(client: MedusaClient) -> dict[str, Any] | None:
    found = client.list_all(
        "/admin/stock-locations",
        "stock_locations",
        {"name": LOCATION_NAME, "fields": _LOCATION_FIELDS},
    )
    return found[0] if found else None


def _ensure_location(client: MedusaClient, channel: str) -> dict[str, Any]:
    location = _find_location(client)
    if location is None:
        made = client.post("/admin/stock-locations", {"name": LOCATION_NAME})["stock_location"]
        location = {"id": made["id"], "sales_channels": [], "fulfillment_providers": []}
        location["fulfillment_sets"] = []
    path = f"/admin/stock-locations/{location['id']}"
    changed = False
    if channel not in [sc["id"] for sc in location.get("sales_channels") or []]:
        client.post(f"{path}/sales-channels", {"add": [channel]})
        changed = True
    providers = [p["id"] for p in location.get("fulfillment_providers") or []]
    if FULFILLMENT_PROVIDER not in providers:
        client.post(f"{path}/fulfillment-providers", {"add": [FULFILLMENT_PROVIDER]})
        changed = True
    if not _shipping_sets(location):
        client.post(f"{path}/fulfillment-sets", {"name": FULFILLMENT_SET_NAME, "type": "shipping"})
        changed = True
    if changed:
        location = _find_location(client)
        assert location is not None
    return location


def _shipping_sets(location: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in location.get("fulfillment_sets") or [] if s.get("type") == "shipping"]


def _ensure_service_zone(client: MedusaClient, location: dict[str, Any], country: str) -> str:
    sets = _shipping_sets(location)
    for fulfillment_set in sets:
        for zone in fulfillment_set.get("service_zones") or []:
            for geo in zone.get("geo_zones") or []:
                if geo.get("type") == "country" and geo.get("country_code") == country:
                    return zone["id"]
    fulfillment_set = sets[0]
    answer = client.post(
        f"/admin/fulfillment-sets/{fulfillment_set['id']}/service-zones",
        {
            "name": f"{LOCATION_NAME} to {country.upper()}",
            "geo_zones": [{"type": "country", "country_code": country}],
        },
    )
    zones = answer["fulfillment_set"].get("service_zones") or []
    for zone in zones:
        if any(g.get("country_code") == country for g in zone.get("geo_zones") or []):
            return zone["id"]
    # The answer's default fields may not include the geo zones: look again.
    location = _find_location(client)
    assert location is not None
    return _ensure_service_zone(client, location, country)


def _ensure_shipping_option(
    client: MedusaClient, zone_id: str, profile_id: str, currency: str
) -> str:
    options = client.list_all(
        "/admin/shipping-options",
        "shipping_options",
        {
            "service_zone_id": zone_id,
            "provider_id": FULFILLMENT_PROVIDER,
            "fields": "id,name,*prices,rules.attribute,rules.value",
        },
    )

    def for_store(option: dict[str, Any]) -> bool:
        rules = {r["attribute"]: r["value"] for r in option.get("rules") or []}
        return rules.get("is_return") != "true" and rules.get("enabled_in_store") != "false"

    options = [o for o in options if for_store(o)]
    options.sort(key=lambda o: o.get("name") != SHIPPING_OPTION_NAME)
    price = {"currency_code": currency, "amount": SHIPPING_PRICE}
    if options:
        option = options[0]
        prices = option.get("prices") or []
        if not any(p.get("currency_code") == currency for p in prices):
            # ``prices`` is the full set: keep the others by id, add the new currency.
            keep = [{"id": p["id"]} for p in prices]
            client.post(f"/admin/shipping-options/{option['id']}", {"prices": [*keep, price]})
        return option["id"]
    created = client.post(
        "/admin/shipping-options",
        {
            "name": SHIPPING_OPTION_NAME,
            "service_zone_id": zone_id,
            "shipping_profile_id": profile_id,
            "provider_id": FULFILLMENT_PROVIDER,
            "price_type": "flat",
            "type": SHIPPING_OPTION_TYPE,
            "prices": [price],
            "rules": STORE_OPTION_RULES,
        },
    )
    return created["shipping_option"]["id"]
