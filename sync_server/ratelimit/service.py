"""Fixed-window rate limits by route class, kept in process or in the database.

The server's limits per route class (login, read, write) hold for every caller; a business
may set its own read and write limits (tenant setting ``rate_limits``), which apply to the
callers whose credential belongs to it. ``TenantLimits`` finds a credential's tenant (an
access token says it; an API key or a till's credential is looked up once) and that tenant's
setting, and keeps both for ``ttl_s`` seconds, so a change reaches every worker within that
time (at once in the worker that saved it).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from common.errors import DomainError
from sync_server.auth.security import decode_access_token
from sync_server.db import is_sqlite, make_sessionmaker, transaction
from sync_server.foundation.credentials import resolve
from sync_server.org.service import get_setting
from sync_server.ratelimit.models import RateLimitCounter

K = TypeVar("K")
V = TypeVar("V")

# Every limit, the server's and a tenant's, counts requests per minute.
WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class Limit:
    requests: int
    window_s: int


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int


def route_class(method: str, path: str) -> str:
    """Classify a request: logins are strictest, reads loosest."""
    if path.endswith("/auth/login") or path.endswith("/devices/enrol"):
        return "login"
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    return "write"


def caller_credential(*, authorization: str | None, api_key: str | None) -> str:
    """Return the credential a request carries (bearer token or API key), or ''."""
    return (authorization or "").partition(" ")[2].strip() or (api_key or "").strip()


def caller_key(*, credential: str, client: str) -> str:
    """Identify the caller by a hash of a verified credential, or else by address."""
    if credential:
        return "cred:" + hashlib.sha256(credential.encode()).hexdigest()[:32]
    return "addr:" + client


class Store(Protocol):
    def hit(self, key: str, *, window_start: int) -> int: ...


class MemoryStore:
    """Counters in this process: right for the embedded single-process server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}
        self._last_prune = 0

    def hit(self, key: str, *, window_start: int) -> int:
        with self._lock:
            if window_start != self._last_prune:
                # Windows only move forward: earlier ones can never be asked about again.
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window_start}
                self._last_prune = window_start
            count = self._counts.get((key, window_start), 0) + 1
            self._counts[(key, window_start)] = count
            return count


class DatabaseStore:
    """Counters in the database, shared by every worker (one upsert per request).

    Each hit is a transaction on a pooled connection: the middleware runs it in a worker
    thread and within a turn at the pool (sync_server/foundation/deps.py), as a request's
    own database work is.
    """

    in_database = True

    def __init__(self, engine: Engine) -> None:
        self._sessions = make_sessionmaker(engine)
        self._dialect = sqlite if is_sqlite(engine) else postgresql
        self._last_prune = 0

    def hit(self, key: str, *, window_start: int) -> int:
        table = RateLimitCounter.__table__
        stmt = self._dialect.insert(table).values(key=key, window_start=window_start, count=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key, table.c.window_start],
            set_={"count": table.c.count + 1},
        ).returning(table.c.count)
        with transaction(self._sessions) as session:
            count: int = session.execute(stmt).scalar_one()
            if window_start - self._last_prune > 3600:
                session.execute(delete(table).where(table.c.window_start < window_start - 3600))
                self._last_prune = window_start
        return count


