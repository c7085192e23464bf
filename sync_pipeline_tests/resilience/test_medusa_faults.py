"""Issue 6, item 2: Medusa refuses, drops, or loses the answer to writes, or is down.

Medusa sits behind the suite's fault proxy (``proxy.py``). A write whose answer is lost
*after* Medusa committed it must be found again (by external id, category handle, tag value),
not sent twice; a write that was refused or cut off must be sent again; a run while Medusa is
down fails every page with a message that says so, and the next run completes.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from sync_pipeline.clients.medusa_release import OLDEST_SUPPORTED_ROUTE
from sync_pipeline.local.catalog_check import assert_exact_catalog
from sync_pipeline.local.dummyjson_server.generate import write_catalog
from sync_pipeline.local.dummyjson_server.server import DummyJSONServer

pytestmark = pytest.mark.e2e

PRODUCTS, PAGE_SIZE = 60, 20
# Writes get 3 tries (AMBIGUOUS_WRITE_ATTEMPTS). At a 20% fault rate one item fails all 3 with
# p = 0.8%, so a first sync of this catalog (24 categories, 62 tags, 3 product batches, 3 level
# batches) loses at least one in about a third of the seeds (5 of seeds 0-15). Seed 3, for one,
# fails page 002 with "58 (WOM-BRD-LUX-058): tag could not be created: 'jewellery': POST
# /admin/product-tags: no answer from …": the budget's real limit, reported by name, and a
# re-run completes. Seed 18 hits every kind of write and gets each through within 3 tries
# (seeds 10-17 no longer do since the product bodies carry the barcode: the draws follow the
# bodies).
WRITE_SEED = 18
BATCH = r"^/admin/products/batch$"
LEVELS = r"^/admin/inventory-items/location-levels/batch$"
CATEGORY = r"^/admin/product-categories$"
TAG = r"^/admin/product-tags$"
STORE = r"^/admin/stores/"


def _forwarded(proxy, method: str, path: str) -> Counter:
    """How Medusa answered the writes that reached it on ``path`` (status → count)."""
    return Counter(
        r.upstream_status
        for r in proxy.records
        if r.method == method and re.search(path, r.path) and r.upstream_status is not None
    )


def _catalog(tmp_path, generated_catalog, seed: int = 5) -> tuple:
    data = generated_catalog(tmp_path, count=PRODUCTS, seed=seed)
    source = json.loads(data.read_text())
    tags = {t for raw in source for t in raw["tags"]}
    return data, source, {raw["category"] for raw in source}, tags


def test_answers_lost_after_commit_are_found_again_not_written_twice(
    empty_store,
    tmp_path,
    generated_catalog,
    small_pages,
    resilient_runner,
    medusa_proxy,
    medusa_client,
    store_catalog,
):
    small_pages(PAGE_SIZE)
    data, source, categories, tags = _catalog(tmp_path, generated_catalog)
    # Medusa commits each of these, then the proxy answers 502 instead of Medusa's 200.
    medusa_proxy.fail_writes("lost", path=BATCH, count=2)  # pages 000 and 001
    medusa_proxy.fail_writes("lost", path=CATEGORY, count=5)
    medusa_proxy.fail_writes("lost", path=TAG, count=5)

    with DummyJSONServer(data) as server:
        summary = resilient_runner(server.url, medusa_url=medusa_proxy.url).run()

    assert summary.ok, [(p.key, p.error, p.failed_records) for p in summary.pages] or summary
    assert [p.ok for p in summary.pages] == [True] * (PRODUCTS // PAGE_SIZE)
    assert summary.count("created") == PRODUCTS and summary.count("failed") == 0
    assert_exact_catalog(medusa_client, store_catalog, source)

    lost = medusa_proxy.faulted("lost")
    assert Counter(r.path for r in lost) == {
        "/admin/products/batch": 2,
        "/admin/product-categories": 5,
        "/admin/product-tags": 5,
    }
    assert {r.upstream_status for r in lost} == {200}, "a 'lost' write must have committed"
    # Nothing was sent twice: one batch per page, one create per category and per tag.
    assert _forwarded(medusa_proxy, "POST", BATCH) == {200: PRODUCTS // PAGE_SIZE}
    assert _forwarded(medusa_proxy, "POST", CATEGORY) == {200: len(categories)}
    assert _forwarded(medusa_proxy, "POST", TAG) == {200: len(tags)}


def test_refused_and_dropped_writes_are_written_again_exactly_once(
    empty_store,
    tmp_path,
    generated_catalog,
    small_pages,
    resilient_runner,
    medusa_proxy,
    medusa_client,
    store_catalog,
):
    small_pages(PAGE_SIZE)
    data, source, categories, tags = _catalog(tmp_path, generated_catalog)
    # About one write in five never reaches Medusa: 503 or a connection cut before forwarding.
    # Seeded draws depend on the write, not on thread timing (see FaultRule), so the same
    # writes fail on every run. WRITE_SEED hits category and tag creates, product batches and
    # stock level batches, and no write fails 3 times in a row.
    medusa_proxy.fail_writes("503", share=0.12, seed=WRITE_SEED)
    medusa_proxy.fail_writes("drop", share=0.08, seed=WRITE_SEED)

    with DummyJSONServer(data) as server:
        summary = resilient_runner(server.url, medusa_url=medusa_proxy.url).run()

    assert summary.catalog_ok, summary.catalog_error
    assert summary.ok, [(p.key, p.error, p.failed_records) for p in summary.pages] or summary
    assert summary.count("created") == PRODUCTS and summary.count("failed") == 0
    assert_exact_catalog(medusa_client, store_catalog, source)

    faulted = Counter((r.fault, _kind(r.path)) for r in medusa_proxy.faulted())
    assert {kind for _, kind in faulted} == {"category", "tag", "batch", "levels"}, faulted
    assert {fault for fault, _ in faulted} == {"503", "drop"}
    # The refused batch was looked up, found missing and sent again: each page's products
    # (and their stock levels) reached Medusa in exactly one batch, each category and tag in
    # one create.
    assert _forwarded(medusa_proxy, "POST", BATCH) == {200: PRODUCTS // PAGE_SIZE}
    assert _forwarded(medusa_proxy, "POST", CATEGORY) == {200: len(categories)}
    assert _forwarded(medusa_proxy, "POST", TAG) == {200: len(tags)}
    assert _forwarded(medusa_proxy, "POST", LEVELS) == {200: PRODUCTS // PAGE_SIZE}
    assert not _forwarded(medusa_proxy, "POST", STORE)  # the stack's store sells in USD already


def _kind(path: str) -> str:
    for kind, pattern in (
        ("store", STORE),
        ("category", CATEGORY),
        ("tag", TAG),
        ("batch", BATCH),
        ("levels", LEVELS),
    ):
        if re.search(pattern, path):
            return kind
    return path


def test_medusa_down_for_a_whole_run_fails_every_page_clearly_and_the_next_run_completes(
    empty_store,
    tmp_path,
    generated_catalog,
    small_pages,
    resilient_runner,
    medusa_proxy,
    medusa_client,
    store_catalog,
):
    small_pages(PRODUCTS // 2)  # two pages are enough to see each fail
    data, source, _, _ = _catalog(tmp_path, generated_catalog)
    with DummyJSONServer(data) as server:
        runner = resilient_runner(server.url, medusa_url=medusa_proxy.url)
        assert runner.run().ok

        # The source changes overnight, and Medusa is down for the whole run.
        for raw in source[::7]:
            raw["price"] = round(raw["price"] + 1, 2)
        write_catalog(source, data)
        medusa_proxy.down()
        down = runner.run()

        assert not down.ok and not down.catalog_ok
        assert f"no answer from {medusa_proxy.url}" in down.catalog_error
        assert [p.key for p in down.pages] == ["000", "001"]
        for page in down.pages:
            assert not page.ok
            assert page.error.startswith("medusa_products: "), page.error
            assert f"no answer from {medusa_proxy.url} (ConnectionError)" in page.error
        assert "did not succeed" in down.archival_note  # nothing archived either

        medusa_proxy.up()
        back = runner.run()

    assert back.ok, [(p.key, p.error) for p in back.pages] or back
    assert back.count("updated") == len(source[::7])
    assert_exact_catalog(medusa_client, store_catalog, source)


def test_a_first_sync_while_medusa_is_down_says_why_no_page_ran(
    empty_store,
    tmp_path,
    generated_catalog,
    small_pages,
    resilient_runner,
    medusa_proxy,
    medusa_client,
    store_catalog,
):
    small_pages(PRODUCTS // 2)  # two pages are enough to see each fail
    data, source, _, _ = _catalog(tmp_path, generated_catalog)
    medusa_proxy.down()
    with DummyJSONServer(data) as server:
        runner = resilient_runner(server.url, medusa_url=medusa_proxy.url)
        summary = runner.run()
        assert not summary.ok and not summary.catalog_ok
        assert summary.catalog_error.startswith("medusa_store: "), summary.catalog_error
        # The store step's first request: the release probe.
        probe = f"GET {OLDEST_SUPPORTED_ROUTE}: no answer from {medusa_proxy.url}"
        assert probe in summary.catalog_error
        assert summary.pages and not any(p.ok for p in summary.pages)
        for page in summary.pages:
            assert "categories/store run failed" in page.error, page.error
            assert f"no answer from {medusa_proxy.url}" in page.error
        assert_exact_catalog(medusa_client, store_catalog, [])

        medusa_proxy.up()
        back = runner.run()
    assert back.ok, back
    assert_exact_catalog(medusa_client, store_catalog, source)
