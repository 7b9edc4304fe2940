"""Device enrolment and administration, push, pull and dead letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import PermissionDenied
from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from common.sync.protocol import (
    DEFAULT_PULL_LIMIT,
    MAX_PULL_LIMIT,
    DeadLetterRead,
    DeadLetterResolve,
    DeviceRead,
    DeviceRename,
    EnrolmentCodeCreate,
    EnrolmentCodeRead,
    EnrolRequest,
    EnrolResponse,
    PullResponse,
    PushRequest,
    PushResponse,
)
from common.sync.series import DeviceSeries
from sync_server.foundation.deps import InOneHop, OneHop, Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.paging import PageParams, SortedBy, paginate
from sync_server.sync import dead_letters, devices, pull, push, series
from sync_server.sync.models import DeadLetter, Device

router = APIRouter(tags=["sync"])


def _till(principal: Principal) -> None:
    if principal.kind != "device":
        raise PermissionDenied("Only an enrolled till syncs; enrol it with a code from an admin.")


# A coroutine: the check is plain CPU, so it runs on the event loop instead of taking a trip
# through the thread pool.
async def _device_only(
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
) -> Principal:
    _till(principal)
    return principal


DeviceCaller = Annotated[Principal, Depends(_device_only)]


def _device_read(device: Device) -> DeviceRead:
    return DeviceRead(
        id=device.id,
        name=device.name,
        branch_id=device.branch_id,
        receipt_prefix=device.receipt_prefix,
        revoked=device.revoked_at is not None,
        created_at=device.created_at,
        last_seen_at=device.last_seen_at,
    )


@router.post(
    "/devices/enrolment-codes",
    response_model=EnrolmentCodeRead,
    status_code=201,
    responses=problem_responses(404, 409, 422),
)
def create_enrolment_code(
    body: EnrolmentCodeCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.DEVICES_ADMIN)],
) -> EnrolmentCodeRead:
    """Issue a one-time code that enrols a till at a branch (shown once)."""
    code, row = devices.create_enrolment_code(
        session, actor=principal.actor, branch_id=body.branch_id, valid_minutes=body.valid_minutes
    )
    return EnrolmentCodeRead(code=code, branch_id=row.branch_id, expires_at=row.expires_at)


@router.post(
    "/devices/enrol",
    response_model=EnrolResponse,
    status_code=201,
    responses=problem_responses(401, 422),
)
def enrol(body: EnrolRequest, session: SessionDep) -> EnrolResponse:
    """Exchange a one-time code for this till's credential (shown once)."""
    device, token, branch = devices.enrol(session, code=body.code, name=body.name)
    return EnrolResponse(
        device_id=device.id,
        token=token,
        tenant_id=device.tenant_id,
        branch_id=branch.id,
        branch_code=branch.code,
        name=device.name,
        receipt_prefix=device.receipt_prefix,
    )


@router.get("/devices", response_model=Page[DeviceRead])
def list_devices(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.DEVICES_ADMIN)],
    page: Annotated[PageParams, SortedBy("created_at", "name")],
) -> dict[str, Any]:
    """List the business's tills."""
    result = paginate(
        session,
        select(Device).where(Device.tenant_id == principal.tenant_id),
        params=page,
        sortable={"name": Device.name, "created_at": Device.created_at},
        default_sort="created_at",
        tiebreak=Device.id,
    )
    result["items"] = [_device_read(d) for d in result["items"]]
    return result


@router.patch(
    "/devices/{device_id}", response_model=DeviceRead, responses=problem_responses(404, 422)
)
def rename_device(
    device_id: str,
    body: DeviceRename,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.DEVICES_ADMIN)],
) -> DeviceRead:
    """Rename a till."""
    device = devices.get_device(session, tenant_id=principal.tenant_id, device_id=device_id)
    return _device_read(devices.rename(session, actor=principal, device=device, name=body.name))


@router.post(
    "/devices/{device_id}/revoke", response_model=DeviceRead, responses=problem_responses(404, 409)
)
def revoke_device(
    device_id: str,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.DEVICES_ADMIN)],
) -> DeviceRead:
    """Revoke a till: its next push or pull is refused."""
    device = devices.get_device(session, tenant_id=principal.tenant_id, device_id=device_id)
    return _device_read(devices.revoke(session, actor=principal, device=device))


