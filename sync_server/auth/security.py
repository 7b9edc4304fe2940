"""Access tokens: short-lived JWTs signed with the server's secret."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from common.errors import AuthenticationFailed

ALGORITHM = "HS256"
ISSUER = "stockpilot"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    tenant_id: int
    token_id: str
    expires_at: datetime
    # The user's token_version when issued (tokens from before versions carry none: 0).
    version: int = 0


def issue_access_token(
    *, secret: str, user_id: int, tenant_id: int, minutes: int, version: int = 0
) -> tuple[str, AccessClaims]:
    """Return a signed access token and its claims."""
    now = datetime.now(UTC)
    claims = AccessClaims(
        user_id=user_id,
        tenant_id=tenant_id,
        token_id=secrets.token_hex(16),
        expires_at=now + timedelta(minutes=minutes),
        version=version,
    )
    payload = {
        "sub": str(user_id),
        "tid": tenant_id,
        "jti": claims.token_id,
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "iss": ISSUER,
        "typ": "access",
        "ver": version,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def decode_access_token(token: str, *, secret: str) -> AccessClaims:
    """Check a token's signature and expiry; raise AuthenticationFailed with the reason."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "jti", "tid"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed("Your session has expired; log in again.") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationFailed("The access token is not valid.") from exc
    if payload.get("typ") != "access":
        raise AuthenticationFailed("The access token is not valid.")
    try:
        return AccessClaims(
            user_id=int(payload["sub"]),
            tenant_id=int(payload["tid"]),
            token_id=str(payload["jti"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            version=int(payload.get("ver", 0)),
        )
    except (TypeError, ValueError) as exc:
        raise AuthenticationFailed("The access token is not valid.") from exc
