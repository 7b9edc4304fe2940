"""Tax classes: list and create."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from sqlalchemy import select

from common.roles import Permission
from common.schemas.base import Id, problem_responses
from common.schemas.tax import TaxClassCreate, TaxClassRead
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.tax import service
from sync_server.tax.models import TaxClassRow

router = APIRouter(tags=["tax"])


@router.get("/tax-classes", response_model=list[TaxClassRead])
def list_classes(
    session: SessionDep, principal: Annotated[Principal, Requires(Permission.CATALOG_READ)]
) -> list[Any]:
    """List the business's tax classes."""
    return list(
        session.scalars(
            select(TaxClassRow)
            .where(TaxClassRow.tenant_id == principal.tenant_id)
            .order_by(TaxClassRow.code)
        )
    )


@router.post(
    "/tax-classes",
    response_model=TaxClassRead,
    status_code=201,
    responses=problem_responses(409, 422),
)
def create_class(
    body: TaxClassCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_WRITE)],
) -> TaxClassRow:
    """Create a tax class (a GST rate, or explicit components), with dated rate sets."""
    return service.create_class(session, actor=principal, data=body)


@router.get(
    "/tax-classes/{class_id}", response_model=TaxClassRead, responses=problem_responses(404)
)
def get_class(
    class_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
) -> TaxClassRow:
    """Return one tax class."""
    return service.get_class(session, tenant_id=principal.tenant_id, class_id=class_id)
