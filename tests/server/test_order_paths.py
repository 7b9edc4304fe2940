"""The set-based way of placing an order writes exactly the rows the ORM way writes.

place_order tries _create_set_based first (one read for products, levels and facts, plain
inserts for the order and its lines, the levels locked and read once) and takes the long way
(_create) where that one declines; each runs in its own savepoint. Both place the same
orders from the same state, on both engines (each in a transaction rolled back afterwards);
every row either writes, and every answer, is compared with ids, times and signatures left
out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select, update

from common.schemas.partners import CustomerCreate
from common.schemas.pricing import PriceListIn, PromotionIn
from sync_server.catalog.models import Product
from sync_server.db import transaction
from sync_server.inventory import lots
from sync_server.inventory.models import LotLevel, StockLot
from sync_server.notifications import service as notifications
from sync_server.orders import service
from sync_server.orders.schemas import OrderCreate
from sync_server.org import service as org
from sync_server.partners import service as partners
from sync_server.pricing import service as pricing
from sync_server.pricing.service import PRICE_LIST, PROMOTION
from tests.server.test_order_appends import TABLES, VOLATILE, _rows, last_ids
from tests.server.test_orders import order_body, stock

# A new customer's id comes from a sequence PostgreSQL does not roll back; the stored
# answer (idempotency_records.response) is compared with its ids renumbered by _rows.
_RENUMBERED = VOLATILE | {"customer_id"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in _RENUMBERED}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _place(world, monkeypatch, body: dict, *, set_based: bool) -> tuple[Any, dict, int]:
    """Place one order one way; return (its answer, the rows it wrote, long-way runs)."""
    long_way = 0
    create = service._create

    def counted(*args, **kwargs):
        nonlocal long_way
        long_way += 1
        return create(*args, **kwargs)

    monkeypatch.setattr(service, "SET_BASED", set_based)
    monkeypatch.setattr(service, "_create", counted)
    data = OrderCreate.model_validate(body)
    with world.sessions()() as session:
        start = last_ids(session)
        outcome = service.place_order(
            session,
            principal=world.principal("admin"),
            key="ORDER-KEY-1",
            data=data,
            instance="/api/v1/orders",
        )
        session.flush()
        rows = _rows(session, start)
        session.rollback()
    monkeypatch.undo()
    return outcome, rows, long_way


def _both(world, monkeypatch, body: dict) -> tuple[Any, dict, int]:
    fast, fast_rows, fast_long = _place(world, monkeypatch, body, set_based=True)
    slow, slow_rows, _ = _place(world, monkeypatch, body, set_based=False)
    assert (fast.status, _clean(fast.body)) == (slow.status, _clean(slow.body))
    for name in TABLES:
        assert fast_rows[name] == slow_rows[name], name
    return fast, fast_rows, fast_long


@pytest.fixture
def shop(world):
    """Tenant A with stock of two products, a low-stock threshold, and a known customer."""
    stock(world, quantity="10")
    stock(world, product=1, quantity="10")
    with transaction(world.sessions()) as session:
        session.execute(
            update(Product)
            .where(Product.id == world.a.product_ids[0])
            .values(low_stock_threshold=Decimal("5"))
        )
        partners.create_customer(
            session,
            actor=world.principal("admin"),
            data=CustomerCreate(
                name="Asha Rao", email="asha@example.com", phone="+91 98450 00001", address="Pune"
            ),
        )
    return world


def test_an_order_and_its_alert_are_the_same_rows_either_way(shop, monkeypatch):
    # Reserving 8 of 10 crosses the threshold of 5: a low-stock alert opens as well.
    body = order_body("SET-1", ("ADMIN-0", "8"), ("ADMIN-1", "1"), ("ADMIN-1", "2"))
    outcome, rows, long_way = _both(shop, monkeypatch, body)
    assert outcome.status == 201, outcome.body
    assert long_way == 0  # the set-based way placed it
    assert len(rows["orders"]) == 1 and len(rows["order_lines"]) == 3
    assert len(rows["stock_movements"]) == 2 and len(rows["alerts"]) == 1
    assert rows["orders"][0]["shipping_address"] == "Pune"
    assert [r["status_code"] for r in rows["idempotency_records"]] == [201]


def test_refusals_are_the_same_answer_and_write_only_the_answer(shop, monkeypatch):
    short = order_body("SET-2", ("ADMIN-0", "11"))
    unknown = order_body("SET-3", ("NOPE-1", "1"))
    for body, status in ((short, 409), (unknown, 422)):
        outcome, rows, _ = _both(shop, monkeypatch, body)
        assert outcome.status == status, outcome.body
        assert not rows["orders"] and not rows["stock_movements"] and not rows["audit_entries"]
        assert [r["status_code"] for r in rows["idempotency_records"]] == [status]


def test_a_shortage_found_under_the_locks_is_the_same_refusal_and_writes_only_it(shop, monkeypatch):
    """Stock that looked enough unlocked but is short under the level locks (an order took
    it in between): the set-based way rolls back and stores the refusal in a new transaction,
    the ORM way rolls back its savepoint; the same answer, and only the answer is written."""
    placed = []
    for set_based in (True, False):
        # As if another order had taken the stock between the unlocked read and the locks.
        monkeypatch.setattr(service, "_refuse_short", lambda levels, **kwargs: None)
        placed.append(
            _place(shop, monkeypatch, order_body("SET-9", ("ADMIN-0", "11")), set_based=set_based)
        )
    (fast, fast_rows, long_way), (slow, slow_rows, _) = placed
    assert fast.status == slow.status == 409 and long_way == 0, fast.body
    assert _clean(fast.body) == _clean(slow.body)
    for name in TABLES:
        assert fast_rows[name] == slow_rows[name], name
    assert not fast_rows["orders"] and not fast_rows["stock_movements"]
    assert [r["status_code"] for r in fast_rows["idempotency_records"]] == [409]


def test_a_duplicate_external_number_is_refused_the_same_way(shop, monkeypatch):
    with shop.sessions()() as session:
        first = service.place_order(
            session,
            principal=shop.principal("admin"),
            key="FIRST",
            data=OrderCreate.model_validate(order_body("SET-4", ("ADMIN-1", "1"))),
            instance="/api/v1/orders",
        )
        session.commit()
    assert first.status == 201, first.body
    outcome, rows, _ = _both(shop, monkeypatch, order_body("SET-4", ("ADMIN-1", "1")))
    assert outcome.status == 409 and outcome.body["order_id"] == first.body["id"]
    assert not rows["orders"] and not rows["stock_movements"]


def test_new_customers_and_listening_rules_are_the_same_rows_either_way(shop, monkeypatch):
    # A new customer is made on the way; rules that listen to orders take the long way.
    new = order_body("SET-5", ("ADMIN-0", "1"), customer={"name": "New", "email": "n@e.com"})
    outcome, rows, long_way = _both(shop, monkeypatch, new)
    assert outcome.status == 201 and long_way == 0 and len(rows["customers"]) == 1
    with transaction(shop.sessions()) as session:
        for name in ("order.*", "stock.available"):
            notifications.create_rule(
                session,
                actor=shop.principal("admin").actor,
                event=name,
                channel="in_app",
                role="manager",
            )
    outcome, rows, long_way = _both(shop, monkeypatch, order_body("SET-6", ("ADMIN-1", "1")))
    assert outcome.status == 201 and long_way == 1
    assert any(n["event"] == "order.created" for n in rows["notifications"])


def test_settings_pricing_rules_and_other_rules_read_at_once_price_the_same(shop, monkeypatch):
    """On PostgreSQL the set-based way reads the settings, the live pricing rules and the
    notification rules' events with the branch, in one statement: the same prices, the
    same reservation time and the same way taken as reading them one by one."""
    tea, coffee = shop.a.product_ids[:2]
    admin = shop.principal("admin")
    with transaction(shop.sessions()) as session:
        org.put_setting(session, actor=admin, key="order_reservation_minutes", value=90)
        for data in (
            PromotionIn(name="Ten off tea", kind="percent_off", percent="10", product_ids=[tea]),
            PromotionIn(name="Five off", kind="amount_off", amount="0.50", product_ids=[coffee]),
        ):
            pricing.create_rule(session, actor=admin, rule_type=PROMOTION, data=data)
        pricing.create_rule(
            session,
            actor=admin,
            rule_type=PRICE_LIST,
            data=PriceListIn(
                name="List", items=[{"mode": "fixed", "value": "7.00", "product_id": coffee}]
            ),
        )
        # Rules for other events, and one for another branch's orders, do not listen here.
        west = shop.a.branch_ids[1]
        notifications.create_rule(
            session, actor=admin.actor, event="purchase.*", channel="in_app", role="manager"
        )
        notifications.create_rule(
            session,
            actor=admin.actor,
            event="order.created",
            channel="in_app",
            role="manager",
            branch_id=west,
        )
    body = order_body("SET-8", ("ADMIN-0", "2"), ("ADMIN-1", "3"))
    outcome, rows, long_way = _both(shop, monkeypatch, body)
    assert outcome.status == 201 and long_way == 0, outcome.body
    lines = {line["sku"]: line for line in outcome.body["lines"]}
    assert Decimal(lines["ADMIN-0"]["discount"]) > 0 and Decimal(lines["ADMIN-1"]["discount"]) > 0
    held = datetime.fromisoformat(outcome.body["reserved_until"]) - datetime.fromisoformat(
        outcome.body["created_at"]
    )
    assert timedelta(minutes=89) < held < timedelta(minutes=91)


def test_the_set_based_way_sends_fewer_statements(shop, monkeypatch):
    """Two reads fewer (products with levels and facts; the facts again under the lock), no
    savepoint and no flush of ORM objects, and on PostgreSQL the settings, pricing rules and
    notification rules read with the branch: the same order costs fewer round trips."""
    counts = {}
    for set_based in (True, False):
        seen: list[str] = []

        def note(conn, cursor, statement, *args, seen=seen) -> None:
            seen.append(statement)

        event.listen(shop.engine, "before_cursor_execute", note)
        try:
            _place(shop, monkeypatch, order_body("SET-7", ("ADMIN-1", "1")), set_based=set_based)
        finally:
            event.remove(shop.engine, "before_cursor_execute", note)
        counts[set_based] = len(seen)
    fewer = 4 if shop.engine.dialect.name == "sqlite" else 7
    assert counts[True] <= counts[False] - fewer, counts


def test_customers_named_every_way_are_the_same_customer_either_way(shop, monkeypatch):
    """On PostgreSQL the set-based way reads the named customer (by id, or the first active
    one by e-mail in any case) with the branch; by phone, or an e-mail with no match, it
    reads by phone after. The same customer, refusal or new customer as one by one."""
    with transaction(shop.sessions()) as session:
        # An inactive customer with the same e-mail is never matched; another tenant's
        # customer is no customer here.
        gone = partners.create_customer(
            session,
            actor=shop.principal("admin"),
            data=CustomerCreate(name="Gone", email="gone@example.com", phone="+91 1"),
        )
        gone.active = False
        stranger = partners.create_customer(
            session,
            actor=shop.principal("b_admin"),
            data=CustomerCreate(name="Stranger", email="s@example.com"),
        )
        asha_id = partners.create_customer(
            session,
            actor=shop.principal("admin"),
            data=CustomerCreate(name="Asha Two", email="ASHA@example.com", phone="+91 2"),
        ).id
    refs = [
        ({"id": asha_id}, 201),
        ({"name": "A", "email": "Asha@Example.com"}, 201),  # the first active one: Asha Rao
        ({"name": "A", "phone": "+91 98450 00001"}, 201),  # by phone only
        ({"name": "A", "email": "none@example.com", "phone": "+91 2"}, 201),  # phone after
        ({"name": "New", "email": "gone@example.com"}, 201),  # inactive: a new customer
        ({"id": gone.id}, 422),
        ({"id": stranger.id}, 422),
        ({"id": 999_999}, 422),
    ]
    picked = []
    for n, (ref, status) in enumerate(refs):
        body = order_body(f"CUST-{n}", ("ADMIN-1", "1"), customer=ref)
        outcome, rows, long_way = _both(shop, monkeypatch, body)
        assert outcome.status == status, (ref, outcome.body)
        assert long_way == 0, ref
        if status == 422:
            assert "no customer with id" in outcome.body["detail"]
            assert not rows["orders"]
        picked.append(rows["orders"][0]["customer_id"] if rows["orders"] else None)
    # By id the one named; by e-mail the first active one (the shop's Asha Rao, made first),
    # by phone the one with it; the inactive one's e-mail made a new customer.
    asha_rao = picked[1]
    assert picked[:4] == [asha_id, asha_rao, asha_rao, asha_id] and asha_rao < asha_id
    assert picked[4] not in (gone.id, asha_rao, asha_id)


def test_the_plain_reads_answer_as_the_orm_reads_do(shop, monkeypatch):
    """The set-based way reads the products, and on PostgreSQL the branch and the named
    customer, as plain Core columns: each attribute an order reads is the ORM object's."""
    world = shop
    principal = world.principal("admin")
    with world.sessions()() as session:
        asha = service._customer(
            session, principal=principal, ref=OrderCreate.model_validate(order_body()).customer
        )
        assert asha is not None
        bodies = [
            order_body("PLAIN-1", ("ADMIN-0", "1"), ("ADMIN-1", "2"), ("NOPE", "1")),
            order_body("PLAIN-2", ("ADMIN-1", "1"), customer={"id": asha.id}),
            order_body("PLAIN-3", customer={"name": "N", "email": "new@example.com"}),
            {**order_body("PLAIN-4"), "branch_code": None, "branch_id": world.a.branch_ids[0]},
        ]
        for body in bodies:
            data = OrderCreate.model_validate(body)
            # The products: every column the plain read brings, of every product it finds.
            skus = sorted({line.sku for line in data.lines if line.sku})
            sqlite = shop.engine.dialect.name == "sqlite"
            params = {"tenant_id": principal.tenant_id, "branch_id": world.a.branch_ids[0]}
            plain = service._products_here(session, {**params, "skus": skus, "ids": []})
            found = {row.sku: row for row in plain}
            # By id as well (and by nothing: no product).
            ids = [row.id for row in found.values()]
            by_id = service._products_here(session, {**params, "skus": [], "ids": ids})
            assert sorted(row.id for row in by_id) == sorted(ids)
            none = {**params, "skus": [], "ids": []}
            assert list(service._products_here(session, none)) == []
            orm = {
                p.sku: p
                for p in session.scalars(
                    select(Product).where(
                        Product.tenant_id == principal.tenant_id, Product.sku.in_(skus)
                    )
                )
            }
            assert sorted(found) == sorted(orm) == [s for s in skus if s != "NOPE"]
            for sku, product in orm.items():
                for name in service._PRODUCT_COLUMNS:
                    assert getattr(found[sku], name) == getattr(product, name), (sku, name)
            if sqlite:
                continue  # the branch read there is the ORM's own (_branch)
            by_id, by_code = service._CONFIGURED_WITH[service._customer_key(data.customer)]
            branch, currency, duplicate, *_, named = service._branch_row(
                session, principal=principal, data=data, by_id=by_id, by_code=by_code,
                customer=data.customer, plain=True,
            )  # fmt: skip
            orm_branch, orm_currency, orm_duplicate = service._branch(
                session, principal=principal, data=data
            )
            assert (currency, duplicate) == (orm_currency, orm_duplicate)
            for name in service._BRANCH_COLUMNS:
                assert getattr(branch, name) == getattr(orm_branch, name), name
            orm_customer = service._customer(session, principal=principal, ref=data.customer)
            if orm_customer is None:
                assert named is None
                continue
            for name in service._CUSTOMER_COLUMNS:
                assert getattr(named, name) == getattr(orm_customer, name), name
        session.rollback()


