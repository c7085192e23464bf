"""Which Medusa release a store runs, as far as the sync must know before it writes.

Medusa's API states no version, so the sync probes for a route, once per sync: ``GET
/admin/tax-providers`` came in 2.8.0, the oldest release the sync is proven on. A route's
presence is a fact about the server, read in one request and with no write. Where releases
differ in behaviour rather than in routes, the sync reads what the server did instead of
guessing from a version: a login that owes a second factor (2.16 and later) is named by the
client, and a variant left without an inventory item when its stock was turned on (before
2.21.1) is given one by the stock step.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_pipeline.clients.medusa import MedusaClient

OLDEST_SUPPORTED = "2.8.0"
# A route every release from OLDEST_SUPPORTED serves and none before it.
OLDEST_SUPPORTED_ROUTE = "/admin/tax-providers"


class UnsupportedMedusa(Exception):
    """The store runs a release the sync does not support; the message says which and why."""


@dataclass(frozen=True)
class MedusaRelease:
    """What the probe learned: the store runs ``at_least`` or a later release."""

    at_least: str

    @property
    def label(self) -> str:
        return f"{self.at_least} or later"


def learn_release(client: MedusaClient) -> MedusaRelease:
    """The store's release, as far as the probe tells; refuses one older than supported."""
    if not client.has_route(OLDEST_SUPPORTED_ROUTE):
        raise UnsupportedMedusa(
            f"Medusa at {client.base_url} is a release older than {OLDEST_SUPPORTED} (it has "
            f"no GET {OLDEST_SUPPORTED_ROUTE}, which every release from {OLDEST_SUPPORTED} "
            f"serves), and the sync supports Medusa {OLDEST_SUPPORTED} and later: upgrade the "
            "store's @medusajs/medusa, or point MEDUSA_BASE_URL at a store that runs one"
        )
    return MedusaRelease(OLDEST_SUPPORTED)
