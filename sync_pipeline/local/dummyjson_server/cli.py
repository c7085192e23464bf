"""``sync-pipeline source``: serve a DummyJSON-compatible API locally, or generate a catalog.

The server and generator modules are imported only when their command runs, so that building
the top-level parser stays cheap. ``python -m sync_pipeline.local.dummyjson_server.cli`` runs
these commands without the rest of the ``sync-pipeline`` CLI.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``source`` command (``serve``, ``generate``) to the top-level sub-parsers."""
    source = subparsers.add_parser(
        "source",
        help="local DummyJSON-compatible test server and synthetic catalogs",
        description="A local DummyJSON-compatible HTTP server, and a synthetic catalog generator.",
        epilog="Example: sync-pipeline source serve "
        "--data sync_pipeline/data/dummyjson/products.json",
    )
    commands = source.add_subparsers(dest="source_command", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve a product file like dummyjson.com does, on 127.0.0.1",
        description=(
            'Serve a product file (a JSON array, or {"products": [...]}) with DummyJSON\'s API on '
            "127.0.0.1 until SIGINT or SIGTERM. The file is re-read when it changes, and on "
            "SIGHUP."
        ),
        epilog="Example: sync-pipeline source serve "
        "--data sync_pipeline/data/dummyjson/products.json --port 8123 --rate-limit 100/10",
    )
    serve.add_argument("--data", required=True, type=Path, metavar="FILE", help="product file")
    serve.add_argument(
        "--port", type=_port, default=0, help="TCP port on 127.0.0.1 (default 0: a free port)"
    )
    serve.add_argument(
        "--legacy",
        action="store_true",
        help="old API shape (for products-100.json): string categories, no category-list, "
        "no sortBy/order",
    )
    serve.add_argument(
        "--rate-limit",
        type=_rate_limit,
        metavar="N/S",
        help="allow N requests per S seconds (fractions allowed), then 429 with Retry-After; "
        "dummyjson.com uses 100/10",
    )
    serve.add_argument(
        "--faults",
        type=_share,
        metavar="SHARE",
        help="share of data requests (0..1) that get a random fault",
    )
    serve.add_argument(
        "--fault-kinds",
        type=_kinds,
        metavar="KINDS",
        help="comma list among 500,503,timeout,truncate,drop (default: all)",
    )
    serve.add_argument("--seed", type=int, help="seed for the fault decisions (needs --faults)")
    serve.add_argument(
        "--hang-seconds",
        type=_non_negative,
        metavar="X",
        help="how long a 'timeout' fault holds the request before closing it (default 30)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request to stderr")
    serve.set_defaults(func=run_serve, source_parser=serve)

    generate = commands.add_parser(
        "generate",
        help="write a synthetic catalog in DummyJSON's current shape",
        description="Write N synthetic products (deterministic for a seed) as a JSON array.",
        epilog="Example: sync-pipeline source generate --count 10000 --seed 1 --out big.json",
    )
    generate.add_argument("--count", required=True, type=_count, metavar="N")
    generate.add_argument("--seed", type=int, default=0, metavar="S", help="default 0")
    generate.add_argument("--out", required=True, type=Path, metavar="FILE")
    generate.set_defaults(func=run_generate, source_parser=generate)


# --------------------------------------------------------------------------- option types


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {port}")
    return port


def _rate_limit(text: str) -> tuple[int, float]:
    count, sep, seconds = text.partition("/")
    try:
        limit, window = int(count), float(seconds)
    except ValueError:
        limit, window = 0, math.nan
    if not sep or limit < 1 or not (window > 0 and math.isfinite(window)):
        raise argparse.ArgumentTypeError(
            f"expected N/S with N >= 1 requests per S > 0 seconds (e.g. 100/10), got {text!r}"
        )
    return limit, window


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = math.nan
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {text!r}")
    return share


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(part.strip() for part in text.split(",") if part.strip())
    known = ("500", "503", "timeout", "truncate", "drop")
    unknown = [kind for kind in kinds if kind not in known]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"expected a comma list among {','.join(known)}, got {text!r}"
        )
    return kinds


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


# --------------------------------------------------------------------------- commands


def run_serve(args: argparse.Namespace) -> int:
    from sync_pipeline.local.dummyjson_server.catalog_file import DataFileError
    from sync_pipeline.local.dummyjson_server.faults import FaultConfig
    from sync_pipeline.local.dummyjson_server.server import DummyJSONServer

    parser: argparse.ArgumentParser = args.source_parser
    faults = None
    if args.faults is None:
        for name, value in (
            ("--fault-kinds", args.fault_kinds),
            ("--seed", args.seed),
            ("--hang-seconds", args.hang_seconds),
        ):
            if value is not None:
                parser.error(f"argument {name}: only applies with --faults")
    else:
        options: dict = {"share": args.faults, "seed": args.seed}
        if args.fault_kinds is not None:
            options["kinds"] = args.fault_kinds
        if args.hang_seconds is not None:
            options["hang_seconds"] = args.hang_seconds
        faults = FaultConfig(**options)

    try:
        server = DummyJSONServer(
            args.data,
            legacy=args.legacy,
            rate_limit=args.rate_limit,
            faults=faults,
            port=args.port,
            access_log=args.access_log,
        )
    except DataFileError as exc:
        print(f"sync-pipeline source serve: error: {exc}", file=sys.stderr)
        return 2
    try:
        server.start()
    except OSError as exc:
        print(
            f"sync-pipeline source serve: error: cannot listen on 127.0.0.1:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1

    stop = threading.Event()

    def on_stop(signum: int, frame: object) -> None:
        stop.set()

    def on_hup(signum: int, frame: object) -> None:
        try:
            count = server.reload()
        except DataFileError as exc:
            print(
                f"Reload failed, still serving {server.product_count} products: {exc}",
                file=sys.stderr,
                flush=True,
            )
        else:
            print(f"Reloaded {count} products from {args.data}", flush=True)

    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    try:
        print(
            f"Serving {server.product_count} products from {args.data} at {server.url}", flush=True
        )
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from sync_pipeline.local.dummyjson_server.generate import generate_catalog, write_catalog

    products = generate_catalog(args.count, args.seed)
    try:
        write_catalog(products, args.out)
    except OSError as exc:
        print(
            f"sync-pipeline source generate: error: cannot write {args.out}: {exc}", file=sys.stderr
        )
        return 1
    print(f"Wrote {len(products)} products (seed {args.seed}) to {args.out}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``source`` commands alone:
    ``python -m sync_pipeline.local.dummyjson_server.cli source serve``."""
    parser = argparse.ArgumentParser(prog="sync-pipeline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