async def _till_hop(hop: Annotated[OneHop, InOneHop(Permission.POS_SELL)]) -> OneHop:
    """The request's OneHop, for an enrolled till only (checked before the body is read)."""
    _till(hop.principal)
    return hop


# Pushes and pulls are most of a server's requests: each runs its work and commit in one trip
# through the thread pool (OneHop), after one more that opens its session and resolves its
# caller unless the till's principal is still kept (sync/devices.py), instead of six trips.
TillHop = Annotated[OneHop, Depends(_till_hop, scope="function")]


@router.post("/sync/push", response_model=PushResponse, responses=problem_responses(401, 403, 422))
async def push_events(body: PushRequest, hop: TillHop) -> Response:
    """Apply a batch of till events in order, each exactly once."""

    def work(session: Session, principal: Principal) -> PushResponse:
        skew = push.check_clock(session, principal=principal, sent_at=body.sent_at)
        results = push.push(session, principal=principal, events=body.events)
        # Made and checked once here: FastAPI would validate the answer again against the
        # response model before writing it (that model still documents it).
        return PushResponse(results=results, clock_skew_seconds=skew)

    return Response(to_json(await hop.run(work)), media_type="application/json")


@router.get("/sync/series", response_model=DeviceSeries, responses=problem_responses(401, 403))
def receipt_series(session: SessionDep, principal: DeviceCaller) -> DeviceSeries:
    """Return this till's receipt prefix and the highest number of it the server holds."""
    device = devices.get_device(
        session, tenant_id=principal.tenant_id, device_id=principal.device_id or ""
    )
    return series.device_series(session, device=device)


@router.get(
    "/sync/pull",
    response_model=PullResponse,
    responses=problem_responses(401, 403, 422),
)
async def pull_changes(
    hop: TillHop,
    cursor: Annotated[str, Query(max_length=100)] = "0",
    limit: Annotated[int, Query(ge=1, le=MAX_PULL_LIMIT)] = DEFAULT_PULL_LIMIT,
) -> Response:
    """Return the next page of changes for this till's branch and the cursor after it."""

    def work(session: Session, principal: Principal) -> bytes:
        (branch_id,) = principal.branch_ids
        page = pull.pull(
            session, tenant_id=principal.tenant_id, branch_id=branch_id, cursor=cursor, limit=limit
        )
        # Serialised by hand (in the worker thread): a snapshot page holds thousands of rows
        # already in wire form, and pydantic-core's encoder writes them several times faster
        # than the json module's.
        return to_json(page)

    return Response(await hop.run(work), media_type="application/json")


def _letter_read(letter: DeadLetter) -> DeadLetterRead:
    return DeadLetterRead(
        id=letter.id,
        event_id=letter.event_id,
        device_id=letter.device_id,
        type=letter.type,
        reason=letter.reason,
        payload=letter.payload,
        received_at=letter.received_at,
        resolved=letter.resolved_at is not None,
        resolved_note=letter.resolved_note,
    )


@router.get("/sync/dead-letters", response_model=Page[DeadLetterRead])
def list_dead_letters(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SYNC_ADMIN)],
    page: Annotated[PageParams, SortedBy("received_at")],
    resolved: bool | None = None,
) -> dict[str, Any]:
    """List till events the server could not apply."""
    result = paginate(
        session,
        dead_letters.list_query(principal=principal, resolved=resolved),
        params=page,
        sortable={"received_at": DeadLetter.received_at},
        default_sort="-received_at",
        tiebreak=DeadLetter.id,
    )
    result["items"] = [_letter_read(x) for x in result["items"]]
    return result


@router.post(
    "/sync/dead-letters/{letter_id}/resolve",
    response_model=DeadLetterRead,
    responses=problem_responses(404, 409, 422),
)
def resolve_dead_letter(
    letter_id: Id,
    body: DeadLetterResolve,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SYNC_ADMIN)],
) -> DeadLetterRead:
    """Close a dead letter, optionally applying its event now."""
    letter = dead_letters.get(session, principal=principal, letter_id=letter_id)
    return _letter_read(
        dead_letters.resolve(
            session, principal=principal, letter=letter, note=body.note, retry=body.retry
        )
    )
