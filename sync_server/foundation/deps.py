"""Request dependencies: the database session and the authenticated caller."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from common.errors import AuthenticationFailed, PermissionDenied
from common.roles import Permission
from sync_server import admission
from sync_server.db import is_sqlite, pool_capacity
from sync_server.foundation import credentials
from sync_server.foundation.principal import Principal
from sync_server.replica import (
    READ_AFTER_HEADER,
    SESSION_FLAG,
    STATE_KEY,
    ReadReplica,
    commit_reading_position,
    parse_lsn,
    routes_to_replica,
)
from sync_server.retry import must_use_primary


def _for_the_replica(request: Request) -> bool:
    """Say whether the request is a lag-tolerant read, which a replica may serve."""
    return routes_to_replica(request.method, request.url.path) and not must_use_primary(
        request.scope
    )


def _sessions_for(request: Request) -> tuple[sessionmaker[Session], bool]:
    """Pick the replica for a lag-tolerant read while it keeps up, else the primary."""
    replica: ReadReplica | None = getattr(request.app.state, "replica", None)
    if (
        replica is not None
        and _for_the_replica(request)
        and replica.usable(read_after=parse_lsn(request.headers.get(READ_AFTER_HEADER)))
    ):
        return replica.sessions, True
    return request.app.state.sessions, False


# app.state keys: the turns of the primary's and the replica's connection pools.
PRIMARY_TURNS = "db_turns"
REPLICA_TURNS = "db_replica_turns"


def make_turns(app_state: Any, engine: Engine, replica: ReadReplica | None) -> None:
    """Give each PostgreSQL pool as many turns as it has connections (called on start-up).

    Made per event loop (each start-up), as asyncio's semaphores belong to one loop.
    """
    if is_sqlite(engine):
        return  # one writer at a time already waits on the event loop (WriterTurn)
    setattr(app_state, PRIMARY_TURNS, asyncio.Semaphore(_capacity(engine)))
    if replica is not None:
        setattr(app_state, REPLICA_TURNS, asyncio.Semaphore(_capacity(replica.engine)))


def _capacity(engine: Engine) -> int:
    # As configured when the engine was made (sync_server.db.make_engine), not read back
    # from SQLAlchemy's pool internals.
    return max(1, pool_capacity(engine))


async def _take_turn(turns: asyncio.Semaphore, wait_s: float) -> None:
    try:
        await asyncio.wait_for(turns.acquire(), timeout=wait_s)
    except TimeoutError:
        raise PoolTimeout(f"no connection's turn came within {wait_s:g} s") from None


@asynccontextmanager
async def primary_turn(app_state: Any) -> AsyncIterator[None]:
    """Hold a turn at the primary's pool for database work done outside a request's session.

    The rate limiter's look-ups (and its counters, when they are kept in the database) take
    a pooled connection of their own before the request's session exists; taking a turn for
    them keeps them from starving the requests that hold turns. Raises the pool's timeout
    when no turn comes within the pool's wait. Never held together with the request's own
    turn, so the two cannot wait for each other.
    """
    turns: asyncio.Semaphore | None = getattr(app_state, PRIMARY_TURNS, None)
    if turns is None:
        yield
        return
    await _take_turn(turns, app_state.settings.db_wait_seconds)
    try:
        yield
    finally:
        turns.release()


async def database_turn(request: Request) -> AsyncIterator[None]:
    """Wait for a turn at the connection pool on the event loop, not in a worker thread.

    A route's work runs in the thread pool in several hops (open the session, resolve the
    caller, run the route, commit), holding its connection between them. When more requests
    than connections waited for a connection inside worker threads, they took the threads
    that the requests holding connections needed for their next hop: past a burst the server
    sat nearly idle, its connections idle in transaction, answering 503 after each pool wait.
    Here a request waits for a free connection's turn before it takes any thread, and gives
    it back once its transaction has ended (get_session), so a slow client reading a long
    answer does not hold a turn; the wait is bounded by the pool's own.
    """
    async with turn_held(request):
        yield


@asynccontextmanager
async def turn_held(request: Request) -> AsyncIterator[None]:
    """database_turn's work, for a dependency that takes the turn itself (in_one_hop): one
    dependency less for FastAPI to solve and unwind per request."""
    state = request.app.state
    routed = getattr(state, "replica", None) is not None and _for_the_replica(request)
    turns: asyncio.Semaphore | None = getattr(
        state, REPLICA_TURNS if routed else PRIMARY_TURNS, None
    )
    if turns is None:
        yield
        return
    await _take_turn(turns, state.settings.db_wait_seconds)
    loop = asyncio.get_running_loop()
    given_back = threading.Event()

    def give_back() -> None:  # from the worker thread that ends the transaction
        if not given_back.is_set():
            given_back.set()
            loop.call_soon_threadsafe(turns.release)

    def give_back_here() -> None:  # on the event loop, once the work's thread trip is over
        if not given_back.is_set():
            given_back.set()
            turns.release()

    request.state.give_back_turn = give_back
    request.state.give_back_turn_here = give_back_here
    try:
        yield
    finally:
        if not given_back.is_set():
            given_back.set()
            turns.release()


def _new_session(request: Request) -> Session:
    """Open the request's session: the replica's for a lag-tolerant read, else the primary's."""
    factory, from_replica = _sessions_for(request)
    session = factory()
    try:
        if from_replica:
            session.info[SESSION_FLAG] = True
        if request.method in ("GET", "HEAD") and is_sqlite(session.get_bind()):
            # Reads need no write lock: they begin deferred (the first use begins here).
            session.connection(execution_options={"sqlite_begin": "DEFERRED"})
    except BaseException:
        session.close()
        raise
    return session


