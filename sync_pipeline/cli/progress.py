"""What ``sync-pipeline sync`` shows while it works: pages done of needed, products per second
and the time left. On a terminal one status line is redrawn; piped, each page is a plain line
(with the same figures), so logs and scripts read it line by line."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TextIO

from sync_pipeline.cli.summary import PageOutcome


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}:{seconds:02d}"


def page_line(outcome: PageOutcome) -> str:
    shown = {k: v for k, v in outcome.counts.items() if v or k != "sale_prices_set"}
    counts = ", ".join(f"{k} {v}" for k, v in shown.items()) or "nothing written"
    status = "ok" if outcome.ok else "FAILED"
    return (
        f"  page {outcome.key}: {status:6} {outcome.products:4d} products: {counts} "
        f"({outcome.seconds:.1f} s, fetch attempts {outcome.fetch_attempts})"
    )


class Progress:
    """Receives each page's outcome (``on_page``) and shows it; ``quiet`` shows only failures."""

    def __init__(
        self,
        out: TextIO,
        page_size: int,
        *,
        tty: bool,
        quiet: bool = False,
        clock: Callable[[], float] = time.monotonic,
        detail: Callable[[PageOutcome, TextIO], None] | None = None,
    ) -> None:
        self.out = out
        self.page_size = page_size
        self.tty = tty
        self.quiet = quiet
        self.clock = clock
        self.detail = detail
        self.started = clock()
        self.done = 0
        self.products = 0
        self.total: int | None = None
        self._status_shown = False

    def status(self) -> str:
        """``pages 3/21 · 1,500 products · 96/s · ETA 2:10``."""
        elapsed = max(self.clock() - self.started, 1e-6)
        rate = self.products / elapsed
        needed = max(math.ceil(self.total / self.page_size), self.done) if self.total else None
        text = f"pages {self.done}/{needed if needed is not None else '?'}"
        text += f" · {self.products:,} products · {rate:.0f}/s"
        if needed and self.done:
            text += f" · ETA {_clock(elapsed / self.done * (needed - self.done))}"
        return text

    def on_page(self, outcome: PageOutcome) -> None:
        self.done += 1
        self.products += outcome.products
        if outcome.total is not None:
            self.total = max(self.total or 0, outcome.total)
        if self.quiet and outcome.ok:
            return
        self._clear()
        if self.tty and outcome.ok and not self.detail:
            self._draw()
            return
        print(page_line(outcome) + ("" if self.quiet else f"  [{self.status()}]"), file=self.out)
        if outcome.error:
            print(f"    {outcome.error}", file=self.out)
        if self.detail:
            self.detail(outcome, self.out)
        if self.tty and not self.quiet:
            self._draw()
        self.out.flush()

    def finish(self) -> None:
        """Leave the terminal on a fresh line before the summary."""
        self._clear()

    def _draw(self) -> None:
        self.out.write(f"\r\x1b[K  {self.status()}")
        self.out.flush()
        self._status_shown = True

    def _clear(self) -> None:
        if self._status_shown:
            self.out.write("\r\x1b[K")
            self._status_shown = False
