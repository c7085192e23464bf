"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

# Fetch retries wait 1, 2, 4 s in production; tests keep the doubling but not the wait.
os.environ.setdefault("SYNC_FETCH_RETRY_DELAY", "0.01")
# Pages of 100 (production: 500) so that the 194 real products span two pages and every
# multi-page behaviour (partitions, re-runs, archival's complete cycle) is exercised.
os.environ.setdefault("SYNC_PAGE_SIZE", "100")

from sync_pipeline.local.dummyjson_server.server import DummyJSONServer
from sync_pipeline.settings import DUMMYJSON_SNAPSHOT_DIR
from sync_pipeline.sync.mapping import normalize_products
from sync_pipeline_tests.dagster_storage import DagsterStorage
from sync_pipeline_tests.dagster_storage import postgres_storage as postgres_storage_at
from sync_pipeline_tests.dagster_storage import sqlite_storage as sqlite_storage_at
from sync_pipeline_tests.fake_medusa import FakeMedusa
from sync_pipeline_tests.stack_turn import turn

# The fixtures that bring up the local stack (Medusa + PostgreSQL). A test that uses one, directly
# or through another fixture, is end-to-end whatever its module says, so `-m "not e2e"` (the
# contributor's fast loop) never starts the stack.
STACK_FIXTURES = frozenset({"medusa_stack", "stack_info"})
SNAPSHOT_FILES = (
    "products.json",
    "products-100.json",
    "categories.json",
    "category-list.json",
    "categories-legacy.json",
)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if STACK_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def snapshot_dir() -> Path:
    """The DummyJSON snapshot the repository carries (``sync_pipeline/data/dummyjson``)."""
    path = DUMMYJSON_SNAPSHOT_DIR
    missing = [name for name in SNAPSHOT_FILES if not (path / name).is_file()]
    if missing:
        pytest.fail(f"the DummyJSON snapshot is incomplete: no {', '.join(missing)} in {path}")
    return path


@pytest.fixture(scope="module")
def products(snapshot_dir):
    """The real ``products.json``, as the source serves it."""
    return json.loads((snapshot_dir / "products.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def normalized(products):
    """The real products, normalized (none rejected), by source id."""
    good, rejected = normalize_products(products)
    assert rejected == []
    return {p.source_id: p for p in good}


@pytest.fixture(scope="session")
def source_server(snapshot_dir: Path) -> Iterator[DummyJSONServer]:
    """A DummyJSON-compatible server on 127.0.0.1 serving the real ``products.json``.

    Shared by the session: do not change its state (``fail_next``). Tests that need options
    start their own ``DummyJSONServer`` on a copy of the data.
    """
    with DummyJSONServer(snapshot_dir / "products.json") as server:
        yield server


@pytest.fixture
def old_medusa() -> Iterator[FakeMedusa]:
    """A Medusa older than 2.8 as the sync meets it (see ``fake_medusa.py``)."""
    server = FakeMedusa()
    try:
        yield server
    finally:
        server.close()


# --- the real Medusa and the pipeline on it ----------------------------------------------------


@pytest.fixture(scope="session")
def medusa_stack(worker_id: str):
    """This test process's store: the local stack's (Medusa + PostgreSQL, started if needed; a
    no-op when already up), or, for the second and later pytest-xdist workers, a side store of
    their own beside it, so that workers running side by side never share a store."""
    from sync_pipeline.local import stack

    with ExitStack() as session:
        with turn(fcntl.LOCK_SH):  # never while the other worker takes the stack down and up
            info = stack.up(out=lambda _line: None)
            if worker_id not in ("master", "gw0"):
                info = session.enter_context(stack.side_store(worker_id))
        yield info


@pytest.fixture(autouse=True)
def _stack_turn(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests of the stack itself (``stack_info``: down and up, resets of the working store)
    run alone; tests that only use their worker's store (``medusa_stack``) run side by side."""
    fixtures = set(request.fixturenames)
    if "stack_info" in fixtures:
        mode = fcntl.LOCK_EX
    elif "medusa_stack" in fixtures:
        mode = fcntl.LOCK_SH
    else:
        yield
        return
    with turn(mode):
        yield


@pytest.fixture(scope="session")
def medusa_client(medusa_stack):
    from sync_pipeline.clients.medusa import MedusaClient

    client = MedusaClient(medusa_stack.base_url, api_key=medusa_stack.api_key)
    yield client
    client.close()


@pytest.fixture
def empty_store(medusa_stack):
    """An empty store (no products, categories or tags), same API key."""
    from sync_pipeline.local import stack

    stack.reset_store(store=medusa_stack)
    return medusa_stack


@pytest.fixture
def postgres_storage(medusa_stack, tmp_path) -> Iterator[DagsterStorage]:
    """A Dagster instance on PostgreSQL storage (deploy/dagster.yaml), in a fresh database on
    the stack's PostgreSQL."""
    with postgres_storage_at(tmp_path / "dagster_home", "dagster_storage_test") as storage:
        yield storage


@pytest.fixture
def sqlite_storage(tmp_path) -> Iterator[DagsterStorage]:
    """A Dagster instance on SQLite files (the repository's dagster.yaml)."""
    with sqlite_storage_at(tmp_path / "dagster_home") as storage:
        yield storage


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.e2e)])
def dagster_storage(request) -> DagsterStorage:
    """Each storage in turn: the sync lock is a file with one, a database lock with the other."""
    return request.getfixturevalue(f"{request.param}_storage")