def _end(session: Session, request: Request, *, give_back_turn: bool = True) -> None:
    """Commit the request's transaction (noting the replica position) and give back its turn
    (give_back_turn False: the caller gives it back on the event loop, as OneHop does)."""
    try:
        if request.method in ("GET", "HEAD") or not getattr(request.app.state, "replica", None):
            session.commit()
            return
        # Read-your-writes: the client sends this back and its reads wait for the replica.
        lsn = commit_reading_position(session)
        if lsn is not None:
            setattr(request.state, STATE_KEY, lsn)  # sent by replica.ReadAfter
    finally:
        # The connection went back to the pool with the commit: so does the request's turn.
        give_back = getattr(request.state, "give_back_turn", None) if give_back_turn else None
        if give_back is not None:
            give_back()


def open_session(
    request: Request, _turn: Annotated[None, Depends(database_turn)]
) -> Iterator[Session]:
    """Keep a session for the whole request; whatever was not committed is rolled back."""
    admission.started(request.scope)  # its wait at the door is over (sync_server/admission.py)
    with _new_session(request) as session:
        yield session


def get_session(
    session: Annotated[Session, Depends(open_session)], request: Request
) -> Iterator[Session]:
    """Run the route in one transaction and commit it before the answer is sent.

    Function scope matters: with the default request scope FastAPI would run the commit
    after the response left, so a client could be told "created" for a write that then
    failed to commit, and its next read could still miss it.
    """
    yield session
    _end(session, request)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def bearer_token(request: Request) -> str | None:
    """Return the credential from Authorization: Bearer or X-API-Key."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = request.headers.get("x-api-key", "").strip()
    return api_key or None


def get_principal(request: Request, session: SessionDep) -> Principal:
    """Authenticate the caller or answer 401."""
    token = bearer_token(request)
    if token is None:
        raise AuthenticationFailed("Log in first: send 'Authorization: Bearer <token>'.")
    principal = credentials.resolve(
        session, token=token, secret=request.app.state.settings.resolved_secret_key
    )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """Return a dependency that lets through only callers holding the permission."""

    # A coroutine: the check is plain CPU, so it runs on the event loop instead of taking
    # a trip through the thread pool (each costs more than the check itself).
    async def check(principal: PrincipalDep) -> Principal:
        if not principal.can(permission):
            raise denied(principal, permission)
        return principal

    # The route x role test reads this to know what each route demands.
    check.permission = permission  # type: ignore[attr-defined]
    return check


def denied(principal: Principal, permission: Permission) -> PermissionDenied:
    """The 403 a caller whose role lacks `permission` gets."""
    return PermissionDenied(
        f"Your role ({principal.role}) may not do this; it needs '{permission}'.",
        required_permission=permission.value,
    )


def Requires(permission: Permission) -> Any:  # noqa: N802 - reads as a marker in signatures
    """Mark a parameter as the caller, checked for a permission.

    Used as ``principal: Annotated[Principal, Requires(Permission.X)]``: the annotation stays
    a real type for the type checker, and FastAPI runs the check as a dependency.
    """
    return Depends(require(permission))


T = TypeVar("T")


class OneHop:
    """A route's whole unit of work, run in one trip through the thread pool.

    With SessionDep and Requires a request takes about six trips through the thread pool
    (open the session, begin it, resolve the caller, run the route, commit, close), and each
    trip (a queue put, a thread woken, its answer handed back to the event loop) costs about
    as much CPU as a short statement. A route taking OneHop instead gets its caller checked
    before its body is read, as Requires does (on the event loop when the credential's
    resolver still keeps it, otherwise in a trip of its own with the session it opens), and
    then runs its work, the commit and the close in one trip: ``await hop.run(work)``, where
    work(session, principal) runs in a worker thread. The work's transaction is the
    request's, committed before the answer is sent, as with SessionDep.
    """

    __slots__ = ("principal", "request", "session")

    def __init__(self, request: Request, principal: Principal, session: Session | None) -> None:
        self.request = request
        self.principal = principal
        self.session = session  # opened while resolving the caller, else None

    async def run(self, work: Callable[[Session, Principal], T]) -> T:
        """Run work(session, principal) in one transaction, in one worker thread trip."""
        try:
            return await run_in_threadpool(self._run, work)
        finally:
            # The transaction ended in the trip: its turn is given back here, on the event
            # loop as the trip's answer arrives, rather than from the worker thread (which
            # would wake the loop once more, for the turn alone).
            give_back = getattr(self.request.state, "give_back_turn_here", None)
            if give_back is not None:
                give_back()

    def _run(self, work: Callable[[Session, Principal], T]) -> T:
        session, self.session = self.session, None
        if session is None:
            session = _new_session(self.request)
        with session:
            result = work(session, self.principal)
            _end(session, self.request, give_back_turn=False)
        return result


def _resolve_opening(request: Request, token: str) -> tuple[Session, Principal]:
    """Open the request's session and resolve its caller with it (one worker thread trip)."""
    session = _new_session(request)
    try:
        principal = credentials.resolve(
            session, token=token, secret=request.app.state.settings.resolved_secret_key
        )
    except BaseException:
        session.close()
        raise
    return session, principal


