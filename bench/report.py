"""Figures → ratios, targets and a table. Pure: no I/O, so it is unit-tested.

A size's result (as ``bench.run`` records it) looks like::

    {"size": 194, "floor": {"seconds", "reads", "writes", "creation_writes", …},
     "full": {"wall_s", "reads", "writes", "creation_writes", "rss_mb", …},
     "resync": {"wall_s", "reads", "writes", "rss_mb", …}}

Wall times are the sync process's, start to exit (what a user waits for, Python start-up
included); the floor's clock covers its Medusa requests only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SMOKE_SIZE = 194
SMALL_SIZE = 1_000
LARGE_SIZE = 10_000


@dataclass(frozen=True)
class Target:
    name: str
    value: float | None
    limit: float
    at_most: bool  # True: value ≤ limit; False: value ≥ limit

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    @property
    def margin(self) -> str:
        """How far from the limit, as a share of it (e.g. "missed by 31%")."""
        if self.value is None:
            return "not measured"
        if self.limit == 0:
            return "met" if self.met else f"missed ({self.value:g})"
        share = abs(self.value - self.limit) / self.limit
        return f"{'met' if self.met else 'missed'} by {share:.0%}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": None if self.value is None else round(self.value, 3),
            "limit": self.limit,
            "at_most": self.at_most,
            "met": self.met,
            "margin": self.margin,
        }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def per_100(requests: float, products: int) -> float | None:
    return None if not products else requests * 100 / products


def derive(result: dict[str, Any]) -> dict[str, Any]:
    """The per-size figures the table and targets use."""
    size = result["size"]
    floor, full, resync = result.get("floor"), result.get("full"), result.get("resync")
    out: dict[str, Any] = {"size": size}
    if floor:
        out["floor_s"] = floor["seconds"]
        out["floor_per_s"] = _ratio(size, floor["seconds"])
        out["floor_per_100"] = per_100(floor["reads"] + floor["writes"], size)
        out["floor_per_100_excl_creation"] = per_100(
            floor["reads"] + floor["writes"] - floor["creation_writes"], size
        )
    if full:
        requests = full["reads"] + full["writes"]
        out["full_s"] = full["wall_s"]
        out["full_per_s"] = _ratio(size, full["wall_s"])
        out["full_reads_per_100"] = per_100(full["reads"], size)
        out["full_writes_per_100"] = per_100(full["writes"], size)
        out["full_per_100"] = per_100(requests, size)
        out["full_per_100_excl_creation"] = per_100(requests - full["creation_writes"], size)
        out["full_rss_mb"] = full["rss_mb"]
    if resync:
        out["resync_s"] = resync["wall_s"]
        out["resync_writes"] = resync["writes"]
        out["resync_reads"] = resync["reads"]
    if floor and full:
        out["full_vs_floor"] = _ratio(full["wall_s"], floor["seconds"])
        out["throughput_vs_floor"] = _ratio(floor["seconds"], full["wall_s"])
    if full and resync:
        out["resync_vs_full"] = _ratio(resync["wall_s"], full["wall_s"])
    return out


def rss_ratio(derived: dict[int, dict[str, Any]]) -> float | None:
    """Peak RSS of the full sync at 10,000 products over that at 1,000."""
    large = derived.get(LARGE_SIZE, {}).get("full_rss_mb")
    small = derived.get(SMALL_SIZE, {}).get("full_rss_mb")
    return _ratio(large, small)


def targets(derived: dict[int, dict[str, Any]]) -> list[Target]:
    """Issue 5's targets, for the sizes that were measured."""
    out: list[Target] = []
    if SMOKE_SIZE in derived:
        out.append(
            Target(
                "194: full sync / floor (wall time)",
                derived[SMOKE_SIZE].get("full_vs_floor"),
                1.5,
                at_most=True,
            )
        )
    if LARGE_SIZE in derived:
        out.append(
            Target(
                "10,000: throughput / floor's",
                derived[LARGE_SIZE].get("throughput_vs_floor"),
                0.8,
                at_most=False,
            )
        )
    if LARGE_SIZE in derived and SMALL_SIZE in derived:
        out.append(Target("RSS at 10,000 / RSS at 1,000", rss_ratio(derived), 1.2, at_most=True))
    for size, row in sorted(derived.items()):
        out.append(Target(f"{size:,}: re-sync writes", row.get("resync_writes"), 0, at_most=True))
        out.append(
            Target(f"{size:,}: re-sync / full sync", row.get("resync_vs_full"), 0.25, at_most=True)
        )
        out.append(
            Target(
                f"{size:,}: requests per 100 products (creation aside)",
                row.get("full_per_100_excl_creation"),
                3,
                at_most=True,
            )
        )
    return out


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


COLUMNS = [
    ("products", "size", 0),
    ("floor s", "floor_s", 1),
    ("floor /s", "floor_per_s", 0),
    ("full s", "full_s", 1),
    ("full /s", "full_per_s", 0),
    ("full/floor", "full_vs_floor", 2),
    ("req/100 (r+w)", None, 1),
    ("excl. creation", "full_per_100_excl_creation", 2),
    ("RSS MB", "full_rss_mb", 0),
    ("re-sync s", "resync_s", 1),
    ("re-sync writes", "resync_writes", 0),
    ("re-sync/full", "resync_vs_full", 2),
]


def _cell(row: dict[str, Any], key: str | None, digits: int) -> str:
    if key is None:  # reads + writes per 100 products
        reads, writes = row.get("full_reads_per_100"), row.get("full_writes_per_100")
        if reads is None or writes is None:
            return "–"
        return f"{reads:.1f}+{writes:.1f}"
    return _fmt(row.get(key), digits)


def table_rows(derived: dict[int, dict[str, Any]]) -> list[list[str]]:
    header = [title for title, _, _ in COLUMNS]
    rows = [header]
    for _, row in sorted(derived.items()):
        rows.append([_cell(row, key, digits) for _, key, digits in COLUMNS])
    return rows


def format_table(derived: dict[int, dict[str, Any]]) -> str:
    """A plain-text table, right-aligned."""
    rows = table_rows(derived)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.rjust(width) for cell, width in zip(r, widths, strict=True)) for r in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_markdown(derived: dict[int, dict[str, Any]]) -> str:
    """The same table in Markdown (for the README)."""
    rows = table_rows(derived)
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---:|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def format_targets(items: list[Target]) -> str:
    lines = []
    for target in items:
        sign = "≤" if target.at_most else "≥"
        value = "–" if target.value is None else f"{target.value:.2f}"
        state = {True: "MET", False: "MISSED", None: "n/a"}[target.met]
        lines.append(
            f"  {state:6} {target.name}: {value} (target {sign} {target.limit:g}; {target.margin})"
        )
    return "\n".join(lines)