@pytest.fixture
def dagster_instance():
    import dagster as dg

    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture(scope="session")
def sync_settings():
    """The suite's settings, read once from its environment (no ``.local/medusa.env``)."""
    from sync_pipeline.settings import SyncSettings

    return SyncSettings.from_environment(dict(os.environ), env_file=None)


@pytest.fixture
def stack_resources(medusa_stack, sync_settings):
    """``stack_resources(source_url, settings=None, medusa=MedusaResource, **dummyjson_fields)``:
    the resources of a sync from ``source_url`` into the stack's Medusa."""
    from sync_pipeline.defs.resources import DummyJSONResource, MedusaResource

    def make(source_url: str, settings=None, medusa=MedusaResource, **dummyjson_fields):
        settings = settings or sync_settings
        return {
            "dummyjson": DummyJSONResource(
                base_url=source_url, page_size=settings.page_size, **dummyjson_fields
            ),
            "medusa": medusa(
                base_url=medusa_stack.base_url,
                api_key=medusa_stack.api_key,
                lock_wait_seconds=settings.lock_wait_seconds,
            ),
        }

    return make


@pytest.fixture
def sync_runner(dagster_instance, stack_resources, sync_settings):
    """A ``SyncRunner`` reading from ``source_url`` and writing to the stack's Medusa."""
    from sync_pipeline.cli.runner import SyncRunner

    def make(source_url: str) -> SyncRunner:
        return SyncRunner(dagster_instance, sync_settings, stack_resources(source_url))

    return make


@pytest.fixture
def sync_catalog(sync_runner):
    """Run a full sync (or the given pages) from a source URL into the stack's Medusa."""

    def run(source_url: str, pages: list[str] | None = None):
        return sync_runner(source_url).run(pages=pages)

    return run


@pytest.fixture
def store_catalog(medusa_client):
    """What Medusa holds now: ``(categories, products)``, every row."""
    from sync_pipeline.local.catalog_check import read_store_catalog

    return lambda: read_store_catalog(medusa_client)


@pytest.fixture
def generated_catalog():
    """Write a synthetic DummyJSON catalog of ``count`` products; returns its path."""
    from sync_pipeline.local.dummyjson_server.generate import generate_catalog, write_catalog

    def make(folder: Path, count: int, seed: int = 1) -> Path:
        path = folder / f"generated-{count}-{seed}.json"
        write_catalog(generate_catalog(count, seed), path)
        return path

    return make
