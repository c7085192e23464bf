"""The composition root: the Dagster code location (``dagster dev -w workspace.yaml`` loads it).

Settings are read once, here (or by the CLI or a test, which pass their own), and everything
else is built from them.
"""

from __future__ import annotations

import dagster as dg

from sync_pipeline.defs.alerts import build_alerts
from sync_pipeline.defs.archival import medusa_archived_products
from sync_pipeline.defs.automation import build_automation, whole_catalog_sync
from sync_pipeline.defs.dummyjson_assets import build_dummyjson_assets
from sync_pipeline.defs.medusa_assets import (
    medusa_category_map,
    medusa_products,
    medusa_store,
    with_freshness,
)
from sync_pipeline.defs.resources import build_resources, rules_resource
from sync_pipeline.settings import SyncSettings


def build_definitions(
    settings: SyncSettings, resources: dict[str, dg.ConfigurableResource] | None = None
) -> dg.Definitions:
    """The code location for ``settings``; tests and the CLI may swap in their own resources
    (the merchant's rules then still come from ``settings``, unless they give ``rules``)."""
    schedule, sensor = build_automation(settings)
    return dg.Definitions(
        assets=[
            *build_dummyjson_assets(settings),
            medusa_store,
            medusa_category_map,
            with_freshness(medusa_products, settings),
            medusa_archived_products,
        ],
        jobs=[whole_catalog_sync],
        schedules=[schedule],
        sensors=[sensor, *build_alerts(settings)],
        resources={"rules": rules_resource(settings), **resources}
        if resources
        else build_resources(settings),
        # A run's steps in its own process, one after another: a page's steps are a short
        # chain, and a process per step (the default) costs seconds per step for nothing.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(SyncSettings.from_environment())
