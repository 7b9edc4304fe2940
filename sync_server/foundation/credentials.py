"""Resolve a bearer credential to a Principal, whatever kind of caller sent it.

Every kind belongs to the domain that issues it, and each registers its resolver in its
receivers.py: access tokens (JWTs) in auth, an API key "spk_…" by its prefix in apikeys, a
till's device credential by its prefix in sync. domains.load_receivers imports them all
before the first credential is resolved.

A key, a till's credential or an enrolment code names no tenant: its resolver reads the
credential directory (tenant_of) for the tenant, then the credential's row by
(tenant_id, hash), so every look-up of a tenant table names its tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from common.errors import AuthenticationFailed
from sync_server.domains import load_receivers
from sync_server.foundation.models import CredentialEntry
from sync_server.foundation.principal import Principal

_TENANT_OF = select(CredentialEntry.tenant_id).where(
    CredentialEntry.kind == bindparam("kind"), CredentialEntry.digest == bindparam("digest")
)


def tenant_of(session: Session, *, kind: str, digest: str) -> int | None:
    """Return the tenant whose credential of `kind` has this hash, or None if none has."""
    return session.execute(_TENANT_OF, {"kind": kind, "digest": digest}).scalar()


class Resolver(Protocol):
    """Return the principal behind a credential; raise AuthenticationFailed when it is no good."""

    def __call__(self, session: Session, *, token: str) -> Principal: ...


_RESOLVERS: dict[str, Resolver] = {}


def register_resolver(prefix: str, resolver: Resolver) -> None:
    """Resolve the credentials that start with ``prefix`` with ``resolver`` (one per prefix)."""
    known = _RESOLVERS.setdefault(prefix, resolver)
    if known is not resolver:
        raise ValueError(f"Credentials starting {prefix!r} already have a resolver: {known}.")


class SignedTokenResolver(Protocol):
    """Return the user behind a signed access token (a JWT), checked with the server's secret."""

    def __call__(self, session: Session, *, token: str, secret: str) -> Principal: ...


_SIGNED: list[SignedTokenResolver] = []


def register_signed_token_resolver(resolver: SignedTokenResolver) -> None:
    """Resolve access tokens (JWTs, no prefix) with ``resolver``; auth registers the one."""
    if _SIGNED and _SIGNED[0] is not resolver:
        raise ValueError(f"Access tokens already have a resolver: {_SIGNED[0]}.")
    _SIGNED[:] = [resolver]


KeptLookup = Callable[[str], Principal | None]
_KEPT: dict[str, KeptLookup] = {}


def register_kept_lookup(prefix: str, lookup: KeptLookup) -> None:
    """Let ``lookup`` answer, without the database, for credentials starting with ``prefix``.

    It returns the principal its resolver found a short while ago and still keeps, else None
    (the resolver is then asked, with a session). One per prefix.
    """
    known = _KEPT.setdefault(prefix, lookup)
    if known is not lookup:
        raise ValueError(f"Credentials starting {prefix!r} already have a kept lookup: {known}.")


def kept(token: str) -> Principal | None:
    """Return the principal a resolver still keeps for this credential, or None.

    None says nothing about the credential (unknown, revoked or just not kept): the caller
    resolves it with a session. Reads no database, so it may run on the event loop.
    """
    load_receivers()
    for prefix, lookup in _KEPT.items():
        if token.startswith(prefix):
            return lookup(token)
    return None


def resolve(session: Session, *, token: str, secret: str) -> Principal:
    """Return the principal for any credential the server issues."""
    load_receivers()
    for prefix, resolver in _RESOLVERS.items():
        if token.startswith(prefix):
            return resolver(session, token=token)
    if token.count(".") == 2 and _SIGNED:
        return _SIGNED[0](session, token=token, secret=secret)
    raise AuthenticationFailed("The credential is not recognised.")
