"""Request dependencies: the database session and the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from common.errors import AuthenticationFailed, PermissionDenied
from common.roles import Permission
from sync_server.auth import credentials
from sync_server.auth.principal import Principal
from sync_server.db import is_sqlite


def open_session(request: Request) -> Iterator[Session]:
    """Keep a session for the whole request; whatever was not committed is rolled back."""
    with request.app.state.sessions() as session:
        if request.method in ("GET", "HEAD") and is_sqlite(session.get_bind()):
            # Reads need no write lock: they begin deferred (the first use begins here).
            session.connection(execution_options={"sqlite_begin": "DEFERRED"})
        yield session


def get_session(session: Annotated[Session, Depends(open_session)]) -> Iterator[Session]:
    """Run the route in one transaction and commit it before the answer is sent.

    Function scope matters: with the default request scope FastAPI would run the commit
    after the response left, so a client could be told "created" for a write that then
    failed to commit, and its next read could still miss it.
    """
    yield session
    session.commit()


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


def require(permission: Permission) -> Callable[[Principal], Principal]:
    """Return a dependency that lets through only callers holding the permission."""

    def check(principal: PrincipalDep) -> Principal:
        if not principal.can(permission):
            raise PermissionDenied(
                f"Your role ({principal.role}) may not do this; it needs '{permission}'.",
                required_permission=permission.value,
            )
        return principal

    # The route x role test reads this to know what each route demands.
    check.permission = permission  # type: ignore[attr-defined]
    return check


def Allowed(permission: Permission):  # noqa: N802 - reads like a type in signatures
    """Annotate a parameter as the caller, checked for a permission."""
    return Annotated[Principal, Depends(require(permission))]
