"""What archival plans: products gone from the source, guarded by a share of the catalog, and
products the merchant's selection leaves out, which are the merchant's decision."""

from __future__ import annotations

from sync_pipeline.sync.archival import ARCHIVE_STATUS, OwnedProduct, plan_archival


def owned(*source_ids: int, status: str = "published") -> list[OwnedProduct]:
    return [OwnedProduct(f"prod_{i}", i, f"p-{i}", status) for i in source_ids]


def test_products_gone_from_the_source_are_archived_within_the_share():
    plan = plan_archival(owned(*range(1, 21)), range(1, 20), max_share=0.1)
    assert [p.source_id for p in plan.vanished] == [20] and plan.refusal is None


def test_more_gone_than_the_share_is_refused_unless_allowed():
    catalog = owned(*range(1, 21))
    plan = plan_archival(catalog, range(1, 18), max_share=0.1)
    assert plan.refusal.startswith("refusing to archive 3 of 20 synced products (15%")
    assert (
        plan_archival(catalog, range(1, 18), max_share=0.1, allow_mass_archive=True).refusal is None
    )


def test_left_out_by_the_selection_is_archived_and_not_held_against_the_share():
    # 6 of 20 left out (a category the merchant dropped), 1 gone: 1 of the 14 selected.
    plan = plan_archival(
        owned(*range(1, 21)), range(1, 20), left_out_ids=range(1, 7), max_share=0.1
    )
    assert plan.refusal is None and plan.left_out == 6
    assert [p.source_id for p in plan.vanished] == [1, 2, 3, 4, 5, 6, 20]


def test_the_share_counts_against_the_selected_catalog():
    # 2 gone of the 10 selected is 20 %: refused, though it is 10 % of all 20 synced.
    plan = plan_archival(
        owned(*range(1, 21)), range(1, 19), left_out_ids=range(1, 11), max_share=0.1
    )
    assert plan.refusal.startswith("refusing to archive 2 of 10 synced products (20%")


def test_already_archived_products_are_left_alone():
    catalog = owned(1, 2) + owned(3, status=ARCHIVE_STATUS)
    plan = plan_archival(catalog, [1], left_out_ids=[2], max_share=1.0)
    assert [p.source_id for p in plan.vanished] == [2]
