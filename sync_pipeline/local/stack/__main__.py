"""``python -m sync_pipeline.local.stack up|down|reset|status``: the stack commands alone.

Same as ``sync-pipeline stack ...``, without loading the other commands' modules.
"""

from __future__ import annotations

import argparse
import sys

from sync_pipeline.local.stack import cli
from sync_pipeline.settings import load_local_env


def main(argv: list[str] | None = None) -> int:
    load_local_env()
    parser = argparse.ArgumentParser(prog="python -m sync_pipeline.local.stack")
    commands = parser.add_subparsers(dest="command", required=True)
    cli.register(commands)
    args = parser.parse_args(["stack", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
