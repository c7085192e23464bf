"""deploy/'s topology on one machine, for its test: the code server (``dagster api grpc``),
``dagster-webserver`` and ``dagster-daemon run`` as separate processes, each with a
``DAGSTER_HOME`` of its own (as containers have) holding ``deploy/dagster.yaml``, over one
PostgreSQL storage. As in ``deploy/compose.yaml``, only the code server gets the sync's
settings; the webserver and the daemon get the storage's only, and load the code over gRPC
through a copy of ``deploy/workspace.yaml`` that points at it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sync_pipeline.local.dagster.door import free_port
from sync_pipeline.local.dagster.server import (
    graphql,
    raise_if_exited,
    start_dagster,
    stop_group,
    wait_for_code_locations,
)
from sync_pipeline.settings import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
LOCATION = "sync_pipeline"  # deploy/workspace.yaml's location_name
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""


@dataclass
class Deployment:
    """The running processes: the webserver's URL, each process's home and log."""

    url: str = ""
    homes: dict[str, Path] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def launch(self, job: str) -> str:
        """Launch ``job`` through the webserver's API (the UI's "Launch run"); its run id."""
        selector = {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "jobName": job,
        }
        answer = graphql(self.url, LAUNCH_RUN, {"params": {"selector": selector}})["launchRun"]
        if answer["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launching {job}: {answer}")
        return answer["run"]["runId"]

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            raise_if_exited(process, self.logs[name])


def _wait_for_port(port: int, timeout: float, alive: Callable[[], None]) -> None:
    """Wait until the code server listens: it loads the code first, then serves."""
    deadline = time.monotonic() + timeout
    while True:
        alive()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the code server did not listen on {port} in {timeout:.0f} s")
        time.sleep(0.2)


def home_for(root: Path, name: str) -> Path:
    """A ``DAGSTER_HOME`` with ``deploy/dagster.yaml``, as each container has."""
    home = root / name
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    return home


def _workspace(root: Path, port: int) -> Path:
    """``deploy/workspace.yaml`` with the code server's address here for compose's."""
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    entry["grpc_server"].update(host="127.0.0.1", port=port)
    path = root / "workspace.yaml"
    path.write_text(yaml.safe_dump(workspace))
    return path


@contextmanager
def deployment(
    root: Path,
    storage_env: Mapping[str, str],
    sync_env: Mapping[str, str],
    *,
    startup_timeout: float = 180,
    shutdown_timeout: float = 30,
) -> Iterator[Deployment]:
    """Start the three processes under ``root``; yield once the webserver has loaded the code.

    ``storage_env``: ``DAGSTER_PG_*``, for every process; ``sync_env``: the sync's settings
    and secrets, for the code server (and so the runs it launches) only.
    """
    code_port, web_port = free_port(), free_port()
    workspace = _workspace(root, code_port)
    commands = {
        "code-server": [
            "dagster",
            "api",
            "grpc",
            "-m",
            "sync_pipeline.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(code_port),
        ],  # fmt: skip
        "webserver": ["dagster-webserver", "-h", "127.0.0.1", "-p", str(web_port), "-w"],
        "daemon": ["dagster-daemon", "run", "-w"],
    }
    running = Deployment(url=f"http://127.0.0.1:{web_port}")
    with ExitStack() as stack:
        for name, command in commands.items():
            env = {**storage_env, **(sync_env if name == "code-server" else {})}
            args = command if name == "code-server" else [*command, str(workspace)]
            home = running.homes[name] = home_for(root, name)
            log = running.logs[name] = root / f"{name}.log"
            process = start_dagster(args, dagster_home=home, env=env, cwd=root, log=log)
            running.processes[name] = process
            stack.callback(stop_group, process, shutdown_timeout)
            if name == "code-server":  # the others load the code from it as they start
                _wait_for_port(code_port, startup_timeout, running.check_alive)
        wait_for_code_locations(running.url, timeout=startup_timeout, alive=running.check_alive)
        yield running
