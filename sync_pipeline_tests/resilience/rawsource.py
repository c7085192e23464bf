"""A DummyJSON-shaped server that sends records exactly as written, for the bad-input tests.

The project's ``DummyJSONServer`` re-encodes its data strictly (it would answer 500 for a
NaN, and cannot hold a record without an id or a byte that is not UTF-8). This one serves
what a broken or non-JavaScript mirror might: pages built from raw records with
``json.dumps(allow_nan=True)`` (so ``NaN``/``Infinity`` tokens reach the client), byte-level
patches (invalid UTF-8), a per-page ``total``, a huge page streamed with a ``Content-Length``,
or a body that never ends (chunked, forever).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

CHUNK = 64 * 1024


class RawSource:
    def __init__(
        self,
        records: list[Any],
        categories: list[dict[str, str]],
        *,
        totals: dict[int, int] | None = None,
        patch: Callable[[int, bytes], bytes] | None = None,
        stream: Callable[[int], tuple[int | None, Iterator[bytes]]] | None = None,
    ) -> None:
        """``totals``: the ``total`` each page (by skip) claims, else ``len(records)``.
        ``patch(skip, body)``: rewrite a page's bytes. ``stream(skip)``: ``(length or None,
        chunks)`` to send instead of a page (None: chunked encoding, as long as it yields)."""
        self.records = records
        self.categories = categories
        self.totals = totals or {}
        self.patch = patch
        self.stream = stream
        self.requests: list[str] = []
        self._httpd: http.server.ThreadingHTTPServer | None = None

    def page_body(self, skip: int, limit: int) -> bytes:
        products = self.records[skip : skip + limit]
        total = self.totals.get(skip, len(self.records))
        page = {"products": products, "total": total, "skip": skip, "limit": len(products)}
        body = json.dumps(page, allow_nan=True, ensure_ascii=False).encode("utf-8")
        return self.patch(skip, body) if self.patch else body

    def __enter__(self) -> RawSource:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                split = urlsplit(self.path)
                owner.requests.append(self.path)
                params = dict(parse_qsl(split.query))
                if split.path == "/products/categories":
                    self._send(json.dumps(owner.categories).encode())
                    return
                skip, limit = int(params.get("skip", 0)), int(params.get("limit", 30))
                if owner.stream is not None:
                    length, chunks = owner.stream(skip)
                    self._stream(length, chunks)
                    return
                self._send(owner.page_body(skip, limit))

            def _send(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _stream(self, length: int | None, chunks: Iterator[bytes]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                if length is None:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(length))
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                with contextlib.suppress(OSError):  # the client hangs up: that is the point
                    for chunk in chunks:
                        if length is None:
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        else:
                            self.wfile.write(chunk)
                    if length is None:
                        self.wfile.write(b"0\r\n\r\n")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

        self._httpd = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"


def padded_page(size: int) -> tuple[int, Iterator[bytes]]:
    """A valid page of ``size`` bytes (an empty product list and a long padding string),
    produced chunk by chunk so the server never holds it whole."""
    head, tail = b'{"products":[],"total":0,"skip":0,"limit":0,"padding":"', b'"}'
    fill = size - len(head) - len(tail)

    def chunks() -> Iterator[bytes]:
        yield head
        left = fill
        block = b"x" * CHUNK
        while left > 0:
            yield block[: min(CHUNK, left)]
            left -= CHUNK
        yield tail

    return size, chunks()


def endless_page() -> tuple[None, Iterator[bytes]]:
    """A body that never ends: the start of a page, then padding for ever."""

    def chunks() -> Iterator[bytes]:
        yield b'{"products":[],"total":0,"padding":"'
        block = b"x" * CHUNK
        while True:
            yield block

    return None, chunks()


def category_list(slugs: list[str]) -> list[dict[str, str]]:
    return [
        {
            "slug": s,
            "name": " ".join(w.capitalize() for w in s.split("-")),
            "url": f"https://dummyjson.com/products/category/{s}",
        }
        for s in slugs
    ]
