"""Device enrolment and administration, push, pull and dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from common.errors import AuthenticationFailed, PermissionDenied
from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from common.sync.protocol import (
    DEFAULT_PULL_LIMIT,
    DEVICE_TOKEN_PREFIX,
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
from sync_server import admission
from sync_server.foundation import credentials
from sync_server.foundation.deps import (
    OneHop,
    Requires,
    SessionDep,
    bearer_token,
    denied,
    primary_turn,
    turn_held,
)
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


def _check_till(principal: Principal) -> None:
    if not principal.can(Permission.POS_SELL):
        raise denied(principal, Permission.POS_SELL)
    _till(principal)


T = TypeVar("T")
# Stands for the caller until its trip resolves it: a principal that may do nothing.
_UNRESOLVED = Principal(tenant_id=0, kind="device", label="unresolved", role="none")


class _ResolvedInItsTrip(OneHop):
    """A till whose principal this process no longer keeps: resolved in the work's own trip.

    Its credential is read with the session its work then uses, and checked before the work
    runs, in that one trip through the thread pool (InOneHop would take a trip of its own
    for it). Each till syncs every ~30 s and a process keeps a principal 2 s, so on a busy
    chain this is nearly every pull.
    """

    __slots__ = ("token",)

    def __init__(self, request: Request, token: str) -> None:
        super().__init__(request, _UNRESOLVED, None)
        self.token = token

    async def run(self, work: Callable[[Session, Principal], T]) -> T:
        # A push's work needs the device row (read here, found again without a query); a
        # pull's does not, so only the columns its principal needs are read.
        resolve = (
            devices.resolve_device_token_rowless
            if self.request.method == "GET"
            else devices.resolve_device_token
        )

        def resolved(session: Session, _unresolved: Principal) -> T:
            principal = resolve(session, token=self.token)
            _check_till(principal)
            self.principal = self.request.state.principal = principal
            return work(session, principal)

        return await super().run(resolved)


async def _till_hop(request: Request) -> AsyncIterator[OneHop]:
    """The push's or pull's OneHop, for an enrolled till only.

    A kept principal is checked here, on the event loop; a till's credential that is not kept
    is read and checked in the work's trip (_ResolvedInItsTrip), before the work runs. A push
    whose body turns out invalid is refused 401 or 403 first all the same (_TillFirst). The
    connection's turn is taken here, as in_one_hop takes it.
    """
    async with turn_held(request):
        admission.started(request.scope)  # its turn came: its wait at the door is over
        token = bearer_token(request)
        if token is None:
            raise AuthenticationFailed("Log in first: send 'Authorization: Bearer <token>'.")
        kept = credentials.kept(token)
        if kept is None and token.startswith(DEVICE_TOKEN_PREFIX):
            # A till's credential: it may do what a push or pull needs, unless it is unknown
            # or revoked (401, found in the trip).
            yield _ResolvedInItsTrip(request, token)
            return
        if kept is None:
            # Not a till's credential: refused here, before the body is looked at, 401 when
            # it is no good and 403 when it is (a user or an API key never syncs).
            kept = await run_in_threadpool(_resolve_apart, request, token)
        _check_till(kept)
        request.state.principal = kept
        yield OneHop(request, kept, None)


def _resolve_apart(request: Request, token: str) -> Principal:
    with request.app.state.sessions() as session:
        return credentials.resolve(
            session, token=token, secret=request.app.state.settings.resolved_secret_key
        )


# As InOneHop's: what the route demands (the route x role test, the OpenAPI document), and
# that it authenticates its caller.
_till_hop.permission = Permission.POS_SELL  # type: ignore[attr-defined]
_till_hop.authenticates = True  # type: ignore[attr-defined]

# Pushes and pulls are most of a server's requests: each runs its work and commit in one
# trip through the thread pool (OneHop), instead of six, and a till whose principal is not
# kept (sync/devices.py) is resolved in that one trip.
TillHop = Annotated[OneHop, Depends(_till_hop, scope="function")]


async def _refuse_the_caller_first(request: Request) -> None:
    """Raise the 401 or 403 a push's caller earns, if any, before its body's 422.

    Only a push whose body is invalid gets here (the error path): its caller was not resolved
    yet when its principal was not kept, so it is resolved now, in a trip of its own.
    """
    token = bearer_token(request)
    if token is None:
        raise AuthenticationFailed("Log in first: send 'Authorization: Bearer <token>'.")
    principal = credentials.kept(token)
    if principal is None:
        async with primary_turn(request.app.state):
            principal = await run_in_threadpool(_resolve_apart, request, token)
    _check_till(principal)


class _TillFirst(APIRoute):
    """A route whose unknown, revoked or wrong caller is refused before its body is judged.

    FastAPI validates a body before the route runs, and a till not kept is resolved only in
    the route's trip (one trip instead of two): when the body is invalid, the caller is
    resolved first, so a revoked till is refused 401 (a user 403) whatever it sent, and a
    till in good standing gets FastAPI's own 422. The route's signature, and so the OpenAPI
    document, are FastAPI's as ever.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError:
                await _refuse_the_caller_first(request)
                raise

        return handler


async def push_events(body: PushRequest, hop: TillHop) -> Response:
    """Apply a batch of till events in order, each exactly once."""

    def work(session: Session, principal: Principal) -> PushResponse:
        skew = push.check_clock(session, principal=principal, sent_at=body.sent_at)
        results = push.push(session, principal=principal, events=body.events)
        # Made and checked once here: FastAPI would validate the answer again against the
        # response model before writing it (that model still documents it).
        return PushResponse(results=results, clock_skew_seconds=skew)

    return Response(to_json(await hop.run(work)), media_type="application/json")


router.add_api_route(
    "/sync/push",
    push_events,
    methods=["POST"],
    response_model=PushResponse,
    responses=problem_responses(401, 403, 422),
    route_class_override=_TillFirst,
)


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
