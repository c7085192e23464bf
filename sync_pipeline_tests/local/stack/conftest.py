"""Fixtures for the stack tests: a real Medusa + PostgreSQL, brought up once per session.

``stack.up()`` is a no-op (well under 2 s) when the stack already runs, so the suite works
with or without a prior ``sync-pipeline stack up``; a cold start takes about a minute.
"""

from __future__ import annotations

import fcntl

import pytest
import requests

from sync_pipeline.local import stack
from sync_pipeline_tests.stack_turn import turn


@pytest.fixture(scope="session")
def stack_info() -> stack.StackInfo:
    with turn(fcntl.LOCK_SH):  # not while another worker's stack test takes it down and up
        return stack.up(out=lambda _line: None)


@pytest.fixture
def admin(stack_info: stack.StackInfo) -> requests.Session:
    """A session authenticated with the stack's secret API key (HTTP Basic, empty password)."""
    session = requests.Session()
    session.auth = (stack_info.api_key, "")
    session.headers["Content-Type"] = "application/json"
    yield session
    session.close()
