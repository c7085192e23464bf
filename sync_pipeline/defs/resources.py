"""Resources: the two APIs the pipeline talks to, configured from the environment."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from sync_pipeline.dummyjson import DEFAULT_BASE_URL, DummyJSONClient
from sync_pipeline.locking import lock_path, sync_lock
from sync_pipeline.medusa import MedusaClient

# How long a run waits for another sync to finish before it fails (the schedule and a
# re-run from the UI wait; a second `sync-pipeline sync` refuses at once).
LOCK_WAIT_SECONDS = float(os.getenv("SYNC_LOCK_WAIT_SECONDS", "600"))


class DummyJSONResource(ConfigurableResource):
    """The supplier's product API (dummyjson.com or a compatible server)."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="DummyJSON API root URL.")
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
    read_timeout: float = Field(default=120.0, description="Seconds to wait for an answer.")

    _client: MedusaClient | None = PrivateAttr(default=None)

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[MedusaResource]:
        """Hold the instance's sync lock while a run talks to Medusa (one sync at a time)."""
        home = getattr(context.instance, "root_directory", None) if context.instance else None
        run_id = context.run.run_id if context.run else "outside a run"
        with sync_lock(
            lock_path(home), what=f"Dagster run {run_id}", wait_seconds=LOCK_WAIT_SECONDS
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
