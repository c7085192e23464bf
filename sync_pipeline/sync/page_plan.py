"""What one page of products needs in Medusa, decided without asking Medusa anything.

Given the page, what Medusa holds for it and the ids of its categories and tags, the plan
says which products to create, which to update (with the owned fields that change), which
are unchanged, and which fail before any write. Being pure, it is what a dry run shows and
what a real run then writes, and it is tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from sync_pipeline.clients.models import ExistingProduct, to_json
from sync_pipeline.sync.changes import (
    StoreContext,
    changed_fields,
    fingerprint,
    owned_variant,
    stored_fingerprint,
)
from sync_pipeline.sync.mapping import NormalizedProduct, RejectedRecord, Stage
from sync_pipeline.sync.payloads import build_create, build_update


class Action(StrEnum):
    """What the sync does to a product (``STOCK``: only its stock level changes)."""

    CREATE = "create"
    UPDATE = "update"
    STOCK = "stock"


@dataclass(frozen=True)
class PlannedChange:
    """A product the sync creates or updates, with the owned fields that change (old, new)."""

    source_id: int
    handle: str
    action: Action
    changes: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class Write:
    """One product's item of a batch write."""

    product: NormalizedProduct
    body: dict[str, Any]
    action: Action


@dataclass(frozen=True)
class Links:
    """The Medusa ids a page's products link to: ``{slug: id}`` and ``{tag value: id}``."""

    category_ids: Mapping[str, str]
    tag_ids: Mapping[str, str]

    def write(
        self, product: NormalizedProduct, current: ExistingProduct | None, store: StoreContext
    ) -> Write:
        """The create (no ``current``) or update of ``product``; a ``ValidationError`` if Medusa
        would refuse it."""
        category_id = self.category_ids[product.category_slug]
        tag_ids = [self.tag_ids[t] for t in product.tags]
        if current is None:
            body = to_json(build_create(product, store, category_id, tag_ids))
            return Write(product, body, Action.CREATE)
        body = to_json(build_update(product, current, store, category_id, tag_ids))
        return Write(product, body, Action.UPDATE)


@dataclass
class PagePlan:
    writes: list[Write] = field(default_factory=list)
    changes: list[PlannedChange] = field(default_factory=list)
    unchanged: int = 0
    failures: list[RejectedRecord] = field(default_factory=list)


def is_current(product: NormalizedProduct, current: ExistingProduct, store: StoreContext) -> bool:
    """Medusa already holds what the source says (so the product needs no write)."""
    if store.manages_inventory:
        variant = owned_variant(current, product.sku)
        if variant is not None and variant.manage_inventory is False:
            return False  # turned off in Medusa: the update turns it on again
    return (
        stored_fingerprint(current) == fingerprint(product, store.currency_code)
        and current.status == "published"
    )


def plan_page(
    products: list[NormalizedProduct],
    existing: Mapping[str, ExistingProduct],
    store: StoreContext,
    links: Links,
) -> PagePlan:
    """Create, update or leave alone each product (``existing`` is keyed by external id)."""
    plan = PagePlan()
    for product in products:
        current = existing.get(product.external_id)
        if current and is_current(product, current, store):
            plan.unchanged += 1
            continue
        try:
            write = links.write(product, current, store)
        except ValidationError as error:
            plan.failures.append(RejectedRecord.of(product, Stage.MAPPING, str(error)))
            continue
        plan.writes.append(write)
        changes = changed_fields(product, current, store.currency_code) if current else {}
        # Updates never change a handle (storefront URLs stay), so show the one in Medusa.
        handle = current.handle if current and current.handle else product.handle
        plan.changes.append(PlannedChange(product.source_id, handle, write.action, changes))
    return plan
