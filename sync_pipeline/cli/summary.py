"""What a ``sync-pipeline sync`` reports: one outcome per page and the summary of the whole sync
(printed by the CLI, written by ``--summary-json``, read by the benchmark)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync_pipeline.defs.reports import RequestCounts, RulesReport

COUNT_KEYS = ("created", "updated", "unchanged", "failed", "stock_set", "sale_prices_set")
REQUEST_KEYS = ("medusa_reads", "medusa_writes")


@dataclass
class PageOutcome:
    key: str
    ok: bool
    seconds: float
    products: int = 0
    total: int | None = None
    fetch_attempts: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    failed_records: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    run_id: str = ""
    plan: str = ""


@dataclass
class SyncSummary:
    dry_run: bool = False
    catalog_ok: bool = False
    catalog_error: str | None = None
    total: int | None = None
    pages: list[PageOutcome] = field(default_factory=list)
    seconds: float = 0.0
    archival_ok: bool = True
    archived: int = 0
    archival_note: str = ""
    # Medusa requests of the catalog and archival runs (pages keep their own).
    other_requests: RequestCounts = RequestCounts()
    rules: RulesReport = RulesReport()

    @property
    def ok(self) -> bool:
        return (
            self.catalog_ok
            and bool(self.pages)
            and all(p.ok for p in self.pages)
            and self.archival_ok
        )

    def count(self, key: str) -> int:
        return sum(p.counts.get(key, 0) for p in self.pages)

    def requests(self, key: str) -> int:
        """Medusa requests of the whole sync (``medusa_reads`` or ``medusa_writes``)."""
        return sum(p.requests.get(key, 0) for p in self.pages) + int(
            self.other_requests.to_metadata()[key]
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "total": self.total,
            "seconds": round(self.seconds, 3),
            "pages": len(self.pages),
            "failed_pages": [p.key for p in self.pages if not p.ok],
            **{key: self.count(key) for key in COUNT_KEYS},
            **{key: self.requests(key) for key in REQUEST_KEYS},
            "archived": self.archived,
            "archival_note": self.archival_note,
            "catalog_error": self.catalog_error,
            "rules": self.rules.as_dict(),
        }
