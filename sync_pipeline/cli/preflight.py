"""Before a sync: the rules file read and one cheap request to each API, so that a bad rule, a
wrong URL, a refused key or a stopped server is one sentence naming the setting (the CLI exits
2) instead of a failed run."""

from __future__ import annotations

from collections.abc import Mapping

from sync_pipeline.clients.dummyjson import DummyJSONClient, SourceError, SourceUnavailable
from sync_pipeline.clients.medusa import (
    MedusaAuthError,
    MedusaClient,
    MedusaError,
    MedusaUnavailable,
)
from sync_pipeline.clients.medusa_release import UnsupportedMedusa, learn_release
from sync_pipeline.settings import SyncSettings
from sync_pipeline.sync.mapping import normalize_categories
from sync_pipeline.sync.rules import MerchantRules, RulesError, load_rules
from sync_pipeline.sync.store_setup import StoreSetupError, stock_location

LOCAL_STACK_HINT = "`sync-pipeline stack up` starts the local one and writes .local/medusa.env"


class ConfigurationError(Exception):
    """A setting points at something that does not work; the message names the setting."""


def check_source(base_url: str) -> None:
    client = DummyJSONClient(base_url, connect_timeout=5.0, read_timeout=15.0)
    try:
        client.fetch_total()
    except SourceUnavailable as error:
        raise ConfigurationError(
            f"The source at DUMMYJSON_BASE_URL={base_url} does not answer: {error}"
        ) from None
    except SourceError as error:
        raise ConfigurationError(
            f"DUMMYJSON_BASE_URL={base_url} is not a DummyJSON product API: {error}"
        ) from None
    finally:
        client.close()


def medusa_client(environ: Mapping[str, str]) -> MedusaClient:
    base_url = environ.get("MEDUSA_BASE_URL", "")
    if not base_url:
        raise ConfigurationError(f"MEDUSA_BASE_URL is not set: {LOCAL_STACK_HINT}")
    try:
        return MedusaClient(
            base_url,
            api_key=environ.get("MEDUSA_API_KEY") or None,
            admin_email=environ.get("MEDUSA_ADMIN_EMAIL") or None,
            admin_password=environ.get("MEDUSA_ADMIN_PASSWORD") or None,
            connect_timeout=5.0,
            read_timeout=30.0,
            read_retries=0,
        )
    except ValueError as error:
        raise ConfigurationError(str(error)) from None


def check_medusa(settings: SyncSettings, environ: Mapping[str, str]) -> None:
    """The server answers, takes the credentials, runs a supported release, and has what the
    settings point at."""
    client = medusa_client(environ)
    try:
        stores = client.list_stores(fields="id,default_location_id", limit=1)
        learn_release(client)
        if settings.inventory and stores:
            stock_location(client, stores[0], settings.stock_location_id)
    except MedusaAuthError as error:
        raise ConfigurationError(error.message) from None
    except MedusaUnavailable as error:
        answer = f" (HTTP {error.status})" if error.status else ""
        raise ConfigurationError(
            f"Medusa does not answer at MEDUSA_BASE_URL={client.base_url}{answer}: "
            f"is it running? {LOCAL_STACK_HINT}"
        ) from None
    except MedusaError as error:
        raise ConfigurationError(
            f"MEDUSA_BASE_URL={client.base_url} is not a Medusa v2 Admin API: "
            f"{error.method} {error.path} answered HTTP {error.status}"
        ) from None
    except (StoreSetupError, UnsupportedMedusa) as error:
        raise ConfigurationError(str(error)) from None
    finally:
        client.close()


def check_rules(settings: SyncSettings) -> MerchantRules | None:
    """The merchant's rules file, read and checked whole."""
    if not settings.rules_file:
        return None
    try:
        return load_rules(settings.rules_file)
    except RulesError as error:
        raise ConfigurationError(str(error)) from None


def check_rule_categories(settings: SyncSettings, rules: MerchantRules) -> None:
    """The categories the rules name are the source's (one more request, only with rules)."""
    client = DummyJSONClient(settings.dummyjson_base_url, connect_timeout=5.0, read_timeout=15.0)
    try:
        slugs = {c.slug for c in normalize_categories(client.fetch_categories())}
    except SourceError as error:
        raise ConfigurationError(
            f"DUMMYJSON_BASE_URL={settings.dummyjson_base_url}: its categories could not be "
            f"read to check SYNC_RULES_FILE: {error}"
        ) from None
    finally:
        client.close()
    unknown = rules.unknown_categories(slugs)
    if unknown:
        raise ConfigurationError(f"SYNC_RULES_FILE={settings.rules_file}: {unknown}")


def check(settings: SyncSettings, environ: Mapping[str, str]) -> None:
    """The rules file, then both APIs, source first (a sync reads before it writes)."""
    rules = check_rules(settings)
    check_source(settings.dummyjson_base_url)
    if rules:
        check_rule_categories(settings, rules)
    check_medusa(settings, environ)
