"""Issue 6, item 5: malformed records are reported by id and reason; every good record syncs.

The records reach the client exactly as written (``rawsource.RawSource``): NaN and Infinity
as the bare tokens a Python mirror would send, bytes that are not UTF-8, records without an
id, records that are not objects. Each case says what must happen: rejected at a stage with
a reason, or accepted (and then it must be in Medusa like any good record).
"""

from __future__ import annotations

import copy
import json
import tracemalloc
from dataclasses import dataclass
from typing import Any

import pytest

from sync_pipeline.clients.dummyjson import DummyJSONClient, SourceError
from sync_pipeline.local.catalog_check import assert_exact_catalog
from sync_pipeline.local.dummyjson_server.generate import generate_catalog
from sync_pipeline.local.dummyjson_server.server import DummyJSONServer
from sync_pipeline_tests.resilience.rawsource import (
    RawSource,
    category_list,
    endless_page,
    padded_page,
)

pytestmark = pytest.mark.e2e

PAGE_SIZE = 25
GOOD = generate_catalog(40, seed=9)  # ids 1..40
INVALID_UTF8 = "@@INVALID-UTF8@@"  # replaced by bytes that are not UTF-8 on the wire
LONE_SURROGATE = "@@LONE-SURROGATE@@"  # replaced by the JSON escape \ud800 (valid JSON)


@dataclass(frozen=True)
class Rejected:
    stage: str
    reason: str  # a part of the reason
    source_id: str | None = None  # as reported, when it is not the record's own id


@dataclass(frozen=True)
class Accepted:
    why: str


