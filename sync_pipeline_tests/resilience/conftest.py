"""Fixtures of the resilience suite: the fault proxy, small pages, a runner with short timeouts.

Every scenario runs on the real local stack (Medusa + PostgreSQL), starting from an empty
store, and ends by checking the exact catalog (see ``catalog.py``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipeline_tests.resilience.proxy import FaultProxy

pytestmark = pytest.mark.e2e


@pytest.fixture
def medusa_proxy(medusa_stack) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the stack's real Medusa (127.0.0.1, ephemeral port)."""
    with FaultProxy(medusa_stack.base_url) as proxy:
        yield proxy


@pytest.fixture
def small_pages():
    """``small_pages(n)``: the ``resilient_runner`` made after it syncs pages of ``n`` products.

    The rest of the suite uses pages of 100; more, smaller pages give the fault scenarios more
    requests to hit for a few Medusa writes. (Subprocesses get ``SYNC_PAGE_SIZE`` instead.)
    """

    class PageSize:
        size: int | None = None

        def __call__(self, size: int) -> None:
            self.size = size

    return PageSize()


@pytest.fixture
def resilient_runner(dagster_instance, stack_resources, sync_settings, small_pages, medusa_stack):
    """A ``SyncRunner`` with a short source read timeout and, optionally, Medusa behind a proxy.

    Medusa reads keep their 3 retries but wait 0.05, 0.1, 0.2 s instead of 0.5, 1, 2 s (as
    ``SYNC_FETCH_RETRY_DELAY`` does for the source): a run against a Medusa that is down
    fails each step after the same requests, without 3.5 s of waiting per step. Pages run
    one at a time (unless ``concurrency`` says otherwise), so the faults and the requests they
    hit are the same in every run.
    """
    from sync_pipeline.cli.runner import SyncRunner
    from sync_pipeline.defs.resources import MedusaResource

    class QuickRetryMedusaResource(MedusaResource):
        def get_client(self):
            client = super().get_client()
            client.retry_backoff = 0.05
            return client

    def make(
        source_url: str,
        *,
        medusa_url: str | None = None,
        read_timeout: float = 5.0,
        concurrency: int = 1,
    ):
        settings = dataclasses.replace(
            sync_settings,
            page_size=small_pages.size or sync_settings.page_size,
            medusa_concurrency=concurrency,
        )
        resources = stack_resources(
            source_url,
            settings,
            medusa=QuickRetryMedusaResource,
            read_timeout=read_timeout,
            connect_timeout=2.0,
        )
        if medusa_url:
            resources["medusa"] = QuickRetryMedusaResource(
                base_url=medusa_url, api_key=medusa_stack.api_key
            )
        return SyncRunner(dagster_instance, settings, resources)

    return make


@pytest.fixture
def cli_env(medusa_stack, tmp_path: Path) -> dict[str, str]:
    """Environment for ``python -m sync_pipeline.cli sync`` against the stack (set
    ``DUMMYJSON_BASE_URL`` yourself); its own ``DAGSTER_HOME`` under ``tmp_path``."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "MEDUSA_BASE_URL": medusa_stack.base_url,
        "MEDUSA_API_KEY": medusa_stack.api_key,
        "SYNC_FETCH_RETRY_DELAY": "0.01",
        "PYTHONUNBUFFERED": "1",
    }
