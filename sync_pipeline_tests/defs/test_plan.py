"""The plan's rules, on an in-memory Dagster instance whose runs and materializations the
tests write themselves: which pages and when archival may run, while the cycle's first run
(the UI's "Materialize all" or the schedule's) is still going."""

from __future__ import annotations

import dagster as dg
import pytest

from sync_pipeline.defs.cycle import cycle_status
from sync_pipeline.defs.partitions import PRODUCT_PAGES
from sync_pipeline.defs.plan import ARCHIVAL_ASSETS, next_steps
from sync_pipeline.local.dagster.recorded import (
    PAGES,
    TOTAL,
    end,
    first_run,
    page_written,
    write_page,
)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PRODUCT_PAGES, PAGES)
        yield instance


def test_pages_wait_for_the_first_run_to_set_up_the_categories_and_store(instance):
    first_run(instance, set_up_store=False)

    plan = next_steps(instance)

    assert plan.steps == [] and plan.in_flight == ["catalog"]


def test_the_other_pages_run_beside_the_first_run_once_it_has_set_up_the_store(instance):
    first_run(instance, set_up_store=True)

    plan = next_steps(instance)

    # Page 000 is the first run's own; the others need not wait for it to be written.
    assert [step.partition for step in plan.steps] == ["001", "002"]
    assert {step.name for step in plan.steps} == {"page:001", "page:002"}
    assert plan.in_flight == ["catalog", "000"]


def test_archival_waits_for_the_first_run_to_end_even_when_every_page_is_written(instance):
    first = first_run(instance, set_up_store=True)
    write_page(instance, first, "000")
    for key in PAGES[1:]:
        page_written(instance, key)

    busy = next_steps(instance)
    end(instance, first)
    ended = next_steps(instance)

    assert busy.done == PAGES and busy.steps == [] and not busy.archival_due
    assert ended.archival_due and [s.assets for s in ended.steps] == [ARCHIVAL_ASSETS]


def test_the_first_run_learns_that_archival_is_not_its_to_decide_while_pages_are_missing(instance):
    first = first_run(instance, set_up_store=True)
    write_page(instance, first, "000")

    status = cycle_status(instance)

    # Archival in the first run returns without a report when this holds (``archival.py``).
    assert not status.complete and status.pages_missing and status.first_run == first
    assert status.reason == "page 001 has not succeeded in this cycle"
    for key in PAGES[1:]:
        page_written(instance, key)
    assert cycle_status(instance).complete


def test_a_page_that_saw_a_larger_total_adds_the_pages_it_needs_page_after_page(instance):
    first = first_run(instance, set_up_store=True)
    write_page(instance, first, "000")
    end(instance, first)
    page_written(instance, "001")
    page_written(instance, "002", total=TOTAL + 100)  # the source grew: page 003 registered

    grown = next_steps(instance)
    page_written(instance, "003", total=TOTAL + 200)  # and grew again
    grown_again = next_steps(instance)

    assert grown.pages == [*PAGES, "003"] and [s.partition for s in grown.steps] == ["003"]
    assert grown_again.pages == [*PAGES, "003", "004"]
    assert [s.partition for s in grown_again.steps] == ["004"]
    page_written(instance, "004", total=TOTAL + 200)
    status = cycle_status(instance)
    assert not status.complete and not status.pages_missing
    assert status.reason == "the source's total changed during the cycle (page 002)"
