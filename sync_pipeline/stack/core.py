"""``up``, ``down``, ``reset_store`` and ``status``: the local Medusa stack as functions.

``up`` walks the steps below, skipping each one whose result is already recorded in
``.local/stack.json`` (and still true):

1. install Node deps (``npm ci``) if ``medusa/node_modules`` is missing
2. start PostgreSQL (embedded), or check the chosen server answers
3. create + migrate the template database
4. create the admin user in it
5. ``medusa build`` (+ node_modules symlink and .env in ``.medusa/server``)
6. boot Medusa once on the template: create a secret API key, and make the store a shop
   that can take an order (region in ``MEDUSA_CURRENCY_CODE``, publishable key, stock
   location, shipping option: :mod:`sync_pipeline.stack.shop`), stop it
7. clone the template into the working database
8. start Medusa on the working database (own session: it outlives the command)
9. verify the key (``GET /admin/products`` → 200) and write ``.local/medusa.env``

Every clone of the template has the same rows, so the key (and the admin user) made on the
template is valid in the working database and after every ``reset_store``, and so is the shop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sync_pipeline.settings import MEDUSA_ENV_FILE, read_env_file, write_env_file
from sync_pipeline.stack import medusa, postgres, procs
from sync_pipeline.stack.config import (
    LOGS_DIR,
    StackError,
    admin_credentials,
    currency_code,
    ensure_dirs,
    load_secrets,
    medusa_port,
    stack_lock,
    user_env,
)
from sync_pipeline.stack.postgres import PgTarget
from sync_pipeline.stack.shop import ShopInfo, ensure_shop
from sync_pipeline.stack.state import (
    ApiKey,
    EmbeddedServer,
    Server,
    ServerName,
    SpareJob,
    StackState,
    StoreServer,
)

Printer = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class StackInfo:
    """What a client of the running stack needs."""

    base_url: str
    api_key: str
    admin_email: str
    admin_password: str
    env_file: Path = MEDUSA_ENV_FILE
    shop: ShopInfo | None = None

    def __repr__(self) -> str:  # keep secrets out of test reports and logs
        return (
            f"StackInfo(base_url={self.base_url!r}, api_key='***', "
            f"admin_email={self.admin_email!r})"
        )


@dataclass
class StackStatus:
    up: bool
    postgres: dict[str, Any] = field(default_factory=dict)
    medusa: dict[str, Any] = field(default_factory=dict)
    shop: ShopInfo | None = None
    env_file: Path = MEDUSA_ENV_FILE
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        pg, md = self.postgres, self.medusa
        out = [f"stack:      {'UP' if self.up else 'NOT UP'}"]
        if pg:
            where = f"{pg.get('host')}:{pg.get('port')}"
            running = pg.get("running")
            pid = f", pid {pg['pid']}" if pg.get("pid") else ""
            managed = "" if pg.get("kind") == "embedded" else " (not managed by the stack)"
            out.append(
                f"postgresql: {pg.get('kind')} at {where}{pid}, "
                f"{'running' if running else 'NOT running'}{managed}"
            )
            out.append(f"            {pg.get('description')}")
            out.append(
                f"            databases: {pg.get('working_db')} (store), "
                f"{pg.get('template_db')} (template)"
            )
        else:
            out.append("postgresql: none recorded")
        if md:
            pid = f", pid {md['pid']}" if md.get("pid") else ""
            state = "running" if md.get("running") else "NOT running"
            health = "health OK" if md.get("healthy") else "health FAILING"
            key = {True: "API key valid", False: "API key REJECTED", None: "API key unknown"}[
                md.get("key_valid")
            ]
            out.append(f"medusa:     {md.get('url')}{pid}, {state}, {health}, {key}")
            out.append(f"            log {md.get('log')}")
        else:
            out.append("medusa:     not started")
        shop = self.shop
        if shop:
            out.append(
                f"shop:       region {shop.region_id} ({shop.currency_code}, "
                f"{shop.country_code}), sales channel {shop.sales_channel_id}"
            )
            out.append(f"            publishable key {shop.publishable_key}")
            out.append(
                f"            stock location {shop.stock_location_id}, "
                f"shipping option {shop.shipping_option_id}"
            )
        else:
            out.append("shop:       none recorded")
        out.append(f"env file:   {self.env_file}{'' if self.env_file.is_file() else ' (missing)'}")
        out.extend(f"note:       {note}" for note in self.notes)
        return out


class _Steps:
    """Prints each step with its duration; turns unexpected errors into StackError."""

    def __init__(self, out: Printer) -> None:
        self.out = out
        self.started = time.monotonic()

    @contextmanager
    def run(self, name: str, log: Path | None = None) -> Iterator[None]:
        self.out(f"==> {name} ...")
        began = time.monotonic()
        try:
            yield
        except StackError:
            raise
        except Exception as exc:  # noqa: BLE001 - any surprise becomes a named step failure
            raise StackError(name, f"{type(exc).__name__}: {exc}", log) from exc
        self.out(f"    done in {time.monotonic() - began:.1f} s")

    def skip(self, name: str, why: str) -> None:
        self.out(f"==> {name}: skipped ({why})")


# --- helpers over the recorded state (.local/stack.json: sync_pipeline.stack.state) ----------


def _stop_server(state: StackState, which: ServerName) -> int | None:
    """Stop and forget one of the Medusa servers; its pid if it was running."""
    record = state.pop_server(which)
    return record.pid if record and procs.stop(record, timeout=20) else None


def _stop_medusa(state: StackState, out: Printer, *, which: ServerName = "medusa") -> None:
    pid = _stop_server(state, which)
    if pid:
        out(f"    stopped Medusa ({which}, pid {pid})")
    state.save()


def _stop_embedded(state: StackState, out: Printer) -> bool:
    record, state.embedded = state.embedded, None
    stopped = bool(record and procs.stop(record, timeout=30, leader_first=True))
    if stopped:
        out(f"stopped the embedded PostgreSQL (pid {record.pid})")
    state.save()
    return stopped


def _embedded_up(state: StackState, target: PgTarget) -> bool:
    record = state.embedded
    return bool(
        target.kind == "embedded"
        and record
        and record.port == target.port
        and record.pg_root == target.pg_root
        and postgres.embedded_running(record, target)
    )


def _env_file_values(info: StackInfo) -> dict[str, str]:
    return {
        "MEDUSA_BASE_URL": info.base_url,
        "MEDUSA_API_KEY": info.api_key,
        "MEDUSA_ADMIN_EMAIL": info.admin_email,
        "MEDUSA_ADMIN_PASSWORD": info.admin_password,
        **(
            {
                "MEDUSA_PUBLISHABLE_KEY": info.shop.publishable_key,
                "MEDUSA_REGION_ID": info.shop.region_id,
            }
            if info.shop
            else {}
        ),
    }


def _write_env_file(info: StackInfo) -> bool:
    values = _env_file_values(info)
    if read_env_file(MEDUSA_ENV_FILE) == values and (MEDUSA_ENV_FILE.stat().st_mode & 0o077) == 0:
        return False
    write_env_file(MEDUSA_ENV_FILE, values)
    MEDUSA_ENV_FILE.chmod(0o600)  # write_env_file only sets the mode on creation
    return True


def _info_from_state(state: StackState) -> StackInfo | None:
    target, md = state.target, state.medusa
    if target is None or md is None:
        return None
    db = state.databases.get(target.id)
    if db is None or db.api_key is None or not db.admin_email or db.admin_password is None:
        return None
    return StackInfo(
        base_url=medusa.base_url(md.port),
        api_key=db.api_key.token,
        admin_email=db.admin_email,
        admin_password=db.admin_password,
        shop=db.shop,
    )


def _env_overrides(info: StackInfo) -> list[str]:
    """Settings in the environment that differ from what the stack provides."""
    notes = []
    for key, value in _env_file_values(info).items():
        mine = user_env(key)
        if mine is not None and mine != value:
            notes.append(
                f"{key} is set in the environment to a different value than the stack's; "
                "commands use the environment's"
            )
    return notes


def _wait_spare_job(state: StackState, timeout: float) -> None:
    """Let a running spare clone finish (killing it could leave an unmarked database)."""
    deadline = time.monotonic() + timeout
    while procs.is_running(state.spare_job) and time.monotonic() < deadline:
        time.sleep(0.02)


def _end_spare_job(state: StackState, timeout: float) -> bool:
    """Let a running spare clone finish, then stop what is left of it; True if it ran."""
    _wait_spare_job(state, timeout)
    job, state.spare_job = state.spare_job, None
    return procs.stop(job, timeout=5)


def _ensure_spare(state: StackState, target: PgTarget, spare_exists: bool) -> None:
    """Start cloning the spare database in the background unless it exists or is under way."""
    if spare_exists or procs.is_running(state.spare_job):
        return
    state.spare_job = SpareJob(**asdict(postgres.start_spare_clone(target)), target=target.id)
    state.save()


# --- up ------------------------------------------------------------------------------------


def _fast_path(state: StackState, target: PgTarget, port: int) -> StackInfo | None:
    """Everything already runs as asked: return the stack's info without touching anything."""
    current, md = state.target, state.medusa
    if current is None or current.id != target.id or md is None:
        return None
    if md.target != target.id or md.port != port or not procs.is_running(md):
        return None
    if target.kind == "embedded" and not _embedded_up(state, target):
        return None
    # medusa-config.ts, the lockfile or src/ changed since the build: rebuild and restart.
    if state.build_fingerprint != medusa.build_fingerprint():
        return None
    info = _info_from_state(state)
    if info is None or not medusa.healthy(info.base_url):
        return None
    if medusa.key_status(info.base_url, info.api_key) != 200:
        return None
    if admin_credentials(load_secrets()) != (info.admin_email, info.admin_password):
        return None
    db = state.databases[target.id]
    if not db.shop_current(currency_code()) or db.working_template != db.template_stamp():
        return None
    return info


