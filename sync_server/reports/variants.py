"""Reports by template: a T-shirt's sizes and colours added up into one row."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.catalog.models import Product, ProductTemplate
from sync_server.reports.base import Report, ratio

SUMMED = ("quantity", "revenue", "cost", "margin")


def roll_up(session: Session, *, report: Report, tenant_id: int, limit: int) -> Report:
    """Merge a best-sellers report's variant rows into one row per template, re-ranked."""
    ids = [row["product_id"] for row in report.rows]
    templates = {
        product_id: (template_id, sku, name)
        for product_id, template_id, sku, name in session.execute(
            select(Product.id, ProductTemplate.id, ProductTemplate.sku, ProductTemplate.name)
            .join(ProductTemplate, ProductTemplate.id == Product.template_id)
            .where(Product.tenant_id == tenant_id, Product.id.in_(ids))
        )
    }
    merged: dict[Any, dict[str, Any]] = {}
    for row in report.rows:
        found = templates.get(row["product_id"])
        key = ("template", found[0]) if found else ("product", row["product_id"])
        if key not in merged:
            merged[key] = dict(row)
            if found:
                merged[key].update(product_id=None, sku=found[1], name=found[2])
            continue
        for column in SUMMED:
            merged[key][column] = Decimal(merged[key][column] or 0) + Decimal(row[column] or 0)
    order = report.filters.get("by", "quantity")
    rows = sorted(merged.values(), key=lambda r: Decimal(r[order] or 0), reverse=True)[:limit]
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
        row["margin_percent"] = ratio(row["margin"], row["revenue"])
    return replace(
        report,
        title=f"{report.title}, variants added up per template",
        rows=rows,
        filters={**report.filters, "limit": limit, "roll_up": True},
    )
