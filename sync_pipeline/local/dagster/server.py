"""A ``dagster dev`` server for end-to-end tests, and the GraphQL API its webserver answers.

Kept apart from the browser (``dagster_ui.py``): starting and stopping the webserver, daemon
and code servers as one process group, and asking the server whether its code locations have
loaded, need no Playwright.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from sync_pipeline.local.stack.procs import start_detached

DAEMON_LOOP_DIR = Path(__file__).resolve().parent / "daemon_loop"


class DagsterGraphQLError(RuntimeError):
    """The GraphQL endpoint answered with ``errors`` (or not at all)."""


def graphql(
    base_url: str, query: str, variables: dict[str, Any] | None = None, *, timeout: float = 30
) -> dict[str, Any]:
    """POST a query to ``<base_url>/graphql`` and return its ``data``; raise on ``errors``."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        base_url.rstrip("/") + "/graphql",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.load(response)
    except urllib.error.HTTPError as exc:
        raise DagsterGraphQLError(f"HTTP {exc.code}: {exc.read()[:2000]!r}") from exc
    if payload.get("errors"):
        raise DagsterGraphQLError(json.dumps(payload["errors"])[:2000])
    data = payload.get("data")
    if not isinstance(data, dict):
        raise DagsterGraphQLError(f"no data in answer: {payload!r}"[:2000])
    return data


LOCATIONS_QUERY = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""


_T = TypeVar("_T")


def _poll(what: str, done: Callable[[], _T | None], *, timeout: float, interval: float) -> _T:
    """Call ``done()`` until it returns something truthy; server state, not the UI, so a sleep."""
    deadline = time.monotonic() + timeout
    while True:
        last = done()
        if last:
            return last
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


def wait_for_code_locations(
    base_url: str,
    *,
    timeout: float = 120,
    interval: float = 0.5,
    alive: Callable[[], None] | None = None,
) -> None:
    """Wait until the webserver answers and every code location is loaded; raise on a load error.

    ``/server_info`` answers before the code locations have loaded, and the asset graph is
    empty until they have.
    """

    def loaded() -> bool:
        if alive is not None:
            alive()
        try:
            result = graphql(base_url, LOCATIONS_QUERY, timeout=5)["workspaceOrError"]
        except (OSError, DagsterGraphQLError):
            return False  # not up yet
        entries = result.get("locationEntries") or []
        for entry in entries:
            error = entry.get("locationOrLoadError") or {}
            if error.get("__typename") == "PythonError":
                raise DagsterGraphQLError(f"code location {entry['name']}: {error['message']}")
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

    _poll("code locations loaded", loaded, timeout=timeout, interval=interval)


# Runs the rest of argv with SIGINT and SIGTERM at their defaults. A command started with `&` by
# a non-interactive shell (a CI script) inherits SIGINT *ignored*, and `dagster dev` then maps
# SIGTERM onto that same disposition: it ignores both and can only be SIGKILLed, leaving its
# webserver, daemon and code servers behind.
_EXEC_WITH_DEFAULT_SIGNALS = (
    "import os, signal, sys; "
    "signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.signal(signal.SIGTERM, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


@contextmanager
def dagster_dev(
    target: Sequence[str],
    *,
    dagster_home: Path,
    port: int,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    startup_timeout: float = 120,
    shutdown_timeout: float = 60,
    daemon_loop_seconds: float | None = None,
) -> Iterator[str]:
    """Run ``dagster dev <target> -h 127.0.0.1 -p <port>``; yield its base URL once loaded.

    ``target`` is what selects the code, e.g. ``["-f", "defs.py"]`` or ``["-w",
    "workspace.yaml"]``. ``DAGSTER_HOME`` is ``dagster_home`` (created, with an empty
    ``dagster.yaml`` if it has none); output goes to ``log_path`` (default:
    ``<dagster_home>/dagster-dev.log``). The server runs in a process group of its own; on exit
    it gets SIGINT (its Ctrl-C shutdown), and whatever of the group is left after
    ``shutdown_timeout`` is SIGKILLed. ``daemon_loop_seconds`` shortens the backfill daemon's
    fixed 30 s loop (``daemon_loop/sitecustomize.py``); default: Dagster's own.
    """
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").touch()
    log_file = log_path or dagster_home / "dagster-dev.log"
    environment = {**os.environ, **(env or {})}
    if daemon_loop_seconds is not None:
        paths = [str(DAEMON_LOOP_DIR), environment.get("PYTHONPATH", "")]
        environment["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        environment["SYNC_TEST_DAEMON_LOOP_SECONDS"] = str(daemon_loop_seconds)
    base_url = f"http://127.0.0.1:{port}"
    process = start_dagster(
        ["dagster", "dev", *target, "-h", "127.0.0.1", "-p", str(port)],
        dagster_home=dagster_home,
        cwd=cwd,
        env=environment,
        log=log_file,
    )
    try:
        wait_for_code_locations(
            base_url, timeout=startup_timeout, alive=lambda: raise_if_exited(process, log_file)
        )
        yield base_url
    finally:
        stop_group(process, shutdown_timeout)


def start_dagster(
    command: Sequence[str],
    *,
    dagster_home: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Path,
) -> subprocess.Popen[bytes]:
    """Start one of Dagster's commands (``dagster …``, ``dagster-webserver``,
    ``dagster-daemon``, from this Python's environment) in a process group of its own, with
    SIGINT and SIGTERM at their defaults, on ``dagster_home``."""
    program = shutil.which(command[0], path=str(Path(sys.executable).parent)) or command[0]
    program = shutil.which(program) or program
    argv = [sys.executable, "-c", _EXEC_WITH_DEFAULT_SIGNALS, program, *command[1:]]
    environment = {**os.environ, **(env or {}), "DAGSTER_HOME": str(dagster_home)}
    return start_detached(argv, cwd=cwd, env=environment, log=log)


def raise_if_exited(process: subprocess.Popen[bytes], log: Path) -> None:
    """For a wait on a server: its exit, with the end of its log, rather than a time-out."""
    if process.poll() is not None:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{log.stem} exited with {process.returncode}:\n{tail}")


def stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGINT (Ctrl-C's shutdown), then SIGKILL for whatever of its group is left."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with suppress(ProcessLookupError):  # stragglers: code servers, run workers
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
