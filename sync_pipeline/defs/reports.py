"""What each step of a sync reports, and the one place its metadata keys are spelled.

Assets write a report with ``to_metadata()``; the cycle check, archival, the sync plan and
the CLI summary read it back with ``from_metadata()``, so a key and its meaning are defined
once. Metadata read back from the instance or from an in-process result is accepted alike
(``MetadataValue`` objects or plain values).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from sync_pipeline.sync.mapping import RejectedRecord, Stage
from sync_pipeline.sync.rules import MerchantRules

RECORD_COLUMNS = ("source_id", "sku", "stage", "reason")


def plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata as plain Python values (tables as lists of row dicts)."""
    values = {}
    for key, value in metadata.items():
        if isinstance(value, dg.TableMetadataValue):
            values[key] = [dict(record.data) for record in value.records]
        elif isinstance(value, dg.MetadataValue):
            values[key] = value.value
        else:
            values[key] = value
    return values


def records_table(records: list[RejectedRecord]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r.as_row()) for r in records],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in RECORD_COLUMNS]),
    )


def _records(rows: list[dict[str, Any]] | None) -> list[RejectedRecord]:
    return [
        RejectedRecord(
            source_id=str(row.get("source_id", "")),
            sku=row.get("sku") or None,
            stage=Stage(row.get("stage", "")),
            reason=str(row.get("reason", "")),
        )
        for row in rows or []
    ]


@dataclass(frozen=True)
class RequestCounts:
    """Medusa requests one step made (reads are GETs; everything else writes)."""

    reads: int = 0
    writes: int = 0

    def __add__(self, other: RequestCounts) -> RequestCounts:
        return RequestCounts(self.reads + other.reads, self.writes + other.writes)

    def to_metadata(self) -> dict[str, int]:
        return {"medusa_reads": self.reads, "medusa_writes": self.writes}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> RequestCounts:
        values = plain(metadata)
        return cls(int(values.get("medusa_reads", 0)), int(values.get("medusa_writes", 0)))


