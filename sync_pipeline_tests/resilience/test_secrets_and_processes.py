"""Issue 6, items 6 and 7: no secret in any output or under DAGSTER_HOME; nothing left running.

Three ``sync`` commands share one ``DAGSTER_HOME``, as nightly runs do: one logged in with the
admin e-mail and password, one with the API key that fails on a bad record, one with a wrong
key. Afterwards neither the key, the password nor the wrong key may appear — as they are, or
inside an HTTP Basic header — in stdout, stderr, or any file under ``DAGSTER_HOME`` (run
storage with the run configs the UI shows, the event log with every message and metadata
value, schedules, compute logs, stored outputs). And each command's process group must be
empty once it has exited.
"""

from __future__ import annotations

import copy
import os
import secrets
import signal
import subprocess
from pathlib import Path

import pytest

from sync_pipeline.local.catalog_check import assert_exact_catalog
from sync_pipeline.local.dummyjson_server.generate import generate_catalog
from sync_pipeline_tests.resilience.cli import SYNC_COMMAND, find_secrets, wait_for_empty_group
from sync_pipeline_tests.resilience.rawsource import RawSource, category_list

pytestmark = pytest.mark.e2e

PAGE_SIZE = 15


def test_no_secret_leaks_and_no_process_outlives_a_sync(
    empty_store, medusa_stack, tmp_path, cli_env, medusa_client, store_catalog
):
    good = generate_catalog(30, seed=17)
    bad = copy.deepcopy(good[4])
    bad.update(id=31, sku="SKU-31", price="free")
    slugs = sorted({raw["category"] for raw in good})
    wrong_key = "sk_" + secrets.token_hex(32)
    outputs: dict[str, str] = {}

    with RawSource(good, category_list(slugs)) as source:
        env = {**cli_env, "DUMMYJSON_BASE_URL": source.url, "SYNC_PAGE_SIZE": str(PAGE_SIZE)}
        # 1. Logged in as the admin (the password goes over the wire): completes.
        login = {
            **env,
            "MEDUSA_API_KEY": "",
            "MEDUSA_ADMIN_EMAIL": medusa_stack.admin_email,
            "MEDUSA_ADMIN_PASSWORD": medusa_stack.admin_password,
        }
        done = run_sync(login, _folder(tmp_path, "login"))
        outputs |= {"login stdout": done.stdout, "login stderr": done.stderr}
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Summary: 2 pages (0 failed)" in done.stdout and "created 30" in done.stdout

        # 2. With the API key, a bad record: fails, naming it.
        source.records = [*good, bad]
        done = run_sync(env, _folder(tmp_path, "failing"))
        outputs |= {"failing stdout": done.stdout, "failing stderr": done.stderr}
        assert done.returncode == 1, done.stdout + done.stderr
        assert "page 002: FAILED" in done.stdout
        assert "31 (SKU-31): price: Value error, price must be a number" in done.stdout

        # 3. A wrong key: refused, and the message says which setting to fix.
        done = run_sync({**env, "MEDUSA_API_KEY": wrong_key}, _folder(tmp_path, "wrong-key"))
        outputs |= {"wrong-key stdout": done.stdout, "wrong-key stderr": done.stderr}
        assert done.returncode == 2, done.stdout + done.stderr  # a setting is wrong
        assert "refused the API key: check MEDUSA_API_KEY" in done.stderr

    assert_exact_catalog(medusa_client, store_catalog, good)
    home = Path(cli_env["DAGSTER_HOME"])
    secrets_used = {
        "api key": medusa_stack.api_key,
        "admin password": medusa_stack.admin_password,
        "wrong key": wrong_key,
    }
    assert find_secrets(secrets_used, outputs, [home]) == []
    # The scan does read what is stored: a failed record's reason is in the event log.
    found = find_secrets({"reason": "price must be a number"}, {}, [home])
    assert any(where.endswith(".db") for _, form, where in found if form == "plain"), found
    assert (home / "storage").is_dir()


def run_sync(env: dict[str, str], folder: Path) -> subprocess.CompletedProcess:
    """``sync`` in a new session (its own process group); once it exited, the group is empty.

    Output goes to files, not pipes: a leftover child holding a pipe would make reading it
    wait for that child, and the check would pass once the child is gone.
    """
    out, err = folder / "stdout", folder / "stderr"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen(
            SYNC_COMMAND, env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )
        try:
            proc.wait(timeout=300)
        finally:
            leftover = wait_for_empty_group(proc.pid, timeout=2.0)
            if leftover or proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this test started
    assert leftover == [], f"processes of the sync's group still running: {leftover}"
    return subprocess.CompletedProcess(
        SYNC_COMMAND, proc.returncode, out.read_text(), err.read_text()
    )


def _folder(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path
