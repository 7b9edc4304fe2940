"""Reads that tolerate lag, served by a streaming replica while it keeps up (PostgreSQL).

What goes to the replica: GET requests under ``REPLICA_PATHS`` (reports and dashboards,
catalog with its search and the online store's catalog, change-feed pulls), when a replica
is configured (``STOCKPILOT_DATABASE_REPLICA_URL``) and its lag is within
``STOCKPILOT_REPLICA_MAX_LAG_SECONDS``. Everything else, and everything while the replica
lags or does not answer, reads the primary.

Read-your-writes: every write answered while a replica is configured carries
``X-StockPilot-Read-After`` (the primary's WAL position after the commit); a client that sends
it back on a read is served by the replica only once the replica has replayed that far.

A page that turns out to need the primary (a read that writes, or a pull whose cursor is past
what the replica has replayed) raises ``UseThePrimary``; the retry middleware runs the request
again on the primary before the client sees anything.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.sync.protocol import READ_AFTER_HEADER
from sync_server.db import is_sqlite

log = logging.getLogger("stockpilot.replica")

__all__ = ["READ_AFTER_HEADER", "ReadReplica", "UseThePrimary"]

# Where a few seconds of lag are harmless (and the load is): GETs under these prefixes.
REPLICA_PATHS = (
    "/api/v1/reports",  # reports and the dashboards built on them
    "/api/v1/products",  # catalog, its search (?q=) and the online store's catalog
    "/api/v1/categories",
    "/api/v1/product-templates",
    "/api/v1/scan",
    "/api/v1/sync/pull",
    "/api/v1/stock/levels",
    "/api/v1/stock/valuation",
)
# How long one measurement of the lag stands before the next request measures again.
CHECK_EVERY_S = 1.0
SESSION_FLAG = "stockpilot.on_replica"
# Where the session dependency leaves a write's WAL position for ReadAfter to send.
STATE_KEY = "stockpilot_read_after"


class UseThePrimary(Exception):  # noqa: N818 - a signal, not an error the client sees
    """This read must be served by the primary; the request is run again there."""


def parse_lsn(value: str | None) -> int | None:
    """Turn a WAL position 'X/Y' into a number (None when absent or malformed)."""
    if not value or "/" not in value or len(value) > 40:
        return None
    high, _, low = value.partition("/")
    try:
        return (int(high, 16) << 32) + int(low, 16)
    except ValueError:
        return None


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass(frozen=True, slots=True)
class Lag:
    ok: bool  # the replica answered
    replay_lsn: int | None
    lag_bytes: int | None
    lag_seconds: float | None
    is_standby: bool
    measured_at: float
    error: str | None = None


class ReadReplica:
    """The replica's sessions and its measured lag, cached for CHECK_EVERY_S seconds."""

    def __init__(self, *, primary: Engine, replica: Engine, max_lag_seconds: float) -> None:
        self.primary = primary
        self.engine = replica
        self.sessions: sessionmaker[Session] = sessionmaker(
            bind=replica, expire_on_commit=False, autoflush=True
        )
        self.max_lag_seconds = max_lag_seconds
        self._lock = threading.Lock()
        self._lag: Lag | None = None

    def measure(self) -> Lag:
        """Ask the replica how far it has replayed and the primary where it is now."""
        now = time.monotonic()
        try:
            with self.engine.connect() as conn:
                standby, replay, behind = conn.execute(
                    text(
                        "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                        "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
                    )
                ).one()
            if not standby:
                # The standby was promoted (or the URL found only the primary): no lag.
                return Lag(True, None, 0, 0.0, False, now)
            with self.primary.connect() as conn:
                current = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        except Exception as exc:  # noqa: BLE001 - a lost replica means "read the primary"
            return Lag(False, None, None, None, False, now, error=exc.__class__.__name__)
        replay_lsn = parse_lsn(replay)
        current_lsn = parse_lsn(current)
        lag_bytes = max(0, (current_lsn or 0) - (replay_lsn or 0))
        # Caught up: no lag whatever the age of the last replayed transaction (an idle primary
        # sends nothing new). Behind: the age of the last transaction it replayed.
        seconds = 0.0 if lag_bytes == 0 else float(behind or 0.0)
        return Lag(True, replay_lsn, lag_bytes, seconds, True, now)

    def lag(self) -> Lag:
        with self._lock:
            lag = self._lag
            if lag is not None and time.monotonic() - lag.measured_at < CHECK_EVERY_S:
                return lag
        lag = self.measure()
        with self._lock:
            self._lag = lag
        return lag

    def usable(self, *, read_after: int | None) -> bool:
        """Say whether a read may go to the replica now (lag bounded, the client's writes in)."""
        lag = self.lag()
        if not lag.ok or (lag.lag_seconds or 0.0) > self.max_lag_seconds:
            return False
        if read_after is None or not lag.is_standby:
            return True
        if lag.replay_lsn is not None and lag.replay_lsn >= read_after:
            return True
        # The client wrote after our last measurement: look again once, now.
        with self._lock:
            self._lag = None
        fresh = self.lag()
        return fresh.replay_lsn is not None and fresh.replay_lsn >= read_after

    def health(self) -> dict[str, object]:
        lag = self.lag()
        body: dict[str, object] = {
            "ok": lag.ok,
            "standby": lag.is_standby,
            "lag_bytes": lag.lag_bytes,
            "lag_seconds": None if lag.lag_seconds is None else round(lag.lag_seconds, 3),
            "max_lag_seconds": self.max_lag_seconds,
            "serving_reads": lag.ok and (lag.lag_seconds or 0.0) <= self.max_lag_seconds,
        }
        if lag.error:
            body["error"] = lag.error
        return body


