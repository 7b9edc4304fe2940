"""Scanner-station API: look up a scan, sell it at once (idempotent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from common.roles import Permission
from common.schemas.base import problem_responses
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.orders.routes import MissingIdempotencyKey
from sync_server.quicksale import service
from sync_server.quicksale.schemas import QuickSaleCreate, QuickSaleRead, ScanRead

router = APIRouter(tags=["scanner stations"])

Barcode = Annotated[str, Path(min_length=1, max_length=64)]
BranchParam = Annotated[
    int | None, Query(ge=1, description="The branch to sell in (users only; a device uses its own)")
]


@router.get("/scan/{barcode}", response_model=ScanRead, responses=problem_responses(403, 404, 422))
def get_scan(
    barcode: Barcode,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
    branch_id: BranchParam = None,
) -> ScanRead:
    """Return the product a code names, its price and the stock at the caller's branch."""
    return service.scan(session, principal=principal, barcode=barcode, branch_id=branch_id)


@router.post(
    "/sell/{barcode}",
    response_model=QuickSaleRead,
    status_code=201,
    responses=problem_responses(400, 403, 404, 409, 422),
)
def post_sell(
    barcode: Barcode,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
    body: Annotated[QuickSaleCreate | None, Body()] = None,
    branch_id: BranchParam = None,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=200),
    ] = None,
) -> JSONResponse:
    """Sell one line of a scanned product now; a retry with the same key gets the first answer."""
    if idempotency_key is None:
        raise MissingIdempotencyKey(
            "Send an Idempotency-Key header (e.g. a UUID per sale) so a retry cannot sell twice."
        )
    outcome = service.sell(
        session,
        principal=principal,
        barcode=barcode,
        branch_id=branch_id,
        data=body or QuickSaleCreate(),
        key=idempotency_key,
        instance=request.url.path,
    )
    media = "application/json" if outcome.status < 400 else "application/problem+json"
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status, media_type=media, headers=headers)