def up(out: Printer = print) -> StackInfo:
    """Bring the stack up (idempotent: a no-op, well under 2 s, when it already runs)."""
    ensure_dirs()
    with stack_lock():
        state = StackState.load()
        target = postgres.choose_target(state.target)
        port = medusa_port()
        info = _fast_path(state, target, port)
        if info is not None:
            if _write_env_file(info):
                out(f"rewrote {MEDUSA_ENV_FILE}")
            out("stack is already up")
            return info
        return _up_slow(state, target, port, out)


def _check_ports(state: StackState, target: PgTarget, port: int) -> None:
    """Fail before touching anything if a port we need is taken by someone else."""
    step = "check ports"
    md = state.medusa
    if not (md and md.port == port and procs.is_running(md)) and not medusa.port_free(port):
        raise StackError(
            step,
            f"port {port} on 127.0.0.1 is already in use, not by this stack's Medusa; "
            "stop that process or set MEDUSA_PORT",
        )
    if target.kind == "embedded" and not _embedded_up(state, target):
        record = state.embedded
        ours = record and record.port == target.port and procs.is_running(record)
        if not ours and postgres.port_open(target.host, target.port):
            raise StackError(
                step,
                f"port {target.port} on {target.host} is already in use by a process the stack "
                "did not start; stop it or set SYNC_PIPELINE_PG_PORT",
            )


