"""Drive the Dagster web UI (1.13) from headless Chromium with Playwright, for end-to-end tests.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``) and the pip package
``playwright`` (sync API). Playwright's own browser download (``playwright install``) cannot
work on these machines, so the browser is always the system one.

Typical use (``dagster_server.dagster_dev`` starts a server; for one started otherwise, call
``dagster_server.wait_for_code_locations(base_url)`` first)::

    with dagster_dev(["-f", "defs.py"], dagster_home=tmp_path, port=3391) as base_url:
        with open_browser() as page:
            launched = materialize_all(page, base_url)

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

import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from playwright.sync_api import Locator, Page, expect, sync_playwright

from sync_pipeline.local.dagster.server import graphql

LINEAGE_PATH = "/asset-groups"  # "Lineage" in the side bar: the global asset graph
CODE_LOCATION = "sync_pipeline.definitions"  # workspace.yaml's module

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


class ChromiumNotFoundError(RuntimeError):
    """No system Chromium to drive."""


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


def job_path(job_name: str) -> str:
    """A job's page ("Jobs" in the side bar), whose asset graph has its own "Materialize all"."""
    return f"/locations/{CODE_LOCATION}/jobs/{job_name}"


def materialize_all(
    page: Page, base_url: str, *, path: str = LINEAGE_PATH, timeout_ms: float = 60_000
) -> Launched:
    """Open the global asset graph (or the graph at ``path``, e.g. a job's), click
    "Materialize all" and launch what it offers.

    With partitioned assets, chooses "All" partitions in the dialog, then "Launch 1 run" (one
    partition) or "Launch backfill" (several). Returns what the UI's toast reports launched;
    it does not wait for the run to finish. A selection that needs run
    config (the UI then opens the launchpad) is not handled and times out.

    Every wait gives up after ``timeout_ms``, passed to each call: Playwright's ``expect`` has
    a 5 s default of its own, which the page's default timeout does not change, and that is
    too short for a graph still loading on a busy 2-core machine.
    """
    page.goto(base_url.rstrip("/") + path, timeout=timeout_ms)
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
