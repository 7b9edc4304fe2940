"""Shared fixtures: real databases (SQLite file and PostgreSQL), the app, a live server."""

from __future__ import annotations

import os

from tests.ramtemp import ram_temp_dir

# Qt aborts the whole run without a display unless a platform is chosen first.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One audit key for every engine the tests open (no ./var/audit.key written by a test run);
# CLI tests that need the key generated in a fresh data dir drop it from the child's env.
os.environ.setdefault("STOCKPILOT_AUDIT_KEY", "test-audit-key-kept-outside-the-database")
# Temporary files in /dev/shm when there is room (tests/ramtemp.py says why).
os.environ.update(ram_temp_dir())

import copy
import dataclasses
import functools
import gc
import itertools
import json
import shutil
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio.to_thread
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import Dialect
from sqlalchemy.util import LRUCache

import common.hashing
import sync_server.db
import sync_server.main
import sync_server.openapi
from sync_server.api import build_api_router
from sync_server.config import Settings
from sync_server.db import make_engine
from sync_server.migrations.runner import upgrade
from tests import clitools, pgserver, runwide, web
from tests.asgi import TestClient
from tests.factories import Api, TenantData, World, build_world

# Cheap Argon2id inside the test process: no test here is about the cost of hashing, and at
# OWASP's profile (19 MiB, 2 passes; 30-70 ms a hash here) every login, new user and PIN paid
# it again. Hashes still are real Argon2id, verified the same way (a hash carries its own
# parameters). Servers and commands the tests start as processes keep the real profile.
common.hashing._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

# One /api/v1 router per test process, included into each test's app: its routes are the
# domains' module-level routers either way, and building it again for every app made FastAPI
# work out all its routes' inclusion twice per test (about half of create_app's second).
_api_router = functools.cache(build_api_router)
sync_server.main.build_api_router = _api_router
_api_inclusion: list[object] = []


def _share_api_inclusion(app: FastAPI) -> FastAPI:
    """Give the app the /api/v1 inclusion the first test app worked out (its routes' state).

    FastAPI works out each route's dependencies and response models lazily, once per
    inclusion, which cost every test about a second more. The inclusion holds the routes and
    the defaults of a plain FastAPI(), the same for every app here; the one thing it keeps of
    its first app is where dependency overrides are looked up, and no test overrides one.
    Should FastAPI change this, nothing is shared and each app works its routes out again.
    """
    routes = app.router.routes
    for i, route in enumerate(routes):
        if getattr(route, "original_router", None) is _api_router():
            if not _api_inclusion:
                _api_inclusion.append(route)
            routes[i] = _api_inclusion[0]  # type: ignore[call-overload]
    return app


def _create_app(*args, **kwargs) -> FastAPI:
    return _share_api_inclusion(_plain_create_app(*args, **kwargs))


_plain_create_app = sync_server.main.create_app
sync_server.main.create_app = _create_app
create_app = _create_app

# An app's OpenAPI document is worked out from its routes (half a second to a second and a
# half each). Test apps share the /api/v1 inclusion (above), so an app whose documented routes
# are the very same objects, with the same title and version, gets a copy of the document the
# first such app built; an app with other routes (the operator API) builds its own. The key
# keeps those route objects alive, so their ids cannot be reused by another app's routes.
_documents: dict[tuple[object, ...], tuple[list[object], dict]] = {}
_plain_openapi_build = sync_server.openapi.build


def _openapi_build_once(app: FastAPI) -> dict:
    routes = list(app.routes)
    key = (
        app.title,
        app.version,
        app.description,
        app.openapi_version,
        repr(app.servers),
        repr(app.openapi_tags),
        tuple(
            id(route)
            if getattr(route, "include_in_schema", True)
            else (type(route).__name__, getattr(route, "path", None))
            for route in routes
        ),
    )
    if key not in _documents:
        _documents[key] = (routes, _plain_openapi_build(app))
    return copy.deepcopy(_documents[key][1])


sync_server.openapi.build = _openapi_build_once

