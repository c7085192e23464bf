"""The local stack: a real Medusa v2 backend (the latest tested release, or MEDUSA_VERSION) on
PostgreSQL, started by the project itself.

Use from Python (the test suite does)::

    from sync_pipeline.local import stack

    info = stack.up()            # idempotent; returns base_url, api_key, admin credentials
    stack.reset_store()          # empty store in well under 2 s, same key; returns seconds
    stack.status().up            # True when Medusa is healthy and the key is accepted
    with stack.side_store("gw1") as store:   # a second store beside it (test workers)
        stack.reset_store(store=store)
    stack.down()                 # stop what `up` started

or from the shell: ``sync-pipeline stack up|down|reset|status``. ``up`` also writes
``.local/medusa.env`` (MEDUSA_BASE_URL, MEDUSA_API_KEY, MEDUSA_ADMIN_EMAIL,
MEDUSA_ADMIN_PASSWORD, and for a storefront MEDUSA_PUBLISHABLE_KEY and MEDUSA_REGION_ID),
which every ``sync-pipeline`` command loads without overriding the environment. The store
is a working shop in ``MEDUSA_CURRENCY_CODE`` (region, stock location, shipping option):
``info.shop``.

This package never imports Dagster: ``stack`` commands must stay fast.
"""

from sync_pipeline.local.stack.config import StackError
from sync_pipeline.local.stack.core import (
    StackInfo,
    StackStatus,
    connection,
    down,
    reset_store,
    status,
    up,
)
from sync_pipeline.local.stack.side_store import side_store

__all__ = [
    "StackError",
    "StackInfo",
    "StackStatus",
    "connection",
    "down",
    "reset_store",
    "side_store",
    "status",
    "up",
]
