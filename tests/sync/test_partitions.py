"""PostgreSQL's partitioned tables: rows land in ranges, the keeper rolls them, the feed expires.

Run only on PostgreSQL (not skipped on SQLite: nothing is partitioned there).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from alembic import command
from sqlalchemy import select, text

from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from pos_client.store.models import Category as LocalCategory
from sync_server import partitions
from sync_server.audit import service as audit
from sync_server.db import transaction
from sync_server.foundation import feed
from sync_server.integrity.ledger import verify_ledgers
from sync_server.migrations.runner import alembic_config, upgrade
from sync_server.sync.keeper import keep_once, run_forever
from sync_server.sync.retention import maintain
from tests.factories import Api, World, one_line_sale_event
from tests.sync.sync_helpers import sell_locally

POSTGRES_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
pytestmark = POSTGRES_ONLY

TABLES = ("change_feed", "sale_lines", "stock_movements")
BIG = 10_000_000  # the migration's range width


def _sql(world: World, sql: str, **params) -> list[tuple]:
    with transaction(world.sessions()) as session:
        result = session.execute(text(sql), params)
        return [tuple(row) for row in result] if result.returns_rows else []


def _where(world: World, table: str) -> dict[str, int]:
    """Return how many of the table's rows each partition holds."""
    return dict(_sql(world, f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1"))


def _jump(world: World, table: str, to: int) -> None:
    """Make the table's next id `to`, as if that many rows had been written."""
    _sql(world, f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {to - 1})")


def _push_sale(till: tuple[str, Api], *, branch_id: int, product_id: int, receipt: str) -> None:
    device, api = till
    event = one_line_sale_event(
        device_id=device, branch_id=branch_id, product_id=product_id, receipt=receipt
    )
    results = api.post("sync/push", json={"events": [event]}).json()["results"]
    assert [r["status"] for r in results] == ["applied"], results


def _till(world: World, enrol) -> tuple[str, Api]:
    body, api = enrol()
    return body["device_id"], api


def _pull_all(api: Api, cursor: str) -> tuple[list[dict], str, list[dict]]:
    """Pull pages until the feed is drained; return the changes, the cursor and the pages."""
    changes: list[dict] = []
    pages: list[dict] = []
    while True:
        answer = api.get("sync/pull", params={"cursor": cursor, "limit": 500})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages.append(page)
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes, cursor, pages


def _category(world: World, name: str) -> str:
    """Add a category through the API (one feed change); return its key."""
    answer = world.api("admin").post("categories", json={"name": name})
    assert answer.status_code == 201, answer.text
    keep_once(world.sessions())
    return str(answer.json()["id"])


def test_the_large_tables_are_partitioned_by_id_and_a_sale_lands_in_the_first_range(world, enrol):
    kinds = dict(
        _sql(
            world,
            "SELECT c.relname, p.partstrat FROM pg_partitioned_table p "
            "JOIN pg_class c ON c.oid = p.partrelid",
        )
    )
    assert kinds == {table: "r" for table in TABLES}  # audit_entries stays one table
    with transaction(world.sessions()) as session:
        for table in TABLES:
            ranges = partitions.partitions(session, table)
            assert ranges[0].low == 0 and all(p.high - p.low == BIG for p in ranges)
            assert len(ranges) >= 3  # the used one and two ahead
    # Every range and default has its own primary key on id (the parent has none, so that
    # pg_restore --clean can replace the database: tests/installers/test_backup_server.py).
    keyed = _sql(
        world,
        "SELECT c.relname, EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid "
        "AND k.contype = 'p') FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid "
        "WHERE c.relkind = 'r'",
    )
    assert len(keyed) >= 4 * len(TABLES) and all(has_key for _, has_key in keyed), keyed
    main = world.a.branch_ids[0]
    _push_sale(_till(world, enrol), branch_id=main, product_id=world.a.product_ids[0],
               receipt="MAIN-T01-000001")  # fmt: skip
    assert _where(world, "sale_lines") == {"sale_lines_from_0": 1}
    assert set(_where(world, "stock_movements")) == {"stock_movements_from_0"}
    assert set(_where(world, "change_feed")) == {"change_feed_from_0"}


def _command(*args: str, settings) -> str:
    """Run stockpilot-server in a fresh process on the test's database; return its output."""
    env = {
        **os.environ,
        "STOCKPILOT_DATA_DIR": str(settings.data_dir),
        "STOCKPILOT_DATABASE_URL": settings.database_url,
        "STOCKPILOT_SECRET_KEY": settings.secret_key,
    }
    done = subprocess.run(
        [sys.executable, "-m", "sync_server.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_ids_past_the_last_range_are_caught_by_the_default_and_moved_into_new_ranges(
    world, enrol, settings
):
    main, soap = world.a.branch_ids[0], world.a.product_ids[0]
    till = _till(world, enrol)
    with transaction(world.sessions()) as session:
        last = {t: partitions.partitions(session, t)[-1].high for t in TABLES}
    for table in TABLES:
        _jump(world, table, last[table] + 5)
    # No keeper ran: the rows past the last range are stored by the default partition.
    _push_sale(till, branch_id=main, product_id=soap, receipt="MAIN-T01-000001")
    for table in TABLES:
        assert set(_where(world, table)) >= {f"{table}_default"}
    # Two keepers at once (two app servers): one does the round, neither fails.
    rounds = []
    threads = [
        threading.Thread(
            target=lambda: rounds.append(
                maintain(world.sessions(), retention_days=90, widths=dict.fromkeys(TABLES, 1000))
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(rounds) == 2
    assert sum(len(r.added) for r in rounds) == 3 * len(TABLES)  # its range and two ahead
    for table in TABLES:
        high = last[table]
        where = _where(world, table)
        assert f"{table}_default" not in where, where
        assert set(where) >= {f"{table}_from_{high}"}
        with transaction(world.sessions()) as session:
            ranges = partitions.partitions(session, table)
        assert [(p.low, p.high) for p in ranges[-3:]] == [
            (high + i * 1000, high + (i + 1) * 1000) for i in range(3)
        ]
    # The next sale goes straight into the keeper's range, and again nothing is in default.
    _push_sale(till, branch_id=main, product_id=soap, receipt="MAIN-T01-000002")
    assert _where(world, "sale_lines") == {f"sale_lines_from_{last['sale_lines']}": 2}
    # The books and the audit chain still verify across the ranges, in process and by the
    # operator's commands.
    keep_once(world.sessions())
    with transaction(world.sessions()) as session:
        assert verify_ledgers(session, tenant_id=world.a.id) == []
        report = audit.verify(session, tenant_id=world.a.id)
        assert report.ok, report.reason
    ledger_says = _command("ledger", "verify", settings=settings)
    assert "Tenant A: books agree with their ledgers" in ledger_says
    assert "Tenant A: chain intact" in _command("audit", "verify", settings=settings)


def test_retention_drops_only_expired_feed_ranges_and_a_till_behind_them_resyncs(world, enrol):
    _, late_api = enrol(name="Late till")
    _, fresh_api = enrol(name="Fresh till")
    _, late_cursor, _ = _pull_all(late_api, "0")  # a full snapshot, then it stops pulling
    dropped = _category(world, "Dropped")  # the late till never pulls it: dropped below
    _, fresh_cursor, _ = _pull_all(fresh_api, late_cursor)
    assert int(fresh_cursor) > int(late_cursor)
    # Everything in the first range is 100 days old; new changes go to the next range.
    _sql(world, "UPDATE change_feed_from_0 SET at = now() - interval '100 days'")
    _jump(world, "change_feed", BIG + 1)
    kept = _category(world, "Kept")
    # In the second range too, one change is old and one new: that range must stay.
    _jump(world, "change_feed", BIG + 100)
    newest = _category(world, "Newest")
    _sql(world, f"UPDATE change_feed SET at = now() - interval '100 days' WHERE id = {BIG + 1}")
    done = maintain(world.sessions(), retention_days=90)
    assert done.dropped == ["change_feed_from_0"]
    with transaction(world.sessions()) as session:
        names = [p.name for p in partitions.partitions(session, "change_feed")]
    assert names[0] == f"change_feed_from_{BIG}"
    assert maintain(world.sessions(), retention_days=90).dropped == []  # nothing more expired
    floor = _sql(
        world, "SELECT dropped_through FROM feed_floors WHERE tenant_id = :t", t=world.a.id
    )
    assert floor == [(int(fresh_cursor),)]

    # The till that saw everything the dropped range held goes on with the feed.
    changes, _, pages = _pull_all(fresh_api, fresh_cursor)
    assert [c["key"] for c in changes] == [kept, newest]
    assert not any(p["reset"] for p in pages)

    # The till behind the floor is sent back to a full snapshot, marked expired (it resends
    # nothing), and the snapshot brings what the dropped change said.
    changes, cursor, pages = _pull_all(late_api, late_cursor)
    assert pages[0]["reset"] and pages[0]["snapshot"] and pages[0].get("expired") is True
    assert all(p["snapshot"] for p in pages)
    categories = {c["key"] for c in changes if c["entity"] == "category"}
    assert {dropped, kept, newest} <= categories
    assert int(cursor) >= int(fresh_cursor)
    # After it, the feed serves it as usual.
    later = _category(world, "Later")
    changes, _, pages = _pull_all(late_api, cursor)
    assert [c["key"] for c in changes] == [later] and not any(p["reset"] for p in pages)
    # A cursor still inside the kept feed is not sent back.
    assert not _pull_all(late_api, str(int(fresh_cursor)))[2][0]["reset"]


def test_a_range_with_a_change_waiting_for_its_number_is_kept(world):
    # The change is written but the keeper has not numbered it (seq NULL).
    with transaction(world.sessions()) as session:
        feed.publish(session, tenant_id=world.a.id, entity="category", key="1", data={})
    _sql(world, "UPDATE change_feed_from_0 SET at = now() - interval '100 days'")
    _jump(world, "change_feed", BIG + 1)
    assert maintain(world.sessions(), retention_days=90).dropped == []
    keep_once(world.sessions())
    assert maintain(world.sessions(), retention_days=90).dropped == ["change_feed_from_0"]
    assert maintain(world.sessions(), retention_days=0).dropped == []  # 0 keeps everything


def test_a_real_till_behind_the_floor_rebuilds_its_replica_and_resends_nothing(
    world, live_server, tmp_path
):
    store = LocalStore(tmp_path / "till.db")
    till = SyncEngine(store, timeout=30, backoff_base=0.05)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    till.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    try:
        assert till.sync_once().online
        sell_locally(store, product_id=world.a.product_ids[0])
        assert till.sync_once().pending == 0  # pushed, acknowledged, kept in the sent log
        dropped = _category(world, "Dropped while away")
        _sql(world, "UPDATE change_feed_from_0 SET at = now() - interval '100 days'")
        _jump(world, "change_feed", BIG + 1)
        kept = _category(world, "Kept")
        assert maintain(world.sessions(), retention_days=90).dropped == ["change_feed_from_0"]
        status = till.sync_once()
        assert status.online and status.last_error is None
        with store.session() as session:
            names = dict(session.execute(select(LocalCategory.id, LocalCategory.name)).all())
        assert names[int(dropped)] == "Dropped while away" and names[int(kept)] == "Kept"
        assert till.resent_after_restore == 0  # the server lost nothing: nothing goes again
        assert till.sync_once().pending == 0
    finally:
        till.stop()
        store.close()


def test_upgrading_a_database_with_rows_moves_them_into_ranges_and_ids_go_on(
    world, enrol, engine, database_url
):
    main, soap = world.a.branch_ids[0], world.a.product_ids[0]
    till = _till(world, enrol)
    _push_sale(till, branch_id=main, product_id=soap, receipt="MAIN-T01-000001")
    keep_once(world.sessions())
    before = {t: _sql(world, f"SELECT * FROM {t} ORDER BY id") for t in TABLES}
    cfg = alembic_config(database_url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0026_product_last_day")
    plain = _sql(world, "SELECT count(*) FROM pg_partitioned_table")
    assert plain == [(0,)]
    assert {t: _sql(world, f"SELECT * FROM {t} ORDER BY id") for t in TABLES} == before
    upgrade(engine)
    assert {t: _sql(world, f"SELECT * FROM {t} ORDER BY id") for t in TABLES} == before
    assert set(_where(world, "sale_lines")) == {"sale_lines_from_0"}
    # The sequences went with the tables: new rows get new ids, in the ranges.
    _push_sale(till, branch_id=main, product_id=soap, receipt="MAIN-T01-000002")
    ids = [row[0] for row in _sql(world, "SELECT id FROM sale_lines ORDER BY id")]
    assert len(ids) == 2 and ids[1] > ids[0]
    keep_once(world.sessions())
    with transaction(world.sessions()) as session:
        assert verify_ledgers(session, tenant_id=world.a.id) == []
        assert audit.verify(session, tenant_id=world.a.id).ok


def test_the_keeper_loop_adds_the_next_range_before_the_ids_reach_it(world, settings):
    with transaction(world.sessions()) as session:
        high = partitions.partitions(session, "sale_lines")[-1].high
    # The ids reached the last range: the keeper adds two empty ranges beyond it.
    _jump(world, "sale_lines", high - BIG + 1)
    stop = threading.Event()
    loop = threading.Thread(
        target=run_forever,
        kwargs={
            "factory": world.sessions(),
            "stop": stop,
            "interval": 0.05,
            "settings": settings.model_copy(update={"partition_check_seconds": 0.05}),
        },
    )
    loop.start()
    try:
        for _ in range(200):
            with transaction(world.sessions()) as session:
                if partitions.partitions(session, "sale_lines")[-1].high > high:
                    break
            stop.wait(0.05)
    finally:
        stop.set()
        loop.join(timeout=10)
    with transaction(world.sessions()) as session:
        ranges = partitions.partitions(session, "sale_lines")
    assert [p.low for p in ranges[-3:]] == [high - BIG, high, high + BIG]
    assert ranges[-1].high == high + 2 * BIG


def test_retention_gives_up_on_a_range_a_long_reader_holds_and_drops_it_next_round(world):
    _sql(world, "UPDATE change_feed_from_0 SET at = now() - interval '100 days'")
    _jump(world, "change_feed", BIG + 1)
    keep_once(world.sessions())
    reader = world.sessions()()
    try:
        # A long report-like read of the feed holds its ranges until it ends.
        reader.execute(text("SELECT count(*) FROM change_feed")).scalar()
        done = maintain(world.sessions(), retention_days=90)
        assert done.skipped and done.dropped == []
    finally:
        reader.rollback()
        reader.close()
    assert maintain(world.sessions(), retention_days=90).dropped == ["change_feed_from_0"]


def test_a_range_whose_newest_change_is_not_its_last_id_is_kept(world):
    _sql(world, "UPDATE change_feed_from_0 SET at = now() - interval '100 days'")
    # A change with a small id but a recent time (its writer was slow to insert).
    _sql(
        world,
        "UPDATE change_feed_from_0 SET at = now() WHERE id = (SELECT min(id) FROM change_feed)",
    )
    _jump(world, "change_feed", BIG + 1)
    keep_once(world.sessions())
    assert maintain(world.sessions(), retention_days=90).dropped == []
    with transaction(world.sessions()) as session:
        assert partitions.partitions(session, "change_feed")[0].name == "change_feed_from_0"
