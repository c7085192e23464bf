"""``python -m bench``: floor, full sync and unchanged re-sync at each size, in one run.

For each size (194 = the real ``products.json`` the project carries, or ``--real-catalog``; any
other size is generated with ``generate_catalog(size, seed)``) the catalog is served by a local
DummyJSON server, then:

1. the store is reset and the floor (``bench.floor``) writes the catalog directly;
2. the store is reset and ``sync-pipeline sync`` runs as a subprocess into the empty store
   (fresh ``DAGSTER_HOME``): wall time, requests, peak RSS (``VmHWM``: ``wait_with_peak_rss``);
3. ``sync-pipeline sync`` runs again, unchanged (fresh ``DAGSTER_HOME`` again).

Requests: the summary JSON counts every Medusa request of the sync (the categories/store
run, the pages and archival). Category and tag creates (one request each,
no batch endpoint) are known from the catalog (empty store: each is created once) and shown
apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.floor import read_source, run_floor
from bench.inputs import REAL_CATALOG, REAL_SIZE, catalog_file, env_int, input_error, parse_sizes
from sync_pipeline.settings import REPO_ROOT, SyncSettings

RESULTS_DIR = REPO_ROOT / "bench" / "results"
DEFAULT_SIZES = (194, 1_000, 10_000)
DEFAULT_SEED = 5


class NoSummary(RuntimeError):
    """The sync ended without writing its summary (it refused to start, or crashed)."""

    def __init__(self, label: str, size: int, log: Path) -> None:
        super().__init__(f"sync ({label}, {size}) wrote no summary; see {log}")
        self.log = log


def _peak_rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def wait_with_peak_rss(pid: int, interval: float = 0.05) -> tuple[int, Any, int]:
    """Wait for a child; returns its wait status, rusage and peak RSS in KB.

    The peak is the child's ``VmHWM`` (its high-water mark since exec), read until it exits.
    Not ``ru_maxrss``: Linux folds the parent's high-water mark into a child's ``ru_maxrss``
    at exec, so it would report the bench's own memory (a 10,000-product catalog) instead.
    Growth in the last ``interval`` before exit is the only thing this can miss.
    """
    peak = 0
    while True:
        peak = max(peak, _peak_rss_kb(pid))
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, peak
        time.sleep(interval)


def run_sync(
    label: str,
    *,
    source_url: str,
    medusa_url: str,
    api_key: str,
    size: int,
    page_size: int,
    batch_size: int,
    workdir: Path,
    log_dir: Path,
    wrapper: list[str] | None = None,
    dagster_yaml: Path | None = None,
    concurrency: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One ``sync-pipeline sync`` subprocess with a fresh DAGSTER_HOME; its figures.

    ``wrapper`` prefixes the command (a profiler); RSS is then the wrapper's, not the sync's.
    ``dagster_yaml`` replaces the project's ``dagster.yaml`` in the run's DAGSTER_HOME;
    ``extra_env``: more settings for the sync (``SYNC_INVENTORY=off``, say).
    """
    home = Path(tempfile.mkdtemp(prefix=f"dagster-{size}-{label}-", dir=workdir))
    if dagster_yaml:
        shutil.copyfile(dagster_yaml, home / "dagster.yaml")
    summary_path = home / "summary.json"
    env = {
        **os.environ,
        "DUMMYJSON_BASE_URL": source_url,
        "DAGSTER_HOME": str(home),
        "MEDUSA_BASE_URL": medusa_url,
        "MEDUSA_API_KEY": api_key,
        "SYNC_PAGE_SIZE": str(page_size),
        "SYNC_BATCH_SIZE": str(batch_size),
        **({"SYNC_MEDUSA_CONCURRENCY": str(concurrency)} if concurrency else {}),
        **(extra_env or {}),
    }
    command = [
        *(wrapper or []),
        str(Path(sys.executable).with_name("sync-pipeline")),
        "sync",
        "--summary-json",
        str(summary_path),
    ]
    log_path = log_dir / f"sync-{size}-{label}.log"
    with log_path.open("w") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            command, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        status, usage, peak_kb = wait_with_peak_rss(process.pid)
        wall = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    if not summary_path.is_file():
        raise NoSummary(label, size, log_path)
    summary = json.loads(summary_path.read_text())
    result = {
        "exit_code": process.returncode,
        "ok": summary["ok"],
        "wall_s": round(wall, 3),
        "sync_s": summary["seconds"],
        "pages": summary["pages"],
        "concurrency": concurrency or SyncSettings.medusa_concurrency,
        **{key: summary[key] for key in ("created", "updated", "unchanged", "failed")},
        "stock_set": summary["stock_set"],
        # The summary counts every run of the sync: categories/store, pages, archival.
        "reads": summary["medusa_reads"],
        "writes": summary["medusa_writes"],
        "rss_mb": round(peak_kb / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "log": str(log_path),
    }
    if not summary["ok"] or summary["failed"]:
        print(f"    WARNING: the {label} sync did not succeed; see {log_path}", flush=True)
    return result


def _meminfo_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_mb": _meminfo_mb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def measure_size(size: int, args: argparse.Namespace, info, workdir: Path) -> dict[str, Any]:
    from sync_pipeline.clients.medusa import MedusaClient
    from sync_pipeline.local import stack
    from sync_pipeline.local.dummyjson_server.server import DummyJSONServer

    path, origin = catalog_file(size, args.seed, workdir, args.real_catalog)
    result: dict[str, Any] = {"size": size, "catalog": origin}
    with DummyJSONServer(path) as server:
        categories, products = read_source(server.url)
        if len(products) != size:
            print(f"  note: {len(products)} of {size} source records are valid", flush=True)
        creation_writes = len(categories) + len({t for p in products for t in p.tags})

        print(f"  floor: reset, write {len(products)} products directly", flush=True)
        stack.reset_store()
        client = MedusaClient(info.base_url, api_key=info.api_key)
        try:
            floor = run_floor(
                client,
                categories,
                products,
                currency_code=os.environ.get("MEDUSA_CURRENCY_CODE", "usd"),
                page_size=args.page_size,
                batch_size=args.batch_size,
            )
        finally:
            client.close()
        result["floor"] = floor.as_dict()
        print(f"    {floor.seconds:.1f} s, {floor.reads} reads, {floor.writes} writes", flush=True)

        common = dict(
            source_url=server.url,
            medusa_url=info.base_url,
            api_key=info.api_key,
            size=size,
            page_size=args.page_size,
            batch_size=args.batch_size,
            workdir=workdir,
            log_dir=args.log_dir,
            dagster_yaml=args.dagster_yaml,
            extra_env={"SYNC_RULES_FILE": str(args.rules.resolve())} if args.rules else None,
        )
        print("  full sync: reset, sync-pipeline sync into the empty store", flush=True)
        stack.reset_store()
        full = run_sync("full", **common)
        full["creation_writes"] = creation_writes
        result["full"] = full
        print(
            f"    {full['wall_s']:.1f} s, {full['reads']} reads, {full['writes']} writes, "
            f"RSS {full['rss_mb']:.0f} MB",
            flush=True,
        )
        for level in args.concurrency:
            print(f"  full sync, SYNC_MEDUSA_CONCURRENCY={level}: reset, sync", flush=True)
            stack.reset_store()
            run = run_sync(f"full-c{level}", **common, concurrency=level)
            result.setdefault("concurrency", {})[str(level)] = run
            vs_floor = floor.seconds / run["wall_s"] if run["wall_s"] else 0
            print(
                f"    {run['wall_s']:.1f} s, {size / run['wall_s']:.0f} products/s, "
                f"{vs_floor:.2f}x the floor's throughput",
                flush=True,
            )
        if not args.skip_resync:
            print("  re-sync: sync-pipeline sync again, nothing changed", flush=True)
            resync = run_sync("resync", **common)
            result["resync"] = resync
            print(
                f"    {resync['wall_s']:.1f} s, {resync['reads']} reads, {resync['writes']} writes",
                flush=True,
            )
    return result


def build_report(results: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    derived = {r["size"]: report.derive(r) for r in results}
    return {
        **meta,
        "results": results,
        "derived": {str(size): row for size, row in derived.items()},
        "rss_10000_vs_1000": report.rss_ratio(derived),
        "targets": [t.as_dict() for t in report.targets(derived)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the sync against Medusa's floor (resets the local store!).",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="comma-separated catalog sizes (default 194,1000,10000; 194 is the real catalog)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    parser.add_argument(
        "--real-catalog",
        type=Path,
        default=REAL_CATALOG,
        metavar="FILE",
        help=f"the catalog of size {REAL_SIZE} (default: the project's snapshot, {REAL_CATALOG})",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=env_int("SYNC_PAGE_SIZE", SyncSettings.page_size),
        help="SYNC_PAGE_SIZE for the sync (and the floor's cut); default: env or the engine's",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=env_int("SYNC_BATCH_SIZE", 100),
        help="SYNC_BATCH_SIZE for the sync (and the floor's cut); default: env or 100",
    )
    parser.add_argument("--skip-resync", action="store_true", help="measure no re-sync")
    parser.add_argument(
        "--concurrency",
        type=parse_sizes,
        default=[],
        help="also time a full sync with each SYNC_MEDUSA_CONCURRENCY given (e.g. 1,2,4)",
    )
    parser.add_argument(
        "--dagster-yaml",
        type=Path,
        help="instance settings for the sync runs instead of the project's dagster.yaml",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        metavar="FILE",
        help="the merchant's rules for the syncs (SYNC_RULES_FILE), e.g. bench/rules.toml",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR / "latest.json", help="JSON results file"
    )
    args = parser.parse_args(argv)
    problem = input_error(args.real_catalog, args.dagster_yaml, args.rules)
    if problem:
        print(f"python -m bench: error: {problem}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.log_dir = args.out.parent / "logs"
    args.log_dir.mkdir(parents=True, exist_ok=True)

    from sync_pipeline.local import stack

    info = stack.up(out=print)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "settings": {
            "page_size": args.page_size,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "dagster_yaml": str(args.dagster_yaml or REPO_ROOT / "dagster.yaml"),
            "rules": str(args.rules) if args.rules else None,
            "medusa": info.base_url,
        },
    }
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sync-bench-") as tmp:
        for size in args.sizes:
            print(f"\n== {size:,} products ==", flush=True)
            results.append(measure_size(size, args, info, Path(tmp)))
            out = build_report(results, meta)
            args.out.write_text(json.dumps(out, indent=2) + "\n")
    meta["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["bench_s"] = round(time.monotonic() - started, 1)
    out = build_report(results, meta)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    derived = {r["size"]: report.derive(r) for r in results}
    args.out.with_suffix(".md").write_text(report.format_markdown(derived) + "\n")

    m = meta["machine"]
    print(
        f"\nSync vs floor, {meta['date']}, {m['cpus']} CPUs, {m['memory_mb']} MB, "
        f"load {m['load_at_start'][0]:.1f} → {m['load_at_end'][0]:.1f}; "
        f"page size {args.page_size}, batch size {args.batch_size}; "
        f"{meta['bench_s']:.0f} s in all\n"
    )
    print(report.format_table(derived))
    print("\nTargets (issue 5):")
    print(report.format_targets(report.targets(derived)))
    if out["rss_10000_vs_1000"] is None:
        print("  (RSS ratio needs sizes 1000 and 10000)")
    print(f"\nJSON: {args.out}")
    failed = [
        r["size"] for r in results if not (r["full"]["ok"] and r.get("resync", {}).get("ok", True))
    ]
    if failed:
        print(f"Sync failures at sizes {failed}: see the logs in {args.log_dir}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
