"""End to end: the asset graph, through Dagster, from the local source into the real Medusa."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from sync_pipeline.local.dummyjson_server.server import DummyJSONServer

pytestmark = pytest.mark.e2e


def _handle(raw):
    from sync_pipeline.sync.mapping import product_handle

    return product_handle(raw["title"], raw["id"])


def _by_external_id(products):
    found = {}
    for product in products:
        assert product["external_id"] not in found, f"duplicate {product['external_id']}"
        found[product["external_id"]] = product
    return found


def test_full_sync_then_two_reruns_leave_the_exact_catalog(
    empty_store, source_server, sync_catalog, store_catalog, snapshot_dir
):
    source = json.loads((snapshot_dir / "products.json").read_text())
    first = sync_catalog(source_server.url)
    assert first.ok, first
    assert first.total == 194
    assert first.count("created") == 194 and first.count("failed") == 0

    categories, products = store_catalog()
    assert len(categories) == 24
    category_by_id = {c["id"]: c for c in categories}
    assert {c["handle"] for c in categories} == {p["category"] for p in source}
    assert all(c["is_active"] for c in categories)
    assert category_by_id[next(iter(category_by_id))]["metadata"]["source"] == "dummyjson"

    found = _by_external_id(products)
    assert sorted(found) == sorted(f"dummyjson:{i}" for i in range(1, 195))
    handles = [p["handle"] for p in products]
    assert len(set(handles)) == 194
    assert found["dummyjson:96"]["title"] == found["dummyjson:191"]["title"]
    for raw in source:
        product = found[f"dummyjson:{raw['id']}"]
        assert product["status"] == "published"
        assert [category_by_id[c["id"]]["handle"] for c in product["categories"]] == [
            raw["category"]
        ]
        (variant,) = product["variants"]
        assert variant["sku"] == raw["sku"]
        usd = [p for p in variant["prices"] if p["currency_code"] == "usd"]
        assert [Decimal(str(p["amount"])) for p in usd] == [Decimal(str(raw["price"]))]
        assert len(product["images"]) == len(raw["images"])
        assert sorted(t["value"] for t in product["tags"]) == sorted(set(raw["tags"]))
        assert len(product["sales_channels"]) == 1

    updated_at = {p["id"]: p["updated_at"] for p in products}
    for _ in range(2):
        again = sync_catalog(source_server.url)
        assert again.ok, again
        assert again.count("created") == 0 and again.count("unchanged") == 194
        assert again.requests("medusa_writes") == 0
    categories, products = store_catalog()
    assert len(categories) == 24
    assert len(_by_external_id(products)) == 194
    assert {p["id"]: p["updated_at"] for p in products} == updated_at


def test_only_changed_products_are_written(
    empty_store, tmp_path, snapshot_dir, sync_catalog, store_catalog
):
    source = json.loads((snapshot_dir / "products.json").read_text())[:50]
    data = tmp_path / "products.json"
    data.write_text(json.dumps(source))
    with DummyJSONServer(data) as server:
        assert sync_catalog(server.url).ok
        _, products = store_catalog()
        before = {p["external_id"]: p["updated_at"] for p in products}
        for raw in source[10:13]:
            raw["price"] = round(raw["price"] + 1, 2)
        source[20]["title"] = "A new title"
        data.write_text(json.dumps(source))
        summary = sync_catalog(server.url)
    assert summary.ok, summary
    assert summary.count("updated") == 4 and summary.count("unchanged") == 46
    assert summary.requests("medusa_writes") == 1  # one batch with the four updates
    _, products = store_catalog()
    changed = {p["external_id"] for p in products if p["updated_at"] != before[p["external_id"]]}
    assert changed == {f"dummyjson:{raw['id']}" for raw in (*source[10:13], source[20])}


def test_a_fetch_that_fails_twice_is_retried_with_doubling_delays(
    empty_store, tmp_path, generated_catalog, sync_runner, dagster_instance
):
    data = generated_catalog(tmp_path, count=30)
    with DummyJSONServer(data) as server:
        runner = sync_runner(server.url)
        assert runner.run_catalog().success
        catalog_requests = len(server.requests)
        server.fail_next(2, status=503)
        page = runner.run_page("000")
        page_requests = server.requests[catalog_requests:]
        statuses = [r.status for r in page_requests if r.path == "/products"]
    assert page.ok, page
    assert statuses == [503, 503, 200]
    assert page.fetch_attempts == 3
    assert page.counts["created"] == 30
    waits = [
        record.dagster_event.event_specific_data.seconds_to_wait
        for record in dagster_instance.all_logs(page.run_id)
        if record.dagster_event and record.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
    ]
    base = float(os.environ["SYNC_FETCH_RETRY_DELAY"])
    assert waits == [base, 2 * base]


def test_bad_records_are_reported_and_the_page_rerun_completes(
    empty_store, tmp_path, snapshot_dir, sync_catalog, store_catalog
):
    source = json.loads((snapshot_dir / "products.json").read_text())
    broken = [dict(p) for p in source]
    del broken[4]["title"]  # id 5
    broken[150]["price"] = -12.5  # id 151
    data = tmp_path / "products.json"
    data.write_text(json.dumps(broken))
    with DummyJSONServer(data) as server:
        summary = sync_catalog(server.url)
        assert not summary.ok
        failed = {r["source_id"]: r for p in summary.pages for r in p.failed_records}
        assert set(failed) == {"5", "151"}
        assert "title" in failed["5"]["reason"] and failed["5"]["sku"] == source[4]["sku"]
        assert "price" in failed["151"]["reason"]
        assert [p.key for p in summary.pages if not p.ok] == ["000", "001"]
        _, products = store_catalog()
        assert len(products) == 192

        fixed = tmp_path / "fixed.json"
        fixed.write_text(json.dumps(source))
        os.replace(fixed, data)
        rerun = sync_catalog(server.url, pages=["000"])
        assert rerun.ok and rerun.count("created") == 1 and rerun.count("unchanged") == 99
        rerun = sync_catalog(server.url, pages=["001"])
        assert rerun.ok and rerun.count("created") == 1
    _, products = store_catalog()
    assert len(_by_external_id(products)) == 194


def test_legacy_catalog_in_the_old_api_shape_syncs(
    empty_store, snapshot_dir, sync_catalog, store_catalog
):
    legacy = json.loads((snapshot_dir / "products-100.json").read_text())
    with DummyJSONServer(snapshot_dir / "products-100.json", legacy=True) as server:
        summary = sync_catalog(server.url)
    assert summary.ok, summary
    categories, products = store_catalog()
    assert len(categories) == 20
    found = _by_external_id(products)
    assert len(found) == 100
    iphone = found["dummyjson:1"]
    assert iphone["title"] == "iPhone 9"
    assert iphone["variants"][0]["prices"][0]["amount"] == legacy[0]["price"]


def test_sync_command_exits_non_zero_when_a_page_fails(
    empty_store, medusa_stack, tmp_path, generated_catalog
):
    data = generated_catalog(tmp_path, count=12)
    catalog = json.loads(data.read_text())
    catalog[3]["price"] = "free"
    catalog[5]["stock"] = -4
    del catalog[8]["category"]
    data.write_text(json.dumps(catalog))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "MEDUSA_BASE_URL": medusa_stack.base_url,
        "MEDUSA_API_KEY": medusa_stack.api_key,
    }
    with DummyJSONServer(data) as server:
        env["DUMMYJSON_BASE_URL"] = server.url
        command = [sys.executable, "-m", "sync_pipeline.cli", "sync"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "page 000: FAILED" in done.stdout
    assert "created 9" in done.stdout and "failed 3" in done.stdout
    assert f"{catalog[3]['id']} ({catalog[3]['sku']}): price" in done.stdout
    assert medusa_stack.api_key not in done.stdout + done.stderr
    assert (tmp_path / "dagster_home" / "dagster.yaml").is_file()

    command = [sys.executable, "-m", "sync_pipeline.cli", "errors", "--format", "csv"]
    report = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert [(r["source_id"], r["sku"], r["page"], r["stage"]) for r in rows] == [
        (str(catalog[i]["id"]), catalog[i]["sku"], "000", "validation") for i in (3, 5, 8)
    ]
    assert [r["reason"].split(":")[0] for r in rows] == ["price", "stock", "category"]
    assert all(r["first_seen"].endswith("+00:00") and r["run_id"] for r in rows)


def test_merchant_edits_survive_a_source_change(
    empty_store, tmp_path, snapshot_dir, sync_catalog, medusa_client, store_catalog
):
    source = json.loads((snapshot_dir / "products.json").read_text())[:20]
    data = tmp_path / "products.json"
    data.write_text(json.dumps(source))
    with DummyJSONServer(data) as server:
        assert sync_catalog(server.url).ok
        categories, products = store_catalog()
        product = _by_external_id(products)["dummyjson:3"]
        other_category = next(c for c in categories if c["handle"] != source[2]["category"])
        variant = product["variants"][0]
        medusa_client.post(
            f"/admin/products/{product['id']}",
            {
                "variants": [
                    {
                        "id": variant["id"],
                        "prices": [
                            {
                                "id": p["id"],
                                "currency_code": p["currency_code"],
                                "amount": p["amount"],
                            }
                            for p in variant["prices"]
                        ]
                        + [{"currency_code": "eur", "amount": 42}],
                    }
                ],
                "images": [{"id": i["id"], "url": i["url"]} for i in product["images"]]
                + [{"url": "https://merchant.example/extra.png"}],
                "categories": [{"id": c["id"]} for c in product["categories"]]
                + [{"id": other_category["id"]}],
                "metadata": {"merchant_note": "hand-written"},
            },
        )
        source[2]["price"] = 123.45
        source[2]["title"] = source[2]["title"] + " (new)"
        data.write_text(json.dumps(source))
        summary = sync_catalog(server.url)
    assert summary.ok, summary
    assert summary.count("updated") == 1 and summary.count("unchanged") == 19
    _, products = store_catalog()
    after = _by_external_id(products)["dummyjson:3"]
    assert after["title"].endswith("(new)")
    assert after["handle"] == product["handle"]
    (variant_after,) = after["variants"]
    assert variant_after["id"] == variant["id"]
    prices = {p["currency_code"]: p["amount"] for p in variant_after["prices"]}
    assert prices == {"usd": 123.45, "eur": 42}
    urls = [i["url"] for i in after["images"]]
    assert (
        "https://merchant.example/extra.png" in urls and len(urls) == len(source[2]["images"]) + 1
    )
    assert {c["id"] for c in after["categories"]} == {
        product["categories"][0]["id"],
        other_category["id"],
    }
    assert after["metadata"]["merchant_note"] == "hand-written"


def test_dry_run_reports_the_plan_and_writes_nothing(
    empty_store, tmp_path, snapshot_dir, sync_runner, store_catalog
):
    full = json.loads((snapshot_dir / "products.json").read_text())
    source = copy.deepcopy(full[:20])
    data = tmp_path / "products.json"
    data.write_text(json.dumps(source))
    with DummyJSONServer(data) as server:
        runner = sync_runner(server.url)
        assert runner.run().ok
        before = store_catalog()
        source[0]["price"] = 1.5
        source[1]["price"] = 2.5
        source[2]["title"] = "Renamed"
        # One product leaves the source (id 20), one arrives (id 21).
        data.write_text(json.dumps([*source[:19], full[20]]))
        plan = runner.run(dry_run=True)
    assert plan.ok, plan
    assert plan.archived == 1 and plan.archival_note == f"source ids {full[19]['id']}"
    assert plan.requests("medusa_writes") == 0
    (page,) = plan.pages
    # The new product's stock level would be set too (a dry run plans levels like products).
    assert page.counts == {
        "created": 1,
        "updated": 3,
        "unchanged": 16,
        "failed": 0,
        "stock_set": 1,
        "sale_prices_set": 0,  # no rules, so no sale
    }
    assert page.requests["medusa_writes"] == 0
    assert f'price: ["usd", "{full[0]["price"]}"] → ["usd", "1.5"]' in page.plan
    assert f'| 3 | {_handle(full[2])} | update | title: "{full[2]["title"]}" → "Renamed" |' in (
        page.plan
    )
    assert f"| {full[20]['id']} |" in page.plan and "| create |" in page.plan
    assert store_catalog() == before


def _statuses(store_catalog):
    _, products = store_catalog()
    return {int(p["external_id"].split(":")[1]): p["status"] for p in products}


def test_vanished_products_are_archived_only_after_a_complete_cycle(
    empty_store, tmp_path, snapshot_dir, sync_runner, store_catalog
):
    full = json.loads((snapshot_dir / "products.json").read_text())[:30]
    data = tmp_path / "products.json"

    def serve(products):
        data.write_text(json.dumps(products))

    serve(full)
    with DummyJSONServer(data) as server:
        runner = sync_runner(server.url)
        assert runner.run().ok

        # Two products leave the source, but the page fails (a record is invalid): nothing is
        # archived.
        serve(full[2:] + [{**full[0], "id": 999, "price": "free"}])
        failed = runner.run()
        assert not failed.ok and failed.archived == 0
        assert "page 000 did not succeed" in failed.archival_note
        assert set(_statuses(store_catalog).values()) == {"published"}

        # A complete cycle archives exactly those two.
        serve(full[2:])
        done = runner.run()
        assert done.ok, done
        assert done.archived == 2
        statuses = _statuses(store_catalog)
        assert sorted(i for i, s in statuses.items() if s == "draft") == [1, 2]
        assert sum(s == "published" for s in statuses.values()) == 28

        # 30% at once is refused, with the reason; the override archives them.
        serve(full[:2] + full[11:])
        refused = runner.run()
        assert not refused.ok and not refused.archival_ok
        assert "refusing to archive 9 of 30" in refused.archival_note
        # The refusal wrote nothing; ids 1 and 2, back in the source, are published again.
        assert set(_statuses(store_catalog).values()) == {"published"}
        forced = runner.run(allow_mass_archive=True)
        assert forced.ok and forced.archived == 9
        statuses = _statuses(store_catalog)
        assert sorted(i for i, s in statuses.items() if s == "draft") == list(range(3, 12))
        assert statuses[1] == statuses[2] == "published"
        assert len(statuses) == 30


def test_a_catalog_that_grows_gets_its_new_pages_and_one_that_shrinks_retires_them(
    empty_store, tmp_path, dagster_instance, sync_settings, stack_resources, medusa_client
):
    import dataclasses

    import dagster as dg

    from sync_pipeline.cli.runner import SyncRunner
    from sync_pipeline.defs.cycle import WRITTEN
    from sync_pipeline.defs.partitions import product_pages, registered_pages
    from sync_pipeline.local.dummyjson_server.generate import generate_catalog

    catalog = generate_catalog(1200, seed=7)
    data = tmp_path / "products.json"
    settings = dataclasses.replace(sync_settings, page_size=500)  # the production pages

    def sync(products, **options):
        data.write_text(json.dumps(products))
        runner = SyncRunner(dagster_instance, settings, stack_resources(server.url, settings))
        return runner.run(**options)

    def stored() -> int:
        return medusa_client.get("/admin/products", {"limit": 1, "fields": "id"})["count"]

    data.write_text(json.dumps(catalog[:194]))
    with DummyJSONServer(data) as server:
        small = sync(catalog[:194])
        assert small.ok and registered_pages(dagster_instance) == ["000"]

        grown = sync(catalog)  # no code change, no restart: the catalog run adds the pages
        assert grown.ok, grown
        assert [p.key for p in grown.pages] == ["000", "001", "002"]
        assert registered_pages(dagster_instance) == ["000", "001", "002"]
        statuses = dagster_instance.get_status_by_partition(
            WRITTEN, ["000", "001", "002"], product_pages
        )
        assert set(statuses.values()) == {dg.AssetPartitionStatus.MATERIALIZED}
        assert stored() == 1200

        shrunk = sync(catalog[:194], allow_mass_archive=True)
        assert shrunk.ok, shrunk
        assert registered_pages(dagster_instance) == ["000"]
        assert shrunk.archived == 1200 - 194
    published = medusa_client.get(
        "/admin/products", {"limit": 1, "fields": "id", "status[]": "published"}
    )["count"]
    assert (published, stored()) == (194, 1200)


def test_a_product_synced_with_its_barcode_in_metadata_gets_it_native_once(
    empty_store, tmp_path, snapshot_dir, sync_runner, medusa_client
):
    source = json.loads((snapshot_dir / "products.json").read_text())[:5]
    data = tmp_path / "products.json"
    data.write_text(json.dumps(source))
    with DummyJSONServer(data) as server:
        runner = sync_runner(server.url)
        assert runner.run().ok
        # As mapping version 2 left it: the barcode in metadata only, another fingerprint.
        fields = "id,metadata,variants.id,variants.barcode"
        (old,) = medusa_client.get(
            "/admin/products", {"external_id": f"dummyjson:{source[0]['id']}", "fields": fields}
        )["products"]
        barcode = old["variants"][0]["barcode"]
        medusa_client.post(
            f"/admin/products/{old['id']}",
            {
                "metadata": {"barcode": barcode, "sync_fingerprint": "mapping-version-2"},
                "variants": [{"id": old["variants"][0]["id"], "barcode": None}],
            },
        )
        moved = runner.run()
        assert moved.ok and moved.count("updated") == 1 and moved.count("unchanged") == 4
        again = runner.run()
    assert again.ok and again.requests("medusa_writes") == 0
    (now,) = medusa_client.get("/admin/products", {"id": old["id"], "fields": fields})["products"]
    assert now["variants"][0]["barcode"] == barcode == source[0]["meta"]["barcode"]
    assert "barcode" not in now["metadata"]
