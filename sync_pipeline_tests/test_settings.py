"""Settings are read once, from the environment and then ``.local/medusa.env``; a bad value is
refused with the variable's name."""

from __future__ import annotations

import pytest

from sync_pipeline.settings import SettingsError, SyncSettings


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
