"""Tax classes of a business: stored as rate sets, read back as common.tax classes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import Conflict
from common.schemas.tax import TaxClassCreate
from common.tax import (
    EPOCH,
    Component,
    ComponentAmount,
    LineTax,
    RateSet,
    Supply,
    TaxClass,
    class_from_wire,
    credit_line,
    gst_components,
    gstin_problem,
    rates_to_wire,
    single_class,
    state_of_gstin,
    supply_kind,
    tax_exclusive,
    tax_line,
)
from sync_server.audit import service as audit
from sync_server.foundation import feed
from sync_server.foundation.principal import Principal
from sync_server.lookups import get_owned
from sync_server.tax.models import TaxClassRow


def rates_json(rates: list[RateSet]) -> list[dict[str, Any]]:
    """Return rate sets as stored and sent."""
    return rates_to_wire(rates)


def class_from_json(*, code: str, name: str, rates: list[dict[str, Any]]) -> TaxClass:
    """Return the common.tax class of stored rate sets."""
    return class_from_wire({"code": code, "name": name, "rates": rates})


def class_of(row: TaxClassRow) -> TaxClass:
    """Return a stored class as common.tax reads it."""
    return class_from_json(code=row.code, name=row.name, rates=row.rates)


def feed_data(row: TaxClassRow) -> dict[str, Any]:
    """Return what a till replicates of a tax class."""
    return {"id": row.id, "code": row.code, "name": row.name, "rates": row.rates}


def product_class(session: Session, *, tax_class_id: int | None, tax_rate: Decimal) -> TaxClass:
    """Return the class a product is taxed under (its one rate, if it names no class)."""
    if tax_class_id is not None:
        row = session.get(TaxClassRow, tax_class_id)
        if row is not None:
            return class_of(row)
    return single_class(tax_rate)


def get_class(session: Session, *, tenant_id: int, class_id: int) -> TaxClassRow:
    """Return a class of the tenant, or NotFound."""
    return get_owned(session, TaxClassRow, id=class_id, tenant_id=tenant_id, what="tax class")


def create_class(session: Session, *, actor: Principal, data: TaxClassCreate) -> TaxClassRow:
    """Create a tax class; a GST rate is split into CGST+SGST (intra) and IGST (inter)."""
    taken = session.scalar(
        select(TaxClassRow.id).where(
            TaxClassRow.tenant_id == actor.tenant_id, TaxClassRow.code == data.code
        )
    )
    if taken is not None:
        raise Conflict(f"A tax class with code '{data.code}' already exists.")
    dates = [r.effective_from for r in data.rates]
    if len(set(dates)) != len(dates):
        raise Conflict("Two rate sets of one class cannot start on the same day.")
    sets = [
        RateSet(
            r.effective_from or EPOCH,
            gst_components(r.gst_rate, cess=r.cess)
            if r.gst_rate is not None
            else tuple(Component(c.code, c.rate, c.scope) for c in r.components or []),
        )
        for r in data.rates
    ]
    row = TaxClassRow(
        tenant_id=actor.tenant_id, code=data.code, name=data.name, rates=rates_json(sets)
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="tax_class.created",
        entity_type="tax_class",
        entity_id=row.id,
        after=feed_data(row),
    )
    feed.publish(
        session, tenant_id=actor.tenant_id, entity="tax_class", key=row.id, data=feed_data(row)
    )
    return row


def order_supply(*, branch: Any, customer: Any | None) -> Supply:
    """Decide an order's supply: inter-state when a business buyer's GSTIN is of another state."""
    gstin = (getattr(customer, "tax_number", "") or "").strip().upper()
    buyer_state = state_of_gstin(gstin) if gstin and gstin_problem(gstin) is None else ""
    return supply_kind(seller_state=getattr(branch, "state_code", ""), buyer_state=buyer_state)


def line_tax(
    session: Session,
    *,
    product: Any,
    amount: Decimal,
    supply: Supply,
    currency: str,
    day: date | None = None,
    inclusive: bool = True,
) -> LineTax:
    """Tax one line of a product under its class (prices include tax unless told otherwise)."""
    tax_class = product_class(session, tax_class_id=product.tax_class_id, tax_rate=product.tax_rate)
    return tax_line(
        amount,
        tax_class=tax_class,
        day=day or date.today(),
        supply=supply,
        inclusive=inclusive,
        currency=currency,
    )


def legacy_line_tax(line: Any) -> dict[str, Any]:
    """Return the tax detail of a line from a till that sends only its rate and tax."""
    components = (ComponentAmount("TAX", line.tax_rate, line.tax),) if line.tax_rate else ()
    return LineTax(taxable=line.total - line.tax, components=components).to_wire()


def components_template(session: Session, *, product: Any, supply: Supply) -> dict[str, Any]:
    """Return a product's components for a supply today, as a zero line's tax detail."""
    tax_class = product_class(session, tax_class_id=product.tax_class_id, tax_rate=product.tax_rate)
    components = tax_class.components_on(day=date.today(), supply=supply)
    return LineTax(
        taxable=Decimal(0),
        components=tuple(ComponentAmount(c.code, c.rate, Decimal(0)) for c in components),
    ).to_wire()


def exclusive_again(detail: dict[str, Any], *, amount: Decimal, currency: str) -> LineTax:
    """Tax an amount before tax with the components a line's detail already names."""
    components = [Component(c.code, c.rate) for c in LineTax.from_wire(detail).components]
    return tax_exclusive(amount, components=components, currency=currency)


def order_line_credit(*, order: Any, line: Any, returned: Decimal) -> LineTax | None:
    """Return the credit of returning part of an online order line (its own tax, reversed)."""
    if line.tax_detail is None:
        return None
    original = LineTax.from_wire(line.tax_detail)
    taxable, amounts = Decimal(0), {c.code: Decimal(0) for c in original.components}
    for earlier in order.returns:
        for back in earlier.lines:
            if back.order_line_id == line.id and back.tax_detail:
                done = LineTax.from_wire(back.tax_detail)
                taxable += done.taxable
                for c in done.components:
                    amounts[c.code] = amounts.get(c.code, Decimal(0)) + c.amount
    before = LineTax(
        taxable=taxable,
        components=tuple(
            ComponentAmount(c.code, c.rate, amounts[c.code]) for c in original.components
        ),
    )
    return credit_line(
        original,
        sold=line.quantity,
        returned=returned,
        returned_before=line.returned_quantity,
        credited_before=before,
        currency=order.currency,
    )


def credited_tax(detail: dict[str, Any] | None) -> Decimal:
    """Return the tax a credit gives back, as a positive figure (0 without detail)."""
    return -LineTax.from_wire(detail).tax if detail else Decimal(0)
