"""Products that left the source, or the merchant's selection: found, guarded, then archived
(draft) or deleted.

Only products the sync made (external id ``dummyjson:*``) are touched, only after a
complete cycle (decided by the caller), and never more than a share of the catalog
unless a person says so: a source that answers an empty or truncated catalog must not
empty a store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sync_pipeline.clients.medusa import MedusaClient
from sync_pipeline.sync.mapping import source_id_of

ARCHIVE_STATUS = "draft"
WRITE_CHUNK = 100


@dataclass(frozen=True)
class OwnedProduct:
    id: str
    source_id: int
    handle: str
    status: str


@dataclass
class ArchivalPlan:
    owned: int
    vanished: list[OwnedProduct] = field(default_factory=list)
    refusal: str | None = None
    left_out: int = 0  # of ``vanished``: those the merchant's selection leaves out


class ArchivalRefused(Exception):
    """Archiving would remove more of the catalog than allowed."""


def list_owned_products(client: MedusaClient) -> list[OwnedProduct]:
    """Every product in Medusa that the sync created (by its external id)."""
    owned = []
    for row in client.list_products(fields="id,handle,external_id,status"):
        source_id = source_id_of(row.external_id)
        if source_id is not None:
            owned.append(OwnedProduct(row.id, source_id, row.handle or "", row.status or ""))
    return owned


def plan_archival(
    owned: list[OwnedProduct],
    seen_source_ids: Iterable[int],
    *,
    left_out_ids: Iterable[int] = (),
    max_share: float,
    allow_mass_archive: bool = False,
) -> ArchivalPlan:
    """What to archive: owned, still live products whose source id was not seen, or that the
    merchant's selection leaves out.

    Only the unseen count against ``max_share``, of the products the selection keeps: a
    source that answers a truncated catalog must not empty a store, while leaving a category
    out is the merchant's own decision (and its slugs are checked against the source's).
    """
    seen, left_out = set(seen_source_ids), set(left_out_ids)
    live = [p for p in owned if p.status != ARCHIVE_STATUS]
    gone = [p for p in live if p.source_id not in seen]
    dropped = [p for p in live if p.source_id in left_out and p.source_id in seen]
    plan = ArchivalPlan(
        owned=len(owned),
        vanished=sorted(gone + dropped, key=lambda p: p.source_id),
        left_out=len(dropped),
    )
    selected = len([p for p in owned if p.source_id not in left_out])
    limit = max_share * selected
    if gone and len(gone) > limit and not allow_mass_archive:
        share = len(gone) / selected if selected else 1.0
        plan.refusal = (
            f"refusing to archive {len(gone)} of {selected} synced products "
            f"({share:.0%}, more than the allowed {max_share:.0%}): if the source really "
            "dropped them, re-run with allow_mass_archive (CLI: --allow-mass-archive)"
        )
    return plan


def archive_products(client: MedusaClient, products: list[OwnedProduct], mode: str) -> int:
    """Set the products to draft (``mode="draft"``) or delete them; returns how many."""
    done = 0
    for start in range(0, len(products), WRITE_CHUNK):
        chunk = products[start : start + WRITE_CHUNK]
        if mode == "delete":
            client.batch_products(delete=[p.id for p in chunk], fields="id")
        else:
            update = [{"id": p.id, "status": ARCHIVE_STATUS} for p in chunk]
            client.batch_products(update=update, fields="id")
        done += len(chunk)
    return done
