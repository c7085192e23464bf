"""A DummyJSON query string read into options, and a product list paged by them (API.md §2, §3).

Kept apart from the HTTP server because it is pure: the same query validation runs on every
route, and the same sort/skip/limit/select makes every list answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from sync_pipeline.local.dummyjson_server.js_values import (
    JS_WHITESPACE,
    js_number,
    js_parse_int,
    js_sort,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_DELAY_MS",
    "Options",
    "QueryError",
    "page",
    "parse_options",
    "subset",
]

DEFAULT_LIMIT = 30
MAX_DELAY_MS = 5000


class QueryError(Exception):
    """A query the server refuses: it answers ``status`` with ``{"message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Options:
    """A request's validated query options."""

    limit: int | None  # None = NaN (returns no items)
    skip: int | None  # None = NaN (no skip, echoed as null)
    q: str
    select: list[str] | None
    sort_by: str | None
    descending: bool
    delay_ms: float


def parse_options(query: str, legacy: bool) -> Options:
    """Query validation (§2), run on every route. Raises :class:`QueryError` (400)."""
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, []).append(value)

    def number(name: str, default: int) -> int | None:
        values = params.get(name)
        if values is None:
            return default
        # A repeated name is an array for Express's query parser, and Number([a, b]) is NaN.
        if len(values) > 1 or math.isnan(js_number(values[0])):
            raise QueryError(400, f"Invalid '{name}' - must be a number")
        return js_parse_int(values[0])

    limit = number("limit", DEFAULT_LIMIT)
    skip = number("skip", 0)

    q_values = params.get("q", []) + params.get("q[valueSearch]", [])
    odd_q = [key for key in params if key.startswith("q[") and key != "q[valueSearch]"]
    if odd_q or len(q_values) > 1:
        raise QueryError(400, "Invalid 'q' - must be a string")
    q = q_values[0] if q_values else ""
    q = q.strip(JS_WHITESPACE).lower().replace("-", " ")

    select_values = params.get("select", [])
    select: list[str] | None = None
    if any(select_values):
        select = ["id"]
        for value in select_values:
            select.extend(value.split(","))

    sort_by = ",".join(params.get("sortBy", [])) or None
    descending = False
    if legacy:
        sort_by = None  # sortBy/order did not exist before 2024-05-23
    elif sort_by:
        order = ",".join(params.get("order", [])).lower() or "asc"
        if order not in ("asc", "desc"):
            raise QueryError(400, "Order can be: 'asc' or 'desc'")
        descending = order == "desc"

    delay_ms = 0.0
    delay_text = ",".join(params.get("delay", []))
    if delay_text:
        delay = js_number(delay_text) if len(params["delay"]) == 1 else math.nan
        if math.isnan(delay):
            raise QueryError(400, "Delay must be a number in milliseconds")
        if delay > MAX_DELAY_MS:
            raise QueryError(400, "Delay cannot be greater than 5 seconds")
        if delay < 0:
            raise QueryError(400, "Delay cannot be less than 0")
        delay_ms = delay

    return Options(limit, skip, q, select, sort_by, descending, delay_ms)


def subset(product: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {name: product[name] for name in fields if name in product}


def page(products: list[dict[str, Any]], options: Options) -> dict[str, Any]:
    """Sort, skip, limit, select (§3), and wrap."""
    total = len(products)
    if options.sort_by:
        products = js_sort(products, options.sort_by, options.descending)
    if options.skip is not None and options.skip > 0:
        products = products[options.skip :]
    if options.limit is None:
        products = []
    elif options.limit != 0:
        products = products[: options.limit]
    if options.select:
        products = [subset(product, options.select) for product in products]
    return {"products": products, "total": total, "skip": options.skip, "limit": len(products)}