# SQLAlchemy compiles a statement once per engine: its compiled cache is the engine's, keyed
# by the engine's dialect object. Every test opens its own engine on its own database, so
# each test compiled again every statement it ran (a few hundred for a report test). The
# engines make_engine opens in a test process take the first such engine's dialect and a
# shared compiled cache instead (per kind of database and dialect options): the same
# database server, the same options, the same SQL. The test's engine, pool, connections and
# event listeners stay its own. A test about compiling itself (test_report_compile_cache)
# asks for an engine of its own with the `own_sql_cache` marker.
_plain_create_engine = sync_server.db.create_engine
_shared_sql: dict[tuple[object, ...], tuple[Dialect, LRUCache]] = {}
_share_sql = [True]
_DIALECT_NEUTRAL = {"connect_args", "pool_size", "max_overflow", "pool_timeout"}


def _create_engine_sharing_sql(url, **kwargs) -> Engine:
    engine = _plain_create_engine(url, **kwargs)
    if not _share_sql[0]:
        return engine
    key = (
        engine.url.drivername,
        repr(sorted((k, v) for k, v in kwargs.items() if k not in _DIALECT_NEUTRAL)),
    )
    if key not in _shared_sql:
        _shared_sql[key] = (engine.dialect, LRUCache(20000))
    dialect, cache = _shared_sql[key]
    engine.dialect = dialect
    engine.pool._dialect = dialect
    engine._compiled_cache = cache
    return engine


sync_server.db.create_engine = _create_engine_sharing_sql


@pytest.fixture(autouse=True)
def _own_sql_cache(request: pytest.FixtureRequest) -> Iterator[None]:
    """Engines of a test marked own_sql_cache have their own dialect and compiled cache."""
    if request.node.get_closest_marker("own_sql_cache") is None:
        yield
        return
    _share_sql[0] = False
    try:
        yield
    finally:
        _share_sql[0] = True


IN_CI = os.environ.get("CI", "").lower() == "true"

# Property tests check behaviour, not speed: a machine busy with other work must not fail
# them on Hypothesis's per-example deadline (performance lives in bench/).
hypothesis_settings.register_profile("stockpilot", deadline=None)
hypothesis_settings.load_profile("stockpilot")
_db_counter = itertools.count()

