"""Stock API: levels, movements, receipts, adjustments, valuation, thresholds, transfers, counts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import PermissionDenied
from common.ids import new_id
from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from common.schemas.inventory import (
    AdjustmentCreate,
    CountCreate,
    CountLineIn,
    CountPost,
    CountRead,
    LotLevelRead,
    MovementRead,
    ReceiptCreate,
    StockLevelRead,
    StockStatus,
    ThresholdRead,
    ThresholdUpdate,
    TransferCreate,
    TransferRead,
    TransferReceive,
    UncountedRead,
    ValuationRead,
)
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.inventory import (
    costing,
    counts,
    incoming,
    ledger,
    lot_queries,
    lot_receipts,
    queries,
    thresholds,
    transfers,
)
from sync_server.inventory.models import StockMovement, Transfer
from sync_server.paging import PageParams, SortedBy, paginate

router = APIRouter(tags=["stock"])


def _branch(principal: Principal, branch_id: Id) -> None:
    if not principal.may_use_branch(branch_id):
        raise PermissionDenied(f"You may not act in branch {branch_id}.")


@router.get("/stock/levels", response_model=Page[StockLevelRead], responses=problem_responses(403))
def list_levels(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_READ)],
    page: Annotated[PageParams, SortedBy("available", "name", "on_hand", "sku", "updated_at")],
    branch_id: Id | None = None,
    product_id: Id | None = None,
    category_id: Id | None = None,
    supplier_id: Id | None = None,
    status: StockStatus | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Name, SKU or barcode")] = None,
) -> dict[str, Any]:
    """List stock levels per branch and product, with what open purchase orders still bring."""
    return incoming.levels_with_on_order(
        session,
        tenant_id=principal.tenant_id,
        branches=queries.visible_branches(principal, branch_id),
        params=page,
        product_id=product_id,
        category_id=category_id,
        supplier_id=supplier_id,
        status=status,
        q=q,
    )


@router.get("/stock/movements", response_model=Page[MovementRead], responses=problem_responses(403))
def list_movements(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_READ)],
    page: Annotated[PageParams, SortedBy("id", "occurred_at", "recorded_at")],
    branch_id: Id | None = None,
    product_id: Id | None = None,
    code: MovementCode | None = None,
    actor_id: Id | None = None,
    actor: Annotated[str | None, Query(max_length=120)] = None,
    reference_type: Annotated[str | None, Query(max_length=32)] = None,
    reference_id: Annotated[str | None, Query(max_length=64)] = None,
    date_from: Annotated[datetime | None, Query(description="From this time (inclusive)")] = None,
    date_to: Annotated[datetime | None, Query(description="Before this time")] = None,
) -> dict[str, Any]:
    """List the movement history with filters; newest first unless sorted otherwise."""
    return queries.movements_page(
        session,
        tenant_id=principal.tenant_id,
        branches=queries.visible_branches(principal, branch_id),
        params=page,
        product_id=product_id,
        code=code.value if code else None,
        actor_id=actor_id,
        actor=actor,
        reference_type=reference_type,
        reference_id=reference_id,
        date_from=date_from,
        date_to=date_to,
    )


@router.post(
    "/stock/receipts",
    response_model=list[MovementRead],
    status_code=201,
    responses=problem_responses(403, 404, 409, 422),
)
def post_receipt(
    body: ReceiptCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_RECEIVE)],
) -> list[StockMovement]:
    """Receive goods into a branch (outside a purchase order) at their unit cost."""
    _branch(principal, body.branch_id)
    movements = costing.receive_lines(
        session,
        actor=principal.actor,
        branch_id=body.branch_id,
        lines=[(line.product_id, line.quantity, line.unit_cost) for line in body.lines],
        reference_type="receipt",
        reference_id=body.reference or new_id(),
    )
    for movement, line in zip(movements, body.lines, strict=True):
        lot_receipts.book_labelled(session, movement=movement, line=line)
    return movements


@router.get("/stock/lots", response_model=list[LotLevelRead], responses=problem_responses(403))
def list_lots(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_READ)],
    product_id: Id | None = None,
    branch_id: Id | None = None,
) -> list[dict[str, Any]]:
    """List what each branch holds per lot, first to expire first, expired ones flagged."""
    if branch_id is not None:
        _branch(principal, branch_id)
    rows = lot_queries.lot_rows(
        session, tenant_id=principal.tenant_id, branch_id=branch_id, product_id=product_id
    )
    return [row for row in rows if principal.may_use_branch(row["branch_id"])]


@router.post(
    "/stock/adjustments",
    response_model=MovementRead,
    status_code=201,
    responses=problem_responses(403, 404, 409, 422),
)
def post_adjustment(
    body: AdjustmentCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_ADJUST)],
) -> StockMovement:
    """Adjust stock with a reason; refused (409) when it would go below zero."""
    _branch(principal, body.branch_id)
    return ledger.adjust(
        session,
        actor=principal.actor,
        branch_id=body.branch_id,
        product_id=body.product_id,
        quantity=body.quantity,
        reason=body.reason,
        reference_id=body.reference or None,
    )


@router.get("/stock/valuation", response_model=ValuationRead, responses=problem_responses(403))
def get_valuation(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_READ)],
    branch_id: Id | None = None,
) -> dict[str, Any]:
    """Value stock on hand at moving-average cost (one branch, or the whole business)."""
    if branch_id is None and not principal.all_branches:
        raise PermissionDenied("Choose one of your branches: you may not value the whole business.")
    if branch_id is not None:
        _branch(principal, branch_id)
    return costing.valuation(session, tenant_id=principal.tenant_id, branch_id=branch_id)


@router.put(
    "/stock/thresholds/{branch_id}/{product_id}",
    response_model=ThresholdRead,
    responses=problem_responses(403, 404, 422),
)
def put_thresholds(
    branch_id: Id,
    product_id: Id,
    body: ThresholdUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_ADJUST)],
) -> dict[str, Any]:
    """Set a branch's low-stock threshold and reorder quantity for a product."""
    _branch(principal, branch_id)
    return thresholds.set_thresholds(
        session,
        actor=principal.actor,
        branch_id=branch_id,
        product_id=product_id,
        low_stock_threshold=body.low_stock_threshold,
        reorder_quantity=body.reorder_quantity,
    )


