"""``.local/stack.json`` as written before the state was typed loads, and saves back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync_pipeline.local.stack import state as state_module
from sync_pipeline.local.stack.state import StackState

TARGET_ID = "embedded:medusa@127.0.0.1:54402/medusa:/checkout/.local/pg"
SHOP = {
    "country_code": "us",
    "currency_code": "usd",
    "publishable_key": "pk_test",
    "region_id": "reg_1",
    "sales_channel_id": "sc_1",
    "shipping_option_id": "so_1",
    "shipping_profile_id": "sp_1",
    "stock_location_id": "sloc_1",
}
# Every key the untyped code wrote, with the shapes it wrote them in.
TODAYS_STATE = {
    "build": {"fingerprint": "0f1e2d"},
    "databases": {
        TARGET_ID: {
            "admin_email": "admin@sync-pipeline.local",
            "admin_password": "secret-password",
            "api_key": {"id": "apk_1", "token": "sk_secret"},
            "migrated": True,
            "shop": SHOP,
            "working_key_id": "apk_1",
            "working_template": {"api_key_id": "apk_1", "shop": SHOP},
        },
        # Made before the shop existed: no shop, the working clone stamped without one.
        "local:postgres@127.0.0.1:5432/medusa": {
            "admin_email": "admin@sync-pipeline.local",
            "admin_password": "other-password",
            "api_key": {"id": "apk_0", "token": "sk_old"},
            "migrated": True,
            "working_key_id": "apk_0",
            "working_template": {"api_key_id": "apk_0", "shop": None},
        },
        # Migrated, nothing else yet (an `up` that stopped half way).
        "url:medusa@db.example:5432/store": {"migrated": True},
    },
    "embedded": {
        "log": "/checkout/.local/logs/postgres.log",
        "pg_root": "/checkout/.local/pg",
        "pid": 101,
        "port": 54402,
        "start_time": "5000",
    },
    "medusa": {
        "log": "/checkout/.local/logs/medusa.log",
        "pid": 202,
        "port": 9102,
        "start_time": "6000",
        "target": TARGET_ID,
    },
    "spare_job": {
        "log": "/checkout/.local/logs/spare.log",
        "pid": 303,
        "start_time": None,
        "target": TARGET_ID,
    },
    "target": {
        "host": "127.0.0.1",
        "kind": "embedded",
        "password": "pg-password",
        "pg_root": "/checkout/.local/pg",
        "port": 54402,
        "query": "",
        "template_db": "medusa_template",
        "user": "medusa",
        "working_db": "medusa",
    },
    "template_server": {
        "log": "/checkout/.local/logs/medusa-template.log",
        "pid": 404,
        "port": 40123,
        "start_time": "7000",
    },
}


@pytest.fixture
def state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "stack.json"
    monkeypatch.setattr(state_module, "STATE_FILE", path)
    return path


def test_todays_state_file_loads_into_fields(state_file: Path) -> None:
    state_file.write_text(json.dumps(TODAYS_STATE))

    state = StackState.load()

    assert state.target is not None and state.target.id == TARGET_ID
    assert state.embedded is not None and (state.embedded.pid, state.embedded.port) == (101, 54402)
    assert state.medusa is not None
    assert (state.medusa.port, state.medusa.target) == (9102, TARGET_ID)
    assert state.template_server is not None and state.template_server.port == 40123
    assert state.spare_job is not None and state.spare_job.start_time is None
    assert state.build_fingerprint == "0f1e2d"
    db = state.database(state.target)
    assert db.api_key is not None and db.api_key.token == "sk_secret"
    assert db.shop is not None and db.shop_current("usd") and not db.shop_current("eur")
    assert db.working_template == db.template_stamp()
    older = state.databases["local:postgres@127.0.0.1:5432/medusa"]
    assert older.shop is None and older.working_template == older.template_stamp()
    assert state.databases["url:medusa@db.example:5432/store"].api_key is None


def test_state_file_saves_back_as_it_was_read(state_file: Path) -> None:
    state_file.write_text(json.dumps(TODAYS_STATE))

    StackState.load().save()

    assert json.loads(state_file.read_text()) == TODAYS_STATE
    assert state_file.stat().st_mode & 0o777 == 0o600


def test_missing_state_file_is_an_empty_state(state_file: Path) -> None:
    state = StackState.load()

    assert state == StackState()
    state.save()
    assert json.loads(state_file.read_text()) == {}


def test_api_key_token_stays_out_of_reprs(state_file: Path) -> None:
    state_file.write_text(json.dumps(TODAYS_STATE))

    assert "sk_secret" not in repr(StackState.load())