def test_the_plain_lot_check_finds_what_the_orm_read_finds(shop):
    """An order's lot check (lots.products_with_lots: on PostgreSQL one array and its text
    compiled once) finds the products with a lot level at the branch as the ORM read does."""
    world = shop
    tenant_id, branch_id = world.a.id, world.a.branch_ids[0]
    with_lot, without = world.a.product_ids[0], world.a.product_ids[1]
    with world.sessions()() as session:
        lot = StockLot(tenant_id=tenant_id, product_id=with_lot, lot_number="L-1")
        session.add(lot)
        session.flush()
        session.add(
            LotLevel(tenant_id=tenant_id, branch_id=branch_id, product_id=with_lot, lot_id=lot.id)
        )
        session.flush()
        other_branch = world.a.branch_ids[1]
        for ids in ([with_lot, without], [without], [with_lot], [], [without, with_lot, 10**12]):
            for branch in (branch_id, other_branch):
                params = {"tenant_id": tenant_id, "branch_id": branch, "ids": ids}
                orm = set(session.scalars(lots._PRODUCTS_WITH_LOTS, params)) if ids else set()
                assert lots.products_with_lots(session, params) == orm, (ids, branch)
        assert lots.products_with_lots(
            session, {"tenant_id": tenant_id, "branch_id": branch_id, "ids": [with_lot]}
        ) == {with_lot}
        session.rollback()