def _record(case_id: int, **changes: Any) -> dict[str, Any]:
    """A valid record (a copy of a good one, with its own id, SKU, barcode and images), then
    changes; a change to ``...`` deletes the field."""
    raw = copy.deepcopy(GOOD[case_id % len(GOOD)])
    raw.update(
        id=case_id,
        sku=f"CASE-{case_id}",
        title=f"{raw['title']} case {case_id}",
        images=[f"https://cdn.example.com/case/{case_id}/1.webp"],
        thumbnail=f"https://cdn.example.com/case/{case_id}/thumbnail.webp",
    )
    if isinstance(raw.get("meta"), dict):  # Medusa keeps a variant's barcode unique
        raw["meta"]["barcode"] = f"{9_000_000_000_000 + case_id}"
    for key, value in changes.items():
        if value is ...:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def _cases() -> list[tuple[int, Any, Rejected | Accepted]]:
    v = "validation"
    return [
        # --- identity
        (101, _record(101, id="101"), Rejected(v, "id: Input should be a valid integer", "101")),
        (102, _record(102, id=None), Rejected(v, "id: Input should be a valid integer", "None")),
        (103, _record(103, id=...), Rejected(v, "id: Field required", "None")),
        (104, _record(104, id=-104), Rejected(v, "id: Input should be greater than 0", "-104")),
        (105, _record(105, id=105.5), Rejected(v, "id: Input should be a valid integer", "105.5")),
        (106, _record(106, id=True), Rejected(v, "id: Input should be a valid integer", "True")),
        # --- title
        (107, _record(107, title=None), Rejected(v, "title: Input should be a valid string")),
        (108, _record(108, title=""), Rejected(v, "title: String should have at least 1")),
        (109, _record(109, title="   "), Rejected(v, "title: Value error, title is empty")),
        (110, _record(110, title=...), Rejected(v, "title: Field required")),
        (111, _record(111, title=123), Rejected(v, "title: Input should be a valid string")),
        (112, _record(112, title="t" * 1001), Rejected(v, "title: String should have at most")),
        # --- price (NaN and ±Infinity are bare tokens on the wire: json.dumps(allow_nan=True))
        (
            113,
            _record(113, price="9.99"),
            Rejected(v, "price: Value error, price must be a number"),
        ),
        (114, _record(114, price=None), Rejected(v, "price: Value error, price must be a number")),
        (115, _record(115, price=-1), Rejected(v, "price: Input should be greater than or equal")),
        (116, _record(116, price=1e12), Rejected(v, "price: Input should be less than or equal")),
        (
            117,
            _record(117, price=float("nan")),
            Rejected(v, "price: Value error, must be a finite"),
        ),
        (
            118,
            _record(118, price=float("inf")),
            Rejected(v, "price: Value error, must be a finite"),
        ),
        (119, _record(119, price=-float("inf")), Rejected(v, "price: Value error, must be a fin")),
        (120, _record(120, price=9.999), Rejected(v, "price: Value error, price 9.999 has more")),
        (121, _record(121, price=True), Rejected(v, "price: Value error, must be a number, not a")),
        # --- category (an unknown one is accepted: the page creates it, see 154)
        (122, _record(122, category=...), Rejected(v, "category: Field required")),
        (123, _record(123, category=None), Rejected(v, "category: Input should be a valid string")),
        (124, _record(124, category=""), Rejected(v, "category: String should have at least 1")),
        # --- text
        (125, _record(125, description="d" * 1_000_000), Rejected(v, "description: String sho")),
        (126, _record(126, description=42), Rejected(v, "description: Input should be a valid")),
        (127, _record(127, title=f"Bad {INVALID_UTF8} bytes"), Rejected(v, "title: Input should")),
        (
            128,
            _record(128, description=f"lone {LONE_SURROGATE} surrogate"),
            Rejected(v, "description: Input should be a valid string, unable to parse raw data"),
        ),
        (129, _record(129, brand=5), Rejected(v, "brand: Input should be a valid string")),
        # the SKU it is reported with shows the bytes that are not UTF-8 as U+FFFD
        (148, _record(148, sku=f"SKU-{INVALID_UTF8}"), Rejected(v, "sku: Input should be a")),
        (130, _record(130, sku=""), Rejected(v, "sku: String should have at least 1")),
        # --- lists and nested objects
        (131, _record(131, tags="a,b"), Rejected(v, "tags: Input should be a valid list")),
        (132, _record(132, tags=[None]), Rejected(v, "tags.0: Input should be a valid string")),
        (133, _record(133, tags=[""]), Rejected(v, "tags.0: String should have at least 1")),
        (134, _record(134, tags=["t" * 300]), Rejected(v, "tags.0: String should have at most")),
        (135, _record(135, images="https://x/1.png"), Rejected(v, "images: Input should be a")),
        (136, _record(136, thumbnail="t" * 3000), Rejected(v, "thumbnail: String should have at")),
        (137, _record(137, dimensions="10x20x30"), Rejected(v, "dimensions: Input should be")),
        (
            138,
            _record(138, dimensions={"width": float("nan"), "height": 1, "depth": 1}),
            Rejected(v, "dimensions.width: Value error, must be a finite number"),
        ),
        (139, _record(139, weight=-3), Rejected(v, "weight: Input should be greater than or")),
        (140, _record(140, rating="high"), Rejected(v, "rating: Input should be a valid number")),
        (141, _record(141, stock="many"), Rejected(v, "stock: Input should be a valid integer")),
        (142, _record(142, meta=["x"]), Rejected(v, "meta: Input should be a valid dictionary")),
        (143, _record(143, minimumOrderQuantity=2.5), Rejected(v, "minimumOrderQuantity: Inp")),
        (144, _record(144, discountPercentage="10%"), Rejected(v, "discountPercentage: Input")),
        # --- not a record at all: no id to report, so "?" and what it was
        (145, "just a string", Rejected(v, "not an object: just a string", "?")),
        (146, [1, 2, 3], Rejected(v, "not an object: [1, 2, 3]", "?")),
        # --- Medusa refuses it: a SKU another product already has
        (
            147,
            _record(147, sku=GOOD[0]["sku"]),
            Rejected("medusa", f"HTTP 400: Product variant with sku: {GOOD[0]['sku']}, already"),
        ),
        # --- accepted on purpose
        (150, _record(150, colour="red", nested={"a": [1, {"b": None}]}), Accepted("extras")),
        (
            151,
            {  # the pre-2024 shape (products-100.json): no sku, tags, meta or dimensions
                "id": 151,
                "title": "iPhone 9 case 151",
                "description": "An apple mobile which is nothing like apple",
                "price": 549,
                "discountPercentage": 12.96,
                "rating": 4.69,
                "stock": 94,
                "brand": "Apple",
                "category": GOOD[0]["category"],
                "thumbnail": "https://cdn.example.com/legacy/151/thumbnail.jpg",
                "images": ["https://cdn.example.com/legacy/151/1.jpg"],
            },
            Accepted("the legacy schema is the same product, with fewer fields"),
        ),
        (
            152,
            _record(152, images=["https://cdn.example.com/case/152/a photo with spaces.webp"]),
            Accepted("Medusa stores image URLs as given, spaces included"),
        ),
        (
            153,
            _record(153, images=['https://cdn.example.com/case/153/dior-j\'adore-"x".webp']),
            Accepted("quotes too (the real data has j'adore in its URLs)"),
        ),
        (
            154,
            _record(154, category="kitchen-gadgets"),
            Accepted("a category the category list lacks is created by the page"),
        ),
        (155, _record(155, price=0), Accepted("a free product is a price")),
        (156, _record(156, price=10_000_000), Accepted("the largest price the model allows")),
        (157, _record(157, title="!!! ???"), Accepted("an unsluggable title: handle product-157")),
        (158, _record(158, tags=["dup", "dup", " dup "]), Accepted("tags are de-duplicated")),
    ]


