"""Turn every failure into an RFC 9457 problem document, in one place."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InternalError,
    OperationalError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import DomainError, TooManyRequests
from sync_server.db import is_lock_conflict
from sync_server.replica import UseThePrimary
from sync_server.retry import mark_retryable, mark_use_primary, must_use_primary

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://stockpilot.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid input"),
    429: ("too-many-requests", "Too many requests"),
}


def problem(
    *,
    status: int,
    type_: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, object] = {
        "type": PROBLEM_BASE + type_,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


# Seconds a client is told to wait after a 503: a burst drains in about that long.
RETRY_AFTER_S = 1


def _busy(request: Request, *, detail: str) -> JSONResponse:
    return problem(
        status=503,
        type_="database-unavailable",
        title="Database unavailable",
        detail=detail,
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def internal_error(path: str) -> JSONResponse:
    """Return the answer to a bug: a problem document that says it was logged."""
    return problem(
        status=500,
        type_="internal-error",
        title="Internal error",
        detail="Something went wrong on the server; it has been logged.",
        instance=path,
    )


class LastResort:
    """Answer an exception no handler took with a 500 problem, and keep the connection.

    Starlette's outermost error middleware sends the 500 and then raises the exception
    again, and uvicorn closes the connection of a request that raised: the client's next
    request on its keep-alive connection would fail. Inside it, this answers and stops.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half an answer is out: only closing the connection can end it
            await internal_error(scope.get("path", ""))(scope, receive, send)


