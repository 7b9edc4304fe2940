"""Products, barcodes and categories; every change reaches the tills through the feed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.barcodes import BarcodeError, internal_ean13, lookup_candidates, parse_scan
from common.errors import Conflict, NotFound, ValidationFailed
from common.schemas.catalog import CategoryCreate, CategoryUpdate, ProductCreate, ProductUpdate
from sync_server.audit import service as audit
from sync_server.catalog import packs, search
from sync_server.catalog.models import BarcodeSequence, Category, Product, ProductBarcode
from sync_server.db import lock_for_update
from sync_server.foundation import feed
from sync_server.foundation.principal import Principal
from sync_server.lookups import get_owned
from sync_server.partners.models import Supplier
from sync_server.tax import service as tax


def product_feed_data(product: Product) -> dict[str, Any]:
    """Return what a till replicates of a product."""
    return {
        "id": product.id,
        "sku": product.sku,
        "name": product.name,
        "category_id": product.category_id,
        "category_name": product.category_name,
        "price": product.price,
        "tax_rate": product.tax_rate,
        "tax_class_id": product.tax_class_id,
        "hsn": product.hsn,
        "unit": product.unit,
        "low_stock_threshold": product.low_stock_threshold,
        "active": product.active,
        "barcodes": product.barcodes,
        "packs": packs.wire_packs(product),
        "template_id": product.template_id,
        "template_name": product.template_name,
        "variant": product.variant_label,
    }


def _snapshot(product: Product) -> dict[str, Any]:
    return {
        **product_feed_data(product),
        "cost": product.cost,
        "description": product.description,
        "supplier_id": product.supplier_id,
        "reorder_quantity": product.reorder_quantity,
        "attributes": product.attributes,
        "purchase_unit": product.purchase_unit,
        "purchase_units_per": product.purchase_units_per,
    }


def _apply_tax_class(session: Session, product: Product) -> None:
    """Keep a classed product's one-figure rate at its class's rate today (intra-state)."""
    if product.tax_class_id is None:
        return
    # Looked up before the product is flushed: another business's class is "not found", not
    # a foreign-key refusal at the flush.
    with session.no_autoflush:
        row = tax.get_class(session, tenant_id=product.tenant_id, class_id=product.tax_class_id)
    product.tax_rate = tax.class_of(row).rate_on(day=date.today())


def _publish(session: Session, product: Product) -> None:
    _apply_tax_class(session, product)
    session.flush()
    session.refresh(product, ["category"])
    search.index_product(session, product)
    feed.publish(
        session,
        tenant_id=product.tenant_id,
        entity="product",
        key=product.id,
        data=product_feed_data(product),
    )


def _check_refs(
    session: Session, *, tenant_id: int, category_id: int | None, supplier_id: int | None
) -> None:
    if category_id is not None:
        get_owned(session, Category, id=category_id, tenant_id=tenant_id, what="category")
    if supplier_id is not None:
        get_owned(session, Supplier, id=supplier_id, tenant_id=tenant_id, what="supplier")


def _claim_barcodes(
    session: Session, *, tenant_id: int, codes: list[str], product_id: int | None
) -> None:
    packs.check_codes_free(session, tenant_id=tenant_id, codes=codes, product_id=product_id)


def next_internal_barcode(session: Session, *, tenant_id: int) -> str:
    """Return a fresh in-store EAN-13 that no product of the tenant uses."""
    seq = session.scalar(
        lock_for_update(
            select(BarcodeSequence).where(BarcodeSequence.tenant_id == tenant_id), session
        )
    )
    if seq is None:
        seq = BarcodeSequence(tenant_id=tenant_id, next_value=1)
        session.add(seq)
        session.flush()
    while True:
        code = internal_ean13(seq.next_value)
        seq.next_value += 1
        used = session.scalar(
            select(ProductBarcode.id).where(
                ProductBarcode.tenant_id == tenant_id, ProductBarcode.code == code
            )
        )
        if used is None:
            return code


def create_product(
    session: Session,
    *,
    actor: Principal,
    data: ProductCreate,
    variant_of: tuple[int, dict[str, str]] | None = None,
) -> Product:
    """Create a product with its barcodes (a template's variant with variant_of)."""
    tenant_id = actor.tenant_id
    sku_taken = session.scalar(
        select(Product.id).where(Product.tenant_id == tenant_id, Product.sku == data.sku)
    )
    if sku_taken is not None:
        raise Conflict(f"SKU '{data.sku}' is already used by another product.")
    _check_refs(
        session, tenant_id=tenant_id, category_id=data.category_id, supplier_id=data.supplier_id
    )
    codes = list(data.barcodes)
    _claim_barcodes(session, tenant_id=tenant_id, codes=codes, product_id=None)
    if not codes and data.generate_barcode:
        codes.append(next_internal_barcode(session, tenant_id=tenant_id))
    values = data.model_dump(exclude={"barcodes", "generate_barcode", "packs"})
    values["unit"] = data.unit.value
    product = Product(tenant_id=tenant_id, **values)
    product.barcode_rows = [ProductBarcode(tenant_id=tenant_id, code=c) for c in codes]
    packs.set_packs(session, product=product, packs=data.packs, barcodes=codes)
    session.add(product)
    if variant_of is not None:
        product.template_id, product.variant = variant_of
    _publish(session, product)
    audit.record(
        session,
        actor=actor.actor,
        action="product.created",
        entity_type="product",
        entity_id=product.id,
        after=_snapshot(product),
    )
    return product


def update_product(
    session: Session, *, actor: Principal, product: Product, data: ProductUpdate
) -> Product:
    """Change a product; price changes are audited as their own action."""
    before = _snapshot(product)
    changes = data.model_dump(exclude_unset=True)
    _check_refs(
        session,
        tenant_id=product.tenant_id,
        category_id=changes.get("category_id"),
        supplier_id=changes.get("supplier_id"),
    )
    if changes.get("barcodes") is not None:
        codes = changes.pop("barcodes")
        _claim_barcodes(session, tenant_id=product.tenant_id, codes=codes, product_id=product.id)
        keep = {row.code: row for row in product.barcode_rows}
        product.barcode_rows = [
            keep.get(c) or ProductBarcode(tenant_id=product.tenant_id, code=c) for c in codes
        ]
    else:
        changes.pop("barcodes", None)
    if changes.pop("packs", None) is not None:
        packs.set_packs(session, product=product, packs=data.packs or [], barcodes=product.barcodes)
    for field, value in changes.items():
        if value is None and field not in ("category_id", "supplier_id"):
            continue
        setattr(product, field, value.value if hasattr(value, "value") else value)
    _publish(session, product)
    after = _snapshot(product)
    if after["price"] != before["price"]:
        audit.record(
            session,
            actor=actor.actor,
            action="price.changed",
            entity_type="product",
            entity_id=product.id,
            before={"price": before["price"]},
            after={"price": after["price"]},
        )
    audit.record(
        session,
        actor=actor.actor,
        action="product.archived" if before["active"] and not product.active else "product.updated",
        entity_type="product",
        entity_id=product.id,
        before=before,
        after=after,
    )
    return product


def find_by_barcode(session: Session, *, tenant_id: int, code: str) -> dict[str, Any]:
    """Find the product a scanned code names, decoding weight/price labels."""
    try:
        scan = parse_scan(code)
    except BarcodeError as exc:
        raise ValidationFailed(str(exc)) from exc
    candidates = lookup_candidates(scan)
    rows = session.execute(
        select(ProductBarcode.code, ProductBarcode.product_id).where(
            ProductBarcode.tenant_id == tenant_id, ProductBarcode.code.in_(candidates)
        )
    ).all()
    by_code = dict(rows)
    for candidate in candidates:
        if candidate in by_code:
            product = _product_of_code(session, by_code[candidate], candidate)
            result: dict[str, Any] = {
                "scanned": scan.raw,
                "matched_code": candidate,
                "product": product,
            }
            if scan.variable is not None:
                _apply_variable(
                    result, product=product, value=scan.variable.value, kind=scan.variable.kind
                )
            return result
    pack = packs.find_pack(session, tenant_id=tenant_id, codes=list(candidates))
    if pack is not None:
        product = _product_of_code(session, pack.product_id, pack.code)
        [read] = [p for p in product.packs if p["code"] == pack.code]
        return {
            "scanned": scan.raw,
            "matched_code": pack.code,
            "product": product,
            "quantity": pack.quantity,
            "pack": read,
        }
    raise NotFound(f"No product has the barcode {scan.code}.")


def _product_of_code(session: Session, product_id: int, code: str) -> Product:
    # The code's row names its product; a product removed meanwhile is not found either.
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"No product has the barcode {code}.")
    return product


