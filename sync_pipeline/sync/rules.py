"""The merchant's rules (``SYNC_RULES_FILE``): margins, sale prices, the selection, a stock buffer.

One optional TOML file, validated whole before anything runs, so that a typo is one sentence
naming its key rather than a catalog priced wrong. Without it the sync carries the supplier's
catalog as it is. Money is decimal throughout: the file's numbers are read as decimals, never
floats, and each rule's result is exact to the cent.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import replace
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictStr
from pydantic import ValidationError as PydanticValidationError

from sync_pipeline.sync.mapping import NormalizedProduct

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class RulesError(Exception):
    """The rules file cannot be used; the message names the file and the key at fault."""


def _number(value: Any) -> Any:
    """A TOML integer or decimal; anything else (a string, a boolean) is refused, not coerced."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError("must be a number")
    return Decimal(value)


Amount = Annotated[Decimal, BeforeValidator(_number), Field(ge=0)]
Ending = Annotated[Decimal, BeforeValidator(_number), Field(ge=0, lt=1)]
Count = Annotated[int, Field(ge=0, strict=True)]


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceRule(_Rules):
    """How a supplier price becomes the shop's: ``markup_percent``, then ``ending``, ``minimum``."""

    markup_percent: Amount | None = None
    ending: Ending | None = None
    minimum: Amount | None = None

    def over(self, base: PriceRule) -> PriceRule:
        """This rule's keys where set, ``base``'s elsewhere."""
        return PriceRule(
            **{**base.model_dump(exclude_none=True), **self.model_dump(exclude_none=True)}
        )

    def round(self, value: Decimal) -> Decimal:
        """To the rule's ending (whole units, then the ending), else half up to the cent; then
        never below the minimum."""
        if self.ending is None:
            rounded = value.quantize(CENT, ROUND_HALF_UP)
        else:
            rounded = value.to_integral_value(ROUND_FLOOR) + self.ending
        return max(rounded, self.minimum) if self.minimum is not None else rounded


class PricingRules(PriceRule):
    categories: dict[StrictStr, PriceRule] = Field(default_factory=dict)

    def rule_for(self, category_slug: str) -> PriceRule:
        base = PriceRule(**self.model_dump(exclude={"categories"}))
        override = self.categories.get(category_slug)
        return override.over(base) if override else base


class SaleRules(_Rules):
    from_discount: StrictBool = False


class SelectionRules(_Rules):
    categories: list[StrictStr] = Field(default_factory=list)
    exclude_brands: list[StrictStr] = Field(default_factory=list)


class StockRules(_Rules):
    buffer: Count = 0