# How long each test file takes in a whole run on four workers (tests/durations.json, written
# by scripts/cpuprof/durations.py from measured runs). scripts/test.sh runs whole files on
# workers in the order given here, and a worker takes the next file when it is done: longest
# first, so that no long file starts near the end while the other workers have finished (a
# 17 s file dispatched last, ordered by its one test, kept one worker busy after the rest).
# A file not measured yet is guessed from its tests, or as long as the longest if it is of
# a long kind (bundles, wheels, process trees, fuzzing, faults, X servers).
DURATIONS: dict[str, float] = json.loads((Path(__file__).parent / "durations.json").read_text())
LONG_KINDS = {"chain", "fuzz", "slow", "chaos", "xvfb"}
SECONDS_A_TEST = 0.15


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the files longest first (measured, else guessed); a file's own order kept."""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    longest = max(DURATIONS.values(), default=0.0)

    def expected(name: str) -> float:
        if name in DURATIONS:
            return DURATIONS[name]
        marks = {mark.name for test in files[name] for mark in test.iter_markers()}
        return longest if marks & LONG_KINDS else SECONDS_A_TEST * len(files[name])

    order = sorted(files, key=expected, reverse=True)
    items[:] = [item for name in order for item in files[name]]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave what importing and collecting made (modules, classes, routes, mappers, some
    200,000 objects) out of the garbage collector's full passes, which otherwise walk all of
    it again every few hundred thousand allocations for the whole run (gc.freeze)."""
    gc.freeze()


@pytest.fixture(autouse=True)
def _delete_left_windows() -> Iterator[None]:
    """After a test (its own fixtures closed what they made), delete its windows for good.

    Qt keeps a closed window and its widgets until they are deleted, and the test process
    keeps its one QApplication: every till and manager window of every earlier test stayed
    alive, and each new till's QApplication.setStyleSheet re-polished all of them (0.03 s
    with one test's widgets, 2 s a test a few files later). Nothing of one test's windows is
    used by the next one.
    """
    yield
    qt = sys.modules.get("PySide6.QtWidgets")
    if qt is None or not isinstance(qt.QApplication.instance(), qt.QApplication):
        return
    from PySide6.QtCore import QCoreApplication, QEvent

    # First what is already queued for them (a till op's answer posted as its runner closed),
    # as the next test's first wait used to deliver it.
    QCoreApplication.processEvents()
    for widget in qt.QApplication.topLevelWidgets():
        widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture(scope="session")
def demo_shop(tmp_path_factory: pytest.TempPathFactory) -> clitools.DemoShop:
    """The demo shop's data dir (init + demo-data as processes), made once per test run.

    Under xdist the workers' temporary folders share a parent: the first worker to ask makes
    the shop there, the other reuses it. Tests take a copy (DemoShop.copy) to use.
    """
    return clitools.demo_shop(runwide.run_home(tmp_path_factory, "demo-shop"))


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pgserver.PostgresServer]:
    """The run's throwaway PostgreSQL cluster, shared by the workers (pgserver.join says
    how); each test still has a database of its own (database_url)."""
    home = runwide.run_home(tmp_path_factory, "postgres")
    try:
        server = pgserver.join(home)
    except pgserver.PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not available here: {exc}")
    yield server
    admin = _test_db_admins.pop(server.url, None)
    if admin is not None:
        admin.dispose()
    pgserver.leave(home, server)


# The engine each test's database is created and dropped through, one per cluster for the
# test process: a new engine per test opened (and forked in the server) a new connection to
# make its database and another to drop it.
_test_db_admins: dict[str, Engine] = {}


def _test_db_admin(pg: pgserver.PostgresServer) -> Engine:
    if pg.url not in _test_db_admins:
        _test_db_admins[pg.url] = create_engine(
            f"{pg.url}/postgres", isolation_level="AUTOCOMMIT", pool_pre_ping=True
        )
    return _test_db_admins[pg.url]


def _database_made(pg: pgserver.PostgresServer, name: str, make: Callable[[str], str]) -> str:
    """Return the comment of the run-wide database `name`, made first if no worker has yet.

    `make(name)` makes and fills it under a provisional name and returns what to remember
    with it (its COMMENT); it gets its real name only once complete, so a worker that died
    building it leaves nothing another could take for done.
    """
    admin = _test_db_admin(pg)
    with runwide.turn(pg.data_dir.parent / "templates" / name):
        with admin.connect() as conn:
            made = conn.execute(
                text(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                    " WHERE datname = :name"
                ),
                {"name": name},
            ).one_or_none()
            if made is not None:
                return made[0] or ""
            partial = f"{name}_partial"
            conn.execute(text(f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)'))
        comment = make(partial)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{partial}" RENAME TO "{name}"'))
            quoted = comment.replace("'", "''")  # COMMENT takes a literal, not a parameter
            conn.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{quoted}'"))
        return comment


@pytest.fixture(scope="session")
def pg_template(pg: pgserver.PostgresServer) -> str:
    """Create and migrate a template database once per run; each test clones it."""

    def make(name: str) -> str:
        with _test_db_admin(pg).connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(f"{pg.url}/{name}")
        upgrade(engine)
        engine.dispose()
        return "migrated"

    _database_made(pg, "sp_template", make)
    return "sp_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create and migrate a template SQLite file once per run; each test copies it."""
    home = runwide.run_home(tmp_path_factory, "sqlite-template")
    path = home / "template.db"
    with runwide.made_once(home) as to_make:
        if to_make:
            path.unlink(missing_ok=True)  # a build that did not finish
            engine = make_engine(f"sqlite:///{path}")
            upgrade(engine)
            # Closing the last connection checkpoints the WAL into the file: a copy is complete.
            engine.dispose()
    return path


