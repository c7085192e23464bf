"""``sync-pipeline sync``, ``demo`` and ``ui``: the commands that run the pipeline.

Dagster is imported only inside the command functions, so the other commands stay fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sync_pipeline.settings import REPO_ROOT, SHARED_DATA_DIR


def register(commands: argparse._SubParsersAction) -> None:
    sync = commands.add_parser(
        "sync",
        help="Sync the DummyJSON catalog into Medusa (runs recorded in DAGSTER_HOME).",
        description="Materialize the whole asset graph: categories and store, then every "
        "product page. Exits non-zero if any page failed.",
    )
    sync.add_argument(
        "--pages",
        help="Comma-separated page keys to run (e.g. 001,003); default: every page needed.",
    )
    sync.set_defaults(func=run_sync)

    demo = commands.add_parser(
        "demo",
        help="Start the local stack and a local DummyJSON server on the shared data, then sync.",
    )
    demo.add_argument(
        "--data",
        type=Path,
        default=SHARED_DATA_DIR / "products.json",
        help="Catalog file the local source serves (default: the shared products.json).",
    )
    demo.add_argument("--legacy", action="store_true", help="Serve the old API shape.")
    demo.set_defaults(func=run_demo)

    ui = commands.add_parser("ui", help="Open the Dagster UI (dagster dev) on this project.")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=run_ui)


def _print_page(outcome) -> None:
    if outcome.counts:
        counts = ", ".join(f"{k} {v}" for k, v in outcome.counts.items())
    else:
        counts = "nothing written"
    status = "ok" if outcome.ok else "FAILED"
    print(
        f"  page {outcome.key}: {status:6} {outcome.products:4d} products: {counts} "
        f"({outcome.seconds:.1f} s, fetch attempts {outcome.fetch_attempts})",
        flush=True,
    )
    if outcome.error:
        print(f"    {outcome.error}", flush=True)


def sync(pages: list[str] | None = None, resources=None) -> int:
    """Run a full sync and print its progress and summary; returns the exit code."""
    from sync_pipeline.runner import SyncRunner, ensure_dagster_home

    home = ensure_dagster_home()
    import dagster as dg

    print(f"Syncing (Dagster runs recorded in {home})", flush=True)
    with dg.DagsterInstance.get() as instance:
        summary = SyncRunner(instance, resources).run(pages=pages, on_page=_print_page)
    if not summary.catalog_ok:
        print(f"Categories/store setup FAILED: {summary.catalog_error}")
    if summary.capacity_exceeded:
        print(
            f"The source has {summary.total} products, more than the configured pages hold: "
            "raise SYNC_PAGE_COUNT (or SYNC_PAGE_SIZE)."
        )
    failed_pages = [p.key for p in summary.pages if not p.ok]
    print(
        f"Summary: {len(summary.pages)} pages ({len(failed_pages)} failed"
        f"{': ' + ', '.join(failed_pages) if failed_pages else ''}), "
        f"source total {summary.total}, created {summary.count('created')}, "
        f"updated {summary.count('updated')}, unchanged {summary.count('unchanged')}, "
        f"failed {summary.count('failed')}, {summary.seconds:.1f} s"
    )
    return 0 if summary.ok else 1


def run_sync(args: argparse.Namespace) -> int:
    pages = [p.strip() for p in args.pages.split(",") if p.strip()] if args.pages else None
    return sync(pages)


def run_demo(args: argparse.Namespace) -> int:
    from sync_pipeline.settings import load_local_env
    from sync_pipeline.source.server import DummyJSONServer
    from sync_pipeline.stack.cli import cmd_up

    code = cmd_up(args)
    if code:
        return code
    load_local_env()
    with DummyJSONServer(args.data, legacy=args.legacy) as server:
        print(f"Local DummyJSON source: {server.url} serving {args.data}", flush=True)
        os.environ["DUMMYJSON_BASE_URL"] = server.url
        return sync()


def run_ui(args: argparse.Namespace) -> int:
    from sync_pipeline.runner import ensure_dagster_home

    home = ensure_dagster_home()
    print(f"Dagster UI on http://127.0.0.1:{args.port} (DAGSTER_HOME={home})", flush=True)
    dagster = Path(sys.executable).with_name("dagster")
    os.chdir(REPO_ROOT)
    os.execv(
        str(dagster),
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(args.port)],
    )
    return 0