def in_one_hop(permission: Permission) -> Callable[..., AsyncIterator[OneHop]]:
    """Return a dependency that checks the caller for a permission and gives a OneHop."""

    async def one_hop(request: Request) -> AsyncIterator[OneHop]:
        # The connection's turn is taken here, as database_turn takes and gives it back,
        # rather than by a dependency of its own: one dependency less for FastAPI to solve
        # and unwind per request.
        async with turn_held(request):
            # Its turn came: its wait at the door is over (as when SessionDep opens its
            # session).
            admission.started(request.scope)
            token = bearer_token(request)
            if token is None:
                raise AuthenticationFailed("Log in first: send 'Authorization: Bearer <token>'.")
            session: Session | None = None
            kept = credentials.kept(token)
            if kept is not None:
                principal = kept
            else:
                session, principal = await run_in_threadpool(_resolve_opening, request, token)
            request.state.principal = principal
            hop = OneHop(request, principal, session)
            try:
                if not principal.can(permission):
                    raise denied(principal, permission)
                yield hop
            finally:
                if hop.session is not None:  # opened, and the route never ran its work
                    await run_in_threadpool(hop.session.close)

    # As require()'s check: what the route demands (the route x role test, the OpenAPI
    # document), and that it authenticates its caller.
    one_hop.permission = permission  # type: ignore[attr-defined]
    one_hop.authenticates = True  # type: ignore[attr-defined]
    return one_hop


def InOneHop(permission: Permission) -> Any:  # noqa: N802 - reads as a marker in signatures
    """Mark a parameter as the route's OneHop, its caller checked for a permission.

    Used as ``hop: Annotated[OneHop, InOneHop(Permission.X)]`` instead of SessionDep and
    Requires; function scope, so the commit comes before the answer is sent.
    """
    return Depends(in_one_hop(permission), scope="function")
