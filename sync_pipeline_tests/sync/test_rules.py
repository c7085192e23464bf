"""The merchant's rules file: every key checked before anything runs (one sentence naming the
key), and each rule's result exact to the cent, in decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync_pipeline.sync.rules import MerchantRules, RulesError, apply_rules, load_rules
from sync_pipeline_tests.products import product
from sync_pipeline_tests.rules_example import EXAMPLE, documented_example


def rules_from(tmp_path, text: str) -> MerchantRules:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return load_rules(path)


@pytest.fixture
def example(tmp_path) -> MerchantRules:
    return rules_from(tmp_path, EXAMPLE)


@pytest.mark.parametrize(
    ("cost", "category", "price"),
    [
        ("9.99", "smartphones", "12.99"),  # 12.987 → 12 + .99
        ("10", "smartphones", "13.99"),  # 13.00 → 13 + .99
        ("999.99", "laptops", "1149.99"),  # the category's 15 %, the base's ending
        ("0.50", "smartphones", "1.00"),  # 0.65 → 0.99, then the minimum
        ("0", "smartphones", "1.00"),
    ],
)
def test_price_is_markup_then_ending_then_minimum(example, cost, category, price):
    assert example.price(Decimal(cost), category) == Decimal(price)


def test_without_an_ending_the_price_is_rounded_half_up_to_the_cent(tmp_path):
    rules = rules_from(tmp_path, "[pricing]\nmarkup_percent = 10\n")
    assert rules.price(Decimal("1.05"), "any") == Decimal("1.16")  # 1.155 → 1.16, half up
    assert rules.price(Decimal("1.04"), "any") == Decimal("1.14")  # 1.144 → 1.14
    assert rules_from(tmp_path, "").price(Decimal("9.99"), "any") == Decimal("9.99")


def test_floats_never_enter_the_arithmetic(tmp_path):
    # 0.1 + 0.2 as floats is 0.30000000000000004; read as decimals it is exact.
    rules = rules_from(tmp_path, "[pricing]\nmarkup_percent = 0.1\n")
    assert rules.pricing.markup_percent == Decimal("0.1")
    assert rules.price(Decimal("1000"), "x") == Decimal("1001.00")


def test_a_sale_is_the_discount_rounded_like_the_price_and_only_below_it(example):
    price = Decimal("12.99")
    assert example.sale_price(price, Decimal("10.48"), "smartphones") == Decimal("11.99")
    assert (
        example.sale_price(Decimal("13.99"), Decimal("5"), "smartphones") is None
    )  # 13.29 → 13.99
    assert example.sale_price(price, Decimal("0"), "smartphones") is None
    assert example.sale_price(price, None, "smartphones") is None


def test_no_sale_without_from_discount(tmp_path):
    rules = rules_from(tmp_path, "[sale]\nfrom_discount = false\n")
    assert rules.sale_price(Decimal("10"), Decimal("50"), "x") is None


def test_selection_and_stock_buffer(example):
    assert example.selects("laptops", "Dell") and example.selects("smartphones", None)
    assert not example.selects("laptops", "Apple")
    assert not example.selects("beauty", "Essence")
    assert (example.stock_level(10), example.stock_level(1), example.stock_level(None)) == (
        8,
        0,
        None,
    )


def test_apply_rules_keeps_the_selected_and_lists_the_rest(example):
    phone = product(
        1,
        stock=5,
        category_slug="smartphones",
        brand="Samsung",
        price=Decimal("9.99"),
        discount_percent=Decimal("10.48"),
    )
    apple = product(2, stock=5, category_slug="smartphones", brand="Apple")
    beauty = product(3, stock=5, category_slug="beauty")
    kept, left_out = apply_rules([phone, apple, beauty], example)
    assert left_out == [2, 3]
    [priced] = kept
    assert (priced.price, priced.sale_price, priced.stock) == (
        Decimal("12.99"),
        Decimal("11.99"),
        3,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[pricing]\nmarkupp_percent = 30\n", "unknown key pricing.markupp_percent"),
        ("[sale]\nfrom_discount = 1\n", "sale.from_discount must be true or false (got 1)"),
        (
            '[pricing]\nmarkup_percent = "30"\n',
            'pricing.markup_percent must be a number (got "30")',
        ),
        ("[stock]\nbuffer = -2\n", "stock.buffer must be 0 or more (got -2)"),
        ("[stock]\nbuffer = 2.5\n", "stock.buffer must be a whole number (got 2.5)"),
        ("[pricing]\nending = 1.5\n", "pricing.ending must be less than 1"),
        (
            "[pricing.categories.laptops]\nminimum = -1\n",
            "pricing.categories.laptops.minimum must be 0 or more",
        ),
        ('[selection]\ncategories = "laptops"\n', "selection.categories must be a list"),
        ("[pricing\n", "is not valid TOML"),
    ],
    ids=[
        "unknown key",
        "not a boolean",
        "a string for a number",
        "negative",
        "not whole",
        "ending of a unit",
        "negative per category",
        "not a list",
        "not TOML",
    ],
)
def test_a_bad_file_is_one_sentence_naming_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(RulesError) as error:
        load_rules(path)
    [line] = str(error.value).splitlines()
    assert line.startswith(f"SYNC_RULES_FILE={path}") and message in line


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(RulesError, match="rules.toml: cannot read it: No such file"):
        load_rules(tmp_path / "rules.toml")


def test_the_digest_follows_the_rules_and_the_settings_list_what_the_file_sets(tmp_path, example):
    assert example.settings() == {
        "pricing.markup_percent": "30",
        "pricing.ending": "0.99",
        "pricing.minimum": "1.00",
        "pricing.categories.laptops.markup_percent": "15",
        "sale.from_discount": "true",
        "selection.categories": '["smartphones", "laptops"]',
        "selection.exclude_brands": '["Apple"]',
        "stock.buffer": "2",
    }
    same = rules_from(tmp_path, EXAMPLE.replace("buffer = 2", "buffer   =   2"))
    other = rules_from(tmp_path, EXAMPLE.replace("buffer = 2", "buffer = 3"))
    assert same.digest == example.digest != other.digest


def test_the_readme_shows_the_documented_example(tmp_path):
    from sync_pipeline.settings import REPO_ROOT

    shown = rules_from(tmp_path, documented_example(REPO_ROOT / "README.md"))
    assert shown.settings() == rules_from(tmp_path, EXAMPLE).settings()
