"""Resolve a bearer credential to a Principal, whatever kind of caller sent it.

Access tokens (JWTs) are auth's own. The other kinds belong to the domains that issue
them, above auth: each registers its resolver for its prefix in its receivers.py (an API
key "spk_…" in apikeys, a till's device credential in sync), which domains.load_receivers
imports before the first credential is resolved.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import AuthenticationFailed
from sync_server.auth.models import RevokedToken, User
from sync_server.auth.principal import Principal
from sync_server.auth.security import decode_access_token
from sync_server.domains import load_receivers


class Resolver(Protocol):
    """Return the principal behind a credential; raise AuthenticationFailed when it is no good."""

    def __call__(self, session: Session, *, token: str) -> Principal: ...


_RESOLVERS: dict[str, Resolver] = {}


def register_resolver(prefix: str, resolver: Resolver) -> None:
    """Resolve the credentials that start with ``prefix`` with ``resolver`` (one per prefix)."""
    known = _RESOLVERS.setdefault(prefix, resolver)
    if known is not resolver:
        raise ValueError(f"Credentials starting {prefix!r} already have a resolver: {known}.")


def resolve_user_token(session: Session, *, token: str, secret: str) -> Principal:
    """Return the user behind a JWT; deactivated users and revoked tokens are refused."""
    claims = decode_access_token(token, secret=secret)
    revoked = session.scalar(select(RevokedToken.jti).where(RevokedToken.jti == claims.token_id))
    if revoked is not None:
        raise AuthenticationFailed("This session was logged out; log in again.")
    user = session.get(User, claims.user_id)
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


def resolve(session: Session, *, token: str, secret: str) -> Principal:
    """Return the principal for any credential the server issues."""
    load_receivers()
    for prefix, resolver in _RESOLVERS.items():
        if token.startswith(prefix):
            return resolver(session, token=token)
    if token.count(".") == 2:
        return resolve_user_token(session, token=token, secret=secret)
    raise AuthenticationFailed("The credential is not recognised.")
