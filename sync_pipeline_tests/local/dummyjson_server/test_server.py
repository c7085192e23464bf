"""The DummyJSON-compatible test server, over real HTTP (API.md is the reference)."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from sync_pipeline.local.dummyjson_server import cli as source_cli
from sync_pipeline.local.dummyjson_server.catalog_file import DataFileError
from sync_pipeline.local.dummyjson_server.faults import FAULT_KINDS, RATE_LIMIT_MESSAGE, FaultConfig
from sync_pipeline.local.dummyjson_server.generate import generate_catalog, write_catalog
from sync_pipeline.local.dummyjson_server.server import DummyJSONServer

JSON_TYPE = "application/json; charset=utf-8"


@pytest.fixture(scope="module")
def http() -> requests.Session:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def get(source_server, http):
    """GET on the shared server; no redirects followed."""

    def _get(path: str, params=None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return http.get(source_server.url + path, params=params, allow_redirects=False, **kwargs)

    return _get


@pytest.fixture(scope="module")
def real_products(snapshot_dir) -> list[dict]:
    return json.loads((snapshot_dir / "products.json").read_text(encoding="utf-8"))


@pytest.fixture
def data_copy(snapshot_dir, tmp_path) -> Path:
    """A private copy of products.json, for servers with options or a changing file."""
    return Path(shutil.copy(snapshot_dir / "products.json", tmp_path / "products.json"))


def _ids(response: requests.Response) -> list[int]:
    return [product["id"] for product in response.json()["products"]]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --------------------------------------------------------------------------- /products


def test_default_page(get):
    response = get("/products")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_TYPE
    body = response.json()
    assert list(body) == ["products", "total", "skip", "limit"]
    assert (body["total"], body["skip"], body["limit"]) == (194, 0, 30)
    assert _ids(response) == list(range(1, 31))


def test_pages_of_50_cover_every_id_once(get):
    seen, skip = [], 0
    while True:
        body = get("/products", {"limit": 50, "skip": skip}).json()
        if not body["products"]:
            break
        assert body["limit"] == len(body["products"])  # the count returned, not the request
        seen += [product["id"] for product in body["products"]]
        skip += len(body["products"])
        if skip >= body["total"]:
            break
    assert seen == list(range(1, 195))


def test_limit_zero_returns_everything(get, real_products):
    body = get("/products", {"limit": 0}).json()
    assert body["limit"] == body["total"] == 194
    assert body["products"] == real_products


def test_skip_near_and_past_the_end(get):
    near = get("/products", {"skip": 190}).json()
    assert [p["id"] for p in near["products"]] == [191, 192, 193, 194]
    assert near["limit"] == 4
    past = get("/products", {"skip": 500})
    assert past.status_code == 200
    assert past.json() == {"products": [], "total": 194, "skip": 500, "limit": 0}


@pytest.mark.parametrize(
    ("limit", "count"),
    [("2.9", 2), ("1e3", 1), ("0x10", 194), ("-5", 189), ("", 0), (" 7 ", 7), ("500", 194)],
)
def test_limit_numeric_edge_cases(get, limit, count):
    response = get("/products", {"limit": limit})
    assert response.status_code == 200
    assert len(response.json()["products"]) == response.json()["limit"] == count


def test_skip_negative_and_empty_are_echoed(get):
    negative = get("/products", {"skip": "-5", "limit": 2}).json()
    assert negative["skip"] == -5 and _ids_of(negative) == [1, 2]
    empty = get("/products", {"skip": "", "limit": 2}).json()
    assert empty["skip"] is None and _ids_of(empty) == [1, 2]


def _ids_of(body: dict) -> list[int]:
    return [product["id"] for product in body["products"]]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=abc", "Invalid 'limit' - must be a number"),
        ("limit=5abc", "Invalid 'limit' - must be a number"),
        ("limit=1&limit=2", "Invalid 'limit' - must be a number"),
        ("skip=x", "Invalid 'skip' - must be a number"),
        ("q[]=x", "Invalid 'q' - must be a string"),
        ("sortBy=price&order=up", "Order can be: 'asc' or 'desc'"),
        ("delay=abc", "Delay must be a number in milliseconds"),
        ("delay=5001", "Delay cannot be greater than 5 seconds"),
        ("delay=-1", "Delay cannot be less than 0"),
    ],
)
def test_query_validation_errors(get, query, message):
    response = get(f"/products?{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == JSON_TYPE
    assert response.json() == {"message": message}


@pytest.mark.parametrize(
    "path", ["/products/categories", "/products/category-list", "/products/1", "/nope"]
)
def test_query_validation_runs_on_every_route(get, path):
    response = get(path, {"limit": "abc"})
    assert response.status_code == 400
    assert response.json() == {"message": "Invalid 'limit' - must be a number"}


def test_select(get):
    body = get("/products", {"limit": 2, "select": "title, price,nope"}).json()
    # id comes first, " price" is not trimmed (so it matches nothing), unknown names are dropped
    assert body["products"] == [
        {"id": 1, "title": "Essence Mascara Lash Princess"},
        {"id": 2, "title": "Eyeshadow Palette with Mirror"},
    ]
    repeated = get("/products?limit=1&select=price&select=title").json()["products"][0]
    assert list(repeated) == ["id", "price", "title"]
    assert get("/products?limit=1&select=").json()["products"][0]["sku"] == "BEA-ESS-ESS-001"
    assert get("/products/5", {"select": "title"}).json() == {"id": 5, "title": "Red Nail Polish"}


def test_sort_before_skip_and_limit(get, real_products):
    by_price = sorted(real_products, key=lambda p: p["price"], reverse=True)
    top = get("/products", {"sortBy": "price", "order": "DESC", "limit": 3, "select": "price"})
    assert [p["price"] for p in top.json()["products"]] == [p["price"] for p in by_price[:3]]
    second = get("/products", {"sortBy": "price", "order": "desc", "skip": 1, "limit": 1})
    assert second.json()["products"][0]["price"] == by_price[1]["price"]
    titles = get("/products", {"sortBy": "title", "limit": 0, "select": "title"}).json()
    assert [p["title"] for p in titles["products"]] == sorted(p["title"] for p in real_products)
    unknown = get("/products", {"sortBy": "nope", "limit": 5})
    assert _ids(unknown) == [1, 2, 3, 4, 5]
    # order without sortBy is ignored, even when invalid
    assert get("/products", {"order": "up", "limit": 1}).status_code == 200


def test_delay_waits(get):
    started = time.monotonic()
    response = get("/products/1", {"delay": 100, "select": "id"})
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.1


def test_search(get):
    assert get("/products/search", {"q": "phone"}).json()["total"] == 23
    assert get("/products/search", {"q": "  PHONE "}).json()["total"] == 23
    assert get("/products/search", {"q[valueSearch]": "phone"}).json()["total"] == 23
    assert get("/products/search", {"q": "cruelty-free"}).json()["total"] == 0
    assert get("/products/search").json()["total"] == 194
    page = get("/products/search", {"q": "phone", "limit": 5, "skip": 20}).json()
    assert (page["total"], page["skip"], page["limit"]) == (23, 20, 3)


# --------------------------------------------------------------------------- single product


def test_product_by_id(get, real_products):
    response = get("/products/1")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_TYPE
    assert response.json() == real_products[0]
    assert get("/product/194").json() == real_products[-1]  # the /product alias


@pytest.mark.parametrize("product_id", ["999", "01", "1.0", "abc", "0", "category"])
def test_unknown_product_id_is_a_json_404(get, product_id):
    response = get(f"/products/{product_id}")
    assert response.status_code == 404
    assert response.json() == {"message": f"Product with id '{product_id}' not found"}


# --------------------------------------------------------------------------- categories


def test_categories_match_the_snapshot_files(get, snapshot_dir):
    expected = json.loads((snapshot_dir / "categories.json").read_text())
    response = get("/products/categories")
    assert response.status_code == 200
    assert response.json() == expected
    assert len(expected) == 24
    category_list = json.loads((snapshot_dir / "category-list.json").read_text())
    assert get("/products/category-list").json() == category_list


def test_category_slug(get):
    smartphones = get("/products/category/smartphones").json()
    assert smartphones["total"] == 16
    assert {p["category"] for p in smartphones["products"]} == {"smartphones"}
    assert get("/products/category/SMARTPHONES").json()["total"] == 16
    for slug in ("Mens Shirts", "nope"):
        response = get(f"/products/category/{slug}")
        assert response.status_code == 200
        assert response.json() == {"products": [], "total": 0, "skip": 0, "limit": 0}
    page = get("/product/category/groceries", {"limit": 5, "skip": 25, "select": "title"}).json()
    assert (page["total"], page["limit"]) == (27, 2)


# --------------------------------------------------------------------------- paths


def test_trailing_slash_redirects_keeping_the_query(get):
    response = get("/products/?limit=5")
    assert response.status_code == 301
    assert response.headers["Location"] == "/products?limit=5"
    assert get("//products//1/").headers["Location"] == "/products/1"
    assert get("/products/category/").headers["Location"] == "/products/category"


@pytest.mark.parametrize("path", ["/", "/nope", "/products/1/extra", "/products/category/a/b"])
def test_unknown_paths_are_html_404(get, path):
    response = get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


def test_head_and_writes(source_server, http):
    head = http.head(source_server.url + "/products", timeout=5)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) > 0
    write = http.post(source_server.url + "/products/add", json={"title": "x"}, timeout=5)
    assert write.status_code == 501
    assert "not implemented" in write.json()["message"]


def test_request_log(source_server, get):
    get("/products", {"limit": 3, "skip": 6})
    record = source_server.requests[-1]
    assert (record.method, record.path, record.status, record.fault) == (
        "GET",
        "/products",
        200,
        None,
    )
    assert record.params == {"limit": "3", "skip": "6"}
    assert record.timestamp <= time.monotonic()


# --------------------------------------------------------------------------- legacy


def test_legacy_shape(snapshot_dir, tmp_path):
    data = Path(shutil.copy(snapshot_dir / "products-100.json", tmp_path / "old.json"))
    with DummyJSONServer(data, legacy=True) as server:
        base = server.url
        assert requests.get(f"{base}/products", timeout=5).json()["total"] == 100
        categories = requests.get(f"{base}/products/categories", timeout=5).json()
        assert categories[:3] == ["smartphones", "laptops", "fragrances"]
        assert len(categories) == 20 and all(isinstance(slug, str) for slug in categories)
        # category-list did not exist: it falls through to /products/{id}, as the old routes did
        missing = requests.get(f"{base}/products/category-list", timeout=5)
        assert missing.status_code == 404
        assert missing.json() == {"message": "Product with id 'category-list' not found"}
        # sortBy/order did not exist: ignored, even an invalid order
        unsorted = requests.get(
            f"{base}/products", params={"sortBy": "price", "order": "bogus"}, timeout=5
        )
        assert unsorted.status_code == 200
        assert _ids(unsorted) == list(range(1, 31))
        assert requests.get(f"{base}/products/category/skincare", timeout=5).json()["total"] == 5


# --------------------------------------------------------------------------- rate limit


def test_rate_limit_window(data_copy):
    clock = FakeClock()
    with DummyJSONServer(data_copy, rate_limit=(5, 1), clock=clock) as server:
        url = server.url + "/products/1"
        remaining = []
        for _ in range(5):
            response = requests.get(url, params={"select": "id"}, timeout=5)
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Limit"] == "5"
            remaining.append(response.headers["X-RateLimit-Remaining"])
        assert remaining == ["4", "3", "2", "1", "0"]

        clock.advance(0.3)
        limited = requests.get(url, timeout=5)
        assert limited.status_code == 429
        assert limited.json() == {"message": RATE_LIMIT_MESSAGE}
        assert limited.headers["Retry-After"] == "1"  # 0.7 s left, rounded up
        # the limiter comes first: it counts (and rejects) invalid and unknown requests too
        assert requests.get(url, params={"limit": "abc"}, timeout=5).status_code == 429
        assert requests.get(server.url + "/nope", timeout=5).status_code == 429

        clock.advance(0.7)  # the window has ended
        again = requests.get(url, timeout=5)
        assert again.status_code == 200
        assert again.headers["X-RateLimit-Remaining"] == "4"
    assert [r.status for r in server.requests] == [200] * 5 + [429] * 3 + [200]


def test_rate_limit_counts_every_request_and_retry_after_is_whole_seconds(data_copy):
    clock = FakeClock()
    with DummyJSONServer(data_copy, rate_limit=(2, 10), clock=clock) as server:
        assert requests.get(server.url + "/products?limit=abc", timeout=5).status_code == 400
        assert requests.get(server.url + "/nope", timeout=5).status_code == 404
        clock.advance(2.5)
        limited = requests.get(server.url + "/products", timeout=5)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "8"


def test_rate_limit_on_the_real_clock(data_copy):
    with DummyJSONServer(data_copy, rate_limit=(2, 60)) as server:
        statuses = [requests.get(server.url + "/products/1", timeout=5) for _ in range(3)]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 60


# --------------------------------------------------------------------------- injected failures


def test_fail_next(data_copy):
    with DummyJSONServer(data_copy) as server:
        server.fail_next(2)
        server.fail_next(1, status=500)
        statuses = []
        for path in ("/products", "/products/categories", "/products/1", "/products/1"):
            response = requests.get(server.url + path, timeout=5)
            statuses.append(response.status_code)
            if response.status_code != 200:
                assert response.headers["Content-Type"] == JSON_TYPE
                assert "message" in response.json()
        assert statuses == [503, 503, 500, 200]
        assert [r.fault for r in server.requests] == ["fail_next"] * 3 + [None]
        with pytest.raises(ValueError):
            server.fail_next(1, status=200)


def _classify(session: requests.Session, url: str) -> str:
    try:
        response = session.get(url, params={"limit": 1, "select": "id"}, timeout=5)
        response.json()
    except requests.exceptions.ChunkedEncodingError:
        return "cut"  # fewer bytes than Content-Length
    except requests.exceptions.ConnectionError:
        return "closed"  # no answer at all
    return str(response.status_code)


def test_faults_at_the_configured_share(data_copy):
    faults = FaultConfig(share=0.25, seed=7, hang_seconds=0.01)
    with DummyJSONServer(data_copy, faults=faults) as server, requests.Session() as session:
        outcomes = [_classify(session, server.url + "/products") for _ in range(1000)]
        records = server.requests
    assert len(records) == 1000
    injected = Counter(record.fault for record in records)
    assert set(injected) == {None, *FAULT_KINDS}
    assert 200 <= sum(n for kind, n in injected.items() if kind) <= 300
    for kind in FAULT_KINDS:
        assert injected[kind] >= 20, injected
    # what the client saw, request by request, is what the server says it did
    expected = {
        None: "200",
        "500": "500",
        "503": "503",
        "truncate": "cut",
        "timeout": "closed",
        "drop": "closed",
    }
    assert outcomes == [expected[record.fault] for record in records]
    statuses = {record.fault: record.status for record in records}
    assert statuses["timeout"] is None and statuses["drop"] is None
    assert statuses["truncate"] == 200


def _fault_sequence(data: Path, seed: int, n: int = 200) -> list[str | None]:
    faults = FaultConfig(share=0.3, seed=seed, hang_seconds=0)
    with DummyJSONServer(data, faults=faults) as server, requests.Session() as session:
        for _ in range(n):
            _classify(session, server.url + "/products")
        return [record.fault for record in server.requests]


def test_faults_are_deterministic_for_a_seed(data_copy):
    first = _fault_sequence(data_copy, seed=11)
    assert first == _fault_sequence(data_copy, seed=11)
    assert first != _fault_sequence(data_copy, seed=12)


def test_faults_only_hit_data_routes_and_chosen_kinds(data_copy):
    faults = FaultConfig(share=1.0, kinds=("503",), seed=1)
    with DummyJSONServer(data_copy, faults=faults) as server:
        assert requests.get(server.url + "/products/category-list", timeout=5).status_code == 503
        assert requests.get(server.url + "/product/1", timeout=5).status_code == 503
        assert requests.get(server.url + "/nope", timeout=5).status_code == 404


def test_timeout_fault_holds_the_request_and_stop_releases_it(data_copy):
    faults = FaultConfig(share=1.0, kinds=("timeout",), hang_seconds=30)
    server = DummyJSONServer(data_copy, faults=faults).start()
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(server.url + "/products", timeout=0.2)
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 5


def test_fault_config_validation():
    with pytest.raises(ValueError, match="share"):
        FaultConfig(share=1.5)
    with pytest.raises(ValueError, match="kinds"):
        FaultConfig(share=0.1, kinds=("500", "teapot"))
    assert FaultConfig(share=0.1, kinds=["drop", "drop"]).kinds == ("drop",)


# --------------------------------------------------------------------------- reload


def test_reload_when_the_file_changes(data_copy):
    with DummyJSONServer(data_copy) as server:
        url = server.url + "/products"
        assert requests.get(url, timeout=5).json()["total"] == 194

        write_catalog(generate_catalog(10, seed=1), data_copy)  # os.replace: new inode
        body = requests.get(url, params={"limit": 0}, timeout=5).json()
        assert body["total"] == 10
        assert body["products"] == json.loads(data_copy.read_text(encoding="utf-8"))

        # an in-place rewrite (same inode), wrapped as {"products": [...]}
        data_copy.write_text(json.dumps({"products": generate_catalog(3, seed=2)}))
        assert requests.get(url, timeout=5).json()["total"] == 3
        slugs = requests.get(server.url + "/products/category-list", timeout=5).json()
        assert slugs == list(dict.fromkeys(p["category"] for p in generate_catalog(3, seed=2)))


def test_invalid_file_on_reload_answers_500_naming_the_file(data_copy):
    with DummyJSONServer(data_copy) as server:
        data_copy.write_text("[{not json")
        broken = requests.get(server.url + "/products", timeout=5)
        assert broken.status_code == 500
        assert str(data_copy) in broken.json()["message"]
        with pytest.raises(DataFileError, match=re.escape(str(data_copy))):
            server.reload()
        assert server.product_count == 194  # still the old catalog

        write_catalog(generate_catalog(4, seed=3), data_copy)
        assert server.reload() == 4
        assert requests.get(server.url + "/products", timeout=5).json()["total"] == 4


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "cannot read"),
        ("{oops", "not valid UTF-8 JSON"),
        ('{"items": []}', "JSON array of products"),
        ('[{"title": "no id"}]', "item 0"),
    ],
)
def test_invalid_data_file_is_named(tmp_path, content, match):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataFileError, match=match) as error:
        DummyJSONServer(path)
    assert str(path) in str(error.value)


def test_integral_floats_are_served_as_ints(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('[{"id": 1.0, "title": "x", "category": "a", "price": 25.0}]')
    with DummyJSONServer(path) as server:
        raw = requests.get(server.url + "/products/1", timeout=5).text
    assert raw == '{"id":1,"title":"x","category":"a","price":25}'


# --------------------------------------------------------------------------- CLI


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("sync-pipeline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sync_pipeline.cli"]


def _line_reader(stream) -> queue.Queue:
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_cli_serve_reloads_on_sighup_and_stops_on_sigterm(data_copy):
    command = [*_console_script(), "source", "serve", "--data", str(data_copy), "--port", "0"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        lines = _line_reader(process.stdout)
        first = lines.get(timeout=30)
        assert first is not None, process.stderr.read()
        match = re.fullmatch(r"Serving 194 products from (.+) at (http://127\.0\.0\.1:\d+)", first)
        assert match and match.group(1) == str(data_copy), first
        url = match.group(2)
        assert requests.get(url + "/products", timeout=5).json()["total"] == 194

        write_catalog(generate_catalog(12, seed=5), data_copy)
        process.send_signal(signal.SIGHUP)
        assert lines.get(timeout=10) == f"Reloaded 12 products from {data_copy}"
        assert requests.get(url + "/products", timeout=5).json()["total"] == 12

        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--rate-limit", "abc"], "--rate-limit"),
        (["--rate-limit", "5/0"], "--rate-limit"),
        (["--faults", "1.5"], "--faults"),
        (["--faults", "0.1", "--fault-kinds", "500,teapot"], "--fault-kinds"),
        (["--faults", "0.1", "--hang-seconds", "-1"], "--hang-seconds"),
        (["--port", "70000"], "--port"),
        (["--seed", "3"], "--seed"),
    ],
)
def test_cli_serve_rejects_bad_options(data_copy, capsys, args, option):
    with pytest.raises(SystemExit) as exit_info:
        source_cli.main(["source", "serve", "--data", str(data_copy), *args])
    assert exit_info.value.code == 2
    assert option in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read data file {path}: No such file or directory"),
        ("nope", "data file {path} is not valid UTF-8 JSON"),
        ({}, "cannot read data file {path}: Is a directory"),
    ],
)
def test_cli_serve_names_a_bad_data_file_in_one_line(tmp_path, capsys, content, problem):
    bad = tmp_path / "bad.json"
    if content == {}:
        bad.mkdir()
    elif content is not None:
        bad.write_text(content)
    assert source_cli.main(["source", "serve", "--data", str(bad)]) == 2
    out = capsys.readouterr()
    [line] = out.err.splitlines()
    assert line.startswith("sync-pipeline source serve: error: " + problem.format(path=bad))
    assert out.out == ""
