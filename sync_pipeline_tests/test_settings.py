"""Settings are read once, from the environment and then ``.local/medusa.env``; a bad value is
refused with the variable's name."""

from __future__ import annotations

import os

import pytest

from sync_pipeline.settings import (
    SettingsError,
    SyncSettings,
    follow_local_env,
    write_env_file,
)


def test_the_environment_wins_over_the_env_file_and_defaults_fill_the_rest(tmp_path):
    env_file = tmp_path / "medusa.env"
    env_file.write_text("SYNC_PAGE_SIZE=250\nSYNC_MEDUSA_CONCURRENCY=4\nMEDUSA_API_KEY=sk_x\n")
    settings = SyncSettings.from_environment({"SYNC_PAGE_SIZE": "100"}, env_file=env_file)
    assert settings.page_size == 100  # the environment
    assert settings.medusa_concurrency == 4  # the file
    assert settings.medusa_api_key_set and not settings.medusa_admin_email_set
    assert settings.schedule_cron == "0 0 * * *" and settings.batch_size == 100  # defaults


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SYNC_MEDUSA_CONCURRENCY", "0", "SYNC_MEDUSA_CONCURRENCY='0' must be at least 1"),
        ("SYNC_PAGE_SIZE", "lots", "SYNC_PAGE_SIZE='lots' is not a whole number"),
        ("SYNC_FETCH_RETRY_DELAY", "-1", "SYNC_FETCH_RETRY_DELAY='-1' must be zero or more"),
        ("SYNC_SCHEDULE_CRON", "nightly", "SYNC_SCHEDULE_CRON='nightly' is not a cron schedule"),
        ("SYNC_INVENTORY", "sometimes", "SYNC_INVENTORY='sometimes' must be on or off"),
        ("SYNC_UI_BASE_URL", "localhost:3000", "SYNC_UI_BASE_URL='localhost:3000' is not an http"),
        ("SYNC_FRESHNESS_DEADLINE", "2am", "SYNC_FRESHNESS_DEADLINE='2am' is not a time of day"),
        ("SYNC_FRESHNESS_DEADLINE", "24:00", "SYNC_FRESHNESS_DEADLINE='24:00' is not a time"),
    ],
)
def test_a_bad_setting_is_refused_by_name(name, value, message):
    with pytest.raises(SettingsError) as refused:
        SyncSettings.from_environment({name: value}, env_file=None)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(
    ("value", "inventory"), [("", True), ("on", True), ("OFF", False), ("false", False)]
)
def test_stock_sync_is_on_unless_turned_off(value, inventory):
    environ = {"SYNC_INVENTORY": value, "MEDUSA_STOCK_LOCATION_ID": " sloc_1 "}
    settings = SyncSettings.from_environment(environ, env_file=None)
    assert settings.inventory is inventory
    assert settings.stock_location_id == "sloc_1"


def test_a_bad_webhook_url_is_refused_by_name_without_showing_it():
    with pytest.raises(SettingsError) as refused:
        SyncSettings.from_environment(
            {"SYNC_ALERT_WEBHOOK_URL": "ftp://hooks.example/T0/secret-token"}, env_file=None
        )
    assert str(refused.value).startswith("SYNC_ALERT_WEBHOOK_URL=")
    assert "secret-token" not in str(refused.value)


def test_alert_settings_default_to_log_only_and_the_local_ui():
    settings = SyncSettings.from_environment({}, env_file=None)
    assert settings.alert_webhook_url is None
    assert settings.ui_base_url == "http://127.0.0.1:3000"
    hooked = SyncSettings.from_environment(
        {
            "SYNC_ALERT_WEBHOOK_URL": "https://hooks.example/T0/secret-token",
            "SYNC_UI_BASE_URL": "https://dagster.example/",
        },
        env_file=None,
    )
    assert hooked.alert_webhook_url == "https://hooks.example/T0/secret-token"
    assert hooked.ui_base_url == "https://dagster.example"
    assert "secret-token" not in repr(hooked)


@pytest.mark.parametrize(
    ("deadline", "cron", "expected_cron", "hours"),
    [
        ("", "", "0 2 * * *", 2),  # defaults: the sync starts at 00:00, due by 02:00
        ("06:30", "0 5 * * *", "30 6 * * *", 1.5),
        ("1:05", "", "5 1 * * *", 13 / 12),
        ("02:00", "0 0 * * 1", "0 2 * * *", 24),  # weekly: capped at the daily deadline's day
        ("02:00", "* * * * *", "0 2 * * *", 1 / 60),  # Dagster's floor: one minute
    ],
)
def test_the_freshness_deadline_becomes_a_daily_cron_and_a_window_from_the_schedule(
    deadline, cron, expected_cron, hours
):
    environ = {"SYNC_FRESHNESS_DEADLINE": deadline, "SYNC_SCHEDULE_CRON": cron}
    settings = SyncSettings.from_environment(environ, env_file=None)
    assert settings.freshness_deadline_cron == expected_cron
    assert settings.freshness_window.total_seconds() == pytest.approx(hours * 3600)


def test_values_from_the_env_file_follow_it_when_stack_up_rewrites_it(tmp_path, monkeypatch):
    """``demo`` after a switch of Medusa release: the new key, not the one read at start; what
    the user exported stays."""
    env_file = tmp_path / "medusa.env"
    before = {"MEDUSA_API_KEY": "sk_old", "MEDUSA_BASE_URL": "http://127.0.0.1:9000"}
    write_env_file(env_file, {**before, "MEDUSA_API_KEY": "sk_new", "MEDUSA_REGION_ID": "reg_2"})
    monkeypatch.setenv("MEDUSA_API_KEY", "sk_old")  # loaded from the file at start
    monkeypatch.setenv("MEDUSA_BASE_URL", "http://shop.example")  # the user's own
    monkeypatch.setenv("MEDUSA_REGION_ID", "")  # so that monkeypatch restores it afterwards
    monkeypatch.delenv("MEDUSA_REGION_ID")

    follow_local_env(before, env_file)

    assert os.environ["MEDUSA_API_KEY"] == "sk_new"
    assert os.environ["MEDUSA_BASE_URL"] == "http://shop.example"
    assert os.environ["MEDUSA_REGION_ID"] == "reg_2"
