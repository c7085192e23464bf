"""Resources: the two APIs the pipeline talks to, and the merchant's rules, built from the
settings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from sync_pipeline.clients.dummyjson import DummyJSONClient
from sync_pipeline.clients.medusa import MedusaClient
from sync_pipeline.settings import DEFAULT_DUMMYJSON_URL, SyncSettings
from sync_pipeline.sync.locking import instance_sync_lock
from sync_pipeline.sync.rules import MerchantRules, load_rules


class DummyJSONResource(ConfigurableResource):
    """The supplier's product API (dummyjson.com or a compatible server)."""

    base_url: str = Field(default=DEFAULT_DUMMYJSON_URL, description="DummyJSON API root URL.")
    page_size: int = Field(default=500, ge=1, description="Products per page (per partition).")
    connect_timeout: float = Field(default=10.0, description="Seconds to open a connection.")
    read_timeout: float = Field(default=30.0, description="Seconds to wait for an answer.")
    max_retry_after: float = Field(
        default=60.0, description="Longest wait honoured from a 429's Retry-After header."
    )

    def get_client(self) -> DummyJSONClient:
        return DummyJSONClient(
            self.base_url,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_retry_after=self.max_retry_after,
        )


class MedusaResource(ConfigurableResource):
    """A Medusa v2 store's Admin API, with a secret API key or an admin login."""

    base_url: str = Field(description="Medusa server URL, e.g. http://127.0.0.1:9000.")
    api_key: str | None = Field(
        default=None, description="Secret API key (sk_…), sent as HTTP Basic."
    )
    admin_email: str | None = Field(default=None, description="Admin login, if no API key.")
    admin_password: str | None = Field(default=None, description="Admin password, if no key.")
    currency_code: str = Field(default="usd", description="Currency of the synced prices.")
    batch_size: int = Field(default=100, ge=1, description="Products per /admin/products/batch.")
    inventory: bool = Field(
        default=True, description="Set each variant's stock level from the source's stock."
    )
    stock_location_id: str | None = Field(
        default=None,
        description="Stock location of the synced stock; default: the store's default or first.",
    )
    read_timeout: float = Field(default=120.0, description="Seconds to wait for an answer.")
    lock_wait_seconds: float = Field(
        default=600.0,
        description="How long a run waits for a CLI sync that holds the sync lock, then fails.",
    )

    _client: MedusaClient | None = PrivateAttr(default=None)

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[MedusaResource]:
        """Hold the instance's sync lock, shared with the other Dagster runs, while a run
        talks to Medusa: a CLI sync and Dagster's runs never write at the same time."""
        run_id = context.run.run_id if context.run else "outside a run"
        with instance_sync_lock(context.instance).hold(
            what=f"Dagster run {run_id}",
            wait_seconds=self.lock_wait_seconds,
            shared=True,
        ):
            yield self

    def get_client(self) -> MedusaClient:
        """One client (one connection pool, one request count) per step."""
        if self._client is None:
            self._client = MedusaClient(
                self.base_url,
                api_key=self.api_key,
                admin_email=self.admin_email,
                admin_password=self.admin_password,
                read_timeout=self.read_timeout,
            )
        return self._client


class MerchantRulesResource(ConfigurableResource):
    """The merchant's rules file (SYNC_RULES_FILE): margins, sale prices, selection, stock.

    Set in the environment, not per run: a cycle's pages run in runs the sensor launches, and
    every one must price alike.
    """

    rules_file: str | None = Field(
        default=None,
        description="TOML file of the merchant's rules; none: the supplier's catalog as it is.",
    )

    def load(self) -> MerchantRules | None:
        """The rules, checked whole (a ``RulesError`` names the key); None without a file."""
        return load_rules(Path(self.rules_file)) if self.rules_file else None


def _secret(name: str, is_set: bool) -> dg.EnvVar | None:
    return dg.EnvVar(name) if is_set else None


def rules_resource(settings: SyncSettings) -> MerchantRulesResource:
    return MerchantRulesResource(
        rules_file=str(settings.rules_file) if settings.rules_file else None
    )


def build_resources(settings: SyncSettings) -> dict[str, ConfigurableResource]:
    """The resources of the code location. Secrets stay ``EnvVar``s: resolved at launch in
    the run's process, never shown in the UI; with a key set, the login is not used."""
    key = settings.medusa_api_key_set
    return {
        "rules": rules_resource(settings),
        "dummyjson": DummyJSONResource(
            base_url=settings.dummyjson_base_url, page_size=settings.page_size
        ),
        "medusa": MedusaResource(
            base_url=dg.EnvVar("MEDUSA_BASE_URL"),
            api_key=_secret("MEDUSA_API_KEY", key),
            admin_email=_secret("MEDUSA_ADMIN_EMAIL", not key and settings.medusa_admin_email_set),
            admin_password=_secret(
                "MEDUSA_ADMIN_PASSWORD", not key and settings.medusa_admin_password_set
            ),
            currency_code=settings.currency_code,
            batch_size=settings.batch_size,
            inventory=settings.inventory,
            stock_location_id=settings.stock_location_id,
            lock_wait_seconds=settings.lock_wait_seconds,
        ),
    }