class RedisStore:
    """Windows in Redis through the ``limits`` library: shared by every app server.

    One round trip a request (``limits``' atomic increment with expiry); the key carries its
    window, so a window's count expires by itself shortly after the window ends.
    """

    def __init__(self, url: str, *, window_s: int = WINDOW_S) -> None:
        from limits.storage import RedisStorage

        # Fail fast rather than hold requests when Redis is away (the middleware lets the
        # request through, as with any store error).
        self._storage = RedisStorage(
            url, key_prefix="stockpilot", socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self._window_s = window_s

    def hit(self, key: str, *, window_start: int) -> int:
        return int(self._storage.incr(f"{key}:{window_start}", self._window_s + 5))


class RateLimiter:
    def __init__(
        self, *, store: Store, limits: dict[str, Limit], clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.limits = limits
        # Where the windows' time comes from (tests hold it inside one window).
        self.clock = clock
        # Counting takes a database transaction (not a quick in-memory or Redis step).
        self.in_database = bool(getattr(store, "in_database", False))

    def check(
        self, *, key: str, klass: str, now: float | None = None, limit: Limit | None = None
    ) -> Decision:
        """Count one request and say whether it may proceed (limit: the tenant's own)."""
        limit = limit or self.limits[klass]
        now = self.clock() if now is None else now
        window_start = int(now) // limit.window_s * limit.window_s
        count = self.store.hit(f"{klass}:{key}", window_start=window_start)
        reset = max(1, window_start + limit.window_s - int(now))
        return Decision(
            allowed=count <= limit.requests,
            limit=limit.requests,
            remaining=max(0, limit.requests - count),
            reset_s=reset,
        )


class TenantLimits:
    """A credential's tenant and that tenant's own limits, cached in memory.

    A tenant's limits are kept ttl_s seconds (an admin's change reaches every worker within
    it). Which tenant a credential belongs to never changes, so that is kept credential_ttl_s:
    a till syncs every ~30 s and each app server behind the balancer sees it half as often,
    so a 30 s expiry made nearly every till request pay a transaction of its own here. A
    revoked credential may still be counted under its tenant meanwhile; authentication
    refuses it all the same.
    """

    # Enough for every live credential of a big installation; past it the cache starts over.
    MAX_ENTRIES = 50_000
    # While one request looks up a business's expired limits again, the business's other
    # requests go on with the last ones for this long; after a failed look-up (the database
    # away, failing over) the next try waits as long.
    REFRESH_GRACE_S = 5.0

    def __init__(
        self, *, engine: Engine, secret: str, ttl_s: float = 30.0, credential_ttl_s: float = 900.0
    ) -> None:
        self._sessions = make_sessionmaker(engine)
        self._secret = secret
        self.ttl_s = ttl_s
        self.credential_ttl_s = max(ttl_s, credential_ttl_s)
        self._lock = threading.Lock()
        self._tenants: dict[str, tuple[float, int | None]] = {}
        self._limits: dict[int, tuple[float, dict[str, int]]] = {}

    def cached(self, credential: str, klass: str) -> tuple[bool, int | None, Limit | None]:
        """Answer (known, tenant, limit) from memory only: known is False when it needs the DB."""
        now = time.monotonic()
        tenant = self._tenant_from_token(credential)
        if tenant is None:
            with self._lock:
                entry = self._tenants.get(_digest(credential))
            if entry is None or entry[0] < now:
                return False, None, None
            tenant = entry[1]
        if tenant is None:
            return True, None, None
        with self._lock:
            limits = self._limits.get(tenant)
            if limits is not None and limits[0] < now:
                # Expired: this request looks them up; the business's others go on with the
                # last ones meanwhile, so one look-up runs instead of one per request (and
                # none per request while the database is away).
                self._limits[tenant] = (now + self.REFRESH_GRACE_S, limits[1])
                return False, tenant, None
        if limits is None:
            return False, tenant, None
        return True, tenant, _limit(limits[1], klass)

    def last_known(self, credential: str, klass: str) -> tuple[int | None, Limit | None]:
        """Return the credential's tenant and limits as last seen, however old (or None).

        What a failed look-up falls back on: a credential's tenant never changes, so a till
        keeps its own budget while the database is away, rather than joining the budget of
        its address (behind a balancer, the address every till shares).
        """
        tenant = self._tenant_from_token(credential)
        with self._lock:
            if tenant is None:
                entry = self._tenants.get(_digest(credential))
                tenant = entry[1] if entry is not None else None
            limits = self._limits.get(tenant) if tenant is not None else None
        return tenant, (_limit(limits[1], klass) if limits is not None else None)

    def load(self, credential: str, klass: str) -> tuple[int | None, Limit | None]:
        """Look up what cached() lacked in the database; return (tenant, its limit or None)."""
        now = time.monotonic()
        expires = now + self.ttl_s
        tenant = self._tenant_from_token(credential)
        known = False
        if tenant is None:
            # Only the tenant's limits may have expired: the credential's tenant still holds.
            with self._lock:
                entry = self._tenants.get(_digest(credential))
            if entry is not None and entry[0] >= now:
                known, tenant = True, entry[1]
        with transaction(self._sessions, readonly=True) as session:
            if tenant is None and not known:
                tenant = self._tenant_of_key(session, credential)
                with self._lock:
                    self._room(self._tenants)
                    self._tenants[_digest(credential)] = (now + self.credential_ttl_s, tenant)
            if tenant is None:
                return None, None
            own = get_setting(session, tenant_id=tenant, key="rate_limits") or {}
        with self._lock:
            self._room(self._limits)
            self._limits[tenant] = (expires, dict(own))
        return tenant, _limit(own, klass)

    def forget(self, tenant_id: int) -> None:
        """Drop a tenant's cached limits (this worker just changed them)."""
        with self._lock:
            self._limits.pop(tenant_id, None)

    def _tenant_from_token(self, credential: str) -> int | None:
        # A signed access token names its tenant: no database needed.
        if credential.count(".") != 2:
            return None
        try:
            return decode_access_token(credential, secret=self._secret).tenant_id
        except DomainError:
            return None

    def _tenant_of_key(self, session: Session, credential: str) -> int | None:
        try:
            return resolve(session, token=credential, secret=self._secret).tenant_id
        except DomainError:
            return None  # not a credential of anyone: the server's limits apply

    def _room(self, cache: dict[K, V]) -> None:
        if len(cache) >= self.MAX_ENTRIES:
            cache.clear()


def _digest(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def _limit(own: dict[str, int], klass: str) -> Limit | None:
    requests = own.get(klass)
    return Limit(int(requests), WINDOW_S) if requests else None
