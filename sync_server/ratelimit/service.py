"""Fixed-window rate limits by route class, kept in process or in the database."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite

from sync_server.db import is_sqlite, make_sessionmaker, transaction
from sync_server.ratelimit.models import RateLimitCounter


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


def caller_key(*, authorization: str | None, api_key: str | None, client: str) -> str:
    """Identify the caller by a hash of their credential, or by address when anonymous."""
    credential = (authorization or "").partition(" ")[2].strip() or (api_key or "").strip()
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
    """Counters in the database, shared by every worker (one upsert per request)."""

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
            count = session.execute(stmt).scalar_one()
            if window_start - self._last_prune > 3600:
                session.execute(delete(table).where(table.c.window_start < window_start - 3600))
                self._last_prune = window_start
        return count


class RateLimiter:
    def __init__(self, *, store: Store, limits: dict[str, Limit]) -> None:
        self.store = store
        self.limits = limits

    def check(self, *, key: str, klass: str, now: float | None = None) -> Decision:
        """Count one request and say whether it may proceed."""
        limit = self.limits[klass]
        now = time.time() if now is None else now
        window_start = int(now) // limit.window_s * limit.window_s
        count = self.store.hit(f"{klass}:{key}", window_start=window_start)
        reset = max(1, window_start + limit.window_s - int(now))
        return Decision(
            allowed=count <= limit.requests,
            limit=limit.requests,
            remaining=max(0, limit.requests - count),
            reset_s=reset,
        )
