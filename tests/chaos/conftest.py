"""Fixtures of the chaos suite: a demo server on either engine, and figures to print."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.chaos.harness import ServerProcess, demo_server, demo_template

_count = iter(range(10**6))


@pytest.fixture(scope="session")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory):
    """A server data dir with the demo shop on SQLite, made once and copied per scenario."""
    return demo_template(tmp_path_factory.mktemp("chaos-demo") / "server")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path) -> Iterator[ServerProcess]:
    """A running server process with the demo shop, on SQLite or PostgreSQL."""
    url = None
    admin = None
    name = f"chaos_{os.getpid()}_{next(_count)}"
    if request.param == "postgresql":
        pg = request.getfixturevalue("pg")
        admin = create_engine(f"{pg.url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{pg.url}/{name}"
    template = request.getfixturevalue("sqlite_demo") if url is None else None
    proc = demo_server(tmp_path, template=template, database_url=url)
    proc.engine_name = request.param  # type: ignore[attr-defined]
    proc.start()
    yield proc
    proc.kill()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
