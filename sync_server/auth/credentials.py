"""Resolve a bearer credential to a Principal, whatever kind of caller sent it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import AuthenticationFailed
from common.sync.protocol import DEVICE_TOKEN_PREFIX
from sync_server.auth.models import RevokedToken, User
from sync_server.auth.principal import Principal
from sync_server.auth.security import decode_access_token


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
    if token.startswith("spk_"):
        # Online-store API key; imported here so auth does not depend on the apikeys domain.
        from sync_server.apikeys.service import resolve_api_key

        return resolve_api_key(session, token=token)
    if token.startswith(DEVICE_TOKEN_PREFIX):
        # A till's device credential; imported here so auth does not depend on sync.
        from sync_server.sync.devices import resolve_device_token

        return resolve_device_token(session, token=token)
    if token.count(".") == 2:
        return resolve_user_token(session, token=token, secret=secret)
    raise AuthenticationFailed("The credential is not recognised.")
