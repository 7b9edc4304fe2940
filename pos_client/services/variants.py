"""Variants at the till: search shows a template once, a picker offers its variants."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_client.services.queries import catalog_item, search_products
from pos_client.services.till import CatalogItem
from pos_client.store.models import Product, StockLevel


def collapse(items: list[CatalogItem], *, names: dict[int, str]) -> list[CatalogItem]:
    """Replace a template's variants in search results by one entry for the template.

    The entry keeps the first variant's place and price, names the template, and has no
    variant: choosing it opens the picker. A lone variant found stays itself.
    """
    counts: dict[int, int] = {}
    for item in items:
        if item.template_id is not None:
            counts[item.template_id] = counts.get(item.template_id, 0) + 1
    result: list[CatalogItem] = []
    shown: set[int] = set()
    for item in items:
        template_id = item.template_id
        if template_id is None or counts[template_id] == 1:
            result.append(item)
        elif template_id not in shown:
            shown.add(template_id)
            result.append(
                dataclasses.replace(
                    item,
                    name=names.get(template_id, item.name),
                    sku="",
                    variant=None,
                    barcode=None,
                    on_hand=None,
                )
            )
    return result


def template_names(session: Session, items: list[CatalogItem]) -> dict[int, str]:
    """Return the names of the templates the items belong to."""
    ids = {item.template_id for item in items if item.template_id is not None}
    if not ids:
        return {}
    return {
        template_id: name
        for template_id, name in session.execute(
            select(Product.template_id, Product.template_name)
            .where(Product.template_id.in_(ids))
            .distinct()
        )
        if name and template_id is not None
    }


def variants_of(session: Session, template_id: int) -> list[CatalogItem]:
    """Return the active variants of a template, in the order they were made."""
    rows = session.execute(
        select(Product, StockLevel.on_hand)
        .outerjoin(StockLevel, StockLevel.product_id == Product.id)
        .where(Product.template_id == template_id, Product.active.is_(True))
        .order_by(Product.id)
    ).all()
    return [catalog_item(product, on_hand=on_hand) for product, on_hand in rows]


def search_with_templates(session: Session, query: str) -> list[CatalogItem]:
    """Search products, showing each template with several matching variants once."""
    items = search_products(session, query)
    return collapse(items, names=template_names(session, items))