@dataclass(frozen=True)
class CatalogReport:
    """``dummyjson_catalog``: the source's size and the pages it needs now."""

    total: int
    page_size: int
    pages: list[str]
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    def to_metadata(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "page_size": self.page_size,
            "pages": dg.MetadataValue.json(self.pages),
            "pages_added": dg.MetadataValue.json(self.added),
            "pages_retired": dg.MetadataValue.json(self.retired),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> CatalogReport:
        values = plain(metadata)
        return cls(
            total=int(values["total"]),
            page_size=int(values["page_size"]),
            pages=list(values["pages"]),
            added=list(values.get("pages_added") or []),
            retired=list(values.get("pages_retired") or []),
        )


@dataclass(frozen=True)
class FetchReport:
    """``dummyjson_product_pages``: one page as fetched."""

    products: int
    skip: int
    total: int
    fetch_attempts: int
    rate_limit_waits: int

    def to_metadata(self) -> dict[str, Any]:
        return {
            "products": self.products,
            "skip": self.skip,
            "total": self.total,
            "fetch_attempts": self.fetch_attempts,
            "rate_limit_waits": self.rate_limit_waits,
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> FetchReport:
        values = plain(metadata)
        return cls(**{key: int(values[key]) for key in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RulesReport:
    """``medusa_store``: the merchant's rules in effect for the cycle (none: ``file`` empty)."""

    file: str = ""
    digest: str = ""
    settings: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, file: Path | str | None, rules: MerchantRules | None) -> RulesReport:
        if file is None or rules is None:
            return cls()
        return cls(str(file), rules.digest, rules.settings())

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file or None, "digest": self.digest or None, "rules": self.settings}

    def to_metadata(self) -> dict[str, Any]:
        if not self.file:
            return {"rules_file": "(none: the supplier's catalog as it is)"}
        rows = "\n".join(f"| `{key}` | `{value}` |" for key, value in self.settings.items())
        return {
            "rules_file": self.file,
            "rules_digest": self.digest,
            "rules": dg.MetadataValue.md(f"| rule | value |\n|---|---|\n{rows}"),
            "rules_in_effect": dg.MetadataValue.json(self.settings),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> RulesReport:
        values = plain(metadata)
        if "rules_digest" not in values:
            return cls()
        return cls(values["rules_file"], values["rules_digest"], dict(values["rules_in_effect"]))

    def line(self) -> str:
        """One line for the CLI: the file, its digest, and every rule."""
        if not self.file:
            return "Rules: none (the supplier's catalog as it is)"
        rules = ", ".join(f"{key} = {value}" for key, value in self.settings.items())
        return f"Rules: {self.file} (digest {self.digest}): {rules or 'no rule set'}"


@dataclass(frozen=True)
class NormalizeReport:
    """``normalized_products``: what the page held; the ids it saw are what archival needs
    (``left_out``: those the merchant's selection leaves out, archived like vanished ones)."""

    valid: int
    rejected: list[RejectedRecord]
    total: int
    source_ids: list[int]
    left_out: list[int] = field(default_factory=list)

    def to_metadata(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "rejected": len(self.rejected),
            "rejected_records": records_table(self.rejected),
            "total": self.total,
            "source_ids": dg.MetadataValue.json(self.source_ids),
            "left_out_by_selection": dg.MetadataValue.json(self.left_out),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> NormalizeReport:
        values = plain(metadata)
        return cls(
            valid=int(values["valid"]),
            rejected=_records(values.get("rejected_records")),
            total=int(values["total"]),
            source_ids=[int(i) for i in values["source_ids"]],
            left_out=[int(i) for i in values.get("left_out_by_selection") or []],
        )


@dataclass(frozen=True)
class WriteReport:
    """``medusa_products``: a page's counts, failed records and changes (or, in a dry run,
    what would happen: then the counts are named ``would_…``)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed_records: list[RejectedRecord] = field(default_factory=list)
    requests: RequestCounts = RequestCounts()
    seconds: float = 0.0
    changes: str = ""
    dry_run: bool = False
    # Inventory levels written (the supplier's stock changed, or the level was new).
    stock_set: int = 0
    # Prices written to the sync's sale price list (added, changed or removed).
    sale_prices_set: int = 0

    @property
    def failed(self) -> int:
        return len(self.failed_records)

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "stock_set": self.stock_set,
            "sale_prices_set": self.sale_prices_set,
        }

    def to_metadata(self) -> dict[str, Any]:
        prefix = "would_" if self.dry_run else ""
        counts = {
            (f"{prefix}{key}" if key != "unchanged" else key): value
            for key, value in self.counts().items()
        }
        return {
            **({"dry_run": True} if self.dry_run else {}),
            **counts,
            "seconds": round(self.seconds, 3),
            **self.requests.to_metadata(),
            "failed_records": records_table(self.failed_records),
            "changes": dg.MetadataValue.md(self.changes or "Nothing to create or update."),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> WriteReport:
        values = plain(metadata)
        dry_run = bool(values.get("dry_run"))
        prefix = "would_" if dry_run else ""
        return cls(
            created=int(values.get(f"{prefix}created", 0)),
            updated=int(values.get(f"{prefix}updated", 0)),
            unchanged=int(values.get("unchanged", 0)),
            failed_records=_records(values.get("failed_records")),
            requests=RequestCounts.from_metadata(values),
            seconds=float(values.get("seconds", 0.0)),
            changes=str(values.get("changes") or ""),
            dry_run=dry_run,
            stock_set=int(values.get(f"{prefix}stock_set", 0)),
            sale_prices_set=int(values.get(f"{prefix}sale_prices_set", 0)),
        )


@dataclass(frozen=True)
class VanishedProduct:
    source_id: int
    handle: str
    id: str


@dataclass(frozen=True)
class ArchivalReport:
    """``medusa_archived_products``: what left the source and what was done about it."""

    archived: int = 0
    mode: str = "draft"
    owned: int = 0
    vanished: list[VanishedProduct] = field(default_factory=list)
    skipped_because: str = ""
    refusal: str = ""
    requests: RequestCounts = RequestCounts()
    dry_run: bool = False

    def to_metadata(self) -> dict[str, Any]:
        listing = [
            {"source_id": p.source_id, "handle": p.handle, "id": p.id} for p in self.vanished
        ]
        return {
            **({"dry_run": True} if self.dry_run else {}),
            ("would_archive" if self.dry_run else "archived"): self.archived,
            "mode": self.mode,
            "owned": self.owned,
            "vanished": dg.MetadataValue.json(listing),
            "skipped_because": self.skipped_because,
            "refusal": self.refusal,
            **self.requests.to_metadata(),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> ArchivalReport:
        values = plain(metadata)
        dry_run = bool(values.get("dry_run"))
        vanished = values.get("vanished") or []
        if isinstance(vanished, str):
            vanished = json.loads(vanished)
        return cls(
            archived=int(values.get("would_archive" if dry_run else "archived", 0)),
            mode=str(values.get("mode", "draft")),
            owned=int(values.get("owned", 0)),
            vanished=[VanishedProduct(int(v["source_id"]), v["handle"], v["id"]) for v in vanished],
            skipped_because=str(values.get("skipped_because") or ""),
            refusal=str(values.get("refusal") or ""),
            requests=RequestCounts.from_metadata(values),
            dry_run=dry_run,
        )
