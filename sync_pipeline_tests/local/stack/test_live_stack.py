"""Against the real stack (no fakes): up, idempotent up, reset, status, down + up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import requests

from sync_pipeline.local import stack
from sync_pipeline.local.stack import config, postgres, procs
from sync_pipeline.local.stack.state import StackState
from sync_pipeline.settings import MEDUSA_ENV_FILE, REPO_ROOT, read_env_file


def _count(admin: requests.Session, base_url: str, path: str) -> int:
    response = admin.get(f"{base_url}{path}", params={"limit": 0}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["count"]


def _run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sync_pipeline.cli", "stack", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_key_lists_products(stack_info: stack.StackInfo) -> None:
    response = requests.get(
        f"{stack_info.base_url}/admin/products", auth=(stack_info.api_key, ""), timeout=10
    )
    assert response.status_code == 200
    assert "products" in response.json()


def test_env_file_written_private(stack_info: stack.StackInfo) -> None:
    values = read_env_file(MEDUSA_ENV_FILE)
    assert values == {
        "MEDUSA_BASE_URL": stack_info.base_url,
        "MEDUSA_API_KEY": stack_info.api_key,
        "MEDUSA_ADMIN_EMAIL": stack_info.admin_email,
        "MEDUSA_ADMIN_PASSWORD": stack_info.admin_password,
        "MEDUSA_PUBLISHABLE_KEY": stack_info.shop.publishable_key,
        "MEDUSA_REGION_ID": stack_info.shop.region_id,
    }
    assert MEDUSA_ENV_FILE.stat().st_mode & 0o777 == 0o600
    assert config.SECRETS_FILE.stat().st_mode & 0o777 == 0o600
    assert config.STATE_FILE.stat().st_mode & 0o777 == 0o600


def test_second_up_is_a_fast_no_op(stack_info: stack.StackInfo) -> None:
    before = StackState.load()
    env_before = MEDUSA_ENV_FILE.read_bytes()
    lines: list[str] = []

    began = time.monotonic()
    info = stack.up(out=lines.append)
    elapsed = time.monotonic() - began

    assert elapsed < 2.0, f"second up took {elapsed:.2f} s"
    after = StackState.load()
    assert after.medusa == before.medusa
    assert after.embedded == before.embedded
    assert after == before
    assert MEDUSA_ENV_FILE.read_bytes() == env_before
    assert info.api_key == stack_info.api_key
    assert info.base_url == stack_info.base_url
    # Progress output never shows the secrets.
    assert not any(
        stack_info.api_key in line or stack_info.admin_password in line for line in lines
    )


def test_second_up_from_the_command_line_is_fast(stack_info: stack.StackInfo) -> None:
    pid = StackState.load().medusa.pid
    began = time.monotonic()
    result = _run_cli("up")
    elapsed = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    assert elapsed < 2.0, f"`stack up` took {elapsed:.2f} s"
    assert StackState.load().medusa.pid == pid
    assert stack_info.api_key not in result.stdout + result.stderr
    assert stack_info.admin_password not in result.stdout + result.stderr


def test_reset_empties_the_store_and_keeps_the_key(
    stack_info: stack.StackInfo, admin: requests.Session
) -> None:
    url = stack_info.base_url
    suffix = uuid.uuid4().hex[:8]
    tag = admin.post(f"{url}/admin/product-tags", json={"value": f"tag-{suffix}"}, timeout=10)
    assert tag.status_code == 200, tag.text
    category = admin.post(
        f"{url}/admin/product-categories",
        json={"name": f"Category {suffix}", "handle": f"category-{suffix}", "is_active": True},
        timeout=10,
    )
    assert category.status_code == 200, category.text
    product = admin.post(
        f"{url}/admin/products",
        json={
            "title": f"Product {suffix}",
            "handle": f"product-{suffix}",
            "options": [{"title": "Default", "values": ["Default"]}],
            "categories": [{"id": category.json()["product_category"]["id"]}],
            "tags": [{"id": tag.json()["product_tag"]["id"]}],
        },
        timeout=10,
    )
    assert product.status_code == 200, product.text
    assert _count(admin, url, "/admin/products") >= 1
    assert _count(admin, url, "/admin/product-categories") >= 1
    assert _count(admin, url, "/admin/product-tags") >= 1

    elapsed = stack.reset_store()

    assert elapsed < 2.0, f"reset took {elapsed:.2f} s"
    assert _count(admin, url, "/admin/products") == 0
    assert _count(admin, url, "/admin/product-categories") == 0
    assert _count(admin, url, "/admin/product-tags") == 0
    # The same key (made on the template) still works, and the store is usable again.
    again = admin.post(f"{url}/admin/product-tags", json={"value": f"tag-{suffix}"}, timeout=10)
    assert again.status_code == 200, again.text
    stack.reset_store()


def test_a_side_store_is_a_store_of_its_own_with_the_working_stores_key(
    stack_info: stack.StackInfo, admin: requests.Session
) -> None:
    stack.reset_store()
    value = f"side-{uuid.uuid4().hex[:8]}"
    with stack.side_store("probe") as side:
        assert side.base_url != stack_info.base_url
        assert side.api_key == stack_info.api_key and side.shop == stack_info.shop
        created = admin.post(f"{side.base_url}/admin/product-tags", json={"value": value})
        assert created.status_code == 200, created.text
        assert _count(admin, side.base_url, "/admin/product-tags") == 1
        assert _count(admin, stack_info.base_url, "/admin/product-tags") == 0

        stack.reset_store(store=side)
        assert _count(admin, side.base_url, "/admin/product-tags") == 0
        port = int(side.base_url.rsplit(":", 1)[1])
    assert not postgres.port_open("127.0.0.1", port)  # its Medusa is stopped
    target = StackState.load().target
    assert not postgres.db_info(target, side.database, step="test")[side.database]["exists"]


def test_reset_from_the_command_line_prints_its_time(stack_info: stack.StackInfo) -> None:
    result = _run_cli("reset")
    assert result.returncode == 0, result.stderr
    assert "store reset in" in result.stdout


def test_status_names_the_medusa_url(stack_info: stack.StackInfo) -> None:
    result = _run_cli("status")
    assert result.returncode == 0, result.stdout + result.stderr
    assert stack_info.base_url in result.stdout
    assert str(MEDUSA_ENV_FILE) in result.stdout
    assert "postgresql:" in result.stdout
    assert stack_info.api_key not in result.stdout


def test_status_function_reports_up(stack_info: stack.StackInfo) -> None:
    result = stack.status()
    assert result.up
    assert result.medusa["url"] == stack_info.base_url
    assert result.medusa["healthy"] and result.medusa["key_valid"]
    assert result.postgres["running"]


def test_down_stops_everything_then_up_restores(stack_info: stack.StackInfo) -> None:
    """Costs a Medusa restart (~5 s); brings the stack back before returning."""
    state = StackState.load()
    medusa_record, pg_record, target = state.medusa, state.embedded, state.target
    try:
        assert stack.down(out=lambda _line: None)
        assert not procs.is_running(medusa_record)
        assert not procs.group_members(medusa_record.pid)
        assert not postgres.port_open("127.0.0.1", int(stack_info.base_url.rsplit(":", 1)[1]))
        if pg_record:
            assert not procs.is_running(pg_record)
            assert not procs.group_members(pg_record.pid)
            assert not postgres.port_open(target.host, target.port)
        assert not stack.status().up
        assert _run_cli("status").returncode != 0
        # Nothing left to stop: a second down is harmless.
        assert not stack.down(out=lambda _line: None)
    finally:
        info = stack.up(out=lambda _line: None)
    assert info.api_key == stack_info.api_key
    assert info.base_url == stack_info.base_url
    response = requests.get(f"{info.base_url}/admin/products", auth=(info.api_key, ""), timeout=10)
    assert response.status_code == 200
    assert StackState.load().medusa.pid != medusa_record.pid
    assert os.environ.get("MEDUSA_DISABLE_TELEMETRY") in (None, "true")
