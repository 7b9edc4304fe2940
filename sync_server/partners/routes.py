"""Suppliers and customers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import or_, select

from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from common.schemas.partners import (
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    SupplierCreate,
    SupplierRead,
    SupplierUpdate,
)
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.paging import PageParams, SortedBy, get_owned, like_pattern, paginate
from sync_server.partners import service
from sync_server.partners.models import Customer, Supplier

router = APIRouter()


@router.get("/suppliers", response_model=Page[SupplierRead], tags=["suppliers"])
def list_suppliers(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SUPPLIERS_READ)],
    page: Annotated[PageParams, SortedBy("created_at", "name")],
    q: Annotated[str | None, Query(max_length=100)] = None,
    active: bool | None = None,
) -> dict[str, Any]:
    """List suppliers."""
    stmt = select(Supplier).where(Supplier.tenant_id == principal.tenant_id)
    if q:
        pattern = like_pattern(q)
        stmt = stmt.where(
            or_(
                Supplier.name.ilike(pattern, escape="\\"),
                Supplier.contact_name.ilike(pattern, escape="\\"),
            )
        )
    if active is not None:
        stmt = stmt.where(Supplier.active.is_(active))
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"name": Supplier.name, "created_at": Supplier.created_at},
        default_sort="name",
        tiebreak=Supplier.id,
    )


@router.post(
    "/suppliers",
    response_model=SupplierRead,
    status_code=201,
    tags=["suppliers"],
    responses=problem_responses(422),
)
def create_supplier(
    body: SupplierCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SUPPLIERS_WRITE)],
) -> Supplier:
    """Create a supplier."""
    return service.create_supplier(session, actor=principal, data=body)


@router.get(
    "/suppliers/{supplier_id}",
    response_model=SupplierRead,
    tags=["suppliers"],
    responses=problem_responses(404),
)
def get_supplier(
    supplier_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SUPPLIERS_READ)],
) -> Supplier:
    """Return one supplier."""
    return get_owned(
        session, Supplier, id=supplier_id, tenant_id=principal.tenant_id, what="supplier"
    )


@router.patch(
    "/suppliers/{supplier_id}",
    response_model=SupplierRead,
    tags=["suppliers"],
    responses=problem_responses(404, 422),
)
def update_supplier(
    supplier_id: Id,
    body: SupplierUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SUPPLIERS_WRITE)],
) -> Supplier:
    """Change a supplier or deactivate it."""
    supplier = get_owned(
        session, Supplier, id=supplier_id, tenant_id=principal.tenant_id, what="supplier"
    )
    return service.update_supplier(session, actor=principal, supplier=supplier, data=body)


@router.get("/customers", response_model=Page[CustomerRead], tags=["customers"])
def list_customers(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CUSTOMERS_READ)],
    page: Annotated[PageParams, SortedBy("balance", "created_at", "name")],
    q: Annotated[str | None, Query(max_length=100)] = None,
    active: bool | None = None,
    with_balance: bool = False,
) -> dict[str, Any]:
    """List customers; with_balance=true lists only those who owe money."""
    stmt = select(Customer).where(Customer.tenant_id == principal.tenant_id)
    if q:
        pattern = like_pattern(q)
        stmt = stmt.where(
            or_(
                Customer.name.ilike(pattern, escape="\\"),
                Customer.phone.ilike(pattern, escape="\\"),
                Customer.email.ilike(pattern, escape="\\"),
            )
        )
    if active is not None:
        stmt = stmt.where(Customer.active.is_(active))
    if with_balance:
        stmt = stmt.where(Customer.balance > 0)
    return paginate(
        session,
        stmt,
        params=page,
        sortable={
            "name": Customer.name,
            "balance": Customer.balance,
            "created_at": Customer.created_at,
        },
        default_sort="name",
        tiebreak=Customer.id,
    )


@router.post(
    "/customers",
    response_model=CustomerRead,
    status_code=201,
    tags=["customers"],
    responses=problem_responses(422),
)
def create_customer(
    body: CustomerCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CUSTOMERS_WRITE)],
) -> Customer:
    """Create a customer."""
    return service.create_customer(session, actor=principal, data=body)


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerRead,
    tags=["customers"],
    responses=problem_responses(404),
)
def get_customer(
    customer_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CUSTOMERS_READ)],
) -> Customer:
    """Return one customer."""
    return get_owned(
        session, Customer, id=customer_id, tenant_id=principal.tenant_id, what="customer"
    )


@router.patch(
    "/customers/{customer_id}",
    response_model=CustomerRead,
    tags=["customers"],
    responses=problem_responses(404, 422),
)
def update_customer(
    customer_id: Id,
    body: CustomerUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CUSTOMERS_WRITE)],
) -> Customer:
    """Change a customer, their credit limit, or deactivate them."""
    customer = get_owned(
        session, Customer, id=customer_id, tenant_id=principal.tenant_id, what="customer"
    )
    return service.update_customer(session, actor=principal, customer=customer, data=body)
