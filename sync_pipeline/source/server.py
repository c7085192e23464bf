"""A DummyJSON-compatible HTTP server, for tests and local runs.

It serves a product file the way ``https://dummyjson.com`` serves its catalog (the behaviour is
specified in ``shared/dummyjson/API.md``; section numbers below refer to it), and it can misbehave
on purpose: a rate limiter, injected failures for the next N requests, and seeded random faults
(error answers, hangs, truncated bodies, dropped connections).

Standard library only, so that the ``source`` command stays light::

    with DummyJSONServer(path) as server:
        requests.get(f"{server.url}/products", params={"limit": 0})

Request pipeline, in this order (the order decides which answer wins):

1. the rate limiter, which counts every request (§6);
2. failures queued with :meth:`DummyJSONServer.fail_next` (any route);
3. the trailing-slash / repeated-slash redirect (301);
4. random faults (``faults=``), drawn for GET/HEAD requests to ``/products...`` and
   ``/product...`` only;
5. the reload check (the data file is re-read when its mtime, size or inode changed);
6. query validation, on every route (§2, §4);
7. ``?delay=``;
8. the routes; anything else is a 404 HTML page (GET) or Express's ``Cannot METHOD /path``.

Simulated writes (``POST /products/add``, ``PUT``/``PATCH``/``DELETE /products/{id}``) are not
implemented: they answer ``501`` with a JSON message saying so.
"""

from __future__ import annotations

import contextlib
import html
import http.server
import json
import math
import os
import random
import re
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cmp_to_key
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "CATEGORY_URL_PREFIX",
    "DEFAULT_LIMIT",
    "FAULT_KINDS",
    "RATE_LIMIT_MESSAGE",
    "DataFileError",
    "DummyJSONServer",
    "FaultConfig",
    "RequestRecord",
    "category_name",
    "category_slugs",
    "load_products",
]

CATEGORY_URL_PREFIX = "https://dummyjson.com/products/category/"
DEFAULT_LIMIT = 30
MAX_DELAY_MS = 5000
FAULT_KINDS = ("500", "503", "timeout", "truncate", "drop")
RATE_LIMIT_MESSAGE = "request limit exceeded, please wait a few seconds"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"

# Whitespace as JavaScript's String.prototype.trim and Number() see it.
_JS_WHITESPACE = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_JS_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
_JS_RADIX = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)\Z", re.ASCII)
_JS_INT_PREFIX = re.compile(r"[+-]?\d+", re.ASCII)
_WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_MAX_DISCARDED_BODY = 1 << 20


class DataFileError(ValueError):
    """The data file cannot be read or is not a product list. The message names the file."""


# --------------------------------------------------------------------------- data


