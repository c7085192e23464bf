"""Source pages as dynamic partitions: exactly the pages the catalog needs now.

``dummyjson_catalog`` reads the source's total at the start of every sync and adds the
pages it needs (and retires those it no longer needs), so a growing supplier never hits
a fixed capacity and the UI's partitions view has no page that can never hold a product.
A page that sees a larger total than the catalog read adds the pages that total needs.
"""

from __future__ import annotations

import dagster as dg

PRODUCT_PAGES = "product_pages"
product_pages = dg.DynamicPartitionsDefinition(name=PRODUCT_PAGES)


def page_key(index: int) -> str:
    return f"{index:03d}"


def page_index(key: str) -> int:
    return int(key)


def pages_needed(total: int, page_size: int) -> int:
    """How many pages hold ``total`` products (at least one, so an empty catalog is seen)."""
    return max(1, -(-total // page_size))


def page_keys(total: int, page_size: int) -> list[str]:
    return [page_key(i) for i in range(pages_needed(total, page_size))]


def registered_pages(instance: dg.DagsterInstance) -> list[str]:
    return sorted(instance.get_dynamic_partitions(PRODUCT_PAGES), key=page_index)


def register_pages(
    instance: dg.DagsterInstance, needed: list[str], *, retire: bool
) -> tuple[list[str], list[str]]:
    """Add the ``needed`` pages that are missing; with ``retire``, delete the others.

    Returns ``(added, retired)``. Adding is idempotent; a retired page keeps its history.
    """
    have = set(registered_pages(instance))
    added = [key for key in needed if key not in have]
    if added:
        instance.add_dynamic_partitions(PRODUCT_PAGES, added)
    retired = sorted(have - set(needed), key=page_index) if retire else []
    for key in retired:
        instance.delete_dynamic_partition(PRODUCT_PAGES, key)
    return added, retired