def routes_to_replica(method: str, path: str) -> bool:
    """Say whether a request is a lag-tolerant read."""
    return method in ("GET", "HEAD") and path.startswith(REPLICA_PATHS)


def on_replica(session: Session) -> bool:
    """Say whether this session reads the replica (it must not write)."""
    return bool(session.info.get(SESSION_FLAG))


def primary_lsn(session: Session) -> str | None:
    """Return the primary's WAL position now (after the caller's commit), or None."""
    try:
        lsn: str = session.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        return lsn
    except Exception:  # noqa: BLE001 - the header is a courtesy; the write committed
        log.debug("could not read the WAL position for read-your-writes", exc_info=True)
        return None


# COMMIT and the read of the WAL position after it, as one simple-protocol query.
_COMMIT_THEN_POSITION = "COMMIT; SELECT pg_current_wal_lsn()::text"


def commit_reading_position(session: Session) -> str | None:
    """Commit the session's transaction; return the primary's WAL position just after it.

    One round trip on the transaction's own connection: the COMMIT and the read go out
    together as one query (PostgreSQL runs the read after the commit, so the position
    covers the commit record a replica must replay). A read after session.commit() costs a
    pool checkout, a BEGIN, the read and the pool's ROLLBACK. Then session.commit() ends
    the session's transaction, which the driver finds already committed.
    """
    session.flush()
    if not session.in_transaction() or is_sqlite(session.get_bind()):
        session.commit()
        return primary_lsn(session)
    connection = session.connection()
    driver = connection.connection.driver_connection
    dbapi = connection.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(_COMMIT_THEN_POSITION)
            cursor.nextset()
            row = cursor.fetchone()
    except dbapi.Error as exc:
        lost = connection.dialect.is_disconnect(exc, driver, None)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            _COMMIT_THEN_POSITION, None, exc, dbapi.Error, connection_invalidated=lost
        ) from exc
    session.commit()
    return str(row[0]) if row and row[0] else None


class ReadAfter:
    """Send a write's WAL position (left in the request state after commit) as a header.

    A middleware because FastAPI builds the answer before the session dependency's commit
    returns, so the dependency cannot add headers to it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with every replay's copy of the scope

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start":
                lsn = state.get(STATE_KEY)
                if lsn:
                    headers = list(message.get("headers", []))
                    headers.append((READ_AFTER_HEADER.lower().encode(), str(lsn).encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_position)
