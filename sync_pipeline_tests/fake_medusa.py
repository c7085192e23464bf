"""A stand-in Medusa for fast tests of what releases answer differently.

It answers the routes a test gives it, and Express's HTML 404 where a route is missing (as on
a release older than the one that added it); it records every request, so a test can check
that nothing was written. The real releases are run by ``python -m bench.compat``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

STORE = {"id": "store_1", "default_location_id": None, "supported_currencies": []}


class FakeMedusa:
    """Serves ``routes`` (path → JSON answer to any method) on 127.0.0.1; anything else is
    Express's 404. Without ``routes``: a store, and none of 2.8's routes."""

    def __init__(self, routes: dict[str, dict] | None = None) -> None:
        self.routes = routes if routes is not None else {"/admin/stores": {"stores": [STORE]}}
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = urlsplit(self.path).path
                fake.requests.append((self.command, path))
                if path in fake.routes:
                    status, body = 200, json.dumps(fake.routes[path]).encode()
                    kind = "application/json"
                else:  # what Express says where no route is
                    status, kind = 404, "text/html"
                    body = f"<pre>Cannot {self.command} {path}</pre>".encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer  # noqa: N815 (http.server's names)

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.base_url, self.api_key = self.url, "sk_test"  # as the stack's fixtures have them
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.requests if method != "GET"]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
