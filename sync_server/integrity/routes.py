"""Check the books against their ledgers on demand."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from common.roles import Permission
from common.schemas.base import ReadSchema
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.integrity.ledger import verify_ledgers

router = APIRouter(tags=["integrity"])


class DifferenceRead(ReadSchema):
    kind: str
    where: str
    stored: str
    ledger: str
    text: str


class LedgerReportRead(ReadSchema):
    ok: bool
    differences: list[DifferenceRead]


@router.get("/ledger/verify", response_model=LedgerReportRead)
def verify_ledger(
    session: SessionDep, principal: Annotated[Principal, Requires(Permission.SETTINGS_ADMIN)]
) -> Any:
    """Compare levels, reservations and balances with their ledgers; list every difference."""
    found = verify_ledgers(session, tenant_id=principal.tenant_id)
    return LedgerReportRead(
        ok=not found,
        differences=[
            DifferenceRead(
                kind=d.kind, where=d.where, stored=d.stored, ledger=d.ledger, text=d.text
            )
            for d in found
        ],
    )
