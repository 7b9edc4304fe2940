"""A stock movement's uuid is unique within its business: (tenant_id, uuid), on both engines.

It was the last unique key without tenant_id (migration 0030_movement_uuid_key). A duplicate
within a business is still refused; two businesses may carry the same uuid and neither sees
the other's (ledger, audit trail, levels, re-pushed sales). On PostgreSQL the key is one
unique index per range of the partitioned table, ranges made later included.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from common.codes import MovementCode
from common.ids import new_id
from sync_server import partitions
from sync_server.audit import service as audit
from sync_server.db import transaction
from sync_server.integrity.ledger import verify_ledgers
from sync_server.inventory import ledger
from sync_server.migrations.runner import alembic_config, current_heads, expected_heads, upgrade
from tests.factories import Api, World, one_line_sale_event

SHARED = "01900000-0000-7000-8000-00000000c0de"


def _sql(world: World, sql: str, **params: object) -> list[tuple]:
    with transaction(world.sessions()) as session:
        result = session.execute(text(sql), params)
        return [tuple(row) for row in result] if result.returns_rows else []


@contextmanager
def _next_uuids(monkeypatch: pytest.MonkeyPatch, *uuids: str) -> Iterator[None]:
    """Give the ledger's next movements these uuids (then fresh ones again)."""
    waiting = list(uuids)
    monkeypatch.setattr(ledger, "new_id", lambda: waiting.pop(0) if waiting else new_id())
    try:
        yield
    finally:
        monkeypatch.setattr(ledger, "new_id", new_id)


def _receive(world: World, admin: str, quantity: str, *, reference: str = "r-1") -> None:
    tenant = world.b if admin.startswith("b_") else world.a
    with transaction(world.sessions()) as session:
        ledger.record_movement(
            session,
            actor=world.principal(admin),
            branch_id=tenant.branch_ids[0],
            product_id=tenant.product_ids[0],
            code=MovementCode.RECEIPT,
            quantity=Decimal(quantity),
            unit_cost=Decimal("2"),
            reference_type="test",
            reference_id=reference,
        )


def _movements(world: World, uuid: str) -> list[tuple]:
    return _sql(
        world,
        "SELECT tenant_id, quantity FROM stock_movements WHERE uuid = :u ORDER BY tenant_id",
        u=uuid,
    )


def _on_hand(world: World, tenant) -> Decimal:
    """Return the first branch's level of the first product (0 before any movement)."""
    found = _sql(
        world,
        "SELECT on_hand FROM stock_levels WHERE tenant_id = :t AND branch_id = :b "
        "AND product_id = :p",
        t=tenant.id,
        b=tenant.branch_ids[0],
        p=tenant.product_ids[0],
    )
    return Decimal(str(found[0][0])) if found else Decimal("0")


def _books_agree(world: World) -> None:
    with transaction(world.sessions()) as session:
        for tenant in (world.a, world.b):
            assert verify_ledgers(session, tenant_id=tenant.id) == []
            report = audit.verify(session, tenant_id=tenant.id)
            assert report.ok, report.reason


def _uuid_keys(engine) -> list[tuple[str, list[str]]]:
    """Return where the movements' uuid is kept unique: (table or range, columns)."""
    if engine.dialect.name == "sqlite":
        uniques = inspect(engine).get_unique_constraints("stock_movements")
        return [
            ("stock_movements", u["column_names"]) for u in uniques if "uuid" in u["column_names"]
        ]
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.relname, array(SELECT a.attname FROM unnest(i.indkey) "
                "WITH ORDINALITY u(n, k) JOIN pg_attribute a ON a.attrelid = c.oid "
                "AND a.attnum = u.n ORDER BY u.k) FROM pg_inherits h "
                "JOIN pg_class c ON c.oid = h.inhrelid JOIN pg_index i ON i.indrelid = c.oid "
                "WHERE h.inhparent = 'stock_movements'::regclass AND i.indisunique "
                "AND NOT i.indisprimary ORDER BY 1"
            )
        ).all()
    return [(name, list(columns)) for name, columns in rows]


def _ranges(engine) -> list[str]:
    if engine.dialect.name == "sqlite":
        return ["stock_movements"]
    with engine.connect() as connection:
        return sorted(
            connection.execute(
                text(
                    "SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
                    "WHERE h.inhparent = 'stock_movements'::regclass"
                )
            ).scalars()
        )


