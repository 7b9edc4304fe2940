"""The application factory: settings, database, routers and error handling in one place."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from sync_server import __version__, errors, openapi, routing
from sync_server.admission import Admission, WaitingRequests
from sync_server.api import API_PREFIX, build_api_router
from sync_server.audit.keys import Keyring, attach
from sync_server.config import Settings
from sync_server.db import is_sqlite, make_engine, make_sessionmaker
from sync_server.foundation.deps import make_turns
from sync_server.middleware import BodyLimit, CleanQuery, SecurityHeaders
from sync_server.ratelimit.middleware import RateLimit
from sync_server.ratelimit.service import (
    DatabaseStore,
    Limit,
    MemoryStore,
    RateLimiter,
    RedisStore,
    Store,
)
from sync_server.replica import ReadAfter, ReadReplica
from sync_server.retry import Arrival, RetryOnConflict
from sync_server.writer_turn import WriterTurn

log = logging.getLogger("stockpilot.server")

# Background loops started with the app (the embedded setup runs its worker in-process).
BackgroundStarter = Callable[[FastAPI], Callable[[], None]]


def settle_heap() -> None:
    """Keep the collector off what start-up made, and let it run less often.

    Everything alive once the app has started (modules, routes, mappers, compiled
    statements) lives as long as the process: frozen, a full collection no longer walks it.
    A big answer (a snapshot page of thousands of rows) makes many short-lived containers,
    which at the default threshold of 700 allocations start a young collection every few
    rows; a higher threshold lets most of them die before one starts. Once per process:
    a process that builds several apps (tests) settles with the first.
    """
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    _first, second, third = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, second, third)


# Allocations between young collections (CPython's default is 700).
YOUNG_GC_THRESHOLD = 20_000
_settled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Keep the cyclic collector off while start-up builds what lives as long as the process.

    Importing the domains and working out their routes allocates a few hundred thousand
    objects and next to no garbage; at the default threshold the collector walked them
    again and again (a tenth of create_app's CPU). settle_heap collects once when it starts.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    background: list[BackgroundStarter] | None = None,
) -> FastAPI:
    """Build the API for a database; tests pass their own settings and engine."""
    with collector_paused():
        return _build_app(settings, engine=engine, background=background)


def _build_app(
    settings: Settings | None,
    *,
    engine: Engine | None,
    background: list[BackgroundStarter] | None,
) -> FastAPI:
    settings = settings or Settings()
    engine = engine or make_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        wait_s=settings.db_wait_seconds,
        pgbouncer=settings.db_pgbouncer,
    )
    attach(engine, Keyring.from_settings(settings))
    replica = build_replica(settings, engine)
    starters = list(background or [])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        make_turns(app.state, engine, replica)  # per event loop: see foundation/deps.py
        stops = [start(app) for start in starters]
        log.info("StockPilot server %s on %s", __version__, engine.dialect.name)
        settle_heap()
        yield
        for stop in stops:
            stop()

    app = FastAPI(
        title="StockPilot",
        version=__version__,
        description="Sync server of StockPilot: catalog, stock ledger, purchasing, approvals, "
        "customer credit, online orders, audit and reports. Errors are RFC 9457 "
        "problem documents (application/problem+json).",
        lifespan=lifespan,
        # The server exports no OpenTelemetry: off, FastAPI skips its telemetry layer, which
        # otherwise asks the (unconfigured) providers, reading the environment, per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.replica = replica
    app.state.extra = {}
    errors.install(app)
    app.include_router(build_api_router(), prefix=API_PREFIX)
    if settings.tenant_api:
        from sync_server.operator_api import build_operator_router

        app.include_router(build_operator_router(settings))
    openapi.install(app)
    # Requests find their route through an index of path prefixes (sync_server/routing.py).
    routing.install(app)
    # Each add wraps the app so far; from the outside in: Arrival, SecurityHeaders, LastResort,
    # Admission (PostgreSQL), RateLimit, BodyLimit, CleanQuery, WriterTurn (SQLite), ReadAfter
    # (with a replica), RetryOnConflict, then FastAPI's routing (through the route index). A
    # request refused at the door has cost next to nothing, a replayed request is counted and
    # size-checked once, a writer refused for a busy SQLite file has done nothing, every answer
    # (a 413, 429, 500 or 503 too) carries the security headers, and an error anywhere still
    # leaves the client's connection open.
    app.add_middleware(RetryOnConflict)
    if replica is not None:
        app.add_middleware(ReadAfter)
    if is_sqlite(engine):
        app.add_middleware(WriterTurn, wait_s=settings.db_wait_seconds)
    app.add_middleware(CleanQuery)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    limiter = build_rate_limiter(settings, engine)
    if limiter is not None:
        app.add_middleware(RateLimit, limiter=limiter)
    # Past capacity a request is refused at the door, before anything reads its body (on
    # SQLite, WriterTurn already refuses writers while they queue on the event loop).
    app.state.waiting = WaitingRequests()
    if not is_sqlite(engine):
        app.add_middleware(Admission, waiting=app.state.waiting, wait_s=settings.db_wait_seconds)
    app.add_middleware(errors.LastResort)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(Arrival)
    return app


def build_replica(settings: Settings, engine: Engine) -> ReadReplica | None:
    """Return the read replica the settings name (None: every read goes to the primary)."""
    if not settings.database_replica_url or is_sqlite(engine):
        return None
    replica_engine = make_engine(
        settings.database_replica_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        wait_s=settings.db_wait_seconds,
        pgbouncer=settings.db_pgbouncer,
    )
    attach(replica_engine, Keyring.from_settings(settings))
    return ReadReplica(
        primary=engine, replica=replica_engine, max_lag_seconds=settings.replica_max_lag_seconds
    )


def build_rate_limiter(settings: Settings, engine: Engine) -> RateLimiter | None:
    """Return the limiter the settings ask for (None when switched off)."""
    default = "memory" if is_sqlite(engine) else "database"
    store_kind = settings.rate_limit_store or ("redis" if settings.redis_url else default)
    if store_kind == "off":
        return None
    store: Store
    if store_kind == "redis":
        if not settings.redis_url:
            raise ValueError("STOCKPILOT_RATE_LIMIT_STORE=redis needs STOCKPILOT_REDIS_URL")
        store = RedisStore(settings.redis_url)
    elif store_kind == "memory":
        store = MemoryStore()
    else:
        store = DatabaseStore(engine)
    return RateLimiter(
        store=store,
        limits={
            "login": Limit(settings.rate_limit_login_per_minute, 60),
            "write": Limit(settings.rate_limit_write_per_minute, 60),
            "read": Limit(settings.rate_limit_read_per_minute, 60),
        },
    )
