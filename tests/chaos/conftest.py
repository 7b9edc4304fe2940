"""Fixtures of the chaos suite: a demo server on either engine, and figures to print."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests import runwide
from tests.chaos.harness import ServerProcess, demo_server, demo_template

_count = iter(range(10**6))


@pytest.fixture(scope="session")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A server data dir with the demo shop on SQLite, made once per run, copied per scenario.

    The first worker to ask makes it in a folder of the run (an `init` and a `demo-data`
    process, about 5 s of CPU), the others wait for it and copy the same (tests/runwide.py).
    """
    home = runwide.run_home(tmp_path_factory, "chaos-demo")
    path = home / "server"
    with runwide.made_once(home) as to_make:
        if to_make:
            if path.exists():  # a build that did not finish
                shutil.rmtree(path)
            demo_template(path)
    return path


@pytest.fixture(scope="session")
def pg_demo(pg, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A PostgreSQL database with the demo shop (and its data dir), made once per run.

    Each scenario runs on its own clone of it (CREATE DATABASE ... TEMPLATE), as the SQLite
    scenarios run on a copy of `sqlite_demo`: initialising the shop anew took 10-14 s a test.
    The run's workers share one cluster (tests/pgserver.join): the first to ask makes it,
    the others wait and clone the same; a `made` mark left by an earlier cluster of the run
    counts only if the database is there.
    """
    home = runwide.run_home(tmp_path_factory, "chaos-demo-pg")
    path, made, name = home / "server", home / "made", "chaos_demo"
    admin = create_engine(f"{pg.url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with runwide.turn(home):
            with admin.connect() as conn:
                there = conn.scalar(
                    text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
                )
                if made.exists() and there:
                    return path, name
                made.unlink(missing_ok=True)
                if path.exists():  # a build that did not finish
                    shutil.rmtree(path)
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            demo_template(path, database_url=f"{pg.url}/{name}")
            made.touch()
            return path, name
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path) -> Iterator[ServerProcess]:
    """A running server process with the demo shop, on SQLite or PostgreSQL."""
    url = None
    admin = None
    name = f"chaos_{os.getpid()}_{next(_count)}"
    if request.param == "postgresql":
        pg = request.getfixturevalue("pg")
        template, demo_db = request.getfixturevalue("pg_demo")
        admin = create_engine(f"{pg.url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{demo_db}"'))
        url = f"{pg.url}/{name}"
    else:
        template = request.getfixturevalue("sqlite_demo")
    proc = demo_server(tmp_path, template=template, database_url=url)
    proc.engine_name = request.param  # type: ignore[attr-defined]
    proc.start()
    yield proc
    proc.kill()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