def test_a_uuid_is_refused_twice_in_a_business_and_two_businesses_may_share_it(
    world, engine, monkeypatch
):
    assert _uuid_keys(engine) == [(name, ["tenant_id", "uuid"]) for name in _ranges(engine)]
    a_before, b_before = _on_hand(world, world.a), _on_hand(world, world.b)
    with _next_uuids(monkeypatch, SHARED):
        _receive(world, "admin", "5")
    with _next_uuids(monkeypatch, SHARED):
        _receive(world, "b_admin", "7")
    assert _movements(world, SHARED) == [(world.a.id, Decimal("5")), (world.b.id, Decimal("7"))]
    # The same uuid again in the first business is refused, and nothing of it stays.
    with _next_uuids(monkeypatch, SHARED), pytest.raises(IntegrityError):
        _receive(world, "admin", "9", reference="r-2")
    assert _movements(world, SHARED) == [(world.a.id, Decimal("5")), (world.b.id, Decimal("7"))]
    assert _on_hand(world, world.a) == a_before + 5
    assert _on_hand(world, world.b) == b_before + 7
    # Each business's books and audit chain hold its own movement only.
    _books_agree(world)
    for admin, quantity in (("admin", "5"), ("b_admin", "7")):
        trail = world.api(admin).get(
            "audit", params={"entity_type": "stock_movement", "entity_id": SHARED}
        )
        assert trail.status_code == 200, trail.text
        [entry] = trail.json()["items"]
        assert entry["after"]["quantity"] == quantity


