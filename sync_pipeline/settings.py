"""The composition root's inputs: where the project keeps its local state, and the settings.

Settings come from the environment. ``sync-pipeline stack up`` also writes
``.local/medusa.env`` at the repository root; its values fill in only what the
environment does not already set, so the environment always wins. They are read once,
into ``SyncSettings``, by whoever builds the definitions (the code location, the CLI,
a test); nothing else reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = REPO_ROOT / ".local"
MEDUSA_ENV_FILE = LOCAL_DIR / "medusa.env"
MEDUSA_PROJECT_DIR = REPO_ROOT / "medusa"
# DummyJSON's real data, carried as package data (origin and traps: its README.md).
DUMMYJSON_SNAPSHOT_DIR = Path(__file__).resolve().parent / "data" / "dummyjson"
DEFAULT_DUMMYJSON_URL = "https://dummyjson.com"
DEFAULT_UI_BASE_URL = "http://127.0.0.1:3000"


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file (blank lines and ``#`` comments ignored)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write ``KEY=value`` lines, readable by the owner only (the file holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{key}={value}\n" for key, value in values.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(body)


def load_local_env(path: Path = MEDUSA_ENV_FILE) -> dict[str, str]:
    """Fill ``os.environ`` from ``.local/medusa.env`` without overriding what is already set.

    Returns the values that were taken from the file.
    """
    taken = {}
    for key, value in read_env_file(path).items():
        if key not in os.environ:
            os.environ[key] = value
            taken[key] = value
    return taken


def follow_local_env(before: Mapping[str, str], path: Path = MEDUSA_ENV_FILE) -> None:
    """After ``stack up`` rewrote ``.local/medusa.env``: values that came from the file (equal to
    what it held, ``before``) follow it; values the user set stay."""
    for key, value in read_env_file(path).items():
        if os.environ.get(key) in (None, before.get(key)):
            os.environ[key] = value


# Every environment variable the sync reads: ``SyncSettings.from_environment`` below, and
# MEDUSA_BASE_URL, which the resources read at launch as a Dagster ``EnvVar``. Deployment files
# (deploy/) are tested against this list.
SETTING_NAMES = (
    "MEDUSA_BASE_URL",
    "MEDUSA_API_KEY",
    "MEDUSA_ADMIN_EMAIL",
    "MEDUSA_ADMIN_PASSWORD",
    "MEDUSA_CURRENCY_CODE",
    "DUMMYJSON_BASE_URL",
    "SYNC_PAGE_SIZE",
    "SYNC_BATCH_SIZE",
    "SYNC_FETCH_MAX_RETRIES",
    "SYNC_FETCH_RETRY_DELAY",
    "SYNC_LOCK_WAIT_SECONDS",
    "SYNC_MEDUSA_CONCURRENCY",
    "SYNC_SCHEDULE_CRON",
    "SYNC_INVENTORY",
    "MEDUSA_STOCK_LOCATION_ID",
    "SYNC_ALERT_WEBHOOK_URL",
    "SYNC_UI_BASE_URL",
    "SYNC_FRESHNESS_DEADLINE",
    "SYNC_RULES_FILE",
)


class SettingsError(ValueError):
    """A setting has a value the sync cannot use; the message names the variable."""


def _env_int(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _env_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not value >= 0:  # also refuses NaN
        raise SettingsError(f"{name}={raw!r} must be zero or more")
    return value


_ON = ("on", "true", "yes", "1")
_OFF = ("off", "false", "no", "0")


def _env_path(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _env_switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _ON or raw in _OFF:
        return raw in _ON
    raise SettingsError(f"{name}={raw!r} must be on or off")


def _env_cron(environ: Mapping[str, str], name: str, default: str) -> str:
    from dagster._utils.schedules import is_valid_cron_string

    value = environ.get(name, "").strip() or default
    if not is_valid_cron_string(value):
        raise SettingsError(f"{name}={value!r} is not a cron schedule (e.g. '0 0 * * *')")
    return value


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _env_url(environ: Mapping[str, str], name: str, default: str | None, *, secret: bool = False):
    value = environ.get(name, "").strip()
    if not value:
        return default
    if not _is_http_url(value):
        # A webhook URL is a credential (whoever has it can post): never echo it.
        shown = "(value not shown: it is a secret)" if secret else repr(value)
        raise SettingsError(f"{name}={shown} is not an http:// or https:// URL")
    return value


def _env_time_of_day(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, "").strip() or default
    hours, sep, minutes = value.partition(":")
    if not (
        sep
        and len(hours) in (1, 2)
        and len(minutes) == 2
        and hours.isdigit()
        and minutes.isdigit()
        and int(hours) < 24
        and int(minutes) < 60
    ):
        raise SettingsError(f"{name}={value!r} is not a time of day HH:MM (UTC), e.g. '02:00'")
    return f"{int(hours):02d}:{minutes}"


@dataclass(frozen=True)
class SyncSettings:
    """Every setting of the sync, read once by the entry point and passed down.

    Secrets are not held here: only whether they are set, so the resources can name them as
    ``EnvVar``s (resolved at launch, never shown in the UI).
    """

    dummyjson_base_url: str = DEFAULT_DUMMYJSON_URL
    currency_code: str = "usd"
    # Measured (bench/): pages of 500 sync 10,000 products 1.7x faster than pages of 100,
    # with memory still flat; batches of 100 are Medusa's fastest per product.
    page_size: int = 500
    batch_size: int = 100
    fetch_max_retries: int = 3
    fetch_retry_delay: float = 1.0
    lock_wait_seconds: float = 600.0
    medusa_concurrency: int = 3
    schedule_cron: str = "0 0 * * *"
    # Stock: each variant's inventory level at one stock location follows the source's
    # ``stock``. Off for shops that keep stock elsewhere (then inventory is never touched).
    inventory: bool = True
    stock_location_id: str | None = None
    medusa_api_key_set: bool = False
    medusa_admin_email_set: bool = False
    medusa_admin_password_set: bool = False
    # Alerts: a failed sync run (and a storefront warning) is posted to this Slack-compatible
    # webhook; without one, it is only logged. The URL is a credential: kept out of repr.
    alert_webhook_url: str | None = field(default=None, repr=False)
    # Where the Dagster UI is, for the run links in alerts.
    ui_base_url: str = DEFAULT_UI_BASE_URL
    # The nightly sync must have written products by this time (UTC, HH:MM), else
    # medusa_products is stale (its freshness policy fails).
    freshness_deadline: str = "02:00"
    # The merchant's rules (margins, sale prices, selection, stock buffer): a TOML file, read
    # and checked when a sync starts (sync/rules.py). None: the supplier's catalog as it is.
    rules_file: Path | None = None

    @property
    def freshness_deadline_cron(self) -> str:
        """``freshness_deadline`` as a daily cron string (``"0 2 * * *"`` for 02:00)."""
        hours, minutes = self.freshness_deadline.split(":")
        return f"{int(minutes)} {int(hours)} * * *"

    @property
    def freshness_window(self) -> timedelta:
        """How long before the deadline a materialization counts: from the last tick of the
        nightly schedule before the deadline to the deadline (2 h for ``0 0 * * *`` and
        02:00). The longest over a week (schedules may skip days), within Dagster's bounds for a
        daily deadline: at least 1 minute, at most 24 hours."""
        from dagster._utils.schedules import reverse_cron_string_iterator

        hours, minutes = (int(part) for part in self.freshness_deadline.split(":"))
        window = timedelta(minutes=1)
        for day in range(5, 12):  # a week of deadlines (a fixed one: the result is stable)
            deadline = datetime(2026, 1, day, hours, minutes, tzinfo=UTC)
            ticks = reverse_cron_string_iterator(deadline.timestamp(), self.schedule_cron, "UTC")
            tick = next(tick for tick in ticks if tick < deadline)
            window = max(window, deadline - tick)
        return min(window, timedelta(days=1))

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = MEDUSA_ENV_FILE
    ) -> SyncSettings:
        """The environment, then ``env_file`` for what it leaves unset.

        With the process environment (``environ`` left out) the file's values are also put
        into ``os.environ``, where Dagster's ``EnvVar`` reads the secrets at launch.
        """
        if environ is None:
            if env_file is not None:
                load_local_env(env_file)
            environ = os.environ
        elif env_file is not None:
            environ = {**read_env_file(env_file), **environ}
        return cls(
            dummyjson_base_url=environ.get("DUMMYJSON_BASE_URL") or DEFAULT_DUMMYJSON_URL,
            currency_code=(environ.get("MEDUSA_CURRENCY_CODE") or "usd").lower(),
            page_size=_env_int(environ, "SYNC_PAGE_SIZE", cls.page_size),
            batch_size=_env_int(environ, "SYNC_BATCH_SIZE", cls.batch_size),
            fetch_max_retries=_env_int(environ, "SYNC_FETCH_MAX_RETRIES", 3, minimum=0),
            fetch_retry_delay=_env_float(environ, "SYNC_FETCH_RETRY_DELAY", 1.0),
            lock_wait_seconds=_env_float(environ, "SYNC_LOCK_WAIT_SECONDS", 600.0),
            medusa_concurrency=_env_int(environ, "SYNC_MEDUSA_CONCURRENCY", cls.medusa_concurrency),
            schedule_cron=_env_cron(environ, "SYNC_SCHEDULE_CRON", cls.schedule_cron),
            inventory=_env_switch(environ, "SYNC_INVENTORY", cls.inventory),
            stock_location_id=environ.get("MEDUSA_STOCK_LOCATION_ID", "").strip() or None,
            medusa_api_key_set=bool(environ.get("MEDUSA_API_KEY")),
            medusa_admin_email_set=bool(environ.get("MEDUSA_ADMIN_EMAIL")),
            medusa_admin_password_set=bool(environ.get("MEDUSA_ADMIN_PASSWORD")),
            alert_webhook_url=_env_url(environ, "SYNC_ALERT_WEBHOOK_URL", None, secret=True),
            ui_base_url=_env_url(environ, "SYNC_UI_BASE_URL", DEFAULT_UI_BASE_URL).rstrip("/"),
            freshness_deadline=_env_time_of_day(
                environ, "SYNC_FRESHNESS_DEADLINE", cls.freshness_deadline
            ),
            rules_file=Path(rules).expanduser()
            if (rules := environ.get("SYNC_RULES_FILE"))
            else None,
        )
