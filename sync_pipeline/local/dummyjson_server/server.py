"""A DummyJSON-compatible HTTP server, for tests and local runs.

It serves a product file the way ``https://dummyjson.com`` serves its catalog (the behaviour is
specified in ``sync_pipeline/data/dummyjson/API.md``; section numbers below refer to it), and it
can misbehave on purpose: a rate limiter, injected failures for the next N requests, and seeded
random faults (error answers, hangs, truncated bodies, dropped connections).

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

This module is the HTTP side: the handler, the answers, the pipeline above and the server's
lifecycle. What it serves with lives beside it: ``catalog_file`` reads the data file,
``query`` validates the query and pages lists, ``js_values`` holds the JavaScript semantics both
rely on, and ``faults`` defines the random faults and the rate limiter.
"""

from __future__ import annotations

import contextlib
import html
import http.server
import json
import os
import random
import re
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sync_pipeline.local.dummyjson_server.catalog_file import (
    Catalog,
    DataFileError,
    category_name,
    file_signature,
)
from sync_pipeline.local.dummyjson_server.faults import (
    RATE_LIMIT_MESSAGE,
    FaultConfig,
    FixedWindowLimiter,
    parse_rate_limit,
)
from sync_pipeline.local.dummyjson_server.js_values import js_string
from sync_pipeline.local.dummyjson_server.query import (
    Options,
    QueryError,
    page,
    parse_options,
    subset,
)

__all__ = ["CATEGORY_URL_PREFIX", "DummyJSONServer", "RequestRecord"]

CATEGORY_URL_PREFIX = "https://dummyjson.com/products/category/"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
_WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_MAX_DISCARDED_BODY = 1 << 20


# --------------------------------------------------------------------------- requests and answers


@dataclass(frozen=True)
class RequestRecord:
    """One handled request, as kept in :attr:`DummyJSONServer.requests`.

    ``status`` is the status line that was sent, or ``None`` when the connection was closed
    without an answer (``timeout`` and ``drop`` faults). ``fault`` names the injected fault
    (a kind of :data:`~sync_pipeline.local.dummyjson_server.faults.FAULT_KINDS`, or
    ``"fail_next"``), else ``None``. ``timestamp`` is the server clock (``time.monotonic``
    unless a clock was given) when the request arrived.
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
        self.rate_limit = parse_rate_limit(rate_limit) if rate_limit is not None else None
        self.port = port
        self.access_log = access_log
        self._clock = clock
        self._limiter = (
            FixedWindowLimiter(*self.rate_limit, clock) if self.rate_limit is not None else None
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
        self._catalog = Catalog.load(self.data_path)

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
            self._catalog = Catalog.load(self.data_path)
            return len(self._catalog.products)

    def _current_catalog(self) -> Catalog:
        catalog = self._catalog
        if file_signature(self.data_path) == catalog.signature:
            return catalog
        with self._load_lock:
            if file_signature(self.data_path) != self._catalog.signature:
                self._catalog = Catalog.load(self.data_path)
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
            options = parse_options(query, self.legacy)
            if options.delay_ms:
                self._stopping.wait(options.delay_ms / 1000)
            response = self._route(method, path, segments, catalog, options)
        except QueryError as exc:
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
        catalog: Catalog,
        options: Options,
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
            return _json_response(200, page(products, options))
        if lowered == ["search"]:
            q = options.q
            found = [
                product
                for product in products
                if q in str(product.get("title", "")).lower()
                or q in str(product.get("description", "")).lower()
            ]
            return _json_response(200, page(found, options))
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
            return _json_response(200, page(found, options))
        if len(rest) == 1:
            wanted = rest[0]
            for product in products:
                if js_string(product["id"]) == wanted:
                    if options.select:
                        product = subset(product, options.select)
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
