"""What the CLI shows while it syncs: a redrawn status line on a terminal, plain lines piped."""

from __future__ import annotations

import io

from sync_pipeline.cli.progress import Progress
from sync_pipeline.cli.summary import PageOutcome


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def outcome(key: str, ok: bool = True, products: int = 500) -> PageOutcome:
    return PageOutcome(
        key=key,
        ok=ok,
        seconds=5.0,
        products=products,
        total=2000,
        counts={"created": products, "failed": 0 if ok else 1},
        error=None if ok else "1 record(s) not synced: 7 (SKU-7): price",
    )


def feed(progress: Progress, clock: Clock, *outcomes: PageOutcome) -> None:
    for item in outcomes:
        clock.now += 10
        progress.on_page(item)


def test_piped_output_is_one_plain_line_per_page_with_rate_and_eta():
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, page_size=500, tty=False, clock=clock)
    feed(progress, clock, outcome("000"), outcome("001"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0].startswith("  page 000: ok") and "created 500" in lines[0]
    # 1,000 products in 20 s, two pages of four left at 10 s a page.
    assert lines[1].endswith("[pages 2/4 · 1,000 products · 50/s · ETA 0:20]")


def test_a_terminal_gets_one_redrawn_status_line_and_failures_in_full():
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, page_size=500, tty=True, clock=clock)
    feed(progress, clock, outcome("000"), outcome("001", ok=False))
    progress.finish()
    text = out.getvalue()
    assert text.startswith("\r\x1b[K  pages 1/4 · 500 products · 50/s · ETA 0:30")
    assert "page 000" not in text  # a page that went well is only counted
    assert "page 001: FAILED" in text and "7 (SKU-7): price" in text
    assert text.endswith("\r\x1b[K")  # the summary starts on a clean line


def test_quiet_shows_only_failed_pages():
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, page_size=500, tty=False, quiet=True, clock=clock)
    feed(progress, clock, outcome("000"), outcome("001", ok=False), outcome("002"))
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["  page 001", "    1 record(s) not synced"]
    assert "[pages" not in out.getvalue()
