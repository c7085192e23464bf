"""Products that left the source: found, guarded, then archived (draft) or deleted.

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
    max_share: float,
    allow_mass_archive: bool = False,
) -> ArchivalPlan:
    """What to archive: owned, still live products whose source id was not seen."""
    seen = set(seen_source_ids)
    vanished = [p for p in owned if p.source_id not in seen and p.status != ARCHIVE_STATUS]
    plan = ArchivalPlan(owned=len(owned), vanished=sorted(vanished, key=lambda p: p.source_id))
    limit = max_share * len(owned)
    if vanished and len(vanished) > limit and not allow_mass_archive:
        share = len(vanished) / len(owned)
        plan.refusal = (
            f"refusing to archive {len(vanished)} of {len(owned)} synced products "
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
