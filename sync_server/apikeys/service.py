"""Issue, revoke and resolve API keys of online stores."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from common.errors import AuthenticationFailed, InvalidState, ValidationFailed
from sync_server.apikeys.models import API_KEY, ApiKey
from sync_server.apikeys.schemas import ApiKeyCreate
from sync_server.apikeys.scopes import permissions_for
from sync_server.audit import service as audit
from sync_server.db import utcnow
from sync_server.foundation.credentials import tenant_of
from sync_server.foundation.principal import Actor, Principal
from sync_server.lookups import get_owned
from sync_server.org.models import Branch

KEY_PREFIX = "spk_"


def hash_key(key: str) -> str:
    """Return the stored form of a key.

    A key carries 256 random bits, so a plain SHA-256 cannot be guessed backwards; Argon2
    (made for short human passwords) would add tens of milliseconds to every store request.
    """
    return hashlib.sha256(key.encode()).hexdigest()


def _snapshot(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "branch_ids": key.branch_ids,
        "revoked_at": key.revoked_at,
    }


def create_key(
    session: Session, *, actor: Principal | None, tenant_id: int, data: ApiKeyCreate
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is not stored anywhere."""
    branch_ids = sorted(set(data.branch_ids))
    if branch_ids:
        found = set(
            session.scalars(
                select(Branch.id).where(Branch.tenant_id == tenant_id, Branch.id.in_(branch_ids))
            )
        )
        missing = [b for b in branch_ids if b not in found]
        if missing:
            raise ValidationFailed(f"There is no branch with id {missing[0]}.")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=tenant_id,
        name=data.name,
        prefix=secret[:12],
        key_hash=hash_key(secret),
        scopes=list(data.scopes),
        branch_ids=branch_ids,
        created_by=actor.user_id if actor else None,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor=actor.actor if actor else Actor(tenant_id=tenant_id),
        action="api_key.created",
        entity_type="api_key",
        entity_id=key.id,
        after=_snapshot(key),
    )
    return key, secret


def revoke_key(session: Session, *, actor: Principal | None, tenant_id: int, key_id: int) -> ApiKey:
    """Revoke a key; it stops working with the next request."""
    key = get_owned(session, ApiKey, id=key_id, tenant_id=tenant_id, what="API key")
    if key.revoked_at is not None:
        raise InvalidState(f"API key {key.prefix}… is already revoked.")
    before = _snapshot(key)
    key.revoked_at = utcnow()
    session.flush()
    forget_resolved_keys()  # here at once; other processes within KEY_CACHE_SECONDS
    audit.record(
        session,
        actor=actor.actor if actor else Actor(tenant_id=tenant_id),
        action="api_key.revoked",
        entity_type="api_key",
        entity_id=key.id,
        before=before,
        after=_snapshot(key),
    )
    return key


# Built once: the columns a request needs of its key, read as a plain row (no ORM object is
# made for it; this runs before every store request).
_KEY_BY_HASH = select(
    ApiKey.id,
    ApiKey.tenant_id,
    ApiKey.prefix,
    ApiKey.key_hash,
    ApiKey.scopes,
    ApiKey.branch_ids,
    ApiKey.revoked_at,
).where(ApiKey.tenant_id == bindparam("tenant_id"), ApiKey.key_hash == bindparam("digest"))


# A good key's principal is kept this long by each process: a store sends its key with every
# request, and this saves the read of it on all but one request in this span. A revoked key
# stops at once in the process that revoked it, and within this span on every other worker
# and server. Keys that are unknown or revoked are never kept: each try is read again.
KEY_CACHE_SECONDS = 2.0
_KEY_CACHE_SIZE = 10_000
_resolved: dict[str, tuple[float, Principal]] = {}


def forget_resolved_keys() -> None:
    """Drop every key's kept principal (a key was revoked here)."""
    _resolved.clear()


def kept_api_key(token: str) -> Principal | None:
    """Return the principal resolve_api_key keeps for this key, or None (no database read)."""
    kept = _resolved.get(hash_key(token))
    if kept is not None and kept[0] > time.monotonic():
        return kept[1]
    return None


def resolve_api_key(session: Session, *, token: str) -> Principal:
    """Return the principal of a store calling with an API key.

    Read from the database, then kept for KEY_CACHE_SECONDS: a revoked key stops at once on
    the worker that revoked it and within that span on every other worker and server. The
    credential directory names the key's tenant; the key is then read from that tenant's
    rows only.
    """
    digest = hash_key(token)
    now = time.monotonic()
    kept = _resolved.get(digest)
    if kept is not None and kept[0] > now:
        return kept[1]
    tenant_id = tenant_of(session, kind=API_KEY, digest=digest)
    key = (
        None
        if tenant_id is None
        else session.connection()
        .execute(_KEY_BY_HASH, {"tenant_id": tenant_id, "digest": digest})
        .first()
    )
    # compare_digest keeps the check constant-time even though the lookup found a row.
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        raise AuthenticationFailed("The API key is not recognised.")
    if key.revoked_at is not None:
        raise AuthenticationFailed("This API key was revoked.")
    principal = Principal(
        tenant_id=key.tenant_id,
        kind="api_key",
        label=f"api-key:{key.prefix}",
        role="api_key",
        api_key_id=key.id,
        branch_ids=frozenset(key.branch_ids),
        all_branches=not key.branch_ids,
        permissions=permissions_for(key.scopes),
    )
    if len(_resolved) >= _KEY_CACHE_SIZE:
        _resolved.clear()  # many keys in a short span: start again rather than grow
    _resolved[digest] = (now + KEY_CACHE_SECONDS, principal)
    return principal
