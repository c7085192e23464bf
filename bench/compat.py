"""``python -m bench.compat``: the sync on each Medusa release, as one table.

    python -m bench.compat --versions 2.8.8,2.12.6,2.17.2,2.21.2
    python -m bench.compat --versions oldest              # what CI runs (after the suite)

For each release, the local stack runs it (``stack up --medusa-version``: its own backend
project, lockfile-pinned packages and databases), the store is emptied, and a local DummyJSON
server serves the project's 194 real products. Each sync is ``sync-pipeline sync`` in a
subprocess with a fresh ``DAGSTER_HOME``, as a user runs it:

1. ``full``: a full sync into the empty store; then the catalog read back through the Admin
   API must be exact (products, categories and links, prices, SKUs, stock levels, tags);
2. ``again``: the unchanged catalog synced again: 0 writes;
3. ``change``: one product's price changed at the source: 1 product updated, 1 write;
4. ``shop``: the Store API (publishable key, region), as a storefront calls it, lists every
   product with the source's price and stock;
5. ``stock_later``: where 2.21.1 changed: 10 products synced with ``SYNC_INVENTORY=off``, then
   with stock on: every variant gets its item and level (the store is emptied first).

Prints the table, writes ``bench/results/compat.json``; exits 1 if a check failed on any
release. The stack is left running the last release listed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.run import RESULTS_DIR, NoSummary, run_sync
from sync_pipeline.clients.medusa import MedusaClient
from sync_pipeline.settings import DUMMYJSON_SNAPSHOT_DIR
from sync_pipeline.sync.mapping import normalize_products

CATALOG = DUMMYJSON_SNAPSHOT_DIR / "products.json"
PAGE_SIZE = 100  # the 194 span two pages, so every multi-page step runs
STOCK_LATER_COUNT = 10
CHECKS = ("full", "again", "change", "shop", "stock_later")


@dataclass
class ReleaseResult:
    """One release's row: each check's verdict (``ok``, figure) and the seconds it took."""

    version: str
    up_s: float = 0.0
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return len(self.checks) == len(CHECKS) and all(ok for ok, _ in self.checks.values())


class SyncAborted(Exception):
    """A sync ended without a summary (it refused to start, or crashed): the check fails."""


class ReleaseRun:
    """The checks on the release the stack runs now; each check records its own verdict."""

    def __init__(self, version: str, info, workdir: Path, log_dir: Path) -> None:
        self.result = ReleaseResult(version)
        self.info = info
        self.workdir = workdir
        self.log_dir = log_dir
        self.client = MedusaClient(info.base_url, api_key=info.api_key)
        self.raw = json.loads(CATALOG.read_text())

    def sync(self, label: str, data: Path, **extra_env: str) -> dict[str, Any]:
        from sync_pipeline.local.dummyjson_server.server import DummyJSONServer

        with DummyJSONServer(data) as source:
            try:
                summary = run_sync(
                    f"{self.result.version}-{label}",
                    source_url=source.url,
                    medusa_url=self.info.base_url,
                    api_key=self.info.api_key,
                    size=len(json.loads(data.read_text())),
                    page_size=PAGE_SIZE,
                    batch_size=100,
                    workdir=self.workdir,
                    log_dir=self.log_dir,
                    extra_env=extra_env,
                )
            except NoSummary as error:  # its log's last line says why
                lines = [line for line in error.log.read_text().splitlines() if line.strip()]
                raise SyncAborted(lines[-1] if lines else str(error)) from None
        self.result.seconds[label] = summary["wall_s"]
        return summary

    def check(self, name: str, ok: bool, figure: str) -> None:
        self.result.checks[name] = (ok, figure)
        print(f"    {name:<12} {'ok  ' if ok else 'FAIL'} {figure}", flush=True)

    def run(self) -> ReleaseResult:
        from sync_pipeline.local import stack

        stack.reset_store()
        data = self.workdir / f"products-{self.result.version}.json"
        data.write_text(json.dumps(self.raw))
        steps = [
            ("full", lambda: self.full(data)),
            ("again", lambda: self.again(data)),
            ("change", lambda: self.change(data)),
            ("shop", self.shop),
            ("stock_later", self.stock_later),
        ]
        for name, step in steps:
            try:
                step()
            except SyncAborted as error:  # the next checks need this one's store
                self.check(name, False, f"no summary: {error}")
                break
        return self.result

    def full(self, data: Path) -> None:
        from sync_pipeline.local.catalog_check import assert_exact_catalog, read_store_catalog

        summary = self.sync("full", data)
        try:
            assert_exact_catalog(self.client, lambda: read_store_catalog(self.client), self.raw)
        except AssertionError as error:
            self.check("full", False, f"not exact: {str(error)[:200]}")
            return
        figure = f"{summary['created']}/{len(self.raw)} created, exact"
        self.check("full", summary["ok"] and summary["created"] == len(self.raw), figure)

    def again(self, data: Path) -> None:
        summary = self.sync("again", data)
        writes = summary["writes"]
        self.check("again", summary["ok"] and writes == 0, f"{writes} writes")

    def change(self, data: Path) -> None:
        self.raw[0]["price"] = round(self.raw[0]["price"] + 1.25, 2)
        data.write_text(json.dumps(self.raw))
        summary = self.sync("change", data)
        updated, writes = summary["updated"], summary["writes"]
        ok = summary["ok"] and updated == 1 and summary["created"] == 0 and writes == 1
        self.check("change", ok, f"{updated} updated, {writes} writes")

    def shop(self) -> None:
        wrong = storefront_mismatches(self.client, self.raw)
        listed = len(self.raw) - len(wrong)
        figure = f"{listed}/{len(self.raw)} listed exact" + (f" ({wrong[0]})" if wrong else "")
        self.check("shop", not wrong, figure)

    def stock_later(self) -> None:
        from sync_pipeline.local import stack

        stack.reset_store()
        raw = self.raw[:STOCK_LATER_COUNT]
        data = self.workdir / f"products-{self.result.version}-{STOCK_LATER_COUNT}.json"
        data.write_text(json.dumps(raw))
        first = self.sync("stock_later_off", data, SYNC_INVENTORY="off")
        summary = self.sync("stock_later_on", data)
        levels = stock_levels(self.client)
        exact = all(levels.get(p["sku"]) == [p["stock"]] for p in raw)
        ok = first["ok"] and summary["ok"] and summary["stock_set"] == len(raw) and exact
        figure = f"{summary['stock_set']}/{len(raw)} levels set" + ("" if exact else ", wrong")
        self.check("stock_later", ok, figure)


def storefront_mismatches(client: MedusaClient, raw: list[dict[str, Any]]) -> list[str]:
    """What the Store API lists wrong or not at all, one line per product (price, stock)."""
    from sync_pipeline.local.storefront import Storefront

    listed = {row["handle"]: row for row in Storefront(client).products()}
    products, _ = normalize_products(raw)
    wrong = []
    for product in products:
        row = listed.get(product.handle)
        if row is None:
            wrong.append(f"{product.handle}: not listed")
            continue
        (variant,) = row["variants"]
        price = (variant.get("calculated_price") or {}).get("calculated_amount")
        if price is None or Decimal(str(price)) != Decimal(str(product.price)):
            wrong.append(f"{product.handle}: price {price}, source {product.price}")
        elif variant.get("inventory_quantity") != product.stock:
            wrong.append(
                f"{product.handle}: stock {variant.get('inventory_quantity')}, "
                f"source {product.stock}"
            )
    return wrong


def stock_levels(client: MedusaClient) -> dict[str, list[int]]:
    """Each variant's stocked quantities, by SKU."""
    fields = "sku,inventory_items.inventory.location_levels.stocked_quantity"
    rows = client.list_all("/admin/product-variants", "variants", {"fields": fields})
    return {
        row["sku"]: [
            level["stocked_quantity"]
            for item in row["inventory_items"] or []
            for level in (item.get("inventory") or {}).get("location_levels") or []
        ]
        for row in rows
    }


