"""The ``sync-pipeline`` command.

Sub-commands import their modules lazily so that ``stack`` and ``source`` stay
fast: only ``sync`` loads Dagster.
"""

from __future__ import annotations

import argparse
import sys

from sync_pipeline.settings import load_local_env


def build_parser() -> argparse.ArgumentParser:
    from sync_pipeline.cli import commands as pipeline_cli
    from sync_pipeline.local.dummyjson_server import cli as source_cli
    from sync_pipeline.local.stack import cli as stack_cli

    parser = argparse.ArgumentParser(
        prog="sync-pipeline",
        description="Sync the DummyJSON catalog into Medusa, and run the local stack it needs.",
        epilog="Example: sync-pipeline demo (local stack + DummyJSON's real data + a full sync). "
        "Every command has --help.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    stack_cli.register(commands)
    source_cli.register(commands)
    pipeline_cli.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    load_local_env()
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
