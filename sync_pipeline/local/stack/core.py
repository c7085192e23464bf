"""``up``, ``down``, ``reset_store`` and ``status``: the local Medusa stack as functions.

``up`` returns at once when everything already runs as asked (the fast path); otherwise it
runs the steps of :mod:`sync_pipeline.local.stack.steps`, each skipped when its result is
recorded in ``.local/stack.json`` (:mod:`sync_pipeline.local.stack.state`) and still true, then
writes ``.local/medusa.env``.

Every clone of the template has the same rows, so the key (and the admin user) made on the
template is valid in the working database and after every ``reset_store``, and so is the shop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync_pipeline.local.stack import medusa, postgres, procs, running, steps
from sync_pipeline.local.stack.config import (
    LOGS_DIR,
    MedusaProject,
    StackError,
    admin_credentials,
    currency_code,
    ensure_dirs,
    load_secrets,
    medusa_port,
    medusa_project,
    release_of_database,
    side_store_log,
    stack_lock,
    user_env,
)
from sync_pipeline.local.stack.postgres import PgTarget
from sync_pipeline.local.stack.running import Printer
from sync_pipeline.local.stack.shop import ShopInfo
from sync_pipeline.local.stack.state import StackState
from sync_pipeline.settings import MEDUSA_ENV_FILE, read_env_file, write_env_file


@dataclass
class StackInfo:
    """What a client of the running stack needs."""

    base_url: str
    api_key: str
    admin_email: str
    admin_password: str
    env_file: Path = MEDUSA_ENV_FILE
    shop: ShopInfo | None = None
    database: str = ""  # the store's database: the working one, or a side store's

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
            out.append(
                f"medusa:     {md.get('version')} at {md.get('url')}{pid}, {state}, {health}, {key}"
            )
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


def info_from_state(state: StackState) -> StackInfo | None:
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
        database=target.working_db,
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


# --- up ------------------------------------------------------------------------------------


def _fast_path(
    state: StackState, target: PgTarget, project: MedusaProject, port: int
) -> StackInfo | None:
    """Everything already runs as asked: return the stack's info without touching anything."""
    current, md = state.target, state.medusa
    if current is None or current.id != target.id or md is None:
        return None
    if md.target != target.id or md.port != port or not procs.is_running(md):
        return None
    if target.kind == "embedded" and not running.embedded_up(state, target):
        return None
    # medusa-config.ts, the lockfile or src/ changed since the build: rebuild and restart.
    if state.build_fingerprint != medusa.build_fingerprint(project):
        return None
    info = info_from_state(state)
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
        project = medusa_project()
        target = postgres.choose_target(state.target)
        port = medusa_port()
        info = _fast_path(state, target, project, port)
        if info is not None:
            if _write_env_file(info):
                out(f"rewrote {MEDUSA_ENV_FILE}")
            out("stack is already up")
            return info
        began = time.monotonic()
        steps.run(state, target, project, port, out)
        info = info_from_state(state)
        assert info is not None
        changed = _write_env_file(info)
        out(f"==> {MEDUSA_ENV_FILE}: {'written' if changed else 'up to date'}")
        out(
            f"stack is up in {time.monotonic() - began:.1f} s: Medusa {project.version} at "
            f"{info.base_url}"
        )
        return info


# --- reset ---------------------------------------------------------------------------------


def set_up_target(state: StackState, step: str) -> PgTarget:
    """The recorded PostgreSQL target, once ``up`` has made its template and key."""
    target = state.target
    db = state.databases.get(target.id) if target else None
    if target is None or db is None or db.api_key is None or not db.working_key_id:
        raise StackError(step, "the stack is not set up; run `sync-pipeline stack up` first")
    if target.kind == "embedded" and not running.embedded_up(state, target):
        raise StackError(
            step,
            "the embedded PostgreSQL is not running; run `sync-pipeline stack up`",
            postgres.embedded_log(),
        )
    return target


def _wait_for_key(info: StackInfo, log: Path) -> None:
    """Until Medusa accepts the key again: a reset severs its database connections."""
    deadline = time.monotonic() + 10
    while medusa.key_status(info.base_url, info.api_key, timeout=2) != 200:
        if time.monotonic() > deadline:
            raise StackError("reset", "Medusa did not serve requests again after the reset", log)
        time.sleep(0.05)


def reset_store(
    out: Printer = running.quiet, *, wait_for_key: bool = True, store: StackInfo | None = None
) -> float:
    """Empty the store: replace its database with a fresh copy of the template.

    ``store``: the working store (default) or a side store (:func:`side_store`). Takes well
    under 2 s and needs no restart; the API key stays valid. Returns the seconds it took.
    When Medusa runs, waits until the key is accepted again, so the next request of a test
    cannot hit a connection the reset just severed.
    """
    began = time.monotonic()
    with stack_lock():
        state = StackState.load()
        target = set_up_target(state, "reset")
        database = store.database if store and store.database else target.working_db
        if database == target.working_db:
            # A copy of the template under way finishes in about a second: waiting for it is
            # cheaper than cloning again next to it.
            running.wait_spare_job(state, timeout=5)
            postgres.admin(
                target, "reset", database, target.template_db, target.spare_db, step="reset"
            )
            running.ensure_spare(state, target, spare_exists=False)
            md = state.medusa
            serving = md and md.target == target.id and procs.is_running(md)
            info = info_from_state(state) if serving else None
            log = LOGS_DIR / "medusa.log"
        else:
            postgres.admin(target, "reset", database, target.template_db, step="reset")
            info, log = store, side_store_log(database)
        if wait_for_key and info:
            _wait_for_key(info, log)
    elapsed = time.monotonic() - began
    out(
        f"store reset in {elapsed:.2f} s (database {database!r} recreated from "
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
        if running.end_spare_job(state, timeout=15):
            out("stopped the background copy of the spare database")
        for which in ("medusa", "template_server"):
            pid = running.stop_server(state, which)
            if pid:
                out(f"stopped Medusa ({which}, pid {pid})")
                stopped = True
        state.save()
        stopped = running.stop_embedded(state, out) or stopped
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
            pg_running = running.embedded_up(state, target)
            pid = state.embedded.pid if pg_running and state.embedded else None
        else:
            pg_running, pid = postgres.port_open(target.host, target.port), None
        result.postgres = {
            "kind": target.kind,
            "host": target.host,
            "port": target.port,
            "pid": pid,
            "running": pg_running,
            "description": target.describe(),
            "working_db": target.working_db,
            "template_db": target.template_db,
        }
    info = info_from_state(state)
    md = state.medusa
    if md and info is not None:
        md_running = procs.is_running(md)
        healthy = md_running and medusa.healthy(info.base_url)
        key_valid = (medusa.key_status(info.base_url, info.api_key) == 200) if healthy else None
        result.medusa = {
            "version": release_of_database(info.database),
            "url": info.base_url,
            "pid": md.pid if md_running else None,
            "running": md_running,
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
    info = info_from_state(StackState.load())
    if info is None:
        raise StackError("connection", "the stack is not set up; run `sync-pipeline stack up`")
    return info
