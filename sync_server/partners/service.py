"""Suppliers and customers: create and change them, with audit and (customers) the feed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from common.schemas.partners import CustomerCreate, CustomerUpdate, SupplierCreate, SupplierUpdate
from sync_server.audit import service as audit
from sync_server.foundation import feed
from sync_server.foundation.principal import Principal
from sync_server.partners.models import Customer, Supplier

_SUPPLIER_FIELDS = (
    "name",
    "contact_name",
    "email",
    "phone",
    "address",
    "tax_number",
    "payment_terms_days",
    "active",
)
_CUSTOMER_FIELDS = (
    "name",
    "email",
    "phone",
    "address",
    "tax_number",
    "credit_limit",
    "balance",
    "active",
    "price_group",
)


def _snapshot(row: Supplier | Customer, fields: tuple[str, ...]) -> dict[str, Any]:
    return {"id": row.id, **{f: getattr(row, f) for f in fields}}


PRICE_GROUP_ENTITY = "customer_price_group"


def customer_feed_data(customer: Customer) -> dict[str, Any]:
    """Return what a till replicates of a customer (for on-account sales offline)."""
    return _snapshot(customer, _CUSTOMER_FIELDS)


def publish_customer(session: Session, customer: Customer) -> None:
    """Send a customer's current state to the tills."""
    session.flush()
    feed.publish(
        session,
        tenant_id=customer.tenant_id,
        entity="customer",
        key=customer.id,
        data=customer_feed_data(customer),
    )
    # Tills keep the group beside the customer (their customer table has no column for it).
    feed.publish(
        session,
        tenant_id=customer.tenant_id,
        entity=PRICE_GROUP_ENTITY,
        key=customer.id,
        data={"price_group": customer.price_group} if customer.price_group else None,
    )


def create_supplier(session: Session, *, actor: Principal, data: SupplierCreate) -> Supplier:
    """Create a supplier."""
    supplier = Supplier(tenant_id=actor.tenant_id, **data.model_dump())
    session.add(supplier)
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="supplier.created",
        entity_type="supplier",
        entity_id=supplier.id,
        after=_snapshot(supplier, _SUPPLIER_FIELDS),
    )
    return supplier


def update_supplier(
    session: Session, *, actor: Principal, supplier: Supplier, data: SupplierUpdate
) -> Supplier:
    """Change a supplier."""
    before = _snapshot(supplier, _SUPPLIER_FIELDS)
    _apply(supplier, data.model_dump(exclude_unset=True), nullable={"email"})
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="supplier.updated",
        entity_type="supplier",
        entity_id=supplier.id,
        before=before,
        after=_snapshot(supplier, _SUPPLIER_FIELDS),
    )
    return supplier


def create_customer(session: Session, *, actor: Principal, data: CustomerCreate) -> Customer:
    """Create a customer."""
    customer = Customer(tenant_id=actor.tenant_id, **data.model_dump())
    session.add(customer)
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="customer.created",
        entity_type="customer",
        entity_id=customer.id,
        after=_snapshot(customer, _CUSTOMER_FIELDS),
    )
    publish_customer(session, customer)
    return customer


def update_customer(
    session: Session, *, actor: Principal, customer: Customer, data: CustomerUpdate
) -> Customer:
    """Change a customer; credit limit changes are audited as their own action."""
    before = _snapshot(customer, _CUSTOMER_FIELDS)
    _apply(customer, data.model_dump(exclude_unset=True), nullable={"email", "price_group"})
    session.flush()
    after = _snapshot(customer, _CUSTOMER_FIELDS)
    if after["credit_limit"] != before["credit_limit"]:
        audit.record(
            session,
            actor=actor.actor,
            action="credit_limit.changed",
            entity_type="customer",
            entity_id=customer.id,
            before={"credit_limit": before["credit_limit"]},
            after={"credit_limit": after["credit_limit"]},
        )
    audit.record(
        session,
        actor=actor.actor,
        action="customer.updated",
        entity_type="customer",
        entity_id=customer.id,
        before=before,
        after=after,
    )
    publish_customer(session, customer)
    return customer


def _apply(row: object, changes: dict[str, Any], *, nullable: set[str]) -> None:
    for field, value in changes.items():
        if value is None and field not in nullable:
            continue
        setattr(row, field, value)
