"""``sync-pipeline sync``, ``demo`` and ``ui``: the commands that run the pipeline.

Dagster is imported only inside the command functions, so the other commands stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sync_pipeline.settings import DUMMYJSON_SNAPSHOT_DIR, REPO_ROOT

SYNC_EPILOG = """examples:
  sync-pipeline sync                          everything the catalog needs
  sync-pipeline sync --dry-run                the plan, nothing written
  sync-pipeline sync --pages 001,003          only these pages
  sync-pipeline sync --json > summary.json    for scripts

exit codes:
  0  synced
  1  a page, the store setup or archival failed (the records: sync-pipeline errors)
  2  a setting is wrong (the message names it)
  3  another sync holds the lock
"""


def register(commands: argparse._SubParsersAction) -> None:
    _register_sync(commands)
    _register_demo(commands)
    _register_errors(commands)
    _register_ui(commands)


def _register_sync(commands: argparse._SubParsersAction) -> None:
    """``sync``: the pipeline's one run, with what to run and how to report it."""
    sync = commands.add_parser(
        "sync",
        help="Sync the DummyJSON catalog into Medusa (runs recorded in DAGSTER_HOME).",
        description="Materialize the whole asset graph: categories and store, then every "
        "product page the catalog needs, then archival. Shows pages done, products per second "
        "and the time left on a terminal; plain lines when piped.",
        epilog=SYNC_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync.add_argument(
        "--dry-run",
        action="store_true",
        help="Show what would be created, updated and left unchanged; write nothing to Medusa.",
    )
    sync.add_argument(
        "--allow-mass-archive",
        action="store_true",
        help="Archive vanished products even if they are more than 10%% of the catalog.",
    )
    sync.add_argument(
        "--summary-json",
        type=Path,
        help="Also write the summary (counts, requests, pages, seconds) to this JSON file.",
    )
    sync.add_argument(
        "--pages",
        help="Comma-separated page keys to run (e.g. 001,003); default: every page needed.",
    )
    output = sync.add_mutually_exclusive_group()
    output.add_argument(
        "--quiet", "-q", action="store_true", help="Print only failures and the summary line."
    )
    output.add_argument(
        "--json",
        action="store_true",
        help="Print only the summary, as JSON, on stdout (for scripts); failures on stderr.",
    )
    sync.set_defaults(func=run_sync)


def _register_demo(commands: argparse._SubParsersAction) -> None:
    """``demo``: the stack, a local source and a sync in one command, for a first look."""
    demo = commands.add_parser(
        "demo",
        help="Start the local stack and a local DummyJSON server on the real data, then sync.",
        description="The quickest full sync: `stack up`, a local DummyJSON server (127.0.0.1) on "
        "the snapshot of DummyJSON's 194 products the project carries, then `sync`.",
        epilog="Example: sync-pipeline demo "
        "--data sync_pipeline/data/dummyjson/products-100.json --legacy",
    )
    demo.add_argument(
        "--data",
        type=Path,
        default=DUMMYJSON_SNAPSHOT_DIR / "products.json",
        help="Catalog file the local source serves (default: the snapshot's products.json, "
        f"{DUMMYJSON_SNAPSHOT_DIR / 'products.json'}).",
    )
    demo.add_argument("--legacy", action="store_true", help="Serve the old API shape.")
    demo.set_defaults(func=run_demo)


def _register_errors(commands: argparse._SubParsersAction) -> None:
    """``errors``: the records the supplier has to fix, in a form to send them."""
    errors = commands.add_parser(
        "errors",
        help="List the records the latest sync could not write (for the supplier).",
        description="The failed and rejected records of the latest sync (the latest result of "
        "every page the catalog needs), or of one run: source id, SKU, page, stage, reason, "
        "and when the page first reported it.",
        epilog="Example: sync-pipeline errors --format csv > rejected.csv",
    )
    errors.add_argument("--run", dest="run_id", help="Only this run's records (a run id).")
    errors.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="Output format."
    )
    errors.set_defaults(func=run_errors)


