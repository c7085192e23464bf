"""Change detection, on the real DummyJSON data."""

from __future__ import annotations

from sync_pipeline.sync.changes import fingerprint
from sync_pipeline.sync.mapping import normalize_products


def test_fingerprint_changes_only_with_owned_fields(normalized, products):
    base = normalized[5]
    assert fingerprint(base, "usd") == fingerprint(base, "usd")
    assert fingerprint(base, "usd") != fingerprint(base, "eur")
    changed, _ = normalize_products([{**products[4], "price": products[4]["price"] + 1}])
    assert fingerprint(changed[0], "usd") != fingerprint(base, "usd")
    review_only, _ = normalize_products([{**products[4], "reviews": []}])
    assert fingerprint(review_only[0], "usd") == fingerprint(base, "usd")
