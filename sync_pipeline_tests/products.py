"""A small normalized product for the unit tests that need one without the real data."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sync_pipeline.sync.mapping import NormalizedProduct, external_id


def product(source_id: int, stock: int | None = None, **fields: Any) -> NormalizedProduct:
    """Product ``source_id`` in category ``c``, without tags; ``fields`` overrides any field."""
    made = NormalizedProduct(
        source_id=source_id,
        external_id=external_id(source_id),
        handle=f"p-{source_id}",
        title=f"P {source_id}",
        description=None,
        category_slug="c",
        tags=(),
        sku=f"SKU-{source_id}",
        price=1,
        images=(),
        thumbnail=None,
        weight=None,
        length=None,
        height=None,
        width=None,
        stock=stock,
    )
    return replace(made, **fields)