def _up_slow(state: StackState, target: PgTarget, port: int, out: Printer) -> StackInfo:
    steps = _Steps(out)
    _check_ports(state, target, port)
    secret_values = load_secrets()
    email, password = admin_credentials(secret_values)

    name = "install Node dependencies"
    if medusa.node_modules_ready():
        steps.skip(name, "medusa/node_modules present")
    else:
        with steps.run(name + " (npm ci)", LOGS_DIR / "npm-ci.log"):
            medusa.check_node(name, need_npm=True)
            medusa.npm_ci(name)
    medusa.check_node(name)

    if target.kind == "embedded":
        name = f"start PostgreSQL (embedded, {target.host}:{target.port})"
        if _embedded_up(state, target):
            assert state.embedded is not None
            steps.skip(name, f"running, pid {state.embedded.pid}")
        else:
            with steps.run(name, postgres.embedded_log()):
                if state.embedded:  # another port or data dir, or a leftover
                    _stop_medusa(state, out)
                    _stop_embedded(state, out)
                record = postgres.start_embedded(target, step=name)
                state.embedded = EmbeddedServer(
                    **asdict(record), port=target.port, pg_root=target.pg_root
                )
                state.save()
    else:
        name = f"check PostgreSQL ({target.kind}, {target.host}:{target.port})"
        with steps.run(name, LOGS_DIR / "pg-admin.log"):
            postgres.admin(target, "ping", step=name)
    current = state.target
    if current is not None and current.id != target.id:
        out(f"PostgreSQL changed: {current.describe()} -> {target.describe()}")
        _stop_medusa(state, out)
    state.target = target
    state.save()

    tpl, work, spare = target.template_db, target.working_db, target.spare_db
    step = "inspect databases"
    databases = postgres.db_info(target, tpl, work, step=step)
    for db_name in (tpl, work):
        if databases[db_name]["exists"] and not databases[db_name]["marked"]:
            raise StackError(
                step,
                f"database {db_name!r} already exists on {target.host}:{target.port} and was not "
                "created by the stack; drop it or choose another name (DATABASE_URL)",
            )
    db = state.database(target)
    if not databases[tpl]["exists"]:
        db = state.forget_database(target)
    if db.admin_email and (db.admin_email, db.admin_password) != (email, password):
        out("admin credentials changed: the template database is made again")
        db = state.forget_database(target)

    name = f"create + migrate template database {tpl!r}"
    if db.migrated:
        steps.skip(name, "done")
    else:
        with steps.run(name, LOGS_DIR / "migrate.log"):
            _stop_medusa(state, out, which="template_server")
            _end_spare_job(state, timeout=30)
            postgres.admin(target, "drop", spare, step=name)  # a copy of the old template
            postgres.admin(target, "drop", tpl, step=name)
            postgres.admin(target, "create", tpl, step=name)
            databases[tpl] = {"exists": True, "marked": True, "allowConnections": True}
            medusa.migrate(name, medusa.child_env(target.url(tpl), secret_values))
            db = state.forget_database(target)
            db.migrated = True
            state.save()
    template_env = medusa.child_env(target.url(tpl), secret_values)

    def allow_template_connections(allowed: bool, step: str) -> None:
        if databases[tpl].get("allowConnections") != allowed:
            postgres.admin(target, "allow-connections", tpl, str(allowed).lower(), step=step)
            databases[tpl]["allowConnections"] = allowed

    name = f"create admin user {email}"
    if db.admin_email == email:
        steps.skip(name, "done")
    else:
        with steps.run(name, LOGS_DIR / "user.log"):
            allow_template_connections(True, name)
            medusa.create_user(name, template_env, email, password)
            db.admin_email, db.admin_password = email, password
            state.save()

    name = "build Medusa (medusa build)"
    fingerprint = medusa.build_fingerprint()
    if medusa.build_present() and state.build_fingerprint == fingerprint:
        steps.skip(name, "up to date")
    else:
        with steps.run(name, LOGS_DIR / "build.log"):
            # Rebuilding wipes .medusa/server, under a running server's feet.
            _stop_medusa(state, out)
            medusa.build(name, template_env)
            state.build_fingerprint = fingerprint
            state.save()
    medusa.prepare_server_dir(
        {
            "DATABASE_URL": target.url(work),
            "JWT_SECRET": secret_values["jwt_secret"],
            "COOKIE_SECRET": secret_values["cookie_secret"],
            "MEDUSA_DISABLE_TELEMETRY": "true",
        }
    )

    currency = currency_code()
    need_key = db.api_key is None
    need_shop = not db.shop_current(currency)
    name = "boot Medusa on the template"
    if not need_key and not need_shop:
        steps.skip("create secret API key on the template", "done")
        steps.skip(f"set up the shop on the template ({currency})", "done")
    else:
        log = LOGS_DIR / "medusa-template.log"
        # The template is about to change: a spare copy of it would be stale.
        _end_spare_job(state, timeout=30)
        postgres.admin(target, "drop", spare, step=name)
        with steps.run(name, log):
            allow_template_connections(True, name)
            server_port = medusa.free_port()
            record = medusa.start_server(name, port=server_port, env=template_env, log=log)
            state.template_server = Server(**asdict(record), port=server_port)
            state.save()
        try:
            url = medusa.base_url(server_port)
            name = "create secret API key on the template"
            if not need_key:
                steps.skip(name, "done")
            else:
                with steps.run(name, log):
                    key = medusa.create_secret_key(name, url, email, password, log)
                    status = medusa.key_status(url, key["token"])
                    if status != 200:
                        raise StackError(
                            name, f"the new key got HTTP {status} from /admin/products", log
                        )
                    db.api_key = ApiKey(**key)
                    state.save()
            name = f"set up the shop on the template ({currency})"
            with steps.run(name, log):
                assert db.api_key is not None
                db.shop = ensure_shop(url, db.api_key.token, currency, step=name, log=log)
                state.save()
        finally:
            _stop_medusa(state, out=_quiet, which="template_server")
    # Nothing may connect to the template: CREATE DATABASE ... TEMPLATE needs it idle.
    allow_template_connections(False, "lock the template database")

    name = f"create working database {work!r} from the template"
    stamp = db.template_stamp()
    if databases[work]["exists"] and db.working_template == stamp:
        steps.skip(name, "exists")
    else:
        with steps.run(name, LOGS_DIR / "pg-admin.log"):
            _stop_medusa(state, out)
            postgres.admin(target, "reset", work, tpl, step=name)
            db.working_template = stamp
            db.working_key_id = stamp.api_key_id
            state.save()

    url = medusa.base_url(port)
    name = f"start Medusa on {url}"
    md = state.medusa
    if (
        md
        and md.target == target.id
        and md.port == port
        and procs.is_running(md)
        and medusa.healthy(url)
    ):
        steps.skip(name, f"running, pid {md.pid}")
    else:
        log = LOGS_DIR / "medusa.log"
        with steps.run(name, log):
            _stop_medusa(state, out)
            env = medusa.child_env(target.url(work), secret_values)
            record = medusa.start_server(name, port=port, env=env, log=log)
            state.medusa = StoreServer(**asdict(record), port=port, target=target.id)
            state.save()

    # Prepare the copy that makes the next reset take milliseconds.
    spare_info = postgres.db_info(target, spare, step="inspect databases")[spare]
    _ensure_spare(state, target, spare_info["exists"])

    info = _info_from_state(state)
    assert info is not None
    name = "verify the API key (GET /admin/products)"
    with steps.run(name, LOGS_DIR / "medusa.log"):
        status = medusa.key_status(info.base_url, info.api_key)
        if status != 200:
            raise StackError(
                name, f"GET /admin/products with the key returned {status}", LOGS_DIR / "medusa.log"
            )

    if target.kind != "embedded" and state.embedded:
        _stop_embedded(state, out)  # the store moved to another server

    changed = _write_env_file(info)
    out(f"==> {MEDUSA_ENV_FILE}: {'written' if changed else 'up to date'}")
    out(f"stack is up in {time.monotonic() - steps.started:.1f} s: Medusa at {info.base_url}")
    return info


