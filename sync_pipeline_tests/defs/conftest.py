"""The Dagster doors, for real: ``dagster dev`` (webserver, daemon, run queue) on the project's
code location, started once for these tests (see ``dagster_door.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync_pipeline_tests.dagster_door import DagsterDoor
from sync_pipeline_tests.dagster_door import dagster_door as start_door

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def dagster_door(tmp_path_factory, medusa_stack, shared_data_dir) -> Iterator[DagsterDoor]:
    """Pages of 100 (the 194 products span two), the schedule every minute but stopped."""
    root = tmp_path_factory.mktemp("dagster_door")
    with start_door(
        root,
        shared_data_dir / "products.json",
        medusa_stack,
        {
            "SYNC_PAGE_SIZE": "100",
            "SYNC_SCHEDULE_CRON": "* * * * *",
            "SYNC_FETCH_RETRY_DELAY": "0.01",
        },
    ) as door:
        yield door
