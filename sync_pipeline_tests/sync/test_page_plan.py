"""The page plan without a Medusa: what is created, updated or left alone, and what fails
before any write (the plan is what a dry run shows, so it must not need a server)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from sync_pipeline.clients.models import ExistingProduct
from sync_pipeline.sync.changes import StoreContext
from sync_pipeline.sync.mapping import NormalizedProduct, Stage
from sync_pipeline.sync.page_plan import Action, Links, plan_page
from sync_pipeline_tests.products import product as plain_product

STORE = StoreContext("usd", "sc_1", "sp_1")
LINKS = Links({"c": "pcat_1"}, {"new": "ptag_1"})


def product(source_id: int) -> NormalizedProduct:
    return plain_product(source_id, tags=("new",), price=Decimal("9.99"))


def as_written(item: NormalizedProduct, product_id: str) -> ExistingProduct:
    """What Medusa holds after the plan's create of ``item`` was written."""
    (write,) = plan_page([item], {}, STORE, LINKS).writes
    return ExistingProduct.model_validate({**write.body, "id": product_id, "variants": []})


def test_a_new_product_is_created_linked_to_its_category_and_tags():
    plan = plan_page([product(1)], {}, STORE, LINKS)
    (write,) = plan.writes
    assert write.action is Action.CREATE
    assert write.body["categories"] == [{"id": "pcat_1"}]
    assert write.body["tags"] == [{"id": "ptag_1"}]
    (change,) = plan.changes
    assert (change.source_id, change.handle, change.action) == (1, "p-1", Action.CREATE)
    assert plan.unchanged == 0 and plan.failures == []


def test_a_product_medusa_already_holds_is_unchanged_and_not_written():
    current = as_written(product(1), "prod_1")
    plan = plan_page([product(1)], {current.external_id: current}, STORE, LINKS)
    assert plan.unchanged == 1
    assert plan.writes == [] and plan.changes == []


def test_a_changed_product_is_updated_by_id_keeping_the_handle_in_medusa():
    current = as_written(product(1), "prod_1").model_copy(
        update={"title": "Old title", "handle": "old-handle", "metadata": {}}
    )
    plan = plan_page([product(1)], {current.external_id: current}, STORE, LINKS)
    (write,) = plan.writes
    assert write.action is Action.UPDATE and write.body["id"] == "prod_1"
    (change,) = plan.changes
    assert change.handle == "old-handle"
    assert change.changes["title"] == ("Old title", "P 1")


def test_a_product_medusa_would_refuse_fails_by_name_and_the_rest_are_planned():
    refused = replace(product(2), price=Decimal("-1"))  # Medusa takes no negative amount
    plan = plan_page([product(1), refused], {}, STORE, LINKS)
    assert [w.product.source_id for w in plan.writes] == [1]
    assert [c.source_id for c in plan.changes] == [1]
    (failure,) = plan.failures
    assert (failure.source_id, failure.sku, failure.stage) == ("2", "SKU-2", Stage.MAPPING.value)
    assert "amount" in failure.reason