def _build_world_into(url: str) -> tuple[TenantData, TenantData]:
    """Write the test world into a template once (Argon2 hashing dominates building it)."""
    engine = make_engine(url)
    try:
        world = build_world(engine, None)  # type: ignore[arg-type]  # no client needed to build
        return world.a, world.b
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_world_template(
    pg: pgserver.PostgresServer, pg_template: str
) -> tuple[str, TenantData, TenantData]:
    """A template database holding the migrated schema and the test world, made once per
    run (the world's ids kept in its COMMENT for the other workers)."""

    def make(name: str) -> str:
        with _test_db_admin(pg).connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {pg_template}'))
        a, b = _build_world_into(f"{pg.url}/{name}")
        return json.dumps([dataclasses.asdict(a), dataclasses.asdict(b)])

    a_ids, b_ids = json.loads(_database_made(pg, "sp_template_world", make))
    return "sp_template_world", TenantData(**a_ids), TenantData(**b_ids)


@pytest.fixture(scope="session")
def sqlite_world_template(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, TenantData, TenantData]:
    """A template SQLite file holding the migrated schema and the test world, made once per
    run (the world's ids kept beside it for the other workers)."""
    home = runwide.run_home(tmp_path_factory, "sqlite-world-template")
    path, ids = home / "template-world.db", home / "world.json"
    with runwide.made_once(home) as to_make:
        if to_make:
            shutil.copyfile(sqlite_template, path)
            a, b = _build_world_into(f"sqlite:///{path}")
            ids.write_text(json.dumps([dataclasses.asdict(a), dataclasses.asdict(b)]))
    a_ids, b_ids = json.loads(ids.read_text())
    return path, TenantData(**a_ids), TenantData(**b_ids)


def _wants_world(request: pytest.FixtureRequest) -> bool:
    return "world" in request.fixturenames


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test once per database engine."""
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Return the URL of a fresh, migrated database for this test alone."""
    with_world = _wants_world(request)
    if backend == "sqlite":
        template = (
            request.getfixturevalue("sqlite_world_template")[0]
            if with_world
            else request.getfixturevalue("sqlite_template")
        )
        path = tmp_path / "stockpilot.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("pg")
    template = (
        request.getfixturevalue("pg_world_template")[0]
        if with_world
        else request.getfixturevalue("pg_template")
    )
    name = f"sp_test_{os.getpid()}_{next(_db_counter)}"
    admin = _test_db_admin(server)
    with admin.connect() as conn:
        # FILE_COPY: a fifth less of the cluster's CPU than WAL_LOG for a template this size.
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {template} STRATEGY FILE_COPY'))
    yield f"{server.url}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url, pool_size=20, max_overflow=20)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
    )


@pytest.fixture
def app(settings: Settings, engine: Engine):
    return create_app(settings, engine=engine)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def world(
    request: pytest.FixtureRequest, backend: str, engine: Engine, client: TestClient
) -> World:
    """A tenant with an admin, two branches and users of every role (plus a second tenant).

    The database was cloned from a template that already holds it (see database_url).
    """
    name = "sqlite_world_template" if backend == "sqlite" else "pg_world_template"
    _, a, b = request.getfixturevalue(name)
    return World(engine=engine, client=client, a=copy.deepcopy(a), b=copy.deepcopy(b))


@pytest.fixture
def api(world: World) -> Api:
    """An API client logged in as the first tenant's admin."""
    return world.api("admin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real uvicorn server on 127.0.0.1 serving the test app, which tests may stop and start."""

    def __init__(self, app) -> None:
        self.app = app
        self.port = _free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = None


def burst_of_reads(server: LiveServer, token: str, count: int) -> Counter[int]:
    """Send `count` reads of the products at once (each its own connection); return the
    answers' status codes, counted. The server is stopped afterwards."""
    start = threading.Barrier(count)

    def read(_: int) -> int:
        with web.Client(base_url=server.url, timeout=30) as http:
            start.wait()
            answer = http.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"})
            return answer.status_code

    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            return Counter(pool.map(read, range(count)))
    finally:
        server.stop()


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def trips(monkeypatch) -> list[str]:
    """Count the trips through the thread pool (the name of each function sent).

    Rate-limit counters kept in the database take a trip of their own, before the route:
    `tests.factories.RATE_COUNTER_TRIP`.
    """
    sent: list[str] = []
    real = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):
        inner = getattr(func, "func", func)  # run_in_threadpool sends a partial
        sent.append(getattr(inner, "__qualname__", repr(inner)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return sent
