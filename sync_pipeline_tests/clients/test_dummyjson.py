"""The DummyJSON client against the project's own DummyJSON-compatible server (real HTTP)."""

from __future__ import annotations

import json

import pytest

from sync_pipeline.clients.dummyjson import DummyJSONClient, SourceError, SourceUnavailable
from sync_pipeline.local.dummyjson_server.faults import FaultConfig
from sync_pipeline.local.dummyjson_server.server import DummyJSONServer


def test_pages_in_id_order_concatenate_to_the_whole_catalog(source_server):
    client = DummyJSONClient(source_server.url)
    ids = []
    skip = 0
    while True:
        page = client.fetch_page(skip=skip, limit=50)
        assert page.total == 194
        if not page.products:
            break
        ids.extend(p["id"] for p in page.products)
        skip += len(page.products)
    assert ids == list(range(1, 195))
    last = source_server.requests[-1].params
    assert last["sortBy"] == "id" and last["order"] == "asc"


def test_categories_in_both_shapes(source_server, snapshot_dir):
    current = DummyJSONClient(source_server.url).fetch_categories()
    assert current == json.loads((snapshot_dir / "categories.json").read_text())
    with DummyJSONServer(snapshot_dir / "products-100.json", legacy=True) as legacy:
        slugs = DummyJSONClient(legacy.url).fetch_categories()
    assert slugs == json.loads((snapshot_dir / "categories-legacy.json").read_text())


def test_a_429_is_resent_only_after_retry_after(snapshot_dir):
    clock = [1000.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    with DummyJSONServer(
        snapshot_dir / "products.json", rate_limit=(1, 5.0), clock=lambda: clock[0]
    ) as server:
        client = DummyJSONClient(server.url, sleep=sleep)
        client.fetch_page(skip=0, limit=1)
        page = client.fetch_page(skip=1, limit=1)
        statuses = [(r.status, r.timestamp) for r in server.requests]
    assert page.products[0]["id"] == 2
    assert [s for s, _ in statuses] == [200, 429, 200]
    assert waits == [5.0] and client.rate_limit_waits == 1
    assert statuses[2][1] - statuses[1][1] >= 5.0


def test_transient_and_permanent_failures_are_told_apart(snapshot_dir):
    with DummyJSONServer(snapshot_dir / "products.json") as server:
        client = DummyJSONClient(server.url)
        server.fail_next(1, status=503)
        with pytest.raises(SourceUnavailable, match="HTTP 503"):
            client.fetch_page(skip=0, limit=5)
        server.fail_next(1, status=404)
        with pytest.raises(SourceError, match="HTTP 404") as error:
            client.fetch_page(skip=0, limit=5)
        assert not isinstance(error.value, SourceUnavailable)
        assert len(client.fetch_page(skip=0, limit=5).products) == 5


@pytest.mark.parametrize("kind", ["truncate", "drop", "500"])
def test_network_faults_are_transient(snapshot_dir, kind):
    faults = FaultConfig(share=1.0, kinds=(kind,), seed=1)
    with (
        DummyJSONServer(snapshot_dir / "products.json", faults=faults) as server,
        pytest.raises(SourceUnavailable),
    ):
        DummyJSONClient(server.url).fetch_page(skip=0, limit=30)


def test_a_hung_request_times_out(snapshot_dir):
    faults = FaultConfig(share=1.0, kinds=("timeout",), seed=1, hang_seconds=5)
    with DummyJSONServer(snapshot_dir / "products.json", faults=faults) as server:
        client = DummyJSONClient(server.url, read_timeout=0.2)
        with pytest.raises(SourceUnavailable, match="timed out"):
            client.fetch_page(skip=0, limit=30)


def test_an_oversized_answer_is_refused_with_bounded_memory(source_server):
    client = DummyJSONClient(source_server.url, max_response_bytes=10_000)
    with pytest.raises(SourceError, match="larger than 10000 bytes"):
        client.fetch_page(skip=0, limit=0)