def measure(version: str, workdir: Path, log_dir: Path) -> ReleaseResult:
    from sync_pipeline.local import stack

    print(f"Medusa {version}:", flush=True)
    os.environ["MEDUSA_VERSION"] = version  # what `stack up --medusa-version` sets
    began = time.monotonic()
    info = stack.up(out=lambda line: print(f"    | {line}", flush=True))
    up_s = time.monotonic() - began
    run = ReleaseRun(version, info, workdir, log_dir)
    run.result.up_s = round(up_s, 1)
    try:
        return run.run()
    finally:
        run.client.close()


def _cell(result: ReleaseResult, name: str) -> str:
    figure = result.checks.get(name, (False, "not run"))[1]
    seconds = sum(s for label, s in result.seconds.items() if label.startswith(name.split("_")[0]))
    return f"{figure}, {seconds:.1f} s" if seconds else figure


def format_table(results: list[ReleaseResult]) -> str:
    """Markdown: one row per release, each check's figure and seconds, then the totals."""
    header = ["release", *CHECKS, "syncs s", "stack up s", "verdict"]
    rows = [header, ["---"] * len(header)]
    for result in results:
        cells = [_cell(result, name) for name in CHECKS]
        sync_s = sum(result.seconds.values())
        verdict = "pass" if result.ok else "FAIL"
        rows.append([result.version, *cells, f"{sync_s:.1f}", f"{result.up_s:.1f}", verdict])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv: list[str] | None = None) -> int:
    from sync_pipeline.local.stack.config import default_medusa_version, supported_medusa_versions

    parser = argparse.ArgumentParser(
        prog="python -m bench.compat",
        description="Run the sync's checks on each Medusa release (resets the local store!).",
    )
    parser.add_argument(
        "--versions",
        type=lambda text: [v.strip() for v in text.split(",") if v.strip()],
        default=None,
        help="comma-separated releases, or `default` (medusa/'s) and `oldest` (default: every "
        "one in medusa/releases/ and the default, oldest first)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR / "compat.json", help="JSON results file"
    )
    args = parser.parse_args(argv)
    known = supported_medusa_versions()
    aliases = {"default": default_medusa_version(), "oldest": known[0]}
    versions = [aliases.get(v, v) for v in args.versions or known]
    unknown = [v for v in versions if v not in known]
    if unknown:
        print(
            f"python -m bench.compat: error: --versions: {', '.join(unknown)} not in "
            f"medusa/releases/ (known: {', '.join(known)})",
            file=sys.stderr,
        )
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log_dir = args.out.parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="compat-") as workdir:
        results = [measure(version, Path(workdir), log_dir) for version in versions]
    table = format_table(results)
    print("\n" + table)
    args.out.write_text(json.dumps([asdict(r) | {"ok": r.ok} for r in results], indent=2))
    print(f"\nResults: {args.out}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