@router.get("/transfers", response_model=Page[TransferRead])
def list_transfers(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_READ)],
    page: Annotated[PageParams, SortedBy("created_at", "status")],
    status: Literal["created", "dispatched", "partially_received", "closed"] | None = None,
    branch_id: Id | None = None,
) -> dict[str, Any]:
    """List transfers into or out of the caller's branches."""
    stmt = select(Transfer).where(Transfer.tenant_id == principal.tenant_id)
    branches = queries.visible_branches(principal, branch_id)
    if branches is not None:
        stmt = stmt.where(
            or_(
                Transfer.source_branch_id.in_(branches),
                Transfer.destination_branch_id.in_(branches),
            )
        )
    if status is not None:
        stmt = stmt.where(Transfer.status == status)
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"created_at": Transfer.created_at, "status": Transfer.status},
        default_sort="-created_at",
        tiebreak=Transfer.id,
    )


@router.post(
    "/transfers",
    response_model=TransferRead,
    status_code=201,
    responses=problem_responses(403, 404, 422),
)
def create_transfer(
    body: TransferCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_TRANSFER)],
) -> Transfer:
    """Plan a transfer from one of the caller's branches."""
    _branch(principal, body.source_branch_id)
    return transfers.create_transfer(
        session,
        actor=principal.actor,
        source_branch_id=body.source_branch_id,
        destination_branch_id=body.destination_branch_id,
        lines=[(line.product_id, line.quantity) for line in body.lines],
        note=body.note,
    )


def _transfer(session: Session, principal: Principal, transfer_id: Id) -> Transfer:
    transfer = transfers.get_transfer(
        session, tenant_id=principal.tenant_id, transfer_id=transfer_id
    )
    if not (
        principal.may_use_branch(transfer.source_branch_id)
        or principal.may_use_branch(transfer.destination_branch_id)
    ):
        raise PermissionDenied(f"Transfer {transfer_id} is not between your branches.")
    return transfer


@router.get(
    "/transfers/{transfer_id}", response_model=TransferRead, responses=problem_responses(403, 404)
)
def get_transfer(
    transfer_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_READ)],
) -> Transfer:
    """Return one transfer with its lines."""
    return _transfer(session, principal, transfer_id)


