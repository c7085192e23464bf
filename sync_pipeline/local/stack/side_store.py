"""Side stores: more stores beside the working one, for test workers that run side by side.

A side store is a database cloned from the template, so the API key, the admin user and the
shop are the working store's, served by a Medusa of its own on a free port. It lives as long as
the ``with`` block; ``reset_store(store=...)`` empties it like the working store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from sync_pipeline.local.stack import medusa, postgres, procs
from sync_pipeline.local.stack.config import (
    StackError,
    load_secrets,
    medusa_project,
    side_store_log,
    stack_lock,
)
from sync_pipeline.local.stack.core import StackInfo, info_from_state, set_up_target
from sync_pipeline.local.stack.state import StackState


@contextmanager
def side_store(name: str) -> Iterator[StackInfo]:
    """Another store beside the working one while the block runs, so that no two test workers
    empty or fill the same store.

    Its database is ``<working db>_<name>``, a fresh copy of the template; its Medusa is
    stopped, and the database dropped, on exit. Needs a stack that is up.
    """
    step = f"side store {name}"
    with stack_lock():
        state = StackState.load()
        target = set_up_target(state, step)
        info = info_from_state(state)
        if info is None:
            raise StackError(step, "the stack is not up; run `sync-pipeline stack up` first")
        database = f"{target.working_db}_{name}"
        postgres.admin(target, "reset", database, target.template_db, step=step)
    port = medusa.free_port()
    env = medusa.child_env(target.url(database), load_secrets())
    server = medusa.start_server(
        step, project=medusa_project(), port=port, env=env, log=side_store_log(database)
    )
    try:
        yield replace(info, base_url=medusa.base_url(port), database=database)
    finally:
        procs.stop(server, timeout=20)
        with contextlib.suppress(StackError):
            postgres.admin(target, "drop", database, step=step)
