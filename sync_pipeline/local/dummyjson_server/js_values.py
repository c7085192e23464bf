"""JavaScript value semantics, to answer as DummyJSON (a Node.js server) does.

DummyJSON validates ``limit``/``skip``/``delay`` with ``Number()`` and ``parseInt()``, trims with
``String.prototype.trim``, sorts with JavaScript's ``<`` and matches ids as strings; these
functions copy those rules so that odd queries and odd data get the same answers here.
"""

from __future__ import annotations

import math
import re
from functools import cmp_to_key
from typing import Any

__all__ = ["JS_WHITESPACE", "js_number", "js_parse_int", "js_sort", "js_string"]

# Whitespace as JavaScript's String.prototype.trim and Number() see it.
JS_WHITESPACE = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_JS_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
_JS_RADIX = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)\Z", re.ASCII)
_JS_INT_PREFIX = re.compile(r"[+-]?\d+", re.ASCII)


def js_number(text: str) -> float:
    """JavaScript's ``Number(string)``: NaN for anything that is not a whole numeric literal."""
    s = text.strip(JS_WHITESPACE)
    if not s:
        return 0.0
    if _JS_DECIMAL.match(s):
        return float(s)
    if _JS_RADIX.match(s):
        return float(int(s, 0))
    if s in ("Infinity", "+Infinity"):
        return math.inf
    if s == "-Infinity":
        return -math.inf
    return math.nan


def js_parse_int(text: str) -> int | None:
    """JavaScript's ``parseInt(string, 10)``; ``None`` stands for NaN."""
    match = _JS_INT_PREFIX.match(text.lstrip(JS_WHITESPACE))
    return int(match.group()) if match else None


_MISSING = object()


def js_string(value: Any) -> str:
    """A JSON value as JavaScript writes it inside ``Array.prototype.join``
    (``null`` and ``undefined`` become ``""``)."""
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, list):
        return ",".join(js_string(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _js_primitive(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return js_string(value)
    return value


def _js_to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        return js_number(value)
    return math.nan


def _js_less(a: Any, b: Any) -> bool:
    """``a < b`` in JavaScript (``undefined`` compares false both ways)."""
    if a is _MISSING or b is _MISSING:
        return False
    a, b = _js_primitive(a), _js_primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return a < b
    x, y = _js_to_number(a), _js_to_number(b)
    return x < y  # False when either is NaN


def js_sort(products: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """``products`` sorted on ``key`` with JavaScript's ``<``, as DummyJSON's ``sortBy`` does."""
    sign = -1 if descending else 1

    def compare(p: dict[str, Any], q: dict[str, Any]) -> int:
        a, b = p.get(key, _MISSING), q.get(key, _MISSING)
        if _js_less(a, b):
            return -sign
        if _js_less(b, a):
            return sign
        return 0

    return sorted(products, key=cmp_to_key(compare))
