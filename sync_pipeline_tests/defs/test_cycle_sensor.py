"""What the cycle sensor requests at once: never the whole catalog's pages in one tick, but
enough page runs to keep the Medusa pool busy (twice its limit, queued or running)."""

from __future__ import annotations

import dagster as dg

from sync_pipeline.definitions import build_definitions
from sync_pipeline.defs.partitions import page_keys
from sync_pipeline.defs.plan import PAGE_ASSETS
from sync_pipeline.local.dagster.recorded import (
    PAGE_SIZE,
    end,
    first_run,
    run,
    write_page,
)
from sync_pipeline.settings import SyncSettings

PAGES = 30


def _requested(defs: dg.Definitions, instance) -> list[str]:
    sensor = defs.get_sensor_def("sync_cycle_sensor")
    context = dg.build_sensor_context(instance=instance, definitions=defs)
    with dg.partition_loading_context(dynamic_partitions_store=instance):  # as the daemon does
        tick = sensor.evaluate_tick(context)
    return [request.partition_key for request in tick.run_requests]


def test_the_sensor_keeps_twice_the_pool_of_page_runs_queued_or_running(dagster_instance):
    settings = SyncSettings()
    depth = 2 * settings.medusa_concurrency
    defs = build_definitions(settings)
    keys = page_keys(PAGES * PAGE_SIZE, PAGE_SIZE)
    first_run(dagster_instance, set_up_store=True, total=PAGES * PAGE_SIZE)  # runs page 000

    first = _requested(defs, dagster_instance)
    assert first == keys[1:depth]  # page 000 is the first run's own, in flight
    running = {
        key: run(dagster_instance, dg.DagsterRunStatus.STARTED, key, PAGE_ASSETS) for key in first
    }
    assert _requested(defs, dagster_instance) == []

    for key in first[:2]:  # two page runs end, having written their pages
        write_page(dagster_instance, running[key], key, PAGES * PAGE_SIZE)
        end(dagster_instance, running[key])
    assert _requested(defs, dagster_instance) == keys[depth : depth + 2]