def _field(loc: tuple[object, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _message(error: dict[str, Any]) -> str:
    """Return a validation error's message; a refused sort says what may be sorted by."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "literal_error" and loc[-1:] == ("sort",):
        expected = str((error.get("ctx") or {}).get("expected", ""))
        return f"Cannot sort by '{error.get('input')}'; choose one of {expected}"
    return str(error.get("msg", "invalid"))


class ServedRoute(Protocol):
    """What is read of a route as served: FastAPI's route context, or a flat route."""

    @property
    def path_format(self) -> str | None: ...
    @property
    def methods(self) -> set[str] | None: ...
    @property
    def include_in_schema(self) -> bool: ...
    def matches(self, scope: Scope) -> tuple[Match, Scope]: ...


def api_routes(app: FastAPI) -> list[ServedRoute]:
    """Return the app's routes with included routers flattened (as the OpenAPI sees them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        # FastAPI before 0.137 copied included routes onto the app: they are flat already.
        # Only routes (not mounts or websockets) serve methods or appear in the document.
        return [route for route in app.routes if isinstance(route, Route)]
    return list(iter_route_contexts(app.routes))


def allowed_methods(request: Request) -> list[str]:
    """Return every method some route serves at the request's path (for a 405's Allow)."""
    # Starlette names only the first route matching the path; a path often has several.
    methods: set[str] = set()
    for route in api_routes(request.app):
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers that make every error a problem document."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        headers = None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return problem(
            status=exc.status,
            type_=exc.type,
            title=exc.title,
            detail=exc.detail,
            instance=request.url.path,
            headers=headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(
                status=400,
                type_="malformed-json",
                title="Malformed JSON",
                detail="The request body is not valid JSON.",
                instance=request.url.path,
            )
        fields = [
            {"field": _field(tuple(e.get("loc", ()))), "message": _message(e)} for e in errors
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return problem(
            status=422,
            type_="validation-error",
            title="Invalid input",
            detail=summary or "The request is not valid.",
            instance=request.url.path,
            errors=fields,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "Request failed"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        headers = getattr(exc, "headers", None)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no {request.url.path} here."
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            detail = f"{request.method} is not allowed here; use {', '.join(allowed)}."
        return problem(
            status=exc.status_code,
            type_=type_,
            title=title,
            detail=detail,
            instance=request.url.path,
            headers=headers,
        )

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # Services check uniqueness first; this catches the race the check cannot see.
        log.info("integrity conflict on %s: %s", request.url.path, exc.orig)
        return problem(
            status=409,
            type_="conflict",
            title="Conflict",
            detail="This conflicts with data that already exists (a duplicate or a "
            "reference to something missing).",
            instance=request.url.path,
        )

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> JSONResponse:
        # A value the column cannot hold slipped past the schemas: the input's fault, not ours.
        log.warning("value refused by the database on %s: %s", request.url.path, exc.orig)
        return _unstorable(request)

    @app.exception_handler(OverflowError)
    async def overflow_error(request: Request, exc: OverflowError) -> JSONResponse:
        # SQLite's driver raises this for an integer beyond 64 bits, before SQL runs.
        log.warning("integer out of range on %s: %s", request.url.path, exc)
        return _unstorable(request)

    @app.exception_handler(StatementError)
    async def statement_error(request: Request, exc: StatementError) -> JSONResponse:
        if isinstance(exc.orig, OverflowError | ValueError):
            log.warning("value refused by the driver on %s: %s", request.url.path, exc.orig)
            return _unstorable(request)
        return _internal(request, exc)

    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: OperationalError) -> JSONResponse:
        if is_lock_conflict(exc):
            # The transaction was rolled back whole: the retry middleware runs the request
            # again (sync_server/retry.py) and this answer is dropped unless it was the last.
            if mark_retryable(request.scope):
                log.info("lock conflict on %s; retrying: %s", request.url.path, exc.orig)
                return _busy(request, detail="Other writers hold the same stock; try again.")
            log.warning("lock conflict on %s after every retry: %s", request.url.path, exc.orig)
            return _busy(request, detail="Other writers hold the same stock; try again shortly.")
        if not is_transient(exc):
            return _internal(request, exc)
        log.warning("database unavailable on %s: %s", request.url.path, exc.orig)
        return _busy(request, detail="The database is busy or unreachable; try again shortly.")

    @app.exception_handler(UseThePrimary)
    async def use_the_primary(request: Request, exc: UseThePrimary) -> JSONResponse:
        # The replica could not serve this read (sync_server/replica.py): run it again on the
        # primary; this answer is dropped before a byte of it leaves.
        mark_use_primary(request.scope)
        return _busy(request, detail="The read replica is behind; try again shortly.")

    @app.exception_handler(InternalError)
    async def read_only(request: Request, exc: InternalError) -> JSONResponse:
        # A read routed to the replica tried to write (25006): run it on the primary.
        if getattr(exc.orig, "sqlstate", None) == "25006" and not must_use_primary(request.scope):
            log.info("%s wrote on the replica; running it on the primary", request.url.path)
            mark_use_primary(request.scope)
            return _busy(request, detail="The database is read-only here; try again shortly.")
        if getattr(exc.orig, "sqlstate", None) == "25006":
            # A failover in progress: the node we reached is not (or no longer) the primary.
            log.warning("database read-only on %s: %s", request.url.path, exc.orig)
            return _busy(request, detail="The database is failing over; try again shortly.")
        return _internal(request, exc)

    @app.exception_handler(SQLAlchemyTimeoutError)
    async def pool_exhausted(request: Request, exc: SQLAlchemyTimeoutError) -> JSONResponse:
        # Every database connection stayed in use for the whole pool wait: a burst beyond
        # what this server serves gets a prompt refusal, never a hang or a 500.
        log.warning("no database connection free for %s: %s", request.url.path, exc)
        return _busy(request, detail="The server is busy with other requests; try again shortly.")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal(request, exc)


# SQLSTATE classes and codes that mean "try again": connection lost, server shutting down or
# starting, lock not available, serialization failure, deadlock.
_TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "55P03", "40001", "40P01", "53300")
# What SQLite says when another writer holds the file.
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_transient(exc: OperationalError) -> bool:
    """Say whether a database error is a lock, busy or lost connection (worth a retry)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_TRANSIENT_SQLSTATES)
    if exc.connection_invalidated:
        return True
    message = str(exc.orig).lower()
    if any(text in message for text in _SQLITE_BUSY):
        return True
    # PostgreSQL errors without a state are failures to connect at all.
    return sqlstate is None and type(exc.orig).__module__.startswith("psycopg")


def _unstorable(request: Request) -> JSONResponse:
    return problem(
        status=422,
        type_="validation-error",
        title="Invalid input",
        detail="A value in the request is out of the range or form the database can store "
        "(an id or number too large, or text with a NUL byte).",
        instance=request.url.path,
    )


def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return internal_error(request.url.path)