def _patch(_skip: int, body: bytes) -> bytes:
    return body.replace(INVALID_UTF8.encode(), b"\xff\xfe\xc3(").replace(
        LONE_SURROGATE.encode(), b"\\ud800"
    )


def test_malformed_records_are_reported_by_id_and_reason_and_every_good_one_syncs(
    empty_store, small_pages, resilient_runner, medusa_client, store_catalog
):
    small_pages(PAGE_SIZE)
    cases = _cases()
    assert len(cases) >= 30
    # Also: the same id twice on one page (the first wins, the second is reported).
    twin_first, twin_second = _record(160), _record(160, title="The second copy")
    records = [*GOOD, twin_first, twin_second, *(record for _, record, _ in cases)]
    slugs = sorted({raw["category"] for raw in GOOD})
    with RawSource(records, category_list(slugs), patch=_patch) as source:
        summary = resilient_runner(source.url).run()

    assert summary.catalog_ok, summary.catalog_error
    assert summary.total == len(records)
    failed = [row for page in summary.pages for row in page.failed_records]
    pages_with_failures = {p.key for p in summary.pages if p.failed_records}
    failed_pages = {p.key: p.error for p in summary.pages if not p.ok}
    assert set(failed_pages) == pages_with_failures, failed_pages

    expected_rows = []
    for case_id, record, expect in cases:
        if isinstance(expect, Rejected):
            source_id = expect.source_id or str(case_id)
            sku = record.get("sku") if isinstance(record, dict) else None
            sku = sku.replace(INVALID_UTF8, "\ufffd" * 3 + "(") if isinstance(sku, str) else ""
            rows = [
                r
                for r in failed
                if r["source_id"] == source_id and r["sku"] == sku and expect.reason in r["reason"]
            ]
            assert len(rows) == 1, (
                case_id,
                expect,
                [r for r in failed if r["source_id"] == str(case_id)],
            )
            assert rows[0]["stage"] == expect.stage, (case_id, rows)
            expected_rows.append(rows[0])
    twin = [r for r in failed if r["source_id"] == "160"]
    assert [r["reason"] for r in twin] == ["duplicate id: appears more than once in the page"]
    # Nothing else failed: no good record, no accepted case.
    assert sorted(map(_key, failed)) == sorted(map(_key, [*expected_rows, *twin]))

    accepted = [record for _, record, expect in cases if isinstance(expect, Accepted)]
    assert_exact_catalog(
        medusa_client, store_catalog, [*GOOD, twin_first, *accepted], exact_tags=False
    )
    _, products = store_catalog()
    by_id = {p["external_id"]: p for p in products}
    assert by_id["dummyjson:160"]["title"] == twin_first["title"]
    assert by_id["dummyjson:157"]["handle"] == "product-157"
    for case_id in (152, 153):
        urls = [i["url"] for i in by_id[f"dummyjson:{case_id}"]["images"]]
        assert urls == next(r for i, r, _ in cases if i == case_id)["images"]


def _key(row: dict[str, str]) -> tuple[str, str, str, str]:
    return row["source_id"], row["sku"], row["stage"], row["reason"]


def test_a_first_page_with_a_stale_total_does_not_cut_the_catalog_short(
    empty_store, small_pages, resilient_runner, medusa_client, store_catalog
):
    """Page 000 says 40 (fetched before 20 products were added), the later pages say 60: the
    sync must follow the larger total, not stop after page 001 with 20 products missing."""
    small_pages(20)
    records = generate_catalog(60, seed=13)
    slugs = sorted({raw["category"] for raw in records})
    with RawSource(records, category_list(slugs), totals={0: 40}) as source:
        summary = resilient_runner(source.url).run()
    assert summary.ok, summary
    assert [p.key for p in summary.pages] == ["000", "001", "002"]
    assert summary.count("created") == 60
    assert_exact_catalog(medusa_client, store_catalog, records)
    # Archival refuses to judge a cycle whose total moved, and says so.
    assert "total changed during the cycle (page 001)" in summary.archival_note


