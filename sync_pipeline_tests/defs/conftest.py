"""The Dagster doors, for real: ``dagster dev`` (webserver, daemon, run queue) on the project's
code location, started once for these tests (see ``sync_pipeline/local/dagster/door.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync_pipeline.local.dagster.door import DagsterDoor
from sync_pipeline.local.dagster.door import dagster_door as start_door

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def dagster_door(tmp_path_factory, medusa_stack, snapshot_dir) -> Iterator[DagsterDoor]:
    """Pages of 100 (the 194 products span two), the schedule every minute but stopped, and the
    backfill daemon looping every 2 s instead of Dagster's 30 s (what a backfill runs is the same;
    the backfill test waits seconds instead of two minutes)."""
    root = tmp_path_factory.mktemp("dagster_door")
    with start_door(
        root,
        snapshot_dir / "products.json",
        medusa_stack,
        {
            "SYNC_PAGE_SIZE": "100",
            "SYNC_SCHEDULE_CRON": "* * * * *",
            "SYNC_FETCH_RETRY_DELAY": "0.01",
        },
        daemon_loop_seconds=2,
    ) as door:
        yield door


# --- a webhook receiver for the alert tests (no Medusa, no Dagster processes) ------------------


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (a free port) that records the JSON bodies POSTed to it and
    answers ``status`` (200 unless a test sets another)."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.bodies: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length) or b"null"))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/T0/secret-token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def texts(self) -> list[str]:
        return [body["text"] for body in self.bodies]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
