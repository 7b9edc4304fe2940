"""Resolve a user's access token (a JWT) to the Principal behind it."""

from __future__ import annotations

import functools

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.interfaces import ORMOption

from common.errors import AuthenticationFailed
from sync_server.auth.models import RevokedToken, User
from sync_server.auth.security import decode_access_token
from sync_server.foundation.principal import Principal


@functools.cache
def _with_branches() -> tuple[ORMOption, ...]:
    """The user's branch links in the same statement (a join): the relationship's own selectin
    load is a second SELECT on every authenticated request. Built once, on first use (not at
    import, before every model is mapped): a loader option is immutable."""
    return (joinedload(User.branch_links),)


def resolve_user_token(session: Session, *, token: str, secret: str) -> Principal:
    """Return the user behind a JWT; deactivated users and revoked tokens are refused."""
    claims = decode_access_token(token, secret=secret)
    revoked = session.scalar(
        select(RevokedToken.jti).where(
            RevokedToken.tenant_id == claims.tenant_id, RevokedToken.jti == claims.token_id
        )
    )
    if revoked is not None:
        raise AuthenticationFailed("This session was logged out; log in again.")
    user = session.get(User, claims.user_id, options=_with_branches())
    if user is None or user.tenant_id != claims.tenant_id or not user.active:
        raise AuthenticationFailed("This account is not active.")
    if claims.version != (user.token_version or 0):
        raise AuthenticationFailed("Your password was reset or your sessions ended; log in again.")
    # The role is read from the database, so a demotion takes effect on the next request.
    return Principal.for_user(
        tenant_id=user.tenant_id,
        user_id=user.id,
        username=user.username,
        role=user.role,
        branch_ids=user.branch_ids,
        token_id=claims.token_id,
    )