def _register_ui(commands: argparse._SubParsersAction) -> None:
    """``ui``: Dagster's UI on the same definitions and instance as the CLI."""
    ui = commands.add_parser(
        "ui",
        help="Open the Dagster UI (dagster dev) on this project.",
        description="Runs `dagster dev` on this project with DAGSTER_HOME, the schedule and the "
        "sync sensor on; Materialize all in the UI runs the same sync as `sync-pipeline sync`.",
        epilog="Example: sync-pipeline ui --port 3001",
    )
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=run_ui)


def sync(
    pages: list[str] | None = None,
    dry_run: bool = False,
    allow_mass_archive: bool = False,
    summary_json: Path | None = None,
    output: str = "normal",
) -> int:
    """Run a full sync and show its progress and summary; returns the exit code.

    ``output``: ``normal``, ``quiet`` (failures and the summary line) or ``json`` (the summary
    as JSON on stdout, nothing else there)."""
    import dagster as dg

    from sync_pipeline.cli.preflight import ConfigurationError, check
    from sync_pipeline.cli.progress import Progress
    from sync_pipeline.cli.runner import SyncRunner, ensure_dagster_home
    from sync_pipeline.settings import SettingsError, SyncSettings
    from sync_pipeline.sync.locking import FileSyncLock, SyncBusy, instance_sync_lock, lock_path

    try:
        settings = SyncSettings.from_environment()
        check(settings, os.environ)
    except (SettingsError, ConfigurationError) as error:
        print(f"Not syncing: {error}", file=sys.stderr)
        return 2
    home = ensure_dagster_home()
    out = sys.stderr if output == "json" else sys.stdout
    progress = Progress(
        out,
        settings.page_size,
        tty=out.isatty(),
        quiet=output != "normal",
        detail=_print_plan if dry_run else None,
    )
    try:
        # This home's file lock first: it keeps a second sync from opening (with SQLite:
        # creating) the same instance meanwhile. The instance's own lock (the same file with
        # SQLite, the database's with PostgreSQL) is what keeps out syncs from other homes.
        with (
            FileSyncLock(lock_path(home)).hold(what="sync-pipeline sync"),
            dg.DagsterInstance.get() as instance,
            instance_sync_lock(instance).hold(what="sync-pipeline sync"),
        ):
            if output == "normal":
                mode = "Dry run: planning, nothing is written" if dry_run else "Syncing"
                print(f"{mode} (Dagster runs recorded in {home})", file=out, flush=True)
            summary = SyncRunner(instance, settings).run(
                pages=pages,
                on_page=progress.on_page,
                dry_run=dry_run,
                allow_mass_archive=allow_mass_archive,
            )
    except SyncBusy as busy:
        print(f"Not syncing: {busy}", file=sys.stderr)
        return 3
    progress.finish()
    if summary_json:
        summary_json.write_text(json.dumps(summary.as_dict(), indent=2))
    if output == "json":
        print(json.dumps(summary.as_dict(), indent=2))
        return 0 if summary.ok else 1
    if not summary.catalog_ok:
        print(f"Categories/store setup FAILED: {summary.catalog_error}", file=out)
    if not pages and (output == "normal" or not summary.archival_ok):
        state = "OK" if summary.archival_ok else "FAILED"
        note = f" ({summary.archival_note})" if summary.archival_note else ""
        print(
            f"Archival: {state}, {'would archive' if dry_run else 'archived'} "
            f"{summary.archived}{note}",
            file=out,
        )
    if output == "normal":
        print(summary.rules.line(), file=out)
    print(_summary_line(summary, dry_run), file=out)
    if summary.count("failed"):
        print("The failed records: sync-pipeline errors (--format csv for the supplier)", file=out)
    return 0 if summary.ok else 1


def _summary_line(summary, dry_run: bool) -> str:
    failed_pages = [p.key for p in summary.pages if not p.ok]
    verb = "would be " if dry_run else ""
    title = "Plan" if dry_run else "Summary"
    return (
        f"{title}: {len(summary.pages)} pages ({len(failed_pages)} failed"
        f"{': ' + ', '.join(failed_pages) if failed_pages else ''}), "
        f"source total {summary.total}, {verb}created {summary.count('created')}, "
        f"{verb}updated {summary.count('updated')}, unchanged {summary.count('unchanged')}, "
        f"{verb}failed {summary.count('failed')}, "
        f"stock levels {verb}set {summary.count('stock_set')}"
        + (
            f", sale prices {verb}set {summary.count('sale_prices_set')}"
            if summary.count("sale_prices_set")
            else ""
        )
        + f", {summary.seconds:.1f} s; "
        f"Medusa requests: {summary.requests('medusa_reads')} reads, "
        f"{summary.requests('medusa_writes')} writes"
    )


