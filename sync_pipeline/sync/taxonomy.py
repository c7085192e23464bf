"""The categories and tags a page of products links to, made to exist in Medusa before the plan.

The run's category map predates the page, which may bring a category that appeared since;
tags are found or created per page. A product whose category or tags cannot be had fails by
name here, and only the rest are looked up and planned. A dry run creates nothing: it finds
what exists and names what a real run would create, with stand-in ids in their place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sync_pipeline.clients.medusa import MedusaClient
from sync_pipeline.sync.mapping import (
    NormalizedProduct,
    RejectedRecord,
    SourceCategory,
    Stage,
    category_handle,
    category_name,
)
from sync_pipeline.sync.page_plan import Links
from sync_pipeline.sync.store_setup import (
    ensure_categories,
    ensure_tags,
    find_categories,
    find_tags,
)

log = logging.getLogger(__name__)


@dataclass
class LinkedPage:
    """The page's products that can be linked, the ids they link to, and the ones that cannot."""

    products: list[NormalizedProduct]
    links: Links
    failures: list[RejectedRecord] = field(default_factory=list)
    # In a dry run: what a real run would create (slugs, tag values).
    new_categories: list[str] = field(default_factory=list)
    new_tags: list[str] = field(default_factory=list)


def link_page(
    client: MedusaClient,
    products: list[NormalizedProduct],
    category_ids: Mapping[str, str],
    *,
    dry_run: bool,
) -> LinkedPage:
    """Ensure (or, in a dry run, find) the page's categories, then the tags of the products
    that have theirs."""
    categories, new_categories = _categories(client, products, category_ids, dry_run)
    failures = []
    with_category = []
    for product in products:
        if product.category_slug in categories:
            with_category.append(product)
        else:
            reason = f"category {product.category_slug!r} is not in Medusa"
            failures.append(RejectedRecord.of(product, Stage.CATEGORY, reason))
    values = {t for p in with_category for t in p.tags}
    if dry_run:
        tags = find_tags(client, values) if values else {}
        new_tags = sorted(values - set(tags))
        tags.update({v: f"(new tag {v})" for v in new_tags})
        tag_errors: dict[str, str] = {}
    else:
        found, errors = ensure_tags(client, values)
        tags, new_tags, tag_errors = found, [], dict(errors)
    ready = []
    for product in with_category:
        bad = [t for t in product.tags if t not in tags]
        if bad:
            reasons = "; ".join(f"{t!r}: {tag_errors.get(t, 'not created')}" for t in bad)
            reason = f"tag could not be created: {reasons}"
            failures.append(RejectedRecord.of(product, Stage.TAGS, reason))
        else:
            ready.append(product)
    return LinkedPage(ready, Links(categories, tags), failures, new_categories, new_tags)


def _categories(
    client: MedusaClient,
    products: list[NormalizedProduct],
    category_ids: Mapping[str, str],
    dry_run: bool,
) -> tuple[dict[str, str], list[str]]:
    """``{slug: id}`` with the page's categories the map lacked, and (dry run) the new ones."""
    ids = dict(category_ids)
    missing = {p.category_slug for p in products} - set(ids)
    new: list[str] = []
    if missing and dry_run:
        found = find_categories(client, [category_handle(s) for s in missing])
        for slug in sorted(missing):
            handle = category_handle(slug)
            if handle not in found:
                new.append(slug)
            ids[slug] = found.get(handle, f"(new category {slug})")
    elif missing:
        created, failures = ensure_categories(
            client, [SourceCategory(slug, category_name(slug)) for slug in sorted(missing)]
        )
        ids.update(created)
        for slug, error in failures:
            log.warning("Category %s could not be created: %s", slug, error)
    return ids, new
