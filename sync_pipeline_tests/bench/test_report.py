"""The benchmark's pure parts: ratios, targets, the table, and the floor's batch cut."""

import argparse

import pytest

from bench import report
from bench.floor import batches
from bench.inputs import parse_sizes


def result(size, floor_s, full_s, resync_s, *, reads=20, writes=10, creation=5, rss=100.0):
    return {
        "size": size,
        "floor": {"seconds": floor_s, "reads": 2, "writes": 7, "creation_writes": creation},
        "full": {
            "wall_s": full_s,
            "reads": reads,
            "writes": writes,
            "creation_writes": creation,
            "rss_mb": rss,
        },
        "resync": {"wall_s": resync_s, "reads": reads, "writes": 0},
    }


def test_derive_ratios_and_requests_per_100():
    row = report.derive(result(1000, 10.0, 12.5, 2.5, reads=25, writes=15, creation=10))
    assert row["floor_per_s"] == 100
    assert row["full_per_s"] == 80
    assert row["full_vs_floor"] == 1.25
    assert row["throughput_vs_floor"] == 0.8
    assert row["resync_vs_full"] == 0.2
    assert row["full_per_100"] == 4.0
    assert row["full_per_100_excl_creation"] == 3.0
    assert row["full_reads_per_100"] == 2.5


def test_targets_cover_the_issue_and_say_by_how_much():
    derived = {
        194: report.derive(result(194, 4.0, 8.0, 1.0)),
        1000: report.derive(result(1000, 10.0, 11.0, 4.0, rss=100.0)),
        10000: report.derive(result(10000, 100.0, 110.0, 20.0, rss=130.0)),
    }
    by_name = {t.name: t for t in report.targets(derived)}
    smoke = by_name["194: full sync / floor (wall time)"]
    assert smoke.met is False and smoke.margin == "missed by 33%"
    large = by_name["10,000: throughput / floor's"]
    assert large.met is True and large.value == pytest.approx(100 / 110)
    assert by_name["RSS at 10,000 / RSS at 1,000"].met is False
    assert by_name["1,000: re-sync / full sync"].met is False
    assert by_name["10,000: re-sync writes"].met is True
    assert by_name["194: requests per 100 products (creation aside)"].value == pytest.approx(
        25 * 100 / 194
    )


def test_only_measured_sizes_get_targets():
    derived = {194: report.derive(result(194, 4.0, 5.0, 1.0))}
    names = [t.name for t in report.targets(derived)]
    assert "10,000: throughput / floor's" not in names
    assert "RSS at 10,000 / RSS at 1,000" not in names
    assert report.rss_ratio(derived) is None


def test_missing_parts_show_as_not_measured():
    row = report.derive({"size": 194, "floor": None, "full": None, "resync": None})
    target = report.targets({194: row})[0]
    assert target.met is None and target.margin == "not measured"
    assert "–" in report.format_table({194: row})


def test_tables_have_one_row_per_size_in_order():
    derived = {
        10000: report.derive(result(10000, 100.0, 110.0, 20.0)),
        194: report.derive(result(194, 4.0, 5.0, 1.0)),
    }
    text = report.format_table(derived).splitlines()
    assert len(text) == 4 and text[2].split()[0] == "194" and text[3].split()[0] == "10,000"
    markdown = report.format_markdown(derived).splitlines()
    assert markdown[0].startswith("| products |") and len(markdown) == 4


def test_floor_batches_follow_the_sync_pages():
    items = list(range(250))
    cut = batches(items, page_size=100, batch_size=60)
    assert [len(b) for b in cut] == [60, 40, 60, 40, 50]
    assert [x for b in cut for x in b] == items


def test_parse_sizes():
    assert parse_sizes("194,1_000,10000") == [194, 1000, 10000]
    with pytest.raises(argparse.ArgumentTypeError):
        parse_sizes("0")
