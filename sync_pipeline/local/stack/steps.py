"""The steps of ``up``, in order; each is skipped when its result is recorded and still true.

1. install Node deps (``npm ci``) if ``medusa/node_modules`` is missing
2. start PostgreSQL (embedded), or check the chosen server answers
3. create + migrate the template database
4. create the admin user in it
5. ``medusa build`` (+ node_modules symlink and .env in ``.medusa/server``)
6. boot Medusa once on the template: create a secret API key, and make the store a shop
   that can take an order (region in ``MEDUSA_CURRENCY_CODE``, publishable key, stock
   location, shipping option: :mod:`sync_pipeline.local.stack.shop`), stop it
7. clone the template into the working database
8. start Medusa on the working database (own session: it outlives the command)
9. verify the key (``GET /admin/products`` → 200)

Each step is a :class:`_Step`: its name (printed, and named by its errors), when it is
skipped and why, what it does, and its log. The steps share a :class:`_Context` (the
state, the target, what earlier steps found out) rather than the locals of one long function,
and save the state after each change worth keeping, so a failed ``up`` resumes where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sync_pipeline.local.stack import medusa, postgres, procs, running
from sync_pipeline.local.stack.config import (
    LOGS_DIR,
    MEDUSA_PROJECT_DIR,
    MedusaProject,
    StackError,
    admin_credentials,
    currency_code,
    load_secrets,
)
from sync_pipeline.local.stack.postgres import PgTarget
from sync_pipeline.local.stack.running import Printer
from sync_pipeline.local.stack.shop import ensure_shop
from sync_pipeline.local.stack.state import (
    ApiKey,
    DatabaseState,
    EmbeddedServer,
    Server,
    StackState,
    StoreServer,
)


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
    if target.kind == "embedded" and not running.embedded_up(state, target):
        record = state.embedded
        ours = record and record.port == target.port and procs.is_running(record)
        if not ours and postgres.port_open(target.host, target.port):
            raise StackError(
                step,
                f"port {target.port} on {target.host} is already in use by a process the stack "
                "did not start; stop it or set SYNC_PIPELINE_PG_PORT",
            )


@dataclass
class _Context:
    """What the steps of one ``up`` share: the state, where the store goes, what they learn."""

    state: StackState
    target: PgTarget
    project: MedusaProject
    port: int
    out: Printer
    secrets: dict[str, str]
    email: str
    password: str
    # Whether the template accepts connections (None: not known yet); whether the working
    # database exists. Both from "inspect databases", kept up to date by the steps.
    template_open: bool | None = None
    working_exists: bool = False
    # The server this ``up`` booted on the template, while it runs.
    template_url: str | None = None

    @property
    def db(self) -> DatabaseState:
        return self.state.database(self.target)

    @property
    def template_env(self) -> dict[str, str]:
        return medusa.child_env(self.target.url(self.target.template_db), self.secrets)

    def needs_template_server(self) -> bool:
        """The key or the shop (for today's currency) is still to be made on the template."""
        return self.db.api_key is None or not self.db.shop_current(currency_code())

    def allow_template_connections(self, allowed: bool, step: str) -> None:
        if self.template_open != allowed:
            target = self.target
            flag = str(allowed).lower()
            postgres.admin(target, "allow-connections", target.template_db, flag, step=step)
            self.template_open = allowed

    def stop_template_server(self) -> None:
        if self.template_url is not None:
            running.stop_medusa(self.state, out=running.quiet, which="template_server")
            self.template_url = None


def _never_skipped(_: _Context) -> str | None:
    return None


def _always_wanted(_: _Context) -> bool:
    return True


@dataclass(frozen=True)
class _Step:
    """One step of ``up``.

    ``skip`` says why the step is not needed this time (printed); ``wanted`` is False when
    it does not apply at all (nothing printed). A step that is not ``shown`` is bookkeeping
    between the printed ones: it always runs, and its name only appears in its errors
    (which is why some of them share the name of the printed step they belong to).
    ``how`` is printed after the name when the step runs.
    """

    name: str | Callable[[_Context], str]
    run: Callable[[_Context, str], None]
    log: Path | None = None
    skip: Callable[[_Context], str | None] = _never_skipped
    wanted: Callable[[_Context], bool] = _always_wanted
    shown: bool = True
    how: str = ""

    def perform(self, ctx: _Context) -> None:
        if not self.wanted(ctx):
            return
        name = self.name if isinstance(self.name, str) else self.name(ctx)
        if not self.shown:
            self.run(ctx, name)
            return
        why = self.skip(ctx)
        if why is not None:
            ctx.out(f"==> {name}: skipped ({why})")
            return
        label = f"{name} ({self.how})" if self.how else name
        ctx.out(f"==> {label} ...")
        began = time.monotonic()
        try:
            self.run(ctx, name)
        except StackError:
            raise
        except Exception as exc:  # noqa: BLE001 - any surprise becomes a named step failure
            raise StackError(label, f"{type(exc).__name__}: {exc}", self.log) from exc
        ctx.out(f"    done in {time.monotonic() - began:.1f} s")


def _install_node_modules(ctx: _Context, step: str) -> None:
    medusa.check_node(step, need_npm=True)
    if not medusa.default_node_modules_ready():  # the stack's scripts use medusa/'s packages
        medusa.npm_ci(step, MEDUSA_PROJECT_DIR)
    if not ctx.project.default:
        medusa.prepare_release_project(ctx.project)
        medusa.npm_ci(step, ctx.project.root)


def _node_modules_present(ctx: _Context) -> str | None:
    if not medusa.node_modules_ready(ctx.project):
        return None
    where = "medusa" if ctx.project.default else f".local/{ctx.project.root.name}"
    return f"{where}/node_modules present"


def _start_embedded(ctx: _Context, step: str) -> None:
    state, target = ctx.state, ctx.target
    if state.embedded:  # another port or data dir, or a leftover
        running.stop_medusa(state, ctx.out)
        running.stop_embedded(state, ctx.out)
    record = postgres.start_embedded(target, step=step)
    state.embedded = EmbeddedServer(**asdict(record), port=target.port, pg_root=target.pg_root)
    state.save()


def _embedded_running(ctx: _Context) -> str | None:
    if not running.embedded_up(ctx.state, ctx.target):
        return None
    assert ctx.state.embedded is not None
    return f"running, pid {ctx.state.embedded.pid}"


def _record_target(ctx: _Context, step: str) -> None:
    state, current = ctx.state, ctx.state.target
    if current is not None and current.id != ctx.target.id:
        if current.describe() != ctx.target.describe():
            ctx.out(f"PostgreSQL changed: {current.describe()} -> {ctx.target.describe()}")
        else:  # another Medusa release: its own databases on the same server
            ctx.out(f"store database: {current.working_db} -> {ctx.target.working_db}")
        running.stop_medusa(state, ctx.out)
    state.target = ctx.target
    state.save()


def _inspect_databases(ctx: _Context, step: str) -> None:
    """Refuse databases the stack did not make; forget a template that is gone or outdated."""
    target, tpl, work = ctx.target, ctx.target.template_db, ctx.target.working_db
    databases = postgres.db_info(target, tpl, work, step=step)
    for db_name in (tpl, work):
        if databases[db_name]["exists"] and not databases[db_name]["marked"]:
            raise StackError(
                step,
                f"database {db_name!r} already exists on {target.host}:{target.port} and was not "
                "created by the stack; drop it or choose another name (DATABASE_URL)",
            )
    ctx.template_open = databases[tpl].get("allowConnections")
    ctx.working_exists = databases[work]["exists"]
    if not databases[tpl]["exists"]:
        ctx.state.forget_database(target)
    db = ctx.db
    if db.admin_email and (db.admin_email, db.admin_password) != (ctx.email, ctx.password):
        ctx.out("admin credentials changed: the template database is made again")
        ctx.state.forget_database(target)


def _migrate_template(ctx: _Context, step: str) -> None:
    state, target = ctx.state, ctx.target
    running.stop_medusa(state, ctx.out, which="template_server")
    running.end_spare_job(state, timeout=30)
    postgres.admin(target, "drop", target.spare_db, step=step)  # a copy of the old template
    postgres.admin(target, "drop", target.template_db, step=step)
    postgres.admin(target, "create", target.template_db, step=step)
    ctx.template_open = True
    medusa.migrate(step, ctx.template_env, ctx.project)
    state.forget_database(target).migrated = True
    state.save()


def _create_admin_user(ctx: _Context, step: str) -> None:
    ctx.allow_template_connections(True, step)
    medusa.create_user(step, ctx.template_env, ctx.email, ctx.password, ctx.project)
    ctx.db.admin_email, ctx.db.admin_password = ctx.email, ctx.password
    ctx.state.save()


def _build_up_to_date(ctx: _Context) -> str | None:
    current = ctx.state.build_fingerprint == medusa.build_fingerprint(ctx.project)
    return "up to date" if medusa.build_present(ctx.project) and current else None


def _build(ctx: _Context, step: str) -> None:
    fingerprint = medusa.build_fingerprint(ctx.project)
    # Rebuilding wipes .medusa/server, under a running server's feet.
    running.stop_medusa(ctx.state, ctx.out)
    medusa.build(step, ctx.template_env, ctx.project)
    ctx.state.build_fingerprint = fingerprint
    ctx.state.save()


def _prepare_server_dir(ctx: _Context, step: str) -> None:
    medusa.prepare_server_dir(
        {
            "DATABASE_URL": ctx.target.url(ctx.target.working_db),
            "JWT_SECRET": ctx.secrets["jwt_secret"],
            "COOKIE_SECRET": ctx.secrets["cookie_secret"],
            "MEDUSA_DISABLE_TELEMETRY": "true",
        },
        ctx.project,
    )


def _drop_stale_spare(ctx: _Context, step: str) -> None:
    """The template is about to change: a spare copy of it would be stale."""
    running.end_spare_job(ctx.state, timeout=30)
    postgres.admin(ctx.target, "drop", ctx.target.spare_db, step=step)


def _boot_template_server(ctx: _Context, step: str) -> None:
    ctx.allow_template_connections(True, step)
    port = medusa.free_port()
    record = medusa.start_server(
        step, project=ctx.project, port=port, env=ctx.template_env, log=_TEMPLATE_LOG
    )
    ctx.state.template_server = Server(**asdict(record), port=port)
    ctx.state.save()
    ctx.template_url = medusa.base_url(port)


def _create_api_key(ctx: _Context, step: str) -> None:
    assert ctx.template_url is not None
    key = medusa.create_secret_key(step, ctx.template_url, ctx.email, ctx.password, _TEMPLATE_LOG)
    status = medusa.key_status(ctx.template_url, key["token"])
    if status != 200:
        raise StackError(step, f"the new key got HTTP {status} from /admin/products", _TEMPLATE_LOG)
    ctx.db.api_key = ApiKey(**key)
    ctx.state.save()


def _set_up_shop(ctx: _Context, step: str) -> None:
    assert ctx.template_url is not None and ctx.db.api_key is not None
    token, currency = ctx.db.api_key.token, currency_code()
    ctx.db.shop = ensure_shop(ctx.template_url, token, currency, step=step, log=_TEMPLATE_LOG)
    ctx.state.save()


def _working_db_current(ctx: _Context) -> str | None:
    current = ctx.working_exists and ctx.db.working_template == ctx.db.template_stamp()
    return "exists" if current else None


def _create_working_db(ctx: _Context, step: str) -> None:
    target, db = ctx.target, ctx.db
    running.stop_medusa(ctx.state, ctx.out)
    postgres.admin(target, "reset", target.working_db, target.template_db, step=step)
    db.working_template = db.template_stamp()
    db.working_key_id = db.working_template.api_key_id
    ctx.state.save()


def _medusa_running(ctx: _Context) -> str | None:
    md = ctx.state.medusa
    if (
        md
        and md.target == ctx.target.id
        and md.port == ctx.port
        and procs.is_running(md)
        and medusa.healthy(medusa.base_url(ctx.port))
    ):
        return f"running, pid {md.pid}"
    return None


def _start_medusa(ctx: _Context, step: str) -> None:
    running.stop_medusa(ctx.state, ctx.out)
    env = medusa.child_env(ctx.target.url(ctx.target.working_db), ctx.secrets)
    record = medusa.start_server(step, project=ctx.project, port=ctx.port, env=env, log=_MEDUSA_LOG)
    ctx.state.medusa = StoreServer(**asdict(record), port=ctx.port, target=ctx.target.id)
    ctx.state.save()


def _prepare_spare(ctx: _Context, step: str) -> None:
    """Start the copy that makes the next reset take milliseconds."""
    spare = ctx.target.spare_db
    running.ensure_spare(
        ctx.state, ctx.target, postgres.db_info(ctx.target, spare, step=step)[spare]["exists"]
    )


def _verify_key(ctx: _Context, step: str) -> None:
    assert ctx.state.medusa is not None and ctx.db.api_key is not None
    status = medusa.key_status(medusa.base_url(ctx.state.medusa.port), ctx.db.api_key.token)
    if status != 200:
        raise StackError(step, f"GET /admin/products with the key returned {status}", _MEDUSA_LOG)


def _leave_embedded(ctx: _Context, step: str) -> None:
    if ctx.target.kind != "embedded" and ctx.state.embedded:
        running.stop_embedded(ctx.state, ctx.out)  # the store moved to another server


_NODE = "install Node dependencies"
_BOOT = "boot Medusa on the template"
_TEMPLATE_LOG = LOGS_DIR / "medusa-template.log"
_MEDUSA_LOG = LOGS_DIR / "medusa.log"
_PG_ADMIN_LOG = LOGS_DIR / "pg-admin.log"


def _done_if(recorded: Callable[[_Context], object]) -> Callable[[_Context], str | None]:
    return lambda ctx: "done" if recorded(ctx) else None


def _is_embedded(ctx: _Context) -> bool:
    return ctx.target.kind == "embedded"


# In order; each step's result is recorded in the state, so a later ``up`` skips it.
STEPS: tuple[_Step, ...] = (
    _Step(
        _NODE,
        _install_node_modules,
        LOGS_DIR / "npm-ci.log",
        skip=_node_modules_present,
        how="npm ci",
    ),
    _Step(_NODE, lambda ctx, step: medusa.check_node(step), shown=False),
    _Step(
        lambda ctx: f"start PostgreSQL (embedded, {ctx.target.host}:{ctx.target.port})",
        _start_embedded,
        postgres.embedded_log(),
        skip=_embedded_running,
        wanted=_is_embedded,
    ),
    _Step(
        lambda ctx: f"check PostgreSQL ({ctx.target.kind}, {ctx.target.host}:{ctx.target.port})",
        lambda ctx, step: postgres.admin(ctx.target, "ping", step=step),
        _PG_ADMIN_LOG,
        wanted=lambda ctx: not _is_embedded(ctx),
    ),
    _Step("record the PostgreSQL target", _record_target, shown=False),
    _Step("inspect databases", _inspect_databases, shown=False),
    _Step(
        lambda ctx: f"create + migrate template database {ctx.target.template_db!r}",
        _migrate_template,
        LOGS_DIR / "migrate.log",
        skip=_done_if(lambda ctx: ctx.db.migrated),
    ),
    _Step(
        lambda ctx: f"create admin user {ctx.email}",
        _create_admin_user,
        LOGS_DIR / "user.log",
        skip=_done_if(lambda ctx: ctx.db.admin_email == ctx.email),
    ),
    _Step("build Medusa (medusa build)", _build, LOGS_DIR / "build.log", skip=_build_up_to_date),
    _Step("prepare the server directory", _prepare_server_dir, shown=False),
    _Step(_BOOT, _drop_stale_spare, wanted=_Context.needs_template_server, shown=False),
    _Step(_BOOT, _boot_template_server, _TEMPLATE_LOG, wanted=_Context.needs_template_server),
    _Step(
        "create secret API key on the template",
        _create_api_key,
        _TEMPLATE_LOG,
        skip=_done_if(lambda ctx: ctx.db.api_key is not None),
    ),
    # Runs whenever the template server was booted (ensure_shop changes only what is missing).
    _Step(
        lambda ctx: f"set up the shop on the template ({currency_code()})",
        _set_up_shop,
        _TEMPLATE_LOG,
        skip=_done_if(lambda ctx: ctx.template_url is None),
    ),
    _Step("stop the template server", lambda ctx, step: ctx.stop_template_server(), shown=False),
    # Nothing may connect to the template: CREATE DATABASE ... TEMPLATE needs it idle.
    _Step(
        "lock the template database",
        lambda ctx, step: ctx.allow_template_connections(False, step),
        shown=False,
    ),
    _Step(
        lambda ctx: f"create working database {ctx.target.working_db!r} from the template",
        _create_working_db,
        _PG_ADMIN_LOG,
        skip=_working_db_current,
    ),
    _Step(
        lambda ctx: f"start Medusa on {medusa.base_url(ctx.port)}",
        _start_medusa,
        _MEDUSA_LOG,
        skip=_medusa_running,
    ),
    _Step("inspect databases", _prepare_spare, shown=False),
    _Step("verify the API key (GET /admin/products)", _verify_key, _MEDUSA_LOG),
    _Step("stop the embedded PostgreSQL", _leave_embedded, shown=False),
)


def run(
    state: StackState, target: PgTarget, project: MedusaProject, port: int, out: Printer
) -> None:
    """Bring the stack up on ``target`` with ``project``'s Medusa on ``port``: every step of
    :data:`STEPS`."""
    _check_ports(state, target, port)
    secret_values = load_secrets()
    email, password = admin_credentials(secret_values)
    ctx = _Context(state, target, project, port, out, secret_values, email, password)
    try:
        for step in STEPS:
            step.perform(ctx)
    finally:
        ctx.stop_template_server()  # after a failure: the template server never outlives `up`
