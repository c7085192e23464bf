"""Where a sync's wall time goes: ``sync-pipeline sync`` under py-spy, sampled by kind of work.

    .venv/bin/pip install py-spy        # not a project dependency
    .venv/bin/python -m bench.profile --size 10000 [--page-size N --batch-size N]

Resets the store, runs a full sync and an unchanged re-sync of a generated catalog (194: the
real one) under ``py-spy record --idle`` (so waiting on Medusa is sampled too), then sorts the
main thread's samples into buckets: Medusa requests by purpose, source fetches, mapping,
Dagster's own work (its storage apart), and start-up imports. Also writes the raw
(collapsed) stacks next to the JSON results, for a flame graph.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.inputs import catalog_file, env_int
from bench.run import RESULTS_DIR, run_sync

# (bucket, substrings any of which marks it), first match wins; matched against the stack.
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("medusa: product batch writes", ("ProductWriter._write (",)),
    ("medusa: product lookups", ("ProductLookup.find",)),
    ("medusa: tag lookups + creates", ("ensure_tags (", "find_tags (")),
    ("medusa: categories + store", ("ensure_categories (", "ensure_store (")),
    ("medusa: archival listing", ("list_owned_products (",)),
    ("source: page + category fetches", ("DummyJSONClient.",)),
    ("mapping + validation", ("normalize_products (", "plan_page (", "to_json (")),
    ("dagster: storage (SQLite event log, runs)", ("dagster/_core/storage/",)),
    ("dagster: IO manager (pickled outputs)", ("io_manager", "_core/storage/fs_io")),
    ("start-up: imports", ("_find_and_load (",)),
    ("dagster: definitions, plan, events", ("dagster/",)),
]


def bucket_of(stack: str) -> str:
    for name, marks in BUCKETS:
        if any(mark in stack for mark in marks):
            return name
    return "other"


def main_thread_samples(raw: str) -> Counter[str]:
    """Samples per bucket of the main thread (its root frame is the script's ``<module>``)."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit() or not stack.startswith("<module> (sync-pipeline"):
            continue
        counts[bucket_of(stack)] += int(number)
    return counts


def format_buckets(counts: Counter[str], wall_s: float) -> str:
    total = sum(counts.values()) or 1
    lines = []
    for name, samples in counts.most_common():
        share = samples / total
        lines.append(f"  {share:6.1%}  {share * wall_s:7.1f} s  {name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--size", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=env_int("SYNC_PAGE_SIZE", 100))
    parser.add_argument("--batch-size", type=int, default=env_int("SYNC_BATCH_SIZE", 100))
    parser.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR / "profile")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not py_spy:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    args.out_dir.mkdir(parents=True, exist_ok=True)

    from sync_pipeline.local import stack
    from sync_pipeline.local.dummyjson_server.server import DummyJSONServer

    info = stack.up(out=print)
    with tempfile.TemporaryDirectory(prefix="sync-profile-") as tmp:
        path, origin = catalog_file(args.size, args.seed, Path(tmp))
        with DummyJSONServer(path) as server:
            stack.reset_store()
            for label in ("full", "resync"):
                raw_path = args.out_dir / f"pyspy-{args.size}-{label}.txt"
                wrapper = [
                    py_spy,
                    "record",
                    "--idle",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--rate",
                    str(args.rate),
                    "-o",
                    str(raw_path),
                    "--",
                ]
                result = run_sync(
                    f"profile-{label}",
                    source_url=server.url,
                    medusa_url=info.base_url,
                    api_key=info.api_key,
                    size=args.size,
                    page_size=args.page_size,
                    batch_size=args.batch_size,
                    workdir=Path(tmp),
                    log_dir=args.out_dir,
                    wrapper=wrapper,
                )
                counts = main_thread_samples(raw_path.read_text())
                pages = max(10, math.ceil(args.size / args.page_size))
                print(
                    f"\n{label} sync of {args.size:,} products ({origin}), page size "
                    f"{args.page_size}, batch size {args.batch_size} ({pages} partitions): "
                    f"{result['wall_s']:.1f} s wall, {result['reads']} reads, "
                    f"{result['writes']} writes; main thread by bucket:"
                )
                print(format_buckets(counts, result["wall_s"]))
                print(f"  raw stacks: {raw_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