# --- reset ---------------------------------------------------------------------------------


def reset_store(out: Printer = _quiet, *, wait_for_key: bool = True) -> float:
    """Empty the store: replace the working database with a fresh copy of the template.

    Takes well under 2 s and needs no restart; the API key stays valid. Returns the
    seconds it took. When Medusa runs, waits until the key is accepted again, so the next
    request of a test cannot hit a connection the reset just severed.
    """
    began = time.monotonic()
    with stack_lock():
        state = StackState.load()
        target = state.target
        db = state.databases.get(target.id) if target else None
        if target is None or db is None or db.api_key is None or not db.working_key_id:
            raise StackError("reset", "the stack is not set up; run `sync-pipeline stack up` first")
        if target.kind == "embedded" and not _embedded_up(state, target):
            raise StackError(
                "reset",
                "the embedded PostgreSQL is not running; run `sync-pipeline stack up`",
                postgres.embedded_log(),
            )
        # A copy of the template under way finishes in about a second: waiting for it is
        # cheaper than cloning again next to it.
        _wait_spare_job(state, timeout=5)
        postgres.admin(
            target, "reset", target.working_db, target.template_db, target.spare_db, step="reset"
        )
        _ensure_spare(state, target, spare_exists=False)
        info = _info_from_state(state)
        md = state.medusa
        if wait_for_key and info and md and md.target == target.id and procs.is_running(md):
            deadline = time.monotonic() + 10
            while medusa.key_status(info.base_url, info.api_key, timeout=2) != 200:
                if time.monotonic() > deadline:
                    raise StackError(
                        "reset",
                        "Medusa did not serve requests again after the reset",
                        LOGS_DIR / "medusa.log",
                    )
                time.sleep(0.05)
    elapsed = time.monotonic() - began
    out(
        f"store reset in {elapsed:.2f} s (database {target.working_db!r} recreated from "
        f"{target.template_db!r})"
    )
    return elapsed