def _print_plan(outcome, out) -> None:
    """A dry run's table of changes, where the progress goes (stderr with --json)."""
    if outcome.plan and any(
        outcome.counts.get(key, 0) for key in ("created", "updated", "stock_set")
    ):
        print(outcome.plan, file=out, flush=True)


def run_sync(args: argparse.Namespace) -> int:
    pages = [p.strip() for p in args.pages.split(",") if p.strip()] if args.pages else None
    return sync(
        pages,
        dry_run=args.dry_run,
        allow_mass_archive=args.allow_mass_archive,
        summary_json=args.summary_json,
        output="json" if args.json else "quiet" if args.quiet else "normal",
    )


def run_demo(args: argparse.Namespace) -> int:
    from sync_pipeline.local.dummyjson_server.catalog_file import DataFileError
    from sync_pipeline.local.dummyjson_server.server import DummyJSONServer
    from sync_pipeline.local.stack.cli import cmd_up
    from sync_pipeline.settings import MEDUSA_ENV_FILE, follow_local_env, read_env_file

    try:  # read the catalog before the stack's minutes of set-up, not after
        source = DummyJSONServer(args.data, legacy=args.legacy)
    except DataFileError as error:
        print(f"sync-pipeline demo: error: {error}", file=sys.stderr)
        return 2
    before = read_env_file(MEDUSA_ENV_FILE)
    code = cmd_up(args)
    if code:
        return code
    follow_local_env(before)  # what `stack up` just wrote (another release: another key)
    with source as server:
        print(f"Local DummyJSON source: {server.url} serving {args.data}", flush=True)
        os.environ["DUMMYJSON_BASE_URL"] = server.url
        code = sync()
    if "MEDUSA_PUBLISHABLE_KEY" in os.environ:
        print(
            f"Storefront: Store API at {os.environ.get('MEDUSA_BASE_URL')} with "
            f"x-publishable-api-key {os.environ['MEDUSA_PUBLISHABLE_KEY']} and region "
            f"{os.environ.get('MEDUSA_REGION_ID')} (docs/selling.md)"
        )
    return code


def run_errors(args: argparse.Namespace) -> int:
    import csv

    import dagster as dg

    from sync_pipeline.cli.runner import ensure_dagster_home
    from sync_pipeline.defs.failures import COLUMNS, UnknownRun, failed_records

    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        try:
            rows = [r.as_row() for r in failed_records(instance, args.run_id)]
        except UnknownRun as error:
            print(f"sync-pipeline errors: {error}", file=sys.stderr)
            return 2
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif not rows:
        print("No failed records in the latest sync.")
    else:
        for row in rows:
            print(
                f"page {row['page']}  {row['source_id']:>6}  {row['sku'] or '-':20}  "
                f"{row['stage']:10}  {row['reason']}  (since {row['first_seen']})"
            )
        print(f"{len(rows)} failed record(s).")
    return 0


def run_ui(args: argparse.Namespace) -> int:
    import dagster as dg

    from sync_pipeline.cli.runner import ensure_dagster_home
    from sync_pipeline.defs.automation import prepare_instance
    from sync_pipeline.settings import SettingsError, SyncSettings

    try:
        settings = SyncSettings.from_environment()
    except SettingsError as error:
        print(f"Not starting the UI: {error}", file=sys.stderr)
        return 2
    home = ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        prepare_instance(instance, settings)
    print(f"Dagster UI on http://127.0.0.1:{args.port} (DAGSTER_HOME={home})", flush=True)
    dagster = Path(sys.executable).with_name("dagster")
    os.chdir(REPO_ROOT)
    os.execv(
        str(dagster),
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(args.port)],
    )
    return 0
