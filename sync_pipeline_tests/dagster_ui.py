"""Drive the Dagster web UI (1.13) from headless Chromium with Playwright, for end-to-end tests.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``) and the pip package
``playwright`` (sync API). Playwright's own browser download (``playwright install``) cannot
work on these machines, so the browser is always the system one.

Typical use (``dagster_dev`` starts a server; for one started otherwise, call
``wait_for_code_locations(base_url)`` first)::

    with dagster_dev(["-f", "defs.py"], dagster_home=tmp_path, port=3391) as base_url:
        with open_browser() as page:
            launched = materialize_all(page, base_url)
        finished = wait_for_idle(base_url)
        assert {run["status"] for run in finished} == {"SUCCESS"}

What the UI does, as seen on 1.13.27 and 1.13.28 (the selectors below rely on it):

- First visit: a "Join the Dagster community" dialog opens about one second *after* the page
  has loaded (only on 127.0.0.1/localhost, until skipped once per instance), over whatever
  the test clicks next. Its "Skip" button closes it and records that on the server
  (``shouldShowNux`` turns false). If the launch dialog opens first, it lies on top of this
  one and its "Skip" can no longer be clicked: skip it before clicking anything.
- The asset graph's button is "Materialize all" and becomes "Materialize all…" (with U+2026)
  when any asset is partitioned. Its accessible name starts with the icon's name
  ("materialization Materialize all…"), so names are matched at their end, not their start.
- Unpartitioned assets only: the click launches one run at once (toast "Launched run <id8>").
- Any partitioned asset: a dialog "Launch runs to materialize N assets" opens with *no*
  partition selected ("0 partitions", button "Launch backfill" disabled). After "All": with
  one partition it says "1 partition" and "Launch 1 run" (one run of ``__ASSET_JOB`` tagged
  ``dagster/partition``, covering the unpartitioned assets too); with several it says
  "N partitions" and "Launch backfill" (an asset backfill, toast "Created backfill <id>", run
  by the daemon: one run per partition plus one per unpartitioned asset, over several ticks).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from playwright.sync_api import Locator, Page, expect, sync_playwright

LINEAGE_PATH = "/asset-groups"  # "Lineage" in the side bar: the global asset graph

CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",  # no network here but the registries
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

_COMMUNITY_DIALOG_TITLE = "Join the Dagster community"
_MATERIALIZE_ALL = re.compile(r"\bMaterialize all…?$")
_LAUNCH_BUTTON = re.compile(r"\bLaunch (?:1 run|backfill)$")
_SOME_PARTITIONS = re.compile(r"^[1-9]\d* partitions?$")
_LAUNCHED_TOAST = re.compile(r"\b(?:Launched run|Created backfill) (\w+)")
_TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
_ACTIVE_BACKFILL = {"REQUESTED", "CANCELING", "FAILING"}


class ChromiumNotFoundError(RuntimeError):
    """No system Chromium to drive."""


class DagsterGraphQLError(RuntimeError):
    """The GraphQL endpoint answered with ``errors`` (or not at all)."""


@dataclass(frozen=True)
class Launched:
    """What the UI launched: one run, or an asset backfill.

    ``id`` is as the toast shows it: a run id's first 8 characters, or a backfill's full id.
    ``clicked_at`` is when the click that launched it was made (``time.time()``).
    """

    kind: Literal["run", "backfill"]
    id: str
    clicked_at: float


def find_chromium() -> str:
    """The system Chromium: ``$CHROMIUM``, else ``chromium`` on PATH, else ``/usr/bin/chromium``."""
    for candidate in (
        os.environ.get("CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ChromiumNotFoundError(
        "no Chromium found (looked at $CHROMIUM, chromium on PATH, /usr/bin/chromium): install "
        "Debian's package with `apt-get install -y chromium` (and the pip package `playwright`); "
        "`playwright install` cannot download a browser here"
    )


@contextmanager
def open_browser(
    *,
    headless: bool = True,
    timeout_ms: float = 60_000,
    viewport: tuple[int, int] = (1400, 900),
) -> Iterator[Page]:
    """A fresh page in headless system Chromium, closed (with the browser) on exit.

    Its actions time out after ``timeout_ms`` (``expect`` keeps its own 5 s default: pass it a
    ``timeout``).
    """
    executable = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=headless, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            context.set_default_timeout(timeout_ms)
            page = context.new_page()
            yield page
        finally:
            browser.close()


def dismiss_first_visit(page: Page, base_url: str, *, timeout_ms: float = 60_000) -> None:
    """Skip the "Join the Dagster community" dialog if this page load is going to show it.

    Call it right after navigating to the UI, before clicking anything. The dialog opens about
    a second *after* the page has loaded, and only when the origin is 127.0.0.1/localhost, the
    browser's ``localStorage["communityNux"]`` is unset and the server's ``shouldShowNux`` is
    true (until someone skips it once per instance). So this asks exactly those, and when the
    dialog is due waits for it, clicks "Skip" and waits for it to close; otherwise it returns
    at once.

    Neither a one-off visibility check (too early: it misses the dialog) nor a Playwright
    locator handler (it can fire once the next dialog has opened on top, and then "Skip"
    can't be clicked) is reliable here.
    """
    if not page.url.startswith(("http://127.0.0.1", "http://localhost")):
        return
    if page.evaluate("() => window.localStorage.getItem('communityNux')") is not None:
        return
    if not graphql(base_url, "query ShouldShowNux { shouldShowNux }").get("shouldShowNux"):
        return
    community = page.get_by_role("dialog").filter(has_text=_COMMUNITY_DIALOG_TITLE)
    expect(community).to_be_visible(timeout=timeout_ms)
    community.get_by_role("button", name="Skip", exact=True).click(timeout=timeout_ms)
    expect(community).to_be_hidden(timeout=timeout_ms)


def materialize_all(page: Page, base_url: str, *, timeout_ms: float = 60_000) -> Launched:
    """Open the global asset graph, click "Materialize all" and launch what it offers.

    With partitioned assets, chooses "All" partitions in the dialog, then "Launch 1 run" (one
    partition) or "Launch backfill" (several). Returns what the UI's toast reports launched;
    it does not wait for the run to finish: see ``wait_for_idle``. A selection that needs run
    config (the UI then opens the launchpad) is not handled and times out.

    Every wait gives up after ``timeout_ms``, passed to each call: Playwright's ``expect`` has
    a 5 s default of its own, which the page's default timeout does not change, and that is
    too short for a graph still loading on a busy 2-core machine.
    """
    page.goto(base_url.rstrip("/") + LINEAGE_PATH, timeout=timeout_ms)
    dismiss_first_visit(page, base_url, timeout_ms=timeout_ms)
    button = page.get_by_role("button", name=_MATERIALIZE_ALL)
    # Before the code location has loaded, the graph (and so the button) isn't there yet.
    expect(button).to_be_enabled(timeout=timeout_ms)
    clicked_at = time.time()
    button.click(timeout=timeout_ms)

    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    toast = page.get_by_text(_LAUNCHED_TOAST)
    expect(dialog.or_(toast).first).to_be_visible(timeout=timeout_ms)
    if dialog.is_visible():
        clicked_at = _launch_all_partitions(dialog, timeout_ms)

    expect(toast.first).to_be_visible(timeout=timeout_ms)
    match = _LAUNCHED_TOAST.search(toast.first.inner_text())
    if match is None:  # pragma: no cover - the locator matched this very pattern
        raise AssertionError("launch toast without an id")
    kind: Literal["run", "backfill"] = (
        "run" if match.group(0).startswith("Launched") else "backfill"
    )
    return Launched(kind=kind, id=match.group(1), clicked_at=clicked_at)


def _launch_all_partitions(dialog: Locator, timeout_ms: float) -> float:
    """Choose every partition and launch; returns when the launching click was made."""
    # The dialog loads partition health and job data after it opens; "All" only selects
    # every key once that is in.
    expect(dialog.get_by_text("Loading pipeline and partition sets")).to_have_count(
        0, timeout=timeout_ms
    )
    # "All" stays active and re-selects every key when more arrive, so an early click is fine.
    dialog.get_by_role("button", name="All", exact=True).click(timeout=timeout_ms)
    expect(dialog.get_by_text(_SOME_PARTITIONS)).to_be_visible(timeout=timeout_ms)
    launch = dialog.get_by_role("button", name=_LAUNCH_BUTTON)
    expect(launch).to_be_enabled(timeout=timeout_ms)
    clicked_at = time.time()
    launch.click(timeout=timeout_ms)
    expect(dialog).to_be_hidden(timeout=timeout_ms)
    return clicked_at


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


RUNS_QUERY = """
query Runs {
  runsOrError {
    __typename
    ... on Runs {
      results { runId status jobName tags { key value } assetSelection { path } }
    }
    ... on PythonError { message }
  }
}
"""

BACKFILLS_QUERY = """
query Backfills {
  partitionBackfillsOrError {
    __typename
    ... on PartitionBackfills { results { id status numPartitions } }
    ... on PythonError { message }
  }
}
"""

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


def runs(base_url: str) -> list[dict[str, Any]]:
    """Every run, newest first: ``runId``, ``status``, ``jobName``, ``tags``, ``assetSelection``."""
    result = graphql(base_url, RUNS_QUERY)["runsOrError"]
    if result["__typename"] != "Runs":
        raise DagsterGraphQLError(f"runsOrError: {result}")
    return list(result["results"])


def backfills(base_url: str) -> list[dict[str, Any]]:
    """Every backfill, newest first: ``id``, ``status``, ``numPartitions``."""
    result = graphql(base_url, BACKFILLS_QUERY)["partitionBackfillsOrError"]
    if result["__typename"] != "PartitionBackfills":
        raise DagsterGraphQLError(f"partitionBackfillsOrError: {result}")
    return list(result["results"])


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


def wait_for_idle(
    base_url: str, *, timeout: float = 300, interval: float = 1
) -> list[dict[str, Any]]:
    """Wait until no backfill is in progress and every run has ended; return ``runs()``.

    An asset backfill's runs are launched by the daemon over several ticks (about 30 s apart
    under ``dagster dev``), and the backfill only turns ``COMPLETED_SUCCESS`` a tick after its
    last run: waiting on both is what says "all of it has run".
    """

    def idle() -> list[dict[str, Any]] | None:
        if any(b["status"] in _ACTIVE_BACKFILL for b in backfills(base_url)):
            return None
        current = runs(base_url)
        if not current or any(r["status"] not in _TERMINAL_RUN for r in current):
            return None
        return current

    return _poll("idle", idle, timeout=timeout, interval=interval)


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
) -> Iterator[str]:
    """Run ``dagster dev <target> -h 127.0.0.1 -p <port>``; yield its base URL once loaded.

    ``target`` is what selects the code, e.g. ``["-f", "defs.py"]`` or ``["-w",
    "workspace.yaml"]``. ``DAGSTER_HOME`` is ``dagster_home`` (created, with an empty
    ``dagster.yaml`` if it has none); output goes to ``log_path`` (default:
    ``<dagster_home>/dagster-dev.log``). The server runs in a process group of its own; on exit
    it gets SIGINT (its Ctrl-C shutdown), and whatever of the group is left after
    ``shutdown_timeout`` is SIGKILLed.
    """
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").touch()
    log_file = log_path or dagster_home / "dagster-dev.log"
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or "dagster"
    dagster = shutil.which(dagster) or dagster
    command = [sys.executable, "-c", _EXEC_WITH_DEFAULT_SIGNALS, dagster, "dev", *target]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    environment = {**os.environ, **(env or {}), "DAGSTER_HOME": str(dagster_home)}
    base_url = f"http://127.0.0.1:{port}"
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive() -> None:
        if process.poll() is not None:
            tail = log_file.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"dagster dev exited with {process.returncode}:\n{tail}")

    try:
        wait_for_code_locations(base_url, timeout=startup_timeout, alive=alive)
        yield base_url
    finally:
        _stop_group(process, shutdown_timeout)


def _stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with suppress(ProcessLookupError):  # stragglers: code servers, run workers
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
