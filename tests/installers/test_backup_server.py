"""stockpilot-server backup / restore: a live-written database comes back whole."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from sync_server import cli
from sync_server.db import make_engine
from sync_server.provisioning.service import init
from tests import web
from tests.clitools import SERVER, ok, run
from tests.factories import login


@pytest.fixture
def backend() -> str:
    """The online backup API is SQLite's; PostgreSQL has its own test below."""
    return "sqlite"


def _use_database(monkeypatch: pytest.MonkeyPatch, *, url: str, data_dir: Path) -> None:
    """Point the CLI's Settings at the test database, as an operator's environment would."""
    monkeypatch.setenv("STOCKPILOT_DATABASE_URL", url)
    monkeypatch.setenv("STOCKPILOT_DATA_DIR", str(data_dir))


def _rows(path: Path) -> dict[str, list[tuple]]:
    """Return every row of every table of a SQLite file, in a stable order."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables
        }
    finally:
        conn.close()


def _primary_keys(path: Path) -> dict[str, list[int]]:
    """Return the positions of each table's primary-key columns."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            t: [c[0] for c in conn.execute(f'PRAGMA table_info("{t}")') if c[5]]
            or list(range(len(conn.execute(f'PRAGMA table_info("{t}")').fetchall())))
            for t in tables
        }
    finally:
        conn.close()


def _keyed(rows: list[tuple], positions: list[int]) -> set[tuple]:
    return {tuple(row[i] for i in positions) for row in rows}


