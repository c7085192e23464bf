"""The Dagster code location (``dagster dev -w workspace.yaml`` loads it).

Settings come from the environment, filled in from ``.local/medusa.env`` where unset.
Secrets are ``EnvVar``s: resolved at launch, never shown in the UI.
"""

from __future__ import annotations

import os

import dagster as dg

from sync_pipeline.defs.archival import medusa_archived_products
from sync_pipeline.defs.assets import (
    dummyjson_categories,
    dummyjson_product_pages,
    medusa_category_map,
    medusa_products,
    medusa_store,
    normalized_products,
)
from sync_pipeline.defs.resources import DummyJSONResource, MedusaResource
from sync_pipeline.defs.schedules import nightly_catalog_sync
from sync_pipeline.dummyjson import DEFAULT_BASE_URL
from sync_pipeline.settings import load_local_env

load_local_env()


def _secret(name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if os.getenv(name) else None


def build_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "dummyjson": DummyJSONResource(
            base_url=os.getenv("DUMMYJSON_BASE_URL", DEFAULT_BASE_URL),
        ),
        "medusa": MedusaResource(
            base_url=dg.EnvVar("MEDUSA_BASE_URL"),
            api_key=_secret("MEDUSA_API_KEY"),
            admin_email=_secret("MEDUSA_ADMIN_EMAIL") if not os.getenv("MEDUSA_API_KEY") else None,
            admin_password=(
                _secret("MEDUSA_ADMIN_PASSWORD") if not os.getenv("MEDUSA_API_KEY") else None
            ),
            currency_code=os.getenv("MEDUSA_CURRENCY_CODE", "usd"),
            batch_size=int(os.getenv("SYNC_BATCH_SIZE", "100")),
        ),
    }


def build_definitions(
    resources: dict[str, dg.ConfigurableResource] | None = None,
) -> dg.Definitions:
    """The code location; tests and the CLI may swap in their own resources."""
    return dg.Definitions(
        assets=[
            dummyjson_categories,
            medusa_store,
            medusa_category_map,
            dummyjson_product_pages,
            normalized_products,
            medusa_products,
            medusa_archived_products,
        ],
        schedules=[nightly_catalog_sync],
        resources=resources or build_resources(),
    )


defs = build_definitions()
