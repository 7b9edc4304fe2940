"""The online store's API: catalog, orders and their lifecycle, returns, picking lists."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from common.errors import DomainError
from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from common.schemas.orders import OrderRead, ReturnRead
from sync_server.foundation.deps import OneHop, Requires, SessionDep, in_one_hop
from sync_server.foundation.principal import Principal
from sync_server.orders import lifecycle, picking, queries, returns, service, storefront
from sync_server.orders.models import Order, OrderReturn, OrderStatusName
from sync_server.orders.schemas import (
    CancelCreate,
    CatalogItem,
    OrderCreate,
    PaymentCreate,
    PickingList,
    ReturnCreate,
    ReturnReceive,
    ShipmentCreate,
)
from sync_server.paging import PageParams, SortedBy, UpdatedSince

router = APIRouter(tags=["online orders"])


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,  # IDEMPOTENCY_KEY_MAX
        description="A unique key per order; a retry with the same key gets the first answer",
    ),
]


class MissingIdempotencyKey(DomainError):
    status = 400
    type = "idempotency-key-missing"
    title = "Idempotency-Key required"


@router.get(
    "/catalog",
    response_model=Page[CatalogItem],
    responses={304: {"description": "Not modified"}, **problem_responses(403, 422)},
)
def store_catalog(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
    page: Annotated[PageParams, SortedBy("name", "price", "sku", "updated_at")],
    branch_code: Annotated[str | None, Query(max_length=16)] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
    updated_since: UpdatedSince = None,
) -> Response:
    """Active products with price and available quantity per fulfilment branch (ETag aware).

    With updated_since: the products whose details or availability changed since then,
    archived ones included (active false) so the store can take them down.
    """
    body, etag = storefront.catalog_page(
        session,
        principal=principal,
        params=page,
        branch_code=branch_code,
        updated_since=updated_since,
    )
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if if_none_match is not None and storefront.etag_matches(if_none_match, etag=etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


class _OrderCourse(APIRoute):
    """POST /orders with an ordinary request placed without FastAPI's dependency solving.

    FastAPI reads the body, then solves the route's dependencies (the OneHop, the header, the
    body) through its generic machinery, several coroutine and context layers per request.
    An ordinary order (a JSON body, an Idempotency-Key within its bounds) is placed here
    instead: the body parsed and validated by the route's own body field as FastAPI does
    (the same model, the same mode), then the same OneHop dependency entered as FastAPI
    enters it, then the same work. Anything else (no or odd content type, a missing or
    out-of-bounds key, unparseable JSON, a body the model refuses, an error reading it) is
    handed to FastAPI's own handler unchanged, so every refusal is FastAPI's as before: the
    caller checked first (401/403), then the key and the body (400/422), problem+json. The
    route's signature, and so the OpenAPI document, are FastAPI's as ever.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()
        body_field = self.body_field
        assert body_field is not None

        async def handler(request: Request) -> Response:
            data = await _ordinary_order(request, body_field)
            if data is None:
                return await standard(request)
            async with _entered_hop(request) as hop:
                return await _place(request, hop, data, request.headers["idempotency-key"])

        return handler


async def _ordinary_order(request: Request, body_field: Any) -> OrderCreate | None:
    """Return the order an ordinary request carries, validated; None for anything else."""
    headers = request.headers
    key = headers.get("idempotency-key")
    if key is None or not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
        return None
    content_type = headers.get("content-type")
    if content_type is None or content_type.partition(";")[0].strip().lower() != JSON_TYPE:
        return None
    try:
        raw = await request.body()
        parsed = json.loads(raw) if raw else None
    except Exception:  # noqa: BLE001 - FastAPI's handler reads it again and answers
        return None
    if not isinstance(parsed, dict):
        return None
    # As FastAPI validates a body parameter (fastapi._compat ModelField.validate).
    value, errors = body_field.validate(parsed, {}, loc=("body",))
    if errors or not isinstance(value, OrderCreate):
        return None
    return value


JSON_TYPE = "application/json"
IDEMPOTENCY_KEY_MAX = 255
_ORDER_HOP = in_one_hop(Permission.ORDERS_WRITE)
_entered_hop = asynccontextmanager(_ORDER_HOP)


async def _place(request: Request, hop: OneHop, body: OrderCreate, key: str) -> Response:
    """Place the order in the hop's one trip; the answer's JSON text as made once."""
    instance = request.url.path

    # The whole order (session, order, commit) in one trip through the thread pool.
    def place(session: Session, principal: Principal) -> Response:
        outcome = service.place_order(
            session, principal=principal, key=key, data=body, instance=instance
        )
        media = "application/json" if outcome.status < 400 else "application/problem+json"
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        # The answer's JSON text as made once (what JSONResponse would render of its body).
        return Response(outcome.text, status_code=outcome.status, media_type=media, headers=headers)

    return await hop.run(place)


