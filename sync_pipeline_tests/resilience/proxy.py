"""A fault-injecting HTTP proxy owned by the test suite (standard library only).

It sits in front of a real server (Medusa, or the DummyJSON test server) on 127.0.0.1 and
an ephemeral port, forwards every request, and misbehaves on purpose:

- on writes (POST/DELETE) that match a rule, one of
  - ``"503"``: answer 503 **without forwarding** (nothing reached Medusa);
  - ``"drop"``: close the connection **without forwarding** and without an answer;
  - ``"lost"``: **forward**, wait for Medusa's answer (so the write committed), then answer
    502 instead: the client cannot know that its write went through;
  each rule fires for "the next N matching writes" or for a seeded random share of them;
- ``down()``: stop listening and cut open connections, so every request is refused, as when
  Medusa is not running; ``up()`` listens on the same port again;
- ``hook``: called in the handler thread at ``"received"`` (before forwarding) and
  ``"answered"`` (after the upstream answered, before the client gets anything); returning
  ``"drop"`` cuts the connection there. A test can so act at an exact moment (the crash tests
  kill the sync there).

Every request is logged (:attr:`FaultProxy.records`) with the fault it got and what the
upstream answered, so a test can prove that a "lost" write really committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import http.server
import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

WRITE_METHODS = ("POST", "DELETE", "PUT", "PATCH")
FAULT_KINDS = ("503", "drop", "lost")
# Medusa's ids: a prefix and a ULID (prod_01J…, pcat_01J…, ptag_01J…, store_01J…).
_MEDUSA_ID = re.compile(r"\b[a-z]+_[0-9A-Z]{26}\b")
_MEDUSA_ID_BYTES = re.compile(rb"\b[a-z]+_[0-9A-Z]{26}\b")
# Headers that belong to one connection, not to the message (RFC 9110 §7.6.1).
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


@dataclass
class FaultRule:
    """Which writes get a fault: those whose path matches ``path`` (a regex, searched), then
    either the next ``count`` of them or a seeded ``share``.

    A seeded draw depends only on the seed, the write (method, path and body, with Medusa's
    generated ids blanked out) and how often that same write came before, never on timing:
    concurrent category and tag creates, and a write sent again after a fault, get the same
    decisions on every run.
    """

    kind: str
    path: str = ""
    count: int | None = None
    share: float | None = None
    seed: int | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, got {self.kind!r}")
        if (self.count is None) == (self.share is None):
            raise ValueError("give exactly one of count (the next N writes) or share")
        self._pattern = re.compile(self.path)
        self._seen: Counter[str] = Counter()

    def draw(self, method: str, path: str, body: bytes) -> bool:
        if not self._pattern.search(path):
            return False
        if self.count is not None:
            fire = self.fired < self.count
        else:
            write = _MEDUSA_ID.sub("<id>", f"{method} {path} ").encode() + _MEDUSA_ID_BYTES.sub(
                b"<id>", body
            )
            self._seen[write.hex()] += 1
            key = f"{self.seed}|{self.kind}|{self._seen[write.hex()]}|".encode() + write
            roll = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
            fire = roll < self.share
        self.fired += fire
        return fire


@dataclass(frozen=True)
class ProxyRecord:
    """One request through the proxy; ``upstream_status`` is None when it was not forwarded."""

    index: int
    method: str
    path: str
    fault: str | None
    upstream_status: int | None = None

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS


class FaultProxy:
    """``with FaultProxy("http://127.0.0.1:9000") as proxy: ... proxy.url ...``"""

    def __init__(self, target: str, *, upstream_timeout: float = 180.0) -> None:
        split = urlsplit(target)
        self.target_host = split.hostname or "127.0.0.1"
        self.target_port = split.port or 80
        self.upstream_timeout = upstream_timeout
        self.hook: Callable[[str, ProxyRecord], str | None] | None = None
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._records: list[ProxyRecord] = []
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # ----- lifecycle

    def start(self) -> FaultProxy:
        httpd = _Server(("127.0.0.1", self._port), _Handler)
        httpd.proxy = self
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fault-proxy-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def down(self) -> None:
        """Medusa is down: connections to the proxy's port are refused until :meth:`up`."""
        self.stop()

    def up(self) -> None:
        """Listen again, on the same port."""
        if self._httpd is None:
            self.start()

    def __enter__(self) -> FaultProxy:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # ----- faults and the log

    def fail_writes(
        self,
        kind: str,
        *,
        path: str = "",
        count: int | None = None,
        share: float | None = None,
        seed: int | None = None,
    ) -> FaultRule:
        """Add a rule for writes whose path matches ``path``; the first rule that fires wins."""
        rule = FaultRule(kind, path=path, count=count, share=share, seed=seed)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def records(self) -> list[ProxyRecord]:
        with self._lock:
            return list(self._records)

    def faulted(self, kind: str | None = None, path: str = "") -> list[ProxyRecord]:
        """Requests that got a fault (of ``kind``), on paths matching ``path``."""
        return [
            r
            for r in self.records
            if r.fault and (kind is None or r.fault == kind) and re.search(path, r.path)
        ]

    def _admit(self, method: str, path: str, body: bytes) -> ProxyRecord:
        with self._lock:
            fault = None
            if method in WRITE_METHODS:
                for rule in self._rules:
                    if rule.draw(method, path, body):
                        fault = rule.kind
                        break
            record = ProxyRecord(len(self._records), method, path, fault)
            self._records.append(record)
            return record

    def _answered(self, record: ProxyRecord, status: int) -> ProxyRecord:
        with self._lock:
            done = ProxyRecord(record.index, record.method, record.path, record.fault, status)
            self._records[record.index] = done
            return done

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _call_hook(self, stage: str, record: ProxyRecord) -> str | None:
        """The hook may return ``"drop"`` to cut the connection there (and not forward)."""
        return self.hook(stage, record) if self.hook is not None else None


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.proxy._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _serve(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = proxy._admit(self.command, urlsplit(self.path).path, body)
        if proxy._call_hook("received", record) == "drop":
            self.close_connection = True
            return
        if record.fault == "503":
            self._answer(503, {"type": "unknown_error", "message": "Service Unavailable"})
            return
        if record.fault == "drop":
            self.close_connection = True
            return
        try:
            status, headers, data = self._forward(body)
        except OSError as error:  # upstream down or cut: the client sees a 502
            self._answer(502, {"message": f"proxy: upstream failed ({error})"})
            return
        record = proxy._answered(record, status)
        if proxy._call_hook("answered", record) == "drop":
            self.close_connection = True
            return
        if record.fault == "lost":
            self._answer(502, {"message": "Bad Gateway"})
            return
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        proxy = self.server.proxy
        upstream = http.client.HTTPConnection(
            proxy.target_host, proxy.target_port, timeout=proxy.upstream_timeout
        )
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Host"] = f"{proxy.target_host}:{proxy.target_port}"
            if body or self.command in WRITE_METHODS:
                headers["Content-Length"] = str(len(body))
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            upstream.close()

    def _answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        pass
