"""``sync-pipeline stack up|down|reset|status``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from sync_pipeline.local.stack import core
from sync_pipeline.local.stack.config import StackError, tail


def _say(message: str) -> None:
    print(message, flush=True)


def _fail(command: str, exc: StackError) -> int:
    print(f"stack {command} failed at step: {exc.step}", file=sys.stderr)
    print(f"  {exc.message}", file=sys.stderr)
    text = tail(exc.log)
    if text:
        print(f"--- last 30 lines of {exc.log} ---", file=sys.stderr)
        print(text, file=sys.stderr)
        print("---", file=sys.stderr)
    elif exc.log is not None:
        print(f"  (log: {exc.log})", file=sys.stderr)
    return 1


def _print_status() -> bool:
    result = core.status()
    for line in result.lines():
        print(line)
    return result.up


def _run(command: str, action: Callable[[], object]) -> int:
    """Run one stack action: 0, or the failed step and its log's tail."""
    try:
        action()
    except StackError as exc:
        return _fail(command, exc)
    return 0


def _up() -> None:
    core.up(out=_say)
    _print_status()


def cmd_up(args: argparse.Namespace) -> int:
    version = getattr(args, "medusa_version", None)
    if version:  # as if exported: the stack reads MEDUSA_VERSION
        os.environ["MEDUSA_VERSION"] = version
    return _run("up", _up)


def cmd_down(args: argparse.Namespace) -> int:
    return _run("down", lambda: core.down(out=_say))


def cmd_reset(args: argparse.Namespace) -> int:
    return _run("reset", lambda: core.reset_store(out=_say))


def cmd_status(args: argparse.Namespace) -> int:
    try:
        return 0 if _print_status() else 1
    except StackError as exc:
        return _fail("status", exc)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stack",
        help="run the local Medusa + PostgreSQL stack",
        description=(
            "Local Medusa backend (the latest tested release, or MEDUSA_VERSION) on PostgreSQL "
            "(DATABASE_URL, else 127.0.0.1:5432, else an embedded PostgreSQL). State, logs and "
            "secrets live in .local/."
        ),
        epilog="Example: sync-pipeline stack up && sync-pipeline stack status",
    )
    commands = parser.add_subparsers(dest="stack_command", required=True)
    for name, func, summary, example in (
        ("up", cmd_up, "start everything (idempotent) and write .local/medusa.env", "stack up"),
        ("down", cmd_down, "stop the processes `up` started", "stack down"),
        (
            "reset",
            cmd_reset,
            "empty the store (fresh copy of the template database), same API key and shop",
            "stack reset",
        ),
        ("status", cmd_status, "what runs where; exit 1 if the stack is not up", "stack status"),
    ):
        command = commands.add_parser(
            name, help=summary, description=summary, epilog=f"Example: sync-pipeline {example}"
        )
        command.set_defaults(func=func)
        if name == "up":
            # Static text: every sync-pipeline command builds this parser, also where no
            # medusa/ folder exists (an installed wheel, a container).
            command.add_argument(
                "--medusa-version",
                metavar="X.Y.Z",
                help="the Medusa release to run (also MEDUSA_VERSION); default: medusa/'s, the "
                "latest tested; others: the folders of medusa/releases/",
            )
