"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipeline.settings import SHARED_DATA_DIR
from sync_pipeline.source.server import DummyJSONServer


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The shared DummyJSON data: ``$DUMMYJSON_DATA_DIR``, else ``<repo>/../shared/dummyjson``."""
    path = Path(os.environ.get("DUMMYJSON_DATA_DIR") or SHARED_DATA_DIR)
    if not (path / "products.json").is_file():
        pytest.skip(f"no DummyJSON data at {path} (set DUMMYJSON_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def source_server(shared_data_dir: Path) -> Iterator[DummyJSONServer]:
    """A DummyJSON-compatible server on 127.0.0.1 serving the shared ``products.json``.

    Shared by the session: do not change its state (``fail_next``). Tests that need options
    start their own ``DummyJSONServer`` on a copy of the data.
    """
    with DummyJSONServer(shared_data_dir / "products.json") as server:
        yield server
