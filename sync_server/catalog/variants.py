"""Product templates: one T-shirt, its sizes and colours as variants of their own.

Each variant is a full product (own SKU, barcodes, price, stock), so selling, stock,
sync and reports work on it unchanged; the template groups them. A product without a
template is its own one-variant product, as every product was before templates existed.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import Conflict, ValidationFailed
from common.schemas.catalog import ProductCreate, TemplateCreate
from sync_server.audit import service as audit
from sync_server.catalog import service as catalog
from sync_server.catalog.models import Product, ProductTemplate
from sync_server.foundation.principal import Principal
from sync_server.lookups import get_owned

NO_TEMPLATE: dict[str, Any] = {"template_id": None, "template_name": None, "variant": None}


def template_rows(
    session: Session, *, tenant_id: int, first: int, last: int
) -> dict[int, dict[str, Any]]:
    """Return what the tills keep of each variant in a range of product ids, one query."""
    return {
        product_id: {
            "template_id": template_id,
            "template_name": name,
            "variant": " / ".join(variant.values()) if variant else None,
        }
        for product_id, template_id, name, variant in session.execute(
            select(Product.id, ProductTemplate.id, ProductTemplate.name, Product.variant)
            .join(ProductTemplate, ProductTemplate.id == Product.template_id)
            .where(Product.tenant_id == tenant_id, Product.id >= first, Product.id <= last)
        )
    }


def _sku_part(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", value).upper()[:8] or "X"


def combinations(attributes: dict[str, list[str]]) -> list[dict[str, str]]:
    """Return every variant of the attributes, in the order they were given."""
    names = list(attributes)
    return [
        dict(zip(names, values, strict=True)) for values in itertools.product(*attributes.values())
    ]


def create_template(session: Session, *, actor: Principal, data: TemplateCreate) -> ProductTemplate:
    """Create a template and one product per combination of its attribute values."""
    tenant_id = actor.tenant_id
    taken = session.scalar(
        select(ProductTemplate.id).where(
            ProductTemplate.tenant_id == tenant_id, ProductTemplate.sku == data.sku
        )
    )
    if taken is not None:
        raise Conflict(f"A template with SKU '{data.sku}' already exists.")
    variants = combinations(data.attributes)
    labels = {" / ".join(v.values()) for v in variants}
    unknown = sorted(set(data.prices) - labels)
    if unknown:
        raise ValidationFailed(
            f"No variant is labelled '{unknown[0]}'; labels look like "
            f"'{next(iter(sorted(labels)))}'."
        )
    template = ProductTemplate(
        tenant_id=tenant_id, sku=data.sku, name=data.name, attributes=data.attributes
    )
    session.add(template)
    session.flush()
    for variant in variants:
        label = " / ".join(variant.values())
        sku = "-".join([data.sku, *(_sku_part(value) for value in variant.values())])[:64]
        try:
            product = ProductCreate(
                sku=sku,
                name=f"{data.name} ({', '.join(variant.values())})"[:200],
                category_id=data.category_id,
                price=data.prices.get(label, data.price),
                tax_rate=data.tax_rate,
                unit=data.unit,
                attributes=variant,
                generate_barcode=data.generate_barcodes,
            )
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            raise ValidationFailed(
                f"Variant '{label}' cannot be made: {first['msg']} ({first['loc'][0]})."
            ) from exc
        catalog.create_product(
            session, actor=actor, data=product, variant_of=(template.id, variant)
        )
    audit.record(
        session,
        actor=actor.actor,
        action="template.created",
        entity_type="product_template",
        entity_id=template.id,
        after={"sku": data.sku, "name": data.name, "variants": len(variants)},
    )
    return template


def template_read(session: Session, *, tenant_id: int, template_id: int) -> dict[str, Any]:
    """Return a template with its variants (the grid the manager screens show)."""
    template = get_owned(
        session, ProductTemplate, id=template_id, tenant_id=tenant_id, what="product template"
    )
    variants = session.scalars(
        select(Product)
        .where(Product.tenant_id == tenant_id, Product.template_id == template.id)
        .order_by(Product.id)
    ).all()
    return {
        "id": template.id,
        "sku": template.sku,
        "name": template.name,
        "attributes": template.attributes,
        "variants": variants,
    }