# --- down ----------------------------------------------------------------------------------


def down(out: Printer = print) -> bool:
    """Stop what ``up`` started (Medusa, the embedded PostgreSQL). Returns True if anything ran."""
    ensure_dirs()
    stopped = False
    with stack_lock():
        state = StackState.load()
        if _end_spare_job(state, timeout=15):
            out("stopped the background copy of the spare database")
        for which in ("medusa", "template_server"):
            pid = _stop_server(state, which)
            if pid:
                out(f"stopped Medusa ({which}, pid {pid})")
                stopped = True
        state.save()
        stopped = _stop_embedded(state, out) or stopped
    if not stopped:
        out("nothing of the stack was running")
    return stopped


# --- status --------------------------------------------------------------------------------


def status() -> StackStatus:
    """What runs where; ``up`` is True when Medusa is healthy and the key is accepted."""
    state = StackState.load()
    target = state.target
    result = StackStatus(up=False)
    if target is not None:
        if target.kind == "embedded":
            running = _embedded_up(state, target)
            pid = state.embedded.pid if running and state.embedded else None
        else:
            running, pid = postgres.port_open(target.host, target.port), None
        result.postgres = {
            "kind": target.kind,
            "host": target.host,
            "port": target.port,
            "pid": pid,
            "running": running,
            "description": target.describe(),
            "working_db": target.working_db,
            "template_db": target.template_db,
        }
    info = _info_from_state(state)
    md = state.medusa
    if md and info is not None:
        running = procs.is_running(md)
        healthy = running and medusa.healthy(info.base_url)
        key_valid = (medusa.key_status(info.base_url, info.api_key) == 200) if healthy else None
        result.medusa = {
            "url": info.base_url,
            "pid": md.pid if running else None,
            "running": running,
            "healthy": healthy,
            "key_valid": key_valid,
            "log": md.log,
        }
        result.up = bool(healthy and key_valid)
        result.shop = info.shop
        result.notes.extend(_env_overrides(info))
    if not result.up:
        result.notes.append("run `sync-pipeline stack up`")
    return result


def connection() -> StackInfo:
    """Base URL + key of the stack as recorded (no checks); raises if it was never set up."""
    info = _info_from_state(StackState.load())
    if info is None:
        raise StackError("connection", "the stack is not set up; run `sync-pipeline stack up`")
    return info
