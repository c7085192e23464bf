"""Python loads this at start-up when its folder is on ``PYTHONPATH``; the door tests put it
there for their ``dagster dev`` (see ``dagster_server.dagster_dev(daemon_loop_seconds=...)``).

Dagster's backfill daemon sleeps ``DEFAULT_DAEMON_INTERVAL_SECONDS`` (30 s, a constant, not a
setting) between iterations, so a test of a backfill waits minutes for what takes seconds.
When ``SYNC_TEST_DAEMON_LOOP_SECONDS`` is set, the constant is replaced as the module loads;
what a backfill launches and records is unchanged. Nothing else is touched, and without the
variable this does nothing. ``bench.doors`` never sets it: its figures keep Dagster's loop.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

_MODULE = "dagster._daemon.controller"
_SECONDS = os.environ.get("SYNC_TEST_DAEMON_LOOP_SECONDS")


class _SetLoopSeconds(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _MODULE:
            return None
        sys.meta_path.remove(self)  # find the real module, once
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module) -> None:
            load(module)
            module.DEFAULT_DAEMON_INTERVAL_SECONDS = float(_SECONDS)

        spec.loader.exec_module = exec_module
        return spec


if _SECONDS:
    sys.meta_path.insert(0, _SetLoopSeconds())
