"""What reading a cycle costs the instance: the sensor asks for the plan every few seconds, so
one plan (and what archival and each page run read of the cycle) must take as many storage
queries at 30 pages as at 3, not one or more per page."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from sync_pipeline.defs.automation import build_automation
from sync_pipeline.defs.cycle import cycle_status, ids_on_earlier_pages
from sync_pipeline.defs.partitions import page_key, page_keys
from sync_pipeline.defs.plan import ARCHIVAL_ASSETS, next_steps
from sync_pipeline.local.dagster.recorded import PAGE_SIZE, storage_queries, whole_cycle
from sync_pipeline.settings import SyncSettings

SIZES = (3, 30)


@pytest.fixture(scope="module")
def cycles() -> Iterator[dict[int, dg.DagsterInstance]]:
    """For each size, an instance whose current cycle wrote that many pages, all succeeded."""
    with dg.instance_for_test() as small, dg.instance_for_test() as large:
        instances = dict(zip(SIZES, (small, large), strict=True))
        for pages, instance in instances.items():
            whole_cycle(instance, pages * PAGE_SIZE)
        yield instances


def test_one_plan_costs_the_same_queries_at_30_pages_as_at_3(cycles):
    costs = {}
    for pages, instance in cycles.items():
        costs[pages], plan = storage_queries(lambda instance=instance: next_steps(instance))
        assert plan.done == plan.pages == page_keys(pages * PAGE_SIZE, PAGE_SIZE)
        assert plan.archival_due and [step.assets for step in plan.steps] == [ARCHIVAL_ASSETS]

    assert costs[3] == costs[30], costs


def test_one_sensor_evaluation_costs_the_same_queries_at_30_pages_as_at_3(cycles):
    _, sensor = build_automation(SyncSettings())
    costs = {}
    for pages, instance in cycles.items():
        context = dg.build_sensor_context(instance=instance)
        costs[pages], tick = storage_queries(lambda context=context: sensor.evaluate_tick(context))
        assert [request.asset_selection for request in tick.run_requests] == [ARCHIVAL_ASSETS]

    assert costs[3] == costs[30], costs


def test_archival_reads_the_cycle_in_the_same_queries_at_30_pages_as_at_3(cycles):
    costs = {}
    for pages, instance in cycles.items():
        costs[pages], status = storage_queries(lambda instance=instance: cycle_status(instance))
        assert status.complete, status.reason
        assert status.seen_ids == set(range(1, pages * PAGE_SIZE + 1))

    assert costs[3] == costs[30], costs


def test_the_last_page_reads_the_earlier_pages_in_the_same_queries_at_30_pages_as_at_3(cycles):
    costs = {}
    for pages, instance in cycles.items():
        last = page_key(pages - 1)
        costs[pages], seen = storage_queries(
            lambda instance=instance, last=last: ids_on_earlier_pages(instance, last)
        )
        assert seen == {
            i: page_key((i - 1) // PAGE_SIZE) for i in range(1, int(last) * PAGE_SIZE + 1)
        }

    assert costs[3] == costs[30], costs
