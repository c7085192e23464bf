"""The product file a DummyJSON-compatible server serves: reading it, and what it derives.

Kept apart from the HTTP server so that the file's format (a bare JSON array or
``{"products": [...]}``, with integral floats written as ints) and the category list it
implies are one module's job; the server only asks for a :class:`Catalog` and re-reads it when
:func:`file_signature` changes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Catalog",
    "DataFileError",
    "category_name",
    "category_slugs",
    "file_signature",
    "load_products",
]


class DataFileError(ValueError):
    """The data file cannot be read or is not a product list. The message names the file."""


def load_products(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a product file: a bare JSON array (like ``products.json``) or ``{"products": [...]}``.

    Integral floats (``25.0``) become ints, since the real server (JavaScript) writes them as
    ``25``. Raises :class:`DataFileError` naming the file when it is missing or malformed.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"cannot read data file {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"data file {path} is not valid UTF-8 JSON: {exc}") from exc
    products = data.get("products") if isinstance(data, dict) else data
    if not isinstance(products, list):
        raise DataFileError(
            f"data file {path} must hold a JSON array of products "
            "or an object with a 'products' array"
        )
    for index, item in enumerate(products):
        if not isinstance(item, dict) or "id" not in item:
            raise DataFileError(
                f"data file {path}: item {index} is not a product object with an 'id'"
            )
    return [_integral_floats_to_int(item) for item in products]


def _integral_floats_to_int(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    if isinstance(value, dict):
        return {key: _integral_floats_to_int(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_to_int(item) for item in value]
    return value


def category_name(slug: str) -> str:
    """``mens-shirts`` -> ``Mens Shirts``: split on ``-``, upper-case each word's first letter."""
    return " ".join(word[:1].upper() + word[1:] for word in slug.split("-"))


def category_slugs(products: Iterable[dict[str, Any]]) -> list[str]:
    """Category slugs in order of first appearance (what ``/products/category-list`` returns)."""
    seen: dict[str, None] = {}
    for product in products:
        category = product.get("category")
        if isinstance(category, str):
            seen.setdefault(category, None)
    return list(seen)


@dataclass(frozen=True)
class Catalog:
    """A product file as read: its products, their category slugs, and the file's signature."""

    products: list[dict[str, Any]]
    categories: list[str]  # slugs in order of first appearance
    signature: tuple[int, ...] | None

    @classmethod
    def load(cls, path: Path) -> Catalog:
        signature = file_signature(path)
        products = load_products(path)
        return cls(products=products, categories=category_slugs(products), signature=signature)


def file_signature(path: Path) -> tuple[int, ...] | None:
    """The file's mtime, size, inode and ctime (``None`` when it cannot be read): a change in
    any of them means the file must be read again."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