def _wipe(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_backup_while_serving_then_wipe_and_restore_finds_every_row(
    world, live_server, engine, database_url, tmp_path, monkeypatch, capsys
):
    db_file = Path(make_url(database_url).database)
    _use_database(monkeypatch, url=database_url, data_dir=tmp_path / "data")
    token = login(world.client, "admin")
    engine.dispose()  # what the fixtures wrote is committed; the snapshot reads the file
    before = _rows(db_file)
    assert before["products"] and before["users"] and before["audit_entries"]

    created: list[str] = []
    stop = threading.Event()
    failures: list[str] = []

    def write_categories() -> None:
        # A real client keeps selling-side writes coming through the real server meanwhile.
        with web.Client(
            base_url=live_server.url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            i = 0
            while not stop.is_set():
                name = f"live-{i:04d}"
                response = http.post("/api/v1/categories", json={"name": name})
                if response.status_code != 201:
                    failures.append(response.text)
                    return
                created.append(name)
                i += 1

    writer = threading.Thread(target=write_categories)
    writer.start()
    try:
        while len(created) < 5 and writer.is_alive():
            threading.Event().wait(0.01)
        committed_before = list(created)
        backup_file = tmp_path / "backups" / "server.sqlite3"
        assert cli.main(["backup", str(backup_file)]) == 0
        committed_after = list(created)
        # Keep writing a little after the copy so the live file moves on past the backup.
        while len(created) < len(committed_after) + 3 and writer.is_alive():
            threading.Event().wait(0.01)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not failures, failures
    assert "integrity ok" in capsys.readouterr().out

    live_server.stop()
    engine.dispose()
    _wipe(db_file)
    assert not db_file.exists()

    assert cli.main(["restore", str(backup_file)]) == 0
    after = _rows(db_file)

    # The restored database is the backup, every row of every table.
    assert after == _rows(backup_file)
    # Every row that existed before the live writes is back (the chain and feed tips moved on,
    # so rows are matched by primary key); what the writes did not touch is back unchanged.
    keys = _primary_keys(db_file)
    for table, rows in before.items():
        assert _keyed(rows, keys[table]) <= _keyed(after[table], keys[table]), table
    for table in ("tenants", "branches", "users", "products", "product_barcodes"):
        assert after[table] == before[table], table
    # The live writes are a consistent snapshot: everything committed before the backup began,
    # nothing that was not yet committed when it ended, and no gaps in between.
    restored = sorted(
        r[0]
        for r in sqlite3.connect(db_file).execute(
            "SELECT name FROM categories WHERE name LIKE 'live-%'"
        )
    )
    assert set(committed_before) <= set(restored) <= set(committed_after)
    assert restored == created[: len(restored)]
    # Each category was audited in its own request's transaction: the chain holds.
    assert cli.main(["audit", "verify"]) == 0
    assert "chain intact" in capsys.readouterr().out


def _small_shop(engine) -> None:
    """Create a tenant and its admin: enough rows to see a restore, without the whole world."""
    init(engine, tenant="Backup Shop", admin_username="owner", admin_password="pw-123456789")
    engine.dispose()


def test_restore_refuses_a_file_that_is_not_a_server_backup_and_changes_nothing(
    engine, database_url, tmp_path, monkeypatch, capsys
):
    db_file = Path(make_url(database_url).database)
    _use_database(monkeypatch, url=database_url, data_dir=tmp_path / "data")
    _small_shop(engine)
    digest = hashlib.sha256(db_file.read_bytes()).hexdigest()

    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")

    for bad in (garbage, foreign, tmp_path / "missing.sqlite3"):
        assert cli.main(["restore", str(bad)]) == 1
        assert "stockpilot-server: " in capsys.readouterr().err
    assert hashlib.sha256(db_file.read_bytes()).hexdigest() == digest
    assert not list(db_file.parent.glob("*.before-restore-*"))


def test_restore_keeps_the_replaced_database_beside_it(engine, database_url, tmp_path, monkeypatch):
    db_file = Path(make_url(database_url).database)
    _use_database(monkeypatch, url=database_url, data_dir=tmp_path / "data")
    _small_shop(engine)
    backup_file = tmp_path / "b.sqlite3"
    assert cli.main(["backup", str(backup_file)]) == 0
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE users SET full_name = 'changed after the backup'")
    assert cli.main(["restore", str(backup_file)]) == 0
    (kept,) = db_file.parent.glob(f"{db_file.name}.before-restore-*")
    assert {r[0] for r in sqlite3.connect(kept).execute("SELECT full_name FROM users")} == {
        "changed after the backup"
    }
    assert _rows(db_file) == _rows(backup_file)
    assert "changed after the backup" not in repr(_rows(db_file)["users"])


@pytest.mark.postgres
def test_postgres_backup_is_pg_dump_and_restores_every_row(pg, pg_template, tmp_path, monkeypatch):
    admin = create_engine(f"{pg.url}/postgres", isolation_level="AUTOCOMMIT")
    name = f"sp_backup_{tmp_path.name[-20:]}".replace("-", "_").lower()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {pg_template}'))
    url = f"{pg.url}/{name}"
    try:
        engine = make_engine(url)
        init(engine, tenant="Backup Shop", admin_username="owner", admin_password="pw-123456789")
        tables = inspect(engine).get_table_names()

        def snapshot() -> dict[str, list]:
            with engine.connect() as conn:
                return {
                    t: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{t}"')))) for t in tables
                }

        before = snapshot()
        assert before["users"] and before["tenants"]
        engine.dispose()
        _use_database(monkeypatch, url=url, data_dir=tmp_path / "data")
        dump = tmp_path / "server.dump"
        assert cli.main(["backup", str(dump), "--pg-bin", str(pg.bin_dir)]) == 0
        assert dump.read_bytes()[:5] == b"PGDMP"

        # Over a database that moved on: --clean puts it back exactly as it was.
        with engine.begin() as conn:
            conn.execute(text("UPDATE users SET full_name = 'after the backup'"))
        assert snapshot() != before
        engine.dispose()
        assert cli.main(["restore", str(dump), "--pg-bin", str(pg.bin_dir)]) == 0
        assert snapshot() == before
        engine.dispose()

        with admin.connect() as conn:  # wipe: a new, empty database of the same name
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        assert cli.main(["restore", str(dump), "--pg-bin", str(pg.bin_dir)]) == 0
        assert snapshot() == before
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_postgres_print_only_shows_the_command_without_the_password(tmp_path, monkeypatch, capsys):
    _use_database(
        monkeypatch,
        url="postgresql+psycopg://sp:s3cret@db.example:6543/stockpilot",
        data_dir=tmp_path,
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        (bin_dir / tool).write_text("")
    assert cli.main(["backup", "x.dump", "--print-only", "--pg-bin", str(bin_dir)]) == 0
    shown = capsys.readouterr().out
    assert "s3cret" not in shown and "PGPASSWORD=***" in shown
    assert "--format=custom" in shown and "--host db.example --port 6543" in shown
    assert "--username sp --dbname stockpilot" in shown


def test_restore_replaces_a_damaged_database_and_keeps_it_aside(
    engine, database_url, tmp_path, monkeypatch
):
    db_file = Path(make_url(database_url).database)
    _use_database(monkeypatch, url=database_url, data_dir=tmp_path / "data")
    _small_shop(engine)
    backup_file = tmp_path / "b.sqlite3"
    assert cli.main(["backup", str(backup_file)]) == 0
    db_file.write_bytes(b"\x00" * 8192)  # the disk returned zeros
    Path(f"{db_file}-wal").write_bytes(b"stale log")

    assert cli.main(["restore", str(backup_file)]) == 0
    (kept,) = db_file.parent.glob(f"{db_file.name}.before-restore-*[0-9]Z")
    assert kept.read_bytes() == b"\x00" * 8192
    assert Path(f"{kept}-wal").read_bytes() == b"stale log"
    assert _rows(db_file) == _rows(backup_file)
    assert cli.main(["audit", "verify"]) == 0


def test_a_shop_that_has_sold_backs_up_and_restores_from_the_command_line(demo_shop, tmp_path):
    """The kept report summaries of a selling shop pass the backup's integrity check.

    Debian 12's SQLite (3.40.1) reports a NULL in every NOT NULL column of those tables
    although none exists, so every backup of a shop with sales used to be refused.
    The shop: a copy of the run's demo shop (`init`, then `demo-data`: tests/conftest.py).
    """
    data = demo_shop.copy(tmp_path / "data")
    ok(run(SERVER, "reports", "refresh", data_dir=data))
    db_file = data / "stockpilot.db"
    with sqlite3.connect(db_file) as conn:
        summarised = conn.execute("SELECT count(*) FROM report_product_daily").fetchone()[0]
    assert summarised > 0
    backup_file = tmp_path / "selling.backup"
    assert "integrity ok" in ok(run(SERVER, "backup", str(backup_file), data_dir=data))
    assert "integrity ok" in ok(run(SERVER, "restore", str(backup_file), data_dir=data))
    with sqlite3.connect(db_file) as conn:
        restored = conn.execute("SELECT count(*) FROM report_product_daily").fetchone()[0]
    assert restored == summarised
    assert "chain intact" in ok(run(SERVER, "audit", "verify", data_dir=data))