def _apply_variable(result: dict[str, Any], *, product: Product, value: Decimal, kind: str) -> None:
    if kind == "weight":
        result["quantity"] = value
    else:
        result["embedded_price"] = value
        if product.price > 0:
            # A price label on weighed goods implies the weight sold.
            result["quantity"] = (value / product.price).quantize(Decimal("0.001"))


def create_category(session: Session, *, actor: Principal, data: CategoryCreate) -> Category:
    """Create a category (names are unique per tenant)."""
    _unique_category_name(session, tenant_id=actor.tenant_id, name=data.name, own_id=None)
    if data.parent_id is not None:
        get_owned(session, Category, id=data.parent_id, tenant_id=actor.tenant_id, what="category")
    category = Category(tenant_id=actor.tenant_id, name=data.name, parent_id=data.parent_id)
    session.add(category)
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="category.created",
        entity_type="category",
        entity_id=category.id,
        after={"name": category.name},
    )
    feed.publish(
        session,
        tenant_id=actor.tenant_id,
        entity="category",
        key=category.id,
        data={"id": category.id, "name": category.name, "parent_id": category.parent_id},
    )
    return category


def update_category(
    session: Session, *, actor: Principal, category: Category, data: CategoryUpdate
) -> Category:
    """Rename or move a category."""
    before = {"name": category.name, "parent_id": category.parent_id}
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name"):
        _unique_category_name(
            session, tenant_id=actor.tenant_id, name=changes["name"], own_id=category.id
        )
        category.name = changes["name"]
    if "parent_id" in changes:
        parent_id = changes["parent_id"]
        if parent_id is not None:
            _check_no_cycle(session, category=category, parent_id=parent_id)
        category.parent_id = parent_id
    session.flush()
    after = {"name": category.name, "parent_id": category.parent_id}
    if after["name"] != before["name"]:
        # Products are found by their category's name, so their documents change too.
        for product in session.scalars(select(Product).where(Product.category_id == category.id)):
            session.refresh(product, ["category"])
            search.index_product(session, product)
    audit.record(
        session,
        actor=actor.actor,
        action="category.updated",
        entity_type="category",
        entity_id=category.id,
        before=before,
        after=after,
    )
    feed.publish(
        session,
        tenant_id=actor.tenant_id,
        entity="category",
        key=category.id,
        data={"id": category.id, **after},
    )
    return category


def _unique_category_name(
    session: Session, *, tenant_id: int, name: str, own_id: int | None
) -> None:
    existing = session.scalar(
        select(Category.id).where(Category.tenant_id == tenant_id, Category.name == name)
    )
    if existing is not None and existing != own_id:
        raise Conflict(f"A category named '{name}' already exists.")


def _check_no_cycle(session: Session, *, category: Category, parent_id: int) -> None:
    seen: set[int] = set()
    current: int | None = parent_id
    while current is not None:
        if current == category.id or current in seen:
            raise ValidationFailed("A category cannot be placed inside itself.")
        seen.add(current)
        parent = get_owned(
            session, Category, id=current, tenant_id=category.tenant_id, what="category"
        )
        current = parent.parent_id


def product_or_404(session: Session, *, tenant_id: int, product_id: int) -> Product:
    """Return a product of the tenant or raise NotFound."""
    product = session.get(Product, product_id)
    if product is None or product.tenant_id != tenant_id:
        raise NotFound(f"There is no product with id {product_id}.")
    return product
