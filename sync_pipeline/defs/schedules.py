"""The nightly sync: every asset, every page.

A plain schedule over a partitioned job would launch one run without a partition key
(which fails), so this one yields the runs itself: the categories and store setup
first, then one run per page. ``run_key`` makes a tick's requests idempotent.
"""

from __future__ import annotations

import dagster as dg

from sync_pipeline.defs.archival import medusa_archived_products
from sync_pipeline.defs.assets import (
    GROUP,
    dummyjson_categories,
    dummyjson_product_pages,
    medusa_category_map,
    medusa_products,
    medusa_store,
    normalized_products,
)
from sync_pipeline.defs.partitions import product_pages

CATALOG_ASSETS = [dummyjson_categories.key, medusa_store.key, medusa_category_map.key]
PAGE_ASSETS = [dummyjson_product_pages.key, normalized_products.key, medusa_products.key]
ARCHIVAL_ASSETS = [medusa_archived_products.key]


def sync_run_requests(tick: str) -> list[dg.RunRequest]:
    """The runs of one full sync, in the order they should start (archival last: it checks
    that the cycle is complete before touching anything)."""
    requests = [
        dg.RunRequest(run_key=f"{tick}:catalog", asset_selection=CATALOG_ASSETS),
    ]
    requests.extend(
        dg.RunRequest(run_key=f"{tick}:page:{key}", asset_selection=PAGE_ASSETS, partition_key=key)
        for key in product_pages.get_partition_keys()
    )
    requests.append(dg.RunRequest(run_key=f"{tick}:archival", asset_selection=ARCHIVAL_ASSETS))
    return requests


@dg.schedule(
    name="nightly_catalog_sync",
    cron_schedule="0 0 * * *",
    execution_timezone="UTC",
    target=dg.AssetSelection.groups(GROUP),
    # The product is a nightly sync: on as soon as a daemon runs (dagster dev starts one).
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 00:00 UTC: categories and store setup, every product page, "
    "then archival of products that left the source.",
)
def nightly_catalog_sync(context: dg.ScheduleEvaluationContext):
    tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
    return sync_run_requests(tick)
