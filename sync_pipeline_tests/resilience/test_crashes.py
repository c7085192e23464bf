"""Issue 6, item 3: ``kill -9`` of the sync's whole process group at seeded moments, then one
normal sync alone yields the exact catalog.

The sync runs as ``python -m sync_pipeline.cli sync`` in its own session (process group).
Both of its servers are reached through the suite's proxy, whose hook fires at exact points
of the conversation, so the kill lands deterministically, not after a guessed sleep:

- ``received``: the request has left the sync but the server has not seen it;
- ``answered``: the server has answered (for a Medusa write: committed it), the sync has not
  heard back.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from sync_pipeline.local.catalog_check import assert_exact_catalog
from sync_pipeline.local.dummyjson_server.server import DummyJSONServer
from sync_pipeline_tests.resilience.cli import SYNC_COMMAND, find_secrets, wait_for_empty_group
from sync_pipeline_tests.resilience.proxy import FaultProxy, ProxyRecord

pytestmark = pytest.mark.e2e

PRODUCTS, PAGE_SIZE = 60, 20
# The moments these seeds pick (see _moment): 49, after Medusa committed page 001's batch;
# 7, after the source answered page 000; 8, after Medusa committed the 12th of the category
# creates that run 4 at a time. Each case costs ~12 s (two CLI syncs).
SEEDS = (49, 7, 8)
PATH_KINDS = {
    "source": r"^/products",
    "store": r"^/admin/stores/",
    "category": r"^/admin/product-categories$",
    "tag": r"^/admin/product-tags$",
    "batch": r"^/admin/products/batch$",
}


def _moment(seed: int, counts: dict[str, int]) -> tuple[str, int, str]:
    """A seeded moment of a first sync: the k-th request of one kind, at one stage."""
    rng = random.Random(seed)
    kind = rng.choice(sorted(counts))
    return kind, rng.randint(1, counts[kind]), rng.choice(["received", "answered"])


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_9_at_a_seeded_moment_then_one_sync_yields_the_exact_catalog(
    seed,
    empty_store,
    tmp_path,
    generated_catalog,
    medusa_proxy,
    cli_env,
    medusa_client,
    store_catalog,
):
    data = generated_catalog(tmp_path, count=PRODUCTS, seed=seed)
    source = json.loads(data.read_text())
    counts = {
        "source": 1 + PRODUCTS // PAGE_SIZE,  # categories, then each page
        "store": 1,  # the store's currency, once on an empty store
        "category": len({raw["category"] for raw in source}),
        "tag": len({t for raw in source for t in raw["tags"]}),
        "batch": PRODUCTS // PAGE_SIZE,
    }
    kind, nth, stage = _moment(seed, counts)
    moment = f"{stage} of {kind} request #{nth}"

    order: dict[int, int] = {}  # proxy record index -> its rank among requests of `kind`
    lock = threading.Lock()
    killed = threading.Event()
    sync: dict[str, subprocess.Popen] = {}

    def hook(at: str, record: ProxyRecord) -> str | None:
        if killed.is_set():
            return "drop"  # the sync is dead; let nothing more through
        if not re.search(PATH_KINDS[kind], record.path):
            return None
        with lock:
            if at == "received":
                order[record.index] = len(order) + 1
            if order.get(record.index) != nth or at != stage:
                return None
        os.killpg(sync["proc"].pid, signal.SIGKILL)
        killed.set()
        return "drop"

    env = {**cli_env, "SYNC_PAGE_SIZE": str(PAGE_SIZE), "MEDUSA_BASE_URL": medusa_proxy.url}
    with DummyJSONServer(data) as server, FaultProxy(server.url) as source_proxy:
        env["DUMMYJSON_BASE_URL"] = source_proxy.url
        proxy = source_proxy if kind == "source" else medusa_proxy
        proxy.hook = hook
        with open(tmp_path / "killed.out", "w") as out:
            sync["proc"] = subprocess.Popen(
                SYNC_COMMAND,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            pgid = sync["proc"].pid
            try:
                code = sync["proc"].wait(timeout=120)
            finally:
                if sync["proc"].poll() is None:
                    os.killpg(pgid, signal.SIGKILL)
        log = (tmp_path / "killed.out").read_text()
        assert killed.is_set(), f"the sync ended before the {moment}: {log}"
        assert code == -signal.SIGKILL, (moment, code, log)
        assert wait_for_empty_group(pgid) == [], f"the killed sync left processes ({moment})"

        proxy.hook = None
        _, before = store_catalog()
        again = subprocess.run(
            SYNC_COMMAND,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            start_new_session=True,
        )
    assert again.returncode == 0, f"after a kill at the {moment}:\n{again.stdout}{again.stderr}"
    pages = PRODUCTS // PAGE_SIZE
    assert f"Summary: {pages} pages (0 failed)" in again.stdout, again.stdout
    # What the killed run committed was found, not created again.
    assert f"created {PRODUCTS - len(before)}," in again.stdout, (len(before), again.stdout)
    assert_exact_catalog(medusa_client, store_catalog, source)
    # A run killed mid-write leaves no secret behind either (journals, half-written logs).
    secrets = {"api key": cli_env["MEDUSA_API_KEY"]}
    texts = {"killed": log, "stdout": again.stdout, "stderr": again.stderr}
    assert find_secrets(secrets, texts, [Path(cli_env["DAGSTER_HOME"])]) == []