async def create_order(
    body: OrderCreate,
    request: Request,
    hop: Annotated[OneHop, Depends(_ORDER_HOP, scope="function")],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Place an order and reserve its stock, all or nothing; retries must reuse the key."""
    if idempotency_key is None:
        raise MissingIdempotencyKey(
            "Send an Idempotency-Key header (e.g. a UUID per order) so a retry cannot order twice."
        )
    return await _place(request, hop, body, idempotency_key)


router.add_api_route(
    "/orders",
    create_order,
    methods=["POST"],
    response_model=OrderRead,
    status_code=201,
    responses=problem_responses(400, 403, 409, 422),
    route_class_override=_OrderCourse,
)


@router.get("/orders", response_model=Page[OrderRead], responses=problem_responses(422))
def list_orders(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_READ)],
    page: Annotated[PageParams, SortedBy("created_at", "status", "total", "updated_at")],
    status: OrderStatusName | None = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    customer_id: Id | None = None,
    branch_id: Id | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    updated_since: UpdatedSince = None,
) -> dict[str, Any]:
    """List orders by status, channel, customer, branch, creation date or last change."""
    return queries.list_orders(
        session,
        principal=principal,
        params=page,
        status=status,
        channel=channel,
        customer_id=customer_id,
        branch_id=branch_id,
        created_from=created_from,
        created_to=created_to,
        updated_since=updated_since,
    )


@router.get("/orders/{order_id}", response_model=OrderRead, responses=problem_responses(404))
def get_order(
    order_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_READ)],
) -> Order:
    """Return one order with its lines and returns."""
    return service.get_order(session, principal=principal, order_id=order_id)


_CHANGE = problem_responses(404, 409, 422)


@router.post("/orders/{order_id}/payment", response_model=OrderRead, responses=_CHANGE)
def pay_order(
    order_id: Id,
    body: PaymentCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_WRITE)],
) -> Order:
    """Record the payment: the order is confirmed and its reservation becomes a sale."""
    return lifecycle.pay(session, principal=principal, order_id=order_id, data=body)


@router.post("/orders/{order_id}/picking", response_model=OrderRead, responses=_CHANGE)
def start_picking(
    order_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_WRITE)],
) -> Order:
    """Start picking a confirmed order."""
    return lifecycle.start_picking(session, principal=principal, order_id=order_id)


@router.post("/orders/{order_id}/packed", response_model=OrderRead, responses=_CHANGE)
def pack_order(
    order_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_WRITE)],
) -> Order:
    """Mark the order packed."""
    return lifecycle.pack(session, principal=principal, order_id=order_id)


@router.post("/orders/{order_id}/shipment", response_model=OrderRead, responses=_CHANGE)
def ship_order(
    order_id: Id,
    body: ShipmentCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_WRITE)],
) -> Order:
    """Hand the order to a carrier with its tracking number."""
    return lifecycle.ship(session, principal=principal, order_id=order_id, data=body)


@router.post("/orders/{order_id}/delivered", response_model=OrderRead, responses=_CHANGE)
def deliver_order(
    order_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_WRITE)],
) -> Order:
    """Record the delivery."""
    return lifecycle.deliver(session, principal=principal, order_id=order_id)


@router.post("/orders/{order_id}/cancel", response_model=OrderRead, responses=_CHANGE)
def cancel_order(
    order_id: Id,
    body: CancelCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_WRITE)],
) -> Order:
    """Cancel a pending or confirmed order; its stock is released or returned."""
    return lifecycle.cancel(session, principal=principal, order_id=order_id, data=body)


@router.post(
    "/orders/{order_id}/returns", response_model=ReturnRead, status_code=201, responses=_CHANGE
)
def request_return(
    order_id: Id,
    body: ReturnCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_WRITE)],
) -> OrderReturn:
    """Ask to return delivered lines."""
    return returns.request_return(session, principal=principal, order_id=order_id, data=body)


@router.post(
    "/orders/{order_id}/returns/{return_id}/receive", response_model=ReturnRead, responses=_CHANGE
)
def receive_return(
    order_id: Id,
    return_id: Id,
    body: ReturnReceive,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_WRITE)],
) -> OrderReturn:
    """Receive returned goods: restock what can be sold again, write off the rest, refund."""
    return returns.receive_return(
        session, principal=principal, order_id=order_id, return_id=return_id, data=body
    )


@router.get("/picking-lists/{branch_id}", response_model=PickingList, responses=_CHANGE)
def picking_list(
    branch_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_READ)],
) -> PickingList:
    """What to pick in a branch: confirmed and picking orders, totalled per product."""
    return picking.picking_list(session, principal=principal, branch_id=branch_id)


@router.get(
    "/picking-lists/{branch_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **problem_responses(404)},
)
def picking_list_pdf(
    branch_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_READ)],
) -> Response:
    """The picking list as a printable PDF."""
    listing = picking.picking_list(session, principal=principal, branch_id=branch_id)
    return Response(
        content=picking.render_pdf(listing),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="picking-{listing.branch_code}.pdf"'},
    )