def _till(world: World, admin: str) -> tuple[str, Api, int, int]:
    tenant = world.b if admin.startswith("b_") else world.a
    code = world.api(admin).post(
        "devices/enrolment-codes", json={"branch_id": tenant.branch_ids[0]}
    )
    assert code.status_code == 201, code.text
    answer = Api(world.client, None).post(
        "devices/enrol", json={"code": code.json()["code"], "name": "Till"}
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return (
        body["device_id"],
        Api(world.client, body["token"]),
        tenant.branch_ids[0],
        tenant.product_ids[0],
    )


def _sale_event(till: tuple[str, Api, int, int], receipt: str) -> dict:
    device, _api, branch_id, product_id = till
    return one_line_sale_event(
        device_id=device, branch_id=branch_id, product_id=product_id, receipt=receipt
    )


def _push(till: tuple[str, Api, int, int], event: dict) -> list[str]:
    answer = till[1].post("sync/push", json={"events": [event]})
    assert answer.status_code == 200, answer.text
    return [r["status"] for r in answer.json()["results"]]


def test_a_re_pushed_sale_is_a_duplicate_in_each_business_sharing_a_movement_uuid(
    world, monkeypatch
):
    mine, theirs = _till(world, "admin"), _till(world, "b_admin")
    sale_a, sale_b = _sale_event(mine, "A-T01-000001"), _sale_event(theirs, "B-T01-000001")
    with _next_uuids(monkeypatch, SHARED):
        assert _push(mine, sale_a) == ["applied"]
    with _next_uuids(monkeypatch, SHARED):
        assert _push(theirs, sale_b) == ["applied"]
    assert [t for t, _ in _movements(world, SHARED)] == [world.a.id, world.b.id]
    levels = (_on_hand(world, world.a), _on_hand(world, world.b))
    # The tills send their sales again (an answer lost on the way): once each, still.
    with _next_uuids(monkeypatch, SHARED):
        assert _push(mine, sale_a) == ["duplicate"]
        assert _push(theirs, sale_b) == ["duplicate"]
    assert [t for t, _ in _movements(world, SHARED)] == [world.a.id, world.b.id]
    assert (_on_hand(world, world.a), _on_hand(world, world.b)) == levels
    assert _sql(
        world,
        "SELECT tenant_id, count(*) FROM stock_movements WHERE reference_id IN (:a, :b) "
        "GROUP BY tenant_id ORDER BY tenant_id",
        a=sale_a["payload"]["sale_id"],
        b=sale_b["payload"]["sale_id"],
    ) == [(world.a.id, 1), (world.b.id, 1)]
    _books_agree(world)


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_range_made_later_keys_the_uuid_with_its_business(world, engine, monkeypatch):
    with transaction(world.sessions()) as session:
        high = partitions.partitions(session, "stock_movements")[-1].high
    # As if the ids had run past every range: the keeper adds the next ones (small here).
    _sql(world, f"SELECT setval(pg_get_serial_sequence('stock_movements', 'id'), {high})")
    with transaction(world.sessions()) as session:
        added = partitions.ensure_ahead(session, "stock_movements", width=1000)
    assert added[0] == f"stock_movements_from_{high}"
    assert _uuid_keys(engine) == [(name, ["tenant_id", "uuid"]) for name in _ranges(engine)]
    with _next_uuids(monkeypatch, SHARED):
        _receive(world, "admin", "5")
    with _next_uuids(monkeypatch, SHARED):
        _receive(world, "b_admin", "7")
    assert _sql(
        world,
        "SELECT DISTINCT tableoid::regclass::text FROM stock_movements WHERE uuid = :u",
        u=SHARED,
    ) == [(added[0],)]
    with _next_uuids(monkeypatch, SHARED), pytest.raises(IntegrityError):
        _receive(world, "b_admin", "9", reference="r-2")
    assert _movements(world, SHARED) == [(world.a.id, Decimal("5")), (world.b.id, Decimal("7"))]
    _books_agree(world)


def test_upgrading_from_0029_keeps_the_movements_and_downgrading_refuses_a_shared_uuid(
    world, engine, database_url, monkeypatch
):
    """0029 -> 0030 in place: same rows, the key per business; back only when it fits."""
    _receive(world, "admin", "5")
    _receive(world, "b_admin", "7")
    rows = _sql(world, "SELECT id, tenant_id, uuid, quantity FROM stock_movements ORDER BY id")
    assert len(rows) >= 2
    cfg = alembic_config(database_url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0029_credential_directory")
    assert _uuid_keys(engine) == [(name, ["uuid"]) for name in _ranges(engine)]
    if engine.dialect.name == "postgresql":
        # A range the previous release's keeper made after its own upgrade.
        with transaction(world.sessions()) as session:
            high = partitions.partitions(session, "stock_movements")[-1].high
        monkeypatch.setitem(partitions.PER_RANGE_UNIQUE, "stock_movements", ("uuid", "uuid"))
        with transaction(world.sessions()) as session:
            partitions.add_partition(session, "stock_movements", low=high, high=high + 1000)
        monkeypatch.undo()
        assert _uuid_keys(engine) == [(name, ["uuid"]) for name in _ranges(engine)]
    # The previous schema keeps a uuid unique across businesses.
    [(first_uuid,)] = _sql(
        world, "SELECT uuid FROM stock_movements WHERE tenant_id = :t LIMIT 1", t=world.a.id
    )
    with _next_uuids(monkeypatch, first_uuid), pytest.raises(IntegrityError):
        _receive(world, "b_admin", "1", reference="r-old")

    upgrade(engine)
    assert current_heads(engine) == expected_heads()
    assert _uuid_keys(engine) == [(name, ["tenant_id", "uuid"]) for name in _ranges(engine)]
    assert (
        _sql(world, "SELECT id, tenant_id, uuid, quantity FROM stock_movements ORDER BY id") == rows
    )
    _books_agree(world)
    with _next_uuids(monkeypatch, first_uuid):
        _receive(world, "b_admin", "1", reference="r-new")
    with _next_uuids(monkeypatch, first_uuid), pytest.raises(IntegrityError):
        _receive(world, "admin", "1", reference="r-new")
    _books_agree(world)

    # The old key cannot hold a uuid two businesses share: the downgrade stops, changing
    # nothing, and goes through once the row is mended.
    with pytest.raises(RuntimeError, match="share a uuid"), engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0029_credential_directory")
    assert current_heads(engine) == expected_heads()
    assert _uuid_keys(engine) == [(name, ["tenant_id", "uuid"]) for name in _ranges(engine)]
    _sql(
        world,
        "UPDATE stock_movements SET uuid = :new WHERE tenant_id = :t AND uuid = :u",
        new=new_id(),
        t=world.b.id,
        u=first_uuid,
    )
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0029_credential_directory")
    assert _uuid_keys(engine) == [(name, ["uuid"]) for name in _ranges(engine)]
    upgrade(engine)
    assert _uuid_keys(engine) == [(name, ["tenant_id", "uuid"]) for name in _ranges(engine)]