def test_an_id_on_two_pages_is_reported(
    empty_store, small_pages, resilient_runner, medusa_client, store_catalog
):
    small_pages(20)
    twin = {**GOOD[19], "title": "Same id, next page", "price": GOOD[19]["price"] + 1}
    records = [*GOOD[:20], twin, *GOOD[20:]]  # id 20 ends page 000 and starts page 001
    slugs = sorted({raw["category"] for raw in GOOD})
    with RawSource(records, category_list(slugs)) as source:
        # Pages side by side (the default): page 001 may be read before page 000.
        summary = resilient_runner(source.url, concurrency=2).run()
    failed = [row for page in summary.pages for row in page.failed_records]
    assert [r["source_id"] for r in failed] == ["20"]
    assert "duplicate id" in failed[0]["reason"]
    assert_exact_catalog(medusa_client, store_catalog, GOOD)


def test_a_huge_page_and_an_endless_one_fail_clearly_with_bounded_memory(
    empty_store, resilient_runner, medusa_client, store_catalog
):
    huge = 50 * 1024 * 1024
    # Page 001 asks from skip 99: it reads page 000's last record too (duplicate ids).
    streams = {0: lambda: padded_page(huge), 99: endless_page}
    with RawSource([], category_list([]), stream=lambda skip: streams[skip]()) as source:
        summary = resilient_runner(source.url).run(pages=["000", "001"])

        limit = 20 * 1024 * 1024  # the client's default max_response_bytes
        refusal = f"GET /products: response larger than {limit} bytes; refusing to read further"
        assert [(p.key, p.ok) for p in summary.pages] == [("000", False), ("001", False)]
        for page in summary.pages:
            assert page.error == f"dummyjson_product_pages: {refusal}", page.error
            assert page.fetch_attempts == 0  # not retried: a retry would read it all again

        # The client holds at most max_response_bytes (plus a chunk) of either body.
        bound = 4 * 1024 * 1024
        client = DummyJSONClient(source.url, max_response_bytes=bound, read_timeout=5)
        for skip in streams:
            tracemalloc.start()
            try:
                with pytest.raises(SourceError, match=f"larger than {bound} bytes"):
                    client.fetch_page(skip=skip, limit=100)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak < 3 * bound, f"skip={skip}: peak {peak} bytes for a {bound}-byte bound"
        client.close()
    assert_exact_catalog(medusa_client, store_catalog, [])  # nothing half-read was written


def test_nan_in_the_project_servers_data_fails_that_page_clearly(
    empty_store, tmp_path, small_pages, resilient_runner, medusa_client, store_catalog
):
    """What reaches the client when the data file holds NaN (Python's json.dumps writes it;
    strict parsers, JavaScript's among them, refuse it): the project's server loads it, but
    will not encode it, and answers every request for that page 500 "Something went wrong."
    The page is retried, then fails naming the answer; the other pages sync. (Through a mirror
    that sends the bare NaN token, the record alone is rejected: see case 117 above.)"""
    small_pages(20)
    records = copy.deepcopy(GOOD)
    records[25]["price"] = float("nan")  # id 26, on page 001
    data = tmp_path / "products.json"
    data.write_text(json.dumps(records, allow_nan=True))
    with DummyJSONServer(data) as server:
        summary = resilient_runner(server.url).run()
        # Page 001 of 20 asks from skip 19 (page 000's last record, for duplicate ids).
        answers = [r.status for r in server.requests if r.params.get("skip") == "19"]
    assert [(p.key, p.ok) for p in summary.pages] == [("000", True), ("001", False)]
    assert answers == [500] * 4  # 1 + SYNC_FETCH_MAX_RETRIES
    assert summary.pages[1].error == (
        "dummyjson_product_pages: sync_pipeline.clients.dummyjson.SourceUnavailable: "
        "GET /products: HTTP 500 Something went wrong."
    )
    assert_exact_catalog(
        medusa_client,
        store_catalog,
        GOOD[:20],
        exact_tags=False,
        categories={raw["category"] for raw in GOOD},  # all are listed by the source
    )
