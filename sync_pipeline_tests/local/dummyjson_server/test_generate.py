"""The synthetic catalog generator: determinism, shape, and the real data's traps."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import requests

from sync_pipeline.local.dummyjson_server import cli as source_cli
from sync_pipeline.local.dummyjson_server.generate import (
    BRANDLESS_CATEGORIES,
    CATEGORY_COUNTS,
    generate_catalog,
    write_catalog,
)
from sync_pipeline.local.dummyjson_server.server import DummyJSONServer
from sync_pipeline.sync.mapping import normalize_products

SKU = re.compile(r"[A-Z]{3}-[A-Z]{3}-[A-Z]{3}-\d{3,}")


@pytest.fixture(scope="module")
def real_products(snapshot_dir) -> list[dict]:
    return json.loads((snapshot_dir / "products.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog() -> list[dict]:
    return generate_catalog(2000, seed=123)


def test_deterministic_for_a_seed():
    assert generate_catalog(300, seed=5) == generate_catalog(300, seed=5)
    assert generate_catalog(300, seed=5) != generate_catalog(300, seed=6)


@pytest.mark.parametrize("count", [0, 1, 2, 194, 1001])
def test_count_and_contiguous_ids(count):
    products = generate_catalog(count, seed=1)
    assert [p["id"] for p in products] == list(range(1, count + 1))


def test_rejects_a_bad_count():
    with pytest.raises(ValueError):
        generate_catalog(-1, seed=1)


def test_fields_and_their_order_match_the_real_data(catalog, real_products):
    real_orders = {tuple(p) for p in real_products}
    assert {tuple(p) for p in catalog} <= real_orders
    assert {tuple(p) for p in catalog} == real_orders  # both shapes (with and without brand)
    real = real_products[0]
    for product in catalog[:50]:
        assert list(product["dimensions"]) == list(real["dimensions"])
        assert list(product["meta"]) == list(real["meta"])
        assert [list(review) for review in product["reviews"]] == [
            list(review) for review in real["reviews"]
        ]


@pytest.mark.parametrize("size", [2000, 10_000])  # the largest: the benchmark's
def test_unique_identifiers(size):
    catalog = generate_catalog(size, seed=99)
    skus = [p["sku"] for p in catalog]
    assert len(set(skus)) == len(skus)
    assert all(SKU.fullmatch(sku) for sku in skus)
    barcodes = [p["meta"]["barcode"] for p in catalog]
    assert len(set(barcodes)) == len(barcodes)
    assert all(re.fullmatch(r"\d{13}", code) for code in barcodes)
    urls = [url for p in catalog for url in [*p["images"], p["thumbnail"]]]
    assert len(set(urls)) == len(urls)


def test_duplicate_titles_are_present_but_rare(catalog):
    for products in (generate_catalog(194, seed=9), catalog):
        counts = Counter(p["title"] for p in products)
        duplicated = sum(n - 1 for n in counts.values() if n > 1)
        assert 1 <= duplicated <= 0.03 * len(products)


def test_brands_are_missing_exactly_in_the_brandless_categories(catalog, real_products):
    real_brandless = {p["category"] for p in real_products} - {
        p["category"] for p in real_products if "brand" in p
    }
    assert real_brandless == BRANDLESS_CATEGORIES
    for product in catalog:
        assert ("brand" in product) == (product["category"] not in BRANDLESS_CATEGORIES)
        if "brand" in product:
            assert product["brand"]


def test_categories_are_spread_like_the_real_data(real_products):
    real_counts = Counter(p["category"] for p in real_products)
    assert dict(real_counts) == CATEGORY_COUNTS
    assert Counter(p["category"] for p in generate_catalog(194, seed=4)) == real_counts
    big = generate_catalog(10_000, seed=4)
    counts = Counter(p["category"] for p in big)
    for slug, real in real_counts.items():
        assert abs(counts[slug] - 10_000 * real / 194) <= 1
    # sorted by category, like products.json
    assert [p["category"] for p in big] == sorted(p["category"] for p in big)


def test_prices_and_number_types(catalog):
    prices = [p["price"] for p in catalog]
    assert all(isinstance(price, (int, float)) and round(price, 2) == price for price in prices)
    assert min(prices) >= 0.79 and max(prices) <= 37_000  # the real range, about
    assert sum(str(price).endswith(".99") for price in prices) > 0.8 * len(prices)
    assert any(isinstance(price, int) for price in prices)  # whole-number prices
    assert any(isinstance(p["discountPercentage"], int) for p in catalog)
    assert any(isinstance(v, int) for p in catalog for v in p["dimensions"].values())
    for product in catalog:
        assert 0.04 <= product["discountPercentage"] <= 19.61
        assert 2.51 <= product["rating"] <= 4.99
        assert isinstance(product["stock"], int) and 0 <= product["stock"] <= 100
        assert isinstance(product["weight"], int) and 1 <= product["weight"] <= 10
        assert 1 <= product["minimumOrderQuantity"] <= 50


def test_availability_follows_stock(catalog):
    for product in catalog:
        stock, status = product["stock"], product["availabilityStatus"]
        expected = "Out of Stock" if stock == 0 else "Low Stock" if stock <= 7 else "In Stock"
        assert status == expected
    assert {p["availabilityStatus"] for p in catalog} == {"In Stock", "Low Stock", "Out of Stock"}


def test_images_tags_reviews_meta(catalog):
    for product in catalog:
        assert 1 <= len(product["images"]) <= 6
        assert product["thumbnail"] not in product["images"]
        assert product["thumbnail"].startswith(
            f"https://cdn.dummyjson.com/product-images/{product['category']}/"
        )
        assert 1 <= len(product["tags"]) <= 3
        assert all(tag == tag.lower() for tag in product["tags"])
        assert len(product["reviews"]) == 3
        assert all(1 <= review["rating"] <= 5 for review in product["reviews"])
        assert product["meta"]["createdAt"] == product["meta"]["updatedAt"]
        assert product["title"] == product["title"].strip()
    assert any(any(c in p["title"] for c in "'&.") for p in catalog)


def test_the_pipeline_normalizes_every_generated_product(catalog):
    normalized, rejected = normalize_products(catalog)
    assert rejected == []
    assert [p.source_id for p in normalized] == [p["id"] for p in catalog]
    # The price the pipeline writes is the catalog's, to the cent.
    assert [float(p.price) for p in normalized] == [p["price"] for p in catalog]


def test_the_server_serves_a_generated_catalog(tmp_path):
    products = generate_catalog(60, seed=8)
    path = write_catalog(products, tmp_path / "catalog.json")
    with DummyJSONServer(path) as server:
        body = requests.get(server.url + "/products", params={"limit": 0}, timeout=5).json()
        slugs = requests.get(server.url + "/products/category-list", timeout=5).json()
    assert body["total"] == 60 and body["products"] == products
    assert slugs == list(dict.fromkeys(p["category"] for p in products))


def test_cli_generate(tmp_path):
    script = Path(sys.executable).with_name("sync-pipeline")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sync_pipeline.cli"]
    out = tmp_path / "out" / "catalog.json"
    result = subprocess.run(
        [*command, "source", "generate", "--count", "25", "--seed", "3", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    assert json.loads(out.read_text(encoding="utf-8")) == generate_catalog(25, seed=3)


@pytest.mark.parametrize("count", ["-1", "ten"])
def test_cli_generate_rejects_a_bad_count(tmp_path, capsys, count):
    with pytest.raises(SystemExit) as exit_info:
        source_cli.main(["source", "generate", "--count", count, "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "--count" in capsys.readouterr().err