class MerchantRules(_Rules):
    """The whole file; every section optional."""

    pricing: PricingRules = Field(default_factory=PricingRules)
    sale: SaleRules = Field(default_factory=SaleRules)
    selection: SelectionRules = Field(default_factory=SelectionRules)
    stock: StockRules = Field(default_factory=StockRules)

    # --- what the rules do to one product --------------------------------------------------

    def selects(self, category_slug: str, brand: str | None) -> bool:
        """In the selection: its category is listed (or none are), its brand not excluded."""
        wanted = self.selection.categories
        if wanted and category_slug not in wanted:
            return False
        return brand is None or brand not in self.selection.exclude_brands

    def price(self, cost: Decimal, category_slug: str) -> Decimal:
        """``max(minimum, floor(cost × (1 + markup/100)) + ending)``; without an ending, the
        product rounded half up to the cent."""
        rule = self.pricing.rule_for(category_slug)
        markup = rule.markup_percent or Decimal(0)
        return rule.round(cost * (1 + markup / HUNDRED))

    def sale_price(
        self, price: Decimal, discount_percent: Decimal | None, category_slug: str
    ) -> Decimal | None:
        """The supplier's discount on ``price``, rounded like the price; None unless it is a
        real reduction."""
        if not self.sale.from_discount or not discount_percent or discount_percent <= 0:
            return None
        sale = self.pricing.rule_for(category_slug).round(price * (1 - discount_percent / HUNDRED))
        return sale if sale < price else None

    def stock_level(self, stock: int | None) -> int | None:
        return None if stock is None else max(0, stock - self.stock.buffer)

    def unknown_categories(self, source_slugs: set[str]) -> str | None:
        """The category slugs the rules name that the source does not have, as a sentence's
        end: a typo there would leave a category out, or unpriced, without a word."""
        named = {
            "selection.categories": self.selection.categories,
            "pricing.categories": list(self.pricing.categories),
        }
        problems = [
            f"{key} names {', '.join(repr(s) for s in unknown)}"
            for key, slugs in named.items()
            if (unknown := [s for s in slugs if s not in source_slugs])
        ]
        if not problems:
            return None
        return (
            f"{'; '.join(problems)}, not a category of the source "
            f"(it has {', '.join(sorted(source_slugs))})"
        )

    # --- what a person reads ----------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        """Every key the file sets, dotted, with its value (what the run's metadata shows)."""
        flat: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, inner in value.items():
                    walk(f"{prefix}.{key}" if prefix else key, inner)
            elif value not in (None, [], {}):
                flat[prefix] = _toml(value)

        walk("", self.model_dump(exclude_defaults=True))
        return flat

    @property
    def digest(self) -> str:
        """Short hash of the rules in effect: two runs with the same digest priced alike."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def apply_rules(
    products: list[NormalizedProduct], rules: MerchantRules
) -> tuple[list[NormalizedProduct], list[int]]:
    """The products ``rules`` select, priced (and put on sale) and stocked by them; and the
    source ids of those left out, which the sync treats like products gone from the source."""
    kept: list[NormalizedProduct] = []
    left_out: list[int] = []
    for product in products:
        if not rules.selects(product.category_slug, product.brand):
            left_out.append(product.source_id)
            continue
        price = rules.price(product.price, product.category_slug)
        kept.append(
            replace(
                product,
                price=price,
                sale_price=rules.sale_price(price, product.discount_percent, product.category_slug),
                stock=rules.stock_level(product.stock),
            )
        )
    return kept, left_out


def load_rules(path: Path, setting: str = "SYNC_RULES_FILE") -> MerchantRules:
    """The rules in ``path``; a ``RulesError`` naming ``setting``, the file and the key."""
    where = f"{setting}={path}"
    try:
        with path.open("rb") as stream:
            data = tomllib.load(stream, parse_float=Decimal)
    except OSError as error:
        raise RulesError(f"{where}: cannot read it: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RulesError(f"{where} is not valid TOML: {error}") from None
    try:
        return MerchantRules.model_validate(data)
    except PydanticValidationError as error:
        problems = "; ".join(_problem(issue) for issue in error.errors())
        raise RulesError(f"{where}: {problems}") from None


def _problem(issue: Any) -> str:
    """One validation issue as ``key: what is wrong (got …)``."""
    key = ".".join(str(part) for part in issue["loc"])
    if issue["type"] == "extra_forbidden":
        return f"unknown key {key}"
    got = issue.get("input")
    shown = "" if isinstance(got, dict) else f" (got {_toml(got)})"
    if issue["type"] == "greater_than_equal":
        return f"{key} must be 0 or more{shown}"
    if issue["type"] == "less_than":
        return f"{key} must be less than 1 (the cents, e.g. 0.99){shown}"
    message = issue["msg"].removeprefix("Value error, ")
    if issue["type"].endswith("_type"):
        message = f"must be {_KINDS.get(issue['type'], issue['type'].removesuffix('_type'))}"
    return f"{key} {message}{shown}"


def _toml(value: Any) -> str:
    """A value as the file spells it: ``true``, ``0.99``, ``"Apple"``, ``["a", "b"]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_KINDS = {
    "bool_type": "true or false",
    "int_type": "a whole number",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
}
