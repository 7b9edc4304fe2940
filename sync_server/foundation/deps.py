"""Request dependencies: the database session and the authenticated caller."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from common.errors import AuthenticationFailed, PermissionDenied
from common.roles import Permission
from sync_server import admission
from sync_server.db import is_sqlite
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
    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    return max(1, (size() if callable(size) else 1) + max(overflow, 0))


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
    state = request.app.state
    routed = getattr(state, "replica", None) is not None and _for_the_replica(request)
    turns: asyncio.Semaphore | None = getattr(
        state, REPLICA_TURNS if routed else PRIMARY_TURNS, None
    )
    if turns is None:
        yield
        return
    wait_s = state.settings.db_wait_seconds
    try:
        await asyncio.wait_for(turns.acquire(), timeout=wait_s)
    except TimeoutError:
        raise PoolTimeout(f"no connection's turn came within {wait_s:g} s") from None
    loop = asyncio.get_running_loop()
    given_back = threading.Event()

    def give_back() -> None:  # from the worker thread that ends the transaction
        if not given_back.is_set():
            given_back.set()
            loop.call_soon_threadsafe(turns.release)

    request.state.give_back_turn = give_back
    try:
        yield
    finally:
        if not given_back.is_set():
            given_back.set()
            turns.release()


def open_session(
    request: Request, _turn: Annotated[None, Depends(database_turn)]
) -> Iterator[Session]:
    """Keep a session for the whole request; whatever was not committed is rolled back."""
    admission.started(request.scope)  # its wait at the door is over (sync_server/admission.py)
    factory, from_replica = _sessions_for(request)
    with factory() as session:
        if from_replica:
            session.info[SESSION_FLAG] = True
        if request.method in ("GET", "HEAD") and is_sqlite(session.get_bind()):
            # Reads need no write lock: they begin deferred (the first use begins here).
            session.connection(execution_options={"sqlite_begin": "DEFERRED"})
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
    _end_transaction(request, session)


def _end_transaction(request: Request, session: Session) -> None:
    """Commit the request's transaction (reading the WAL position after a write), give back
    the request's connection turn whatever happens."""
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
        _give_back_turn(request)


def _give_back_turn(request: Request) -> None:
    give_back = getattr(request.state, "give_back_turn", None)
    if give_back is not None:
        give_back()


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
    return _authenticate(request, session)


def _authenticate(request: Request, session: Session) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise AuthenticationFailed("Log in first: send 'Authorization: Bearer <token>'.")
    principal = credentials.resolve(
        session, token=token, secret=request.app.state.settings.resolved_secret_key
    )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _check(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise PermissionDenied(
            f"Your role ({principal.role}) may not do this; it needs '{permission}'.",
            required_permission=permission.value,
        )


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """Return a dependency that lets through only callers holding the permission."""

    # A coroutine: the check is plain CPU, so it runs on the event loop instead of taking
    # a trip through the thread pool (each costs more than the check itself).
    async def check(principal: PrincipalDep) -> Principal:
        _check(principal, permission)
        return principal

    # The route x role test reads this to know what each route demands.
    check.permission = permission  # type: ignore[attr-defined]
    return check


def Requires(permission: Permission) -> Any:  # noqa: N802 - reads as a marker in signatures
    """Mark a parameter as the caller, checked for a permission.

    Used as ``principal: Annotated[Principal, Requires(Permission.X)]``: the annotation stays
    a real type for the type checker, and FastAPI runs the check as a dependency.
    """
    return Depends(require(permission))


T = TypeVar("T")


class OneHop:
    """A request's session and checked caller, made in one worker-thread trip (in_one_hop)."""

    def __init__(self, request: Request, session: Session, principal: Principal) -> None:
        self.request = request
        self.session = session
        self.principal = principal
        self.closed = False

    @classmethod
    def open(
        cls,
        request: Request,
        permission: Permission,
        check: Callable[[Principal], None] | None,
    ) -> OneHop:
        """Open the session and authenticate and check the caller, as open_session,
        get_principal and Requires do, in the same order (in a worker thread)."""
        admission.started(request.scope)
        factory, from_replica = _sessions_for(request)
        session = factory()
        try:
            if from_replica:
                session.info[SESSION_FLAG] = True
            if request.method in ("GET", "HEAD") and is_sqlite(session.get_bind()):
                session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            principal = _authenticate(request, session)
            _check(principal, permission)
            if check is not None:
                check(principal)
        except BaseException:
            session.close()
            _give_back_turn(request)
            raise
        return cls(request, session, principal)

    async def run(self, work: Callable[[Session, Principal], T]) -> T:
        """Run the route's work, commit as get_session does and close, in one worker trip."""
        return await run_in_threadpool(self._run, work)

    def _run(self, work: Callable[[Session, Principal], T]) -> T:
        try:
            result = work(self.session, self.principal)
            _end_transaction(self.request, self.session)
            return result
        finally:
            self.close()

    def close(self) -> None:
        """End the session (what was not committed is rolled back) and give back the turn."""
        if not self.closed:
            self.closed = True
            try:
                self.session.close()
            finally:
                _give_back_turn(self.request)


def in_one_hop(permission: Permission, check: Callable[[Principal], None] | None = None) -> Any:
    """Mark a parameter as the request's OneHop, for a caller holding `permission`.

    Each dependency and route that is a plain function costs a trip through the thread
    pool: open the session, resolve the caller, run the route, commit and close made six
    per request, more CPU than the check or the commit themselves on a till's push or
    pull. A route declared ``hop: Annotated[OneHop, in_one_hop(Permission.X)]`` is a
    coroutine that awaits ``hop.run(work)``: the connection's turn is waited for on the
    event loop as before, the session is opened and the caller checked (and `check`ed) in
    one trip before the body is read, as the dependencies did, and the work, the commit
    and the close run in a second.
    """

    async def one_hop(
        request: Request, _turn: Annotated[None, Depends(database_turn)]
    ) -> AsyncIterator[OneHop]:
        hop = await run_in_threadpool(OneHop.open, request, permission, check)
        try:
            yield hop
        finally:
            if not hop.closed:  # the route failed before its work ran (a bad body)
                await run_in_threadpool(hop.close)

    # The route x role test reads this to know what each route demands, and the OpenAPI
    # document both this and that the caller is authenticated (as by get_principal).
    one_hop.permission = permission  # type: ignore[attr-defined]
    one_hop.authenticates = True  # type: ignore[attr-defined]
    return Depends(one_hop, scope="function")
