"""The Dagster doors against the CLI: the same sync, timed through ``sync-pipeline sync`` and
through the UI's "Materialize all" on a real ``dagster dev`` (webserver, daemon, run queue).

    python -m bench.doors --sizes 194,10000

Per size, on the local stack (the store is reset before each sync):
- ``cli``: ``sync-pipeline sync`` in a fresh ``DAGSTER_HOME`` (process start included);
- ``ui_first``: "Materialize all" clicked in headless Chromium on a new instance (one page
  registered, so one run; the sensor runs the other pages and archival);
- ``ui_again``: the same click once the instance knows every page (an asset backfill when
  there is more than one page, carried by Dagster's backfill daemon);
- ``ui_job``: "Materialize all" on the ``whole_catalog_sync`` job's page, on that instance
  (one run of the catalog assets at any size; the sensor runs the pages and archival).
Each UI time runs from the launching click (the browser's start and the page's loading are
not counted; the CLI's time does count its process start) until the cycle has nothing left to
run and no backfill is in progress; the catalog is checked complete (every page written, none
failed). Each click also says where its time went (``where_time_went``): how long no run was
executing at all is the time spent waiting for a sensor tick or a backfill daemon iteration.
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.inputs import catalog_file, parse_sizes
from bench.run import RESULTS_DIR, run_sync
from sync_pipeline.settings import SyncSettings

UI_CLICKS = ("ui_first", "ui_again", "ui_job")


def where_time_went(runs: list, started: float, settled: float) -> dict[str, float]:
    """The click's time by what Dagster was doing: until the first run was created (the
    backfill daemon's pick-up, for a backfill), runs waiting to start (queue and process
    start), and moments with no run executing at all (waits for a sensor tick or a backfill
    iteration between the steps of the cycle)."""
    spans = sorted((r.start_time, r.end_time or settled) for r in runs if r.start_time is not None)
    idle, edge = 0.0, started
    for begin, end in spans:
        idle += max(0.0, begin - edge)
        edge = max(edge, end)
    idle += max(0.0, settled - edge)
    created = [r.create_timestamp.timestamp() for r in runs]
    waits = [r.start_time - r.create_timestamp.timestamp() for r in runs if r.start_time]
    return {
        "first_run_after_s": round(min(created) - started, 1) if created else 0.0,
        "no_run_executing_s": round(idle, 1),
        "run_start_wait_s": round(sum(waits) / len(waits), 1) if waits else 0.0,
    }


def time_ui_click(door, label: str, path: str | None = None) -> dict[str, Any]:
    """A "Materialize all" click on the lineage page, or on the page at ``path``."""
    from sync_pipeline.local import stack
    from sync_pipeline.local.dagster.ui import LINEAGE_PATH, materialize_all, open_browser

    stack.reset_store()
    with open_browser() as page:
        launched = materialize_all(page, door.url, path=path or LINEAGE_PATH)
    started = launched.clicked_at
    plan = door.wait_for_cycle(started, timeout=3600)
    settled = time.time()
    runs = door.runs_since(started)
    result = {
        "seconds": round(settled - started, 1),
        "launched": launched.kind,
        "runs": len(runs),
        "pages": len(plan.pages),
        "ok": plan.done == plan.pages and not plan.failed,
        **where_time_went(runs, started, settled),
    }
    print(f"  {label}: {result}", flush=True)
    return result


def measure(size: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from sync_pipeline.defs.automation import whole_catalog_sync
    from sync_pipeline.local import stack
    from sync_pipeline.local.dagster.door import dagster_door
    from sync_pipeline.local.dagster.ui import job_path
    from sync_pipeline.local.dummyjson_server.server import DummyJSONServer

    info = stack.up(out=lambda _line: None)
    path, origin = catalog_file(size, args.seed, workdir)
    result: dict[str, Any] = {"size": size, "catalog": origin, "page_size": args.page_size}
    with DummyJSONServer(path) as server:
        stack.reset_store()
        cli = run_sync(
            "cli",
            source_url=server.url,
            medusa_url=info.base_url,
            api_key=info.api_key,
            size=size,
            page_size=args.page_size,
            batch_size=SyncSettings.batch_size,
            workdir=workdir,
            log_dir=workdir,
        )
    result["cli"] = {"seconds": cli["wall_s"], "ok": cli["ok"], "pages": cli["pages"]}
    print(f"  cli: {result['cli']}", flush=True)
    root = Path(tempfile.mkdtemp(prefix=f"door-{size}-", dir=workdir))
    with dagster_door(root, path, info, {"SYNC_PAGE_SIZE": str(args.page_size)}) as door:
        door.wait_for_first_page()
        result["ui_first"] = time_ui_click(door, "ui_first")
        result["ui_again"] = time_ui_click(door, "ui_again")
        result["ui_job"] = time_ui_click(door, "ui_job", job_path(whole_catalog_sync.name))
    for key in UI_CLICKS:
        result[key]["vs_cli"] = round(result[key]["seconds"] / result["cli"]["seconds"], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.doors",
        description="Time the UI's Materialize all against the CLI (resets the local store!).",
    )
    parser.add_argument("--sizes", type=parse_sizes, default=[194, 10_000])
    parser.add_argument("--page-size", type=int, default=SyncSettings.page_size)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "doors.json")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-doors-") as tmp:
        for size in args.sizes:
            print(f"\n== {size:,} products, pages of {args.page_size} ==", flush=True)
            results.append(measure(size, args, Path(tmp)))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        "\n| products | CLI s | UI first click s | UI again s | UI job s |"
        " (each: ×CLI, runs, no run executing s)"
    )
    print("|---:|---:|---:|---:|---:|")
    for r in results:
        cells = [
            f"{c['seconds']:.1f} ({c['vs_cli']}×, {c['runs']}, {c['no_run_executing_s']:.0f})"
            for c in (r[key] for key in UI_CLICKS)
        ]
        print(f"| {r['size']:,} | {r['cli']['seconds']:.1f} | {' | '.join(cells)} |")
    ok = all(r[key]["ok"] for r in results for key in ("cli", *UI_CLICKS))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