@router.post(
    "/transfers/{transfer_id}/dispatch",
    response_model=TransferRead,
    responses=problem_responses(403, 404, 409),
)
def dispatch_transfer(
    transfer_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_TRANSFER)],
) -> Transfer:
    """Send the goods: stock leaves the source branch (409 if any line is short)."""
    _branch(principal, _transfer(session, principal, transfer_id).source_branch_id)
    return transfers.dispatch(session, actor=principal.actor, transfer_id=transfer_id)


@router.post(
    "/transfers/{transfer_id}/receive",
    response_model=TransferRead,
    responses=problem_responses(403, 404, 409, 422),
)
def receive_transfer(
    transfer_id: Id,
    body: TransferReceive,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_TRANSFER)],
) -> Transfer:
    """Book what arrived at the destination; partial receipts are allowed."""
    _branch(principal, _transfer(session, principal, transfer_id).destination_branch_id)
    return transfers.receive(
        session,
        actor=principal.actor,
        transfer_id=transfer_id,
        lines=[(line.product_id, line.quantity) for line in body.lines],
        close=body.close,
    )


@router.post(
    "/counts", response_model=CountRead, status_code=201, responses=problem_responses(403, 404)
)
def open_count(
    body: CountCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_COUNT)],
) -> dict[str, Any]:
    """Open a stock count for a branch (optionally one category)."""
    _branch(principal, body.branch_id)
    count = counts.open_count(
        session,
        actor=principal.actor,
        branch_id=body.branch_id,
        category_id=body.category_id,
        note=body.note,
    )
    return counts.review(session, tenant_id=principal.tenant_id, count_id=count.id)


def _count_branch(session: Session, principal: Principal, count_id: Id) -> None:
    count = counts.get_count(session, tenant_id=principal.tenant_id, count_id=count_id)
    _branch(principal, count.branch_id)


@router.post(
    "/counts/{count_id}/lines",
    response_model=CountRead,
    responses=problem_responses(403, 404, 409, 422),
)
def add_count_line(
    count_id: Id,
    body: CountLineIn,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_COUNT)],
) -> dict[str, Any]:
    """Enter what was found: scan a barcode or give a product id, with a quantity."""
    _count_branch(session, principal, count_id)
    counts.add_line(
        session,
        actor=principal.actor,
        count_id=count_id,
        quantity=body.quantity,
        barcode=body.barcode,
        product_id=body.product_id,
        replace=body.replace,
        lot_number=body.lot_number,
    )
    return counts.review(session, tenant_id=principal.tenant_id, count_id=count_id)


@router.delete(
    "/counts/{count_id}/lines/{product_id}",
    response_model=CountRead,
    responses=problem_responses(403, 404, 409),
)
def remove_count_line(
    count_id: Id,
    product_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_COUNT)],
) -> dict[str, Any]:
    """Take a product off an open count (undo a line)."""
    _count_branch(session, principal, count_id)
    counts.remove_line(session, actor=principal.actor, count_id=count_id, product_id=product_id)
    return counts.review(session, tenant_id=principal.tenant_id, count_id=count_id)


@router.get("/counts/{count_id}", response_model=CountRead, responses=problem_responses(403, 404))
def get_count(
    count_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_READ)],
) -> dict[str, Any]:
    """Review a count: counted, expected, difference and its value per line."""
    _count_branch(session, principal, count_id)
    return counts.review(session, tenant_id=principal.tenant_id, count_id=count_id)


@router.get(
    "/counts/{count_id}/uncounted",
    response_model=UncountedRead,
    responses=problem_responses(403, 404, 409, 422),
)
def get_uncounted(
    count_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_READ)],
) -> dict[str, Any]:
    """What posting with zero_uncounted would set to zero (or why the scope is unclear)."""
    _count_branch(session, principal, count_id)
    return counts.review_uncounted(session, tenant_id=principal.tenant_id, count_id=count_id)


@router.post(
    "/counts/{count_id}/post",
    response_model=CountRead,
    responses=problem_responses(403, 404, 409, 422),
)
def post_count(
    count_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_COUNT)],
    body: CountPost | None = None,
) -> dict[str, Any]:
    """Post a count: each difference becomes a count movement (optionally zeroing the rest)."""
    _count_branch(session, principal, count_id)
    counts.post_count(
        session,
        actor=principal.actor,
        count_id=count_id,
        zero_uncounted=body is not None and body.zero_uncounted,
    )
    return counts.review(session, tenant_id=principal.tenant_id, count_id=count_id)