def load_products(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a product file: a bare JSON array (like ``products.json``) or ``{"products": [...]}``.

    Integral floats (``25.0``) become ints, since the real server (JavaScript) writes them as
    ``25``. Raises :class:`DataFileError` naming the file when it is missing or malformed.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"cannot read data file {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"data file {path} is not valid UTF-8 JSON: {exc}") from exc
    products = data.get("products") if isinstance(data, dict) else data
    if not isinstance(products, list):
        raise DataFileError(
            f"data file {path} must hold a JSON array of products "
            "or an object with a 'products' array"
        )
    for index, item in enumerate(products):
        if not isinstance(item, dict) or "id" not in item:
            raise DataFileError(
                f"data file {path}: item {index} is not a product object with an 'id'"
            )
    return [_integral_floats_to_int(item) for item in products]


def _integral_floats_to_int(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    if isinstance(value, dict):
        return {key: _integral_floats_to_int(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_to_int(item) for item in value]
    return value


def category_name(slug: str) -> str:
    """``mens-shirts`` -> ``Mens Shirts``: split on ``-``, upper-case each word's first letter."""
    return " ".join(word[:1].upper() + word[1:] for word in slug.split("-"))


@dataclass(frozen=True)
class _Catalog:
    products: list[dict[str, Any]]
    categories: list[str]  # slugs in order of first appearance
    signature: tuple[int, ...] | None

    @classmethod
    def load(cls, path: Path) -> _Catalog:
        signature = _file_signature(path)
        products = load_products(path)
        return cls(products=products, categories=category_slugs(products), signature=signature)


def _file_signature(path: Path) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class FaultConfig:
    """Seeded random faults on data routes (GET/HEAD ``/products...`` and ``/product...``).

    Each such request draws from ``random.Random(seed)``; a ``share`` of them gets one of
    ``kinds``:

    - ``"500"`` / ``"503"``: a JSON error answer with that status;
    - ``"timeout"``: the server holds the request for ``hang_seconds``, then closes the
      connection without answering;
    - ``"truncate"``: the real answer's status and headers (``Content-Length`` of the full body),
      then half of the body, then the connection is closed;
    - ``"drop"``: the connection is closed at once, without any answer.

    The same seed gives the same sequence of decisions, indexed by the order in which requests
    reach the fault stage. Concurrent requests can reach it in any order, so only a sequential
    client gets a reproducible fault per request.
    """

    share: float
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int | None = None
    hang_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.share) <= 1.0:
            raise ValueError(f"fault share must be between 0 and 1, got {self.share!r}")
        kinds = tuple(dict.fromkeys(str(kind) for kind in self.kinds))
        unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(
                f"fault kinds must be a non-empty subset of {', '.join(FAULT_KINDS)}; "
                f"got {', '.join(kinds) or 'nothing'}"
            )
        if not float(self.hang_seconds) >= 0:
            raise ValueError(f"hang_seconds must be >= 0, got {self.hang_seconds!r}")
        object.__setattr__(self, "share", float(self.share))
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "hang_seconds", float(self.hang_seconds))


@dataclass(frozen=True)
class RequestRecord:
    """One handled request, as kept in :attr:`DummyJSONServer.requests`.

    ``status`` is the status line that was sent, or ``None`` when the connection was closed
    without an answer (``timeout`` and ``drop`` faults). ``fault`` names the injected fault
    (a kind of :data:`FAULT_KINDS`, or ``"fail_next"``), else ``None``. ``timestamp`` is the
    server clock (``time.monotonic`` unless a clock was given) when the request arrived.
    """

    method: str
    path: str
    query: str
    status: int | None
    timestamp: float
    fault: str | None = None

    @property
    def params(self) -> dict[str, str]:
        """The query as a dict (the last value wins for repeated names)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Response:
    status: int | None
    body: bytes = b""
    content_type: str = JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None  # "timeout" / "drop" / "truncate" change how it is written


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _json_response(status: int, value: Any, **kwargs: Any) -> _Response:
    return _Response(status, _json_bytes(value), **kwargs)


def _error_response(status: int, message: str) -> _Response:
    return _json_response(status, {"message": message})


def _html_404(method: str, path: str) -> _Response:
    if method in ("GET", "HEAD"):
        text = f"The page {path} does not exist."
    else:  # Express's default for other methods
        text = f"Cannot {method} {path}"
    body = (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>404 Not Found'
        f"</title></head>\n<body><h1>404 Not Found</h1><pre>{html.escape(text)}</pre></body>\n"
        "</html>\n"
    )
    return _Response(404, body.encode(), HTML_CONTENT_TYPE)


# --------------------------------------------------------------------------- JavaScript semantics


def js_number(text: str) -> float:
    """JavaScript's ``Number(string)``: NaN for anything that is not a whole numeric literal."""
    s = text.strip(_JS_WHITESPACE)
    if not s:
        return 0.0
    if _JS_DECIMAL.match(s):
        return float(s)
    if _JS_RADIX.match(s):
        return float(int(s, 0))
    if s in ("Infinity", "+Infinity"):
        return math.inf
    if s == "-Infinity":
        return -math.inf
    return math.nan


def js_parse_int(text: str) -> int | None:
    """JavaScript's ``parseInt(string, 10)``; ``None`` stands for NaN."""
    match = _JS_INT_PREFIX.match(text.lstrip(_JS_WHITESPACE))
    return int(match.group()) if match else None


_MISSING = object()


def _js_string(value: Any) -> str:
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_js_string(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _js_primitive(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return _js_string(value)
    return value


def _js_to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        return js_number(value)
    return math.nan


def _js_less(a: Any, b: Any) -> bool:
    """``a < b`` in JavaScript (``undefined`` compares false both ways)."""
    if a is _MISSING or b is _MISSING:
        return False
    a, b = _js_primitive(a), _js_primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return a < b
    x, y = _js_to_number(a), _js_to_number(b)
    return x < y  # False when either is NaN


def _js_sort(products: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    sign = -1 if descending else 1

    def compare(p: dict[str, Any], q: dict[str, Any]) -> int:
        a, b = p.get(key, _MISSING), q.get(key, _MISSING)
        if _js_less(a, b):
            return -sign
        if _js_less(b, a):
            return sign
        return 0

    return sorted(products, key=cmp_to_key(compare))


# --------------------------------------------------------------------------- query validation


@dataclass(frozen=True)
class _Options:
    limit: int | None  # None = NaN (returns no items)
    skip: int | None  # None = NaN (no skip, echoed as null)
    q: str
    select: list[str] | None
    sort_by: str | None
    descending: bool
    delay_ms: float


def _parse_options(query: str, legacy: bool) -> _Options:
    """Query validation (§2), run on every route. Raises :class:`_HTTPError` (400)."""
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, []).append(value)

    def number(name: str, default: int) -> int | None:
        values = params.get(name)
        if values is None:
            return default
        # A repeated name is an array for Express's query parser, and Number([a, b]) is NaN.
        if len(values) > 1 or math.isnan(js_number(values[0])):
            raise _HTTPError(400, f"Invalid '{name}' - must be a number")
        return js_parse_int(values[0])

    limit = number("limit", DEFAULT_LIMIT)
    skip = number("skip", 0)

    q_values = params.get("q", []) + params.get("q[valueSearch]", [])
    odd_q = [key for key in params if key.startswith("q[") and key != "q[valueSearch]"]
    if odd_q or len(q_values) > 1:
        raise _HTTPError(400, "Invalid 'q' - must be a string")
    q = q_values[0] if q_values else ""
    q = q.strip(_JS_WHITESPACE).lower().replace("-", " ")

    select_values = params.get("select", [])
    select: list[str] | None = None
    if any(select_values):
        select = ["id"]
        for value in select_values:
            select.extend(value.split(","))

    sort_by = ",".join(params.get("sortBy", [])) or None
    descending = False
    if legacy:
        sort_by = None  # sortBy/order did not exist before 2024-05-23
    elif sort_by:
        order = ",".join(params.get("order", [])).lower() or "asc"
        if order not in ("asc", "desc"):
            raise _HTTPError(400, "Order can be: 'asc' or 'desc'")
        descending = order == "desc"

    delay_ms = 0.0
    delay_text = ",".join(params.get("delay", []))
    if delay_text:
        delay = js_number(delay_text) if len(params["delay"]) == 1 else math.nan
        if math.isnan(delay):
            raise _HTTPError(400, "Delay must be a number in milliseconds")
        if delay > MAX_DELAY_MS:
            raise _HTTPError(400, "Delay cannot be greater than 5 seconds")
        if delay < 0:
            raise _HTTPError(400, "Delay cannot be less than 0")
        delay_ms = delay

    return _Options(limit, skip, q, select, sort_by, descending, delay_ms)


def _subset(product: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {name: product[name] for name in fields if name in product}


def _page(products: list[dict[str, Any]], options: _Options) -> dict[str, Any]:
    """Sort, skip, limit, select (§3), and wrap."""
    total = len(products)
    if options.sort_by:
        products = _js_sort(products, options.sort_by, options.descending)
    if options.skip is not None and options.skip > 0:
        products = products[options.skip :]
    if options.limit is None:
        products = []
    elif options.limit != 0:
        products = products[: options.limit]
    if options.select:
        products = [_subset(product, options.select) for product in products]
    return {"products": products, "total": total, "skip": options.skip, "limit": len(products)}


# --------------------------------------------------------------------------- rate limiter


class _FixedWindowLimiter:
    """``limit`` requests per ``window`` seconds; the window starts with its first request."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._window_end: float | None = None
        self._count = 0

    def hit(self) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = self._clock()
            if self._window_end is None or now >= self._window_end:
                self._window_end = now + self.window
                self._count = 0
            self._count += 1
            allowed = self._count <= self.limit
            headers = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(max(0, self.limit - self._count)),
            }
            if not allowed:
                headers["Retry-After"] = str(max(1, math.ceil(self._window_end - now)))
            return allowed, headers


def _parse_rate_limit(rate_limit: tuple[int, float]) -> tuple[int, float]:
    try:
        limit, window = rate_limit
    except (TypeError, ValueError):
        raise ValueError(
            f"rate_limit must be (max_requests, window_seconds), got {rate_limit!r}"
        ) from None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"rate limit max_requests must be an int >= 1, got {limit!r}")
    if not float(window) > 0:
        raise ValueError(f"rate limit window must be > 0 seconds, got {window!r}")
    return limit, float(window)


# --------------------------------------------------------------------------- HTTP plumbing


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: DummyJSONServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up early (a timeout, a size cap) is routine, not a server error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Express does
    server_version = "DummyJSON-test-server"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_OPTIONS(self) -> None:
        self._serve("OPTIONS")

    def _discard_body(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if self.headers.get("Transfer-Encoding") or not 0 <= length <= _MAX_DISCARDED_BODY:
            self.close_connection = True
        elif length:
            self.rfile.read(length)

    def _serve(self, method: str) -> None:
        owner = self.server.owner
        received = owner._clock()
        split = urlsplit(self.path)
        self._discard_body()
        try:
            response = owner._respond(method, split.path or "/", split.query)
        except Exception:  # a bug here must not hang the client
            traceback.print_exc(file=sys.stderr)
            response = _error_response(500, "Something went wrong.")
        # Logged before the answer goes out, so a client that has its answer sees the record.
        owner._record(
            RequestRecord(
                method=method,
                path=split.path,
                query=split.query,
                status=response.status,
                timestamp=received,
                fault=response.fault,
            )
        )
        self._write(method, response)

    def _write(self, method: str, response: _Response) -> None:
        if response.fault == "timeout":
            self.server.owner._stopping.wait(self.server.owner.faults.hang_seconds)
        if response.status is None:  # "timeout" and "drop": close without an answer
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.fault == "truncate":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if method == "HEAD":
            return
        body = response.body
        if response.fault == "truncate":
            body = body[: len(body) // 2]
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        if self.server.owner.access_log:
            super().log_message(format, *args)


# --------------------------------------------------------------------------- the server


class DummyJSONServer:
    """A DummyJSON-compatible server on ``127.0.0.1``, run in a background thread.

    :param data_path: product file, a bare JSON array or ``{"products": [...]}``.
    :param legacy: serve the pre-2024-05-23 API (for ``products-100.json``):
        ``/products/categories`` is a list of slug strings, ``/products/category-list`` does not
        exist (it falls through to ``/products/{id}``, a JSON 404, as the old routes did), and
        ``sortBy``/``order`` are ignored.
    :param rate_limit: ``(max_requests, window_seconds)``; a global fixed window (fractional
        seconds allowed). Over the limit: ``429`` with the real message and ``Retry-After``.
        ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining`` are sent on every response.
    :param faults: a :class:`FaultConfig` for seeded random faults.
    :param port: TCP port on 127.0.0.1; ``0`` picks a free one (see :attr:`url`).
    :param clock: monotonic clock for the rate limiter and request timestamps; tests can pass
        a fake one to move the rate-limit window without sleeping.
    :param access_log: write one line per request to stderr.

    The data file is re-read when its mtime, size, inode or ctime changes (checked on each
    request), and on :meth:`reload`. Replacing the file with ``os.replace`` is always
    detected; a same-size in-place rewrite within the filesystem's timestamp granularity might
    not be, so call :meth:`reload` when that matters. Raises :class:`DataFileError` when the
    file is invalid at construction; an invalid file found on a request's reload check keeps
    the old catalog and answers ``500`` with a message naming the file.
    """

    def __init__(
        self,
        data_path: str | os.PathLike[str],
        *,
        legacy: bool = False,
        rate_limit: tuple[int, float] | None = None,
        faults: FaultConfig | None = None,
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        access_log: bool = False,
    ) -> None:
        self.data_path = Path(data_path)
        self.legacy = legacy
        self.faults = faults
        self.rate_limit = _parse_rate_limit(rate_limit) if rate_limit is not None else None
        self.port = port
        self.access_log = access_log
        self._clock = clock
        self._limiter = (
            _FixedWindowLimiter(*self.rate_limit, clock) if self.rate_limit is not None else None
        )
        self._fault_rng = random.Random(faults.seed) if faults is not None else None
        self._fault_lock = threading.Lock()
        self._fail_queue: deque[int] = deque()
        self._fail_lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._catalog = _Catalog.load(self.data_path)

    # ----- lifecycle

    def start(self) -> DummyJSONServer:
        """Bind 127.0.0.1 and serve in a daemon thread. Returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        httpd = _HTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"dummyjson-server-{self.port_number}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release waiting (delayed or hung) requests, and close connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> DummyJSONServer:
        if self._httpd is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port_number(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (after :meth:`start`)."""
        return f"http://127.0.0.1:{self.port_number}"

    # ----- data

    @property
    def products(self) -> list[dict[str, Any]]:
        """The catalog currently served (do not mutate)."""
        return self._catalog.products

    @property
    def product_count(self) -> int:
        return len(self._catalog.products)

    def reload(self) -> int:
        """Re-read the data file now; returns the product count. Raises :class:`DataFileError`
        (and keeps serving the old catalog) when the file is invalid."""
        with self._load_lock:
            self._catalog = _Catalog.load(self.data_path)
            return len(self._catalog.products)

    def _current_catalog(self) -> _Catalog:
        catalog = self._catalog
        if _file_signature(self.data_path) == catalog.signature:
            return catalog
        with self._load_lock:
            if _file_signature(self.data_path) != self._catalog.signature:
                self._catalog = _Catalog.load(self.data_path)
            return self._catalog

    # ----- failure injection and the request log

    def fail_next(self, n: int, status: int = 503) -> None:
        """Answer the next ``n`` requests (any route, after the rate limiter) with ``status`` and
        a JSON ``{"message": ...}``. Calls queue up: ``fail_next(1, 500); fail_next(1, 503)``."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {status}")
        with self._fail_lock:
            self._fail_queue.extend([status] * n)

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the handled requests, logged once the answer is decided and before it is
        sent (so a client holding its answer finds the record), in that order."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _record(self, record: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(record)

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _draw_fault(self) -> str | None:
        faults, rng = self.faults, self._fault_rng
        assert faults is not None and rng is not None
        with self._fault_lock:  # two draws per request, so decision i depends only on i
            roll = rng.random()
            pick = rng.randrange(len(faults.kinds))
        return faults.kinds[pick] if roll < faults.share else None

    # ----- the pipeline

    def _respond(self, method: str, path: str, query: str) -> _Response:
        headers: dict[str, str] = {}
        if self._limiter is not None:
            allowed, headers = self._limiter.hit()
            if not allowed:
                return _merge_headers(_error_response(429, RATE_LIMIT_MESSAGE), headers)
        return _merge_headers(self._respond_unlimited(method, path, query), headers)

    def _respond_unlimited(self, method: str, path: str, query: str) -> _Response:
        with self._fail_lock:
            injected = self._fail_queue.popleft() if self._fail_queue else None
        if injected is not None:
            phrase = _status_phrase(injected)
            response = _error_response(injected, f"Injected failure: {injected} {phrase}")
            response.fault = "fail_next"
            return response

        normalised = re.sub(r"/{2,}", "/", path)
        if len(normalised) > 1 and normalised.endswith("/"):
            normalised = normalised[:-1]
        if normalised != path:
            location = normalised + (f"?{query}" if query else "")
            body = f"Moved Permanently. Redirecting to {location}".encode()
            return _Response(301, body, "text/plain; charset=utf-8", {"Location": location})

        segments = [unquote(part) for part in path.split("/")[1:]]
        is_data_route = method in ("GET", "HEAD") and segments[0].lower() in ("products", "product")
        fault = self._draw_fault() if self.faults is not None and is_data_route else None
        if fault in ("500", "503"):
            message = "Something went wrong." if fault == "500" else "Service Unavailable"
            response = _error_response(int(fault), message)
            response.fault = fault
            return response
        if fault in ("timeout", "drop"):
            return _Response(None, fault=fault)

        try:
            catalog = self._current_catalog()
            options = _parse_options(query, self.legacy)
            if options.delay_ms:
                self._stopping.wait(options.delay_ms / 1000)
            response = self._route(method, path, segments, catalog, options)
        except _HTTPError as exc:
            response = _error_response(exc.status, exc.message)
        except DataFileError as exc:
            response = _error_response(500, f"Cannot reload the data: {exc}")
        response.fault = fault  # None or "truncate"
        return response

    def _route(
        self,
        method: str,
        path: str,
        segments: list[str],
        catalog: _Catalog,
        options: _Options,
    ) -> _Response:
        if segments[0].lower() not in ("products", "product"):
            return _html_404(method, path)
        rest = segments[1:]
        lowered = [part.lower() for part in rest]  # Express routes are case-insensitive
        if method in _WRITE_METHODS:
            if lowered == ["add"] and method == "POST" or len(rest) == 1 and method != "POST":
                return _error_response(
                    501, "Simulated writes are not implemented by this test server"
                )
            return _html_404(method, path)
        if method not in ("GET", "HEAD"):
            return _html_404(method, path)

        products = catalog.products
        if not rest:
            return _json_response(200, _page(products, options))
        if lowered == ["search"]:
            q = options.q
            found = [
                product
                for product in products
                if q in str(product.get("title", "")).lower()
                or q in str(product.get("description", "")).lower()
            ]
            return _json_response(200, _page(found, options))
        if lowered == ["categories"]:
            if self.legacy:
                return _json_response(200, catalog.categories)
            return _json_response(
                200,
                [
                    {"slug": slug, "name": category_name(slug), "url": CATEGORY_URL_PREFIX + slug}
                    for slug in catalog.categories
                ],
            )
        if lowered == ["category-list"] and not self.legacy:
            return _json_response(200, catalog.categories)
        if len(rest) == 2 and lowered[0] == "category":
            slug = rest[1].lower()
            found = [
                product
                for product in products
                if isinstance(product.get("category"), str) and product["category"].lower() == slug
            ]
            return _json_response(200, _page(found, options))
        if len(rest) == 1:
            wanted = rest[0]
            for product in products:
                if _js_string(product["id"]) == wanted:
                    if options.select:
                        product = _subset(product, options.select)
                    return _json_response(200, product)
            return _error_response(404, f"Product with id '{wanted}' not found")
        return _html_404(method, path)


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _merge_headers(response: _Response, headers: dict[str, str]) -> _Response:
    response.headers = {**headers, **response.headers}
    return response


def category_slugs(products: Iterable[dict[str, Any]]) -> list[str]:
    """Category slugs in order of first appearance (what ``/products/category-list`` returns)."""
    seen: dict[str, None] = {}
    for product in products:
        category = product.get("category")
        if isinstance(category, str):
            seen.setdefault(category, None)
    return list(seen)
