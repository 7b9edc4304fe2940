"""A sale's stock booked in one batch stores exactly what booking it line by line stores."""

from __future__ import annotations

from contextlib import nullcontext
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from common.codes import MovementCode
from common.errors import NotFound
from common.ids import new_id
from common.sync.protocol import Event, SaleCompleted, SaleLine, SalePayment, SaleVoided
from sync_server.alerts.models import Alert
from sync_server.audit import service as audit
from sync_server.audit.models import AuditEntry
from sync_server.db import transaction
from sync_server.foundation.models import Change
from sync_server.inventory import ledger, thresholds
from sync_server.inventory.models import StockLevel, StockMovement
from sync_server.partners.models import Customer
from sync_server.sales.models import Sale
from sync_server.sales.models import SaleLine as StoredLine
from sync_server.sales.models import SalePayment as StoredPayment
from sync_server.sync import push
from sync_server.sync.models import ReceivedEvent
from tests.factories import Api, World

UNKNOWN_PRODUCT = 987_654_321
# What _stored reads back, compared part by part.
STORED = (
    "movements",
    "levels",
    "changes",
    "audit",
    "alerts",
    "sales",
    "sale_lines",
    "payments",
    "received",
)


def _sale(branch_id: int, receipt: str, lines: list[tuple[int, str]]) -> SaleCompleted:
    items = [
        SaleLine(
            line_id=new_id(),
            product_id=product_id,
            sku="X",
            name="Item",
            quantity=Decimal(quantity),
            unit_price=Decimal("2.00"),
            total=Decimal("2.00") * Decimal(quantity),
        )
        for product_id, quantity in lines
    ]
    total = sum((item.total for item in items), Decimal("0"))
    return SaleCompleted(
        sale_id=new_id(),
        receipt_number=receipt,
        branch_id=branch_id,
        lines=items,
        payments=[SalePayment(payment_id=new_id(), method="cash", amount=total)],
        subtotal=total,
        total=total,
    )


def _enrol(world: World, branch_id: int) -> tuple[str, Api]:
    code = world.api("admin").post("devices/enrolment-codes", json={"branch_id": branch_id})
    answer = Api(world.client, None).post(
        "devices/enrol", json={"code": code.json()["code"], "name": "Till"}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["device_id"], Api(world.client, answer.json()["token"])


def _prepare(world: World, branch_id: int) -> None:
    """Put the same stock and thresholds on a branch: 10, 6 (threshold 5) and none."""
    p0, p1, p2 = world.a.product_ids
    actor = world.principal("admin").actor
    with transaction(world.sessions()) as session:
        for product_id in (p0, p1, p2):
            thresholds.set_thresholds(
                session,
                actor=actor,
                branch_id=branch_id,
                product_id=product_id,
                low_stock_threshold=Decimal("5"),
                reorder_quantity=None,
            )
        for product_id, quantity in ((p0, "10"), (p1, "6")):
            ledger.record_movement(
                session,
                actor=actor,
                branch_id=branch_id,
                product_id=product_id,
                code=MovementCode.RECEIPT,
                quantity=Decimal(quantity),
                reference_type="test",
                reference_id="opening",
            )


def _last_ids(world: World) -> dict[type, int]:
    with transaction(world.sessions(), readonly=True) as session:
        return {
            model: session.scalar(select(model.id).order_by(model.id.desc()).limit(1)) or 0
            for model in (
                StockMovement,
                Change,
                AuditEntry,
                Alert,
                Sale,
                StoredLine,
                StoredPayment,
                ReceivedEvent,
            )
        }


def _push(
    world: World,
    branch_id: int,
    tag: str,
    *,
    bad: bool = True,
    customer_id: int | None = None,
    one_at_a_time: bool = False,
) -> tuple[list, dict[str, Any]]:
    """Push three sales from a new till at the branch; return the answers and what was stored.

    Without `bad`, the second sale sells known products only and the batch has no failure.
    With `customer_id`, the batch voids its first sale before the third, and the third is
    that customer's (neither may be booked before the sales ahead of it are written).
    With `one_at_a_time`, each event goes in a push of its own, as a till syncing after
    every sale sends them.
    """
    void = customer_id is not None
    p0, p1, p2 = world.a.product_ids
    device_id, till = _enrol(world, branch_id)
    sales = [
        # Two lines of one product, a fall below the threshold, a sale into negative stock.
        _sale(branch_id, f"{tag}-1", [(p0, "2"), (p1, "3"), (p0, "1"), (p2, "1")]),
        # An unknown product: the whole event is rejected and nothing of it stays.
        _sale(branch_id, f"{tag}-2", [(p1, "1"), (UNKNOWN_PRODUCT if bad else p2, "1")]),
        # Goods handed back within a sale lift stock out of negative; p0 goes low.
        _sale(branch_id, f"{tag}-3", [(p2, "-2"), (p0, "4"), (p1, "0.5")]),
    ]
    if void:
        sales[2] = sales[2].model_copy(update={"customer_id": customer_id})
    payloads: list[Any] = list(sales)
    if void:
        payloads.insert(2, SaleVoided(sale_id=sales[0].sale_id, reason="wrong till"))
    events = [Event.wrap(p, device_id=device_id).model_dump(mode="json") for p in payloads]
    start = _last_ids(world)
    results = []
    for batch in [[e] for e in events] if one_at_a_time else [events]:
        answer = till.post("sync/push", json={"events": batch})
        assert answer.status_code == 200, answer.text
        results.extend(answer.json()["results"])
    names = {sale.sale_id: f"sale-{i}" for i, sale in enumerate(sales)}
    names.update((event["id"], f"event-{i}") for i, event in enumerate(events))
    return [(r["status"], r.get("reason")) for r in results], _stored(
        world, branch_id=branch_id, start=start, names=names
    )


def _stored(
    world: World, *, branch_id: int, start: dict[type, int], names: dict[str, str]
) -> dict[str, Any]:
    """Return the rows the push wrote, with ids, times and branch-specific names normalised."""
    movements: dict[str, str] = {}

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: "BRANCH" if k == "branch_id" and v == branch_id else norm(v)
                for k, v in value.items()
                if k not in ("id", "opened_at", "cleared_at", "receipt_number")
            }
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, str):
            for sale_id, name in names.items():
                value = value.replace(sale_id, name)
            return movements.get(value, value)
        return value

    with transaction(world.sessions(), readonly=True) as session:
        rows = session.scalars(
            select(StockMovement)
            .where(StockMovement.id > start[StockMovement], StockMovement.branch_id == branch_id)
            .order_by(StockMovement.id)
        ).all()
        for i, row in enumerate(rows):
            movements[row.uuid] = f"movement-{i}"
        stored = {
            "movements": [
                (
                    r.product_id,
                    r.code,
                    r.quantity,
                    r.reason,
                    r.reference_type,
                    norm(r.reference_id),
                )
                for r in rows
            ],
            "levels": sorted(
                (r.product_id, r.on_hand, r.reserved)
                for r in session.scalars(
                    select(StockLevel).where(StockLevel.branch_id == branch_id)
                )
            ),
            "changes": [
                (c.entity, c.entity_key if c.entity != "alert" else "ALERT", c.op, norm(c.data))
                for c in session.scalars(
                    select(Change).where(Change.id > start[Change]).order_by(Change.id)
                )
            ],
            "audit": [
                (
                    e.action,
                    e.entity_type,
                    "DEAD-LETTER" if e.entity_type == "dead_letter" else norm(e.entity_id),
                    norm(e.before),
                    norm(e.after),
                )
                for e in session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.id > start[AuditEntry])
                    .order_by(AuditEntry.id)
                )
            ],
            "alerts": sorted(
                (a.kind, a.product_id, a.status, str(norm(a.details)))
                for a in session.scalars(select(Alert).where(Alert.branch_id == branch_id))
            ),
        }
        # The documents themselves: a batch writes them as plain inserts, an event alone
        # through the ORM. Every column but ids, the till's names and the two tills' clocks.
        sales = session.scalars(select(Sale).where(Sale.id > start[Sale]).order_by(Sale.id)).all()
        sale_names = {sale.id: names[sale.uuid] for sale in sales}
        skip = {
            *("id", "sale_id", "uuid", "line_uuid", "payment_uuid", "receipt_number"),
            *("device_id", "recorded_at", "occurred_at", "voided_at"),
        }

        def columns(row: Any) -> dict[str, Any]:
            values = {
                c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip
            }
            return {k: "BRANCH" if k == "branch_id" else norm(v) for k, v in values.items()}

        stored["sales"] = [(names[sale.uuid], columns(sale)) for sale in sales]
        for part, model in (("sale_lines", StoredLine), ("payments", StoredPayment)):
            stored[part] = [
                (sale_names[row.sale_id], columns(row))
                for row in session.scalars(
                    select(model).where(model.id > start[model]).order_by(model.id)
                )
            ]
        stored["received"] = [
            (names[r.event_id], r.type, r.status, r.reason and "REASON", r.result)
            for r in session.scalars(
                select(ReceivedEvent)
                .where(ReceivedEvent.id > start[ReceivedEvent])
                .order_by(ReceivedEvent.id)
            )
        ]
        # The sales keep the till's own ids and names.
        assert {sale.device_id for sale in sales} == {
            r.device_id
            for r in session.scalars(
                select(ReceivedEvent).where(ReceivedEvent.id > start[ReceivedEvent])
            )
        }
    return stored


def _take_the_reference_path(monkeypatch) -> None:
    """Push the reference way: each event in its own savepoint, flushed on its own.

    Every movement, audit entry and feed change is added to the session on its own (one ORM
    insert each), every movement batch reads its levels again, and its products' facts and
    lots again: the batch path reads them only once.
    """
    monkeypatch.setattr(push, "apply_together", lambda session, **kw: None)
    monkeypatch.setattr(push, "buffered_appends", lambda session: nullcontext())
    monkeypatch.setattr(ledger, "held_levels", lambda session, **kw: None)
    monkeypatch.setattr(
        push,
        "prepare_batch",
        lambda session, *, tenant_id, branch_id, product_ids: ledger.lock_levels(
            session,
            tenant_id=tenant_id,
            keys=[(branch_id, product_id) for product_id in product_ids],
            create=False,
        ),
    )


def test_a_pushed_sale_stores_the_same_rows_as_booking_it_line_by_line(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = world.a.branch_ids
    _prepare(world, first)
    _prepare(world, second)

    batch_answers, batch = _push(world, first, "A")

    # The reference: every line of a sale booked by its own call, as before batching.
    one_batch = ledger.record_movements

    def line_by_line(session, *, lines, **kwargs):
        return [one_batch(session, lines=[line], **kwargs)[0] for line in lines]

    monkeypatch.setattr(ledger, "record_movements", line_by_line)
    single_answers, single = _push(world, second, "B")

    assert [status for status, _ in batch_answers] == ["applied", "rejected", "applied"]
    assert batch_answers == single_answers
    assert batch_answers[1][1]  # the sale line's product key refuses it, before any stock
    for part in STORED:
        assert batch[part] == single[part], part

    # The scenario did what it claims: merged lines, negative stock, low stock, and nothing
    # of the rejected sale.
    p0, p1, p2 = world.a.product_ids
    assert [(m[0], m[1], m[2]) for m in batch["movements"]] == [
        (p0, "sale", Decimal("-3")),
        (p1, "sale", Decimal("-3")),
        (p2, "sale", Decimal("-1")),
        (p0, "sale", Decimal("-4")),
        (p1, "sale", Decimal("-0.5")),
        (p2, "return", Decimal("2")),
    ]
    assert batch["levels"] == [
        (p0, Decimal("3"), Decimal("0")),
        (p1, Decimal("2.5"), Decimal("0")),
        (p2, Decimal("1"), Decimal("0")),
    ]
    kinds = {(kind, product, status) for kind, product, status, _ in batch["alerts"]}
    assert ("negative_stock", p2, "cleared") in kinds
    assert ("low_stock", p0, "open") in kinds
    assert ("low_stock", p1, "open") in kinds
    assert ("low_stock", p2, "open") in kinds
    assert [a[0] for a in batch["audit"]].count("sale.recorded") == 2
    assert sum(1 for c in batch["changes"] if c[0] == "stock") == 6
    # Opened p1, p2 (negative), p0 low; cleared p2's negative and opened its low.
    assert sum(1 for c in batch["changes"] if c[0] == "alert") == 5
    assert [a[0] for a in batch["audit"]].count("stock.return") == 1


def test_a_batch_with_an_unknown_product_is_refused_as_one_movement_of_it_is(
    world: World,
) -> None:
    known = world.a.product_ids[0]
    branch = world.a.branch_ids[0]
    actor = world.principal("admin").actor
    kwargs = {"reference_type": "test", "reference_id": "x", "allow_negative": True}
    with transaction(world.sessions()) as session:
        with pytest.raises(NotFound) as single:
            ledger.record_movement(
                session,
                actor=actor,
                branch_id=branch,
                product_id=UNKNOWN_PRODUCT,
                code=MovementCode.SALE,
                quantity=Decimal("-1"),
                **kwargs,
            )
        with pytest.raises(NotFound) as batch:
            ledger.record_movements(
                session,
                actor=actor,
                branch_id=branch,
                lines=[
                    ledger.MovementLine(known, MovementCode.SALE, Decimal("-1")),
                    ledger.MovementLine(UNKNOWN_PRODUCT, MovementCode.SALE, Decimal("-1")),
                ],
                **kwargs,
            )
        assert batch.value.detail == single.value.detail
        assert str(UNKNOWN_PRODUCT) in batch.value.detail
        # Nothing of the refused batch was added, not even the known product's movement.
        assert not session.new
        assert (
            session.scalar(select(StockMovement.id).where(StockMovement.branch_id == branch))
            is None
        )


@pytest.mark.parametrize(
    ("bad", "void"),
    [(True, False), (False, False), (False, True)],
    ids=["one-rejected", "all-applied", "void-and-customer-sale"],
)
def test_events_applied_together_store_what_each_in_its_savepoint_stores(
    world: World, monkeypatch: pytest.MonkeyPatch, bad: bool, void: bool
) -> None:
    """Events applied in one savepoint, with set-based audit and feed and kept levels, store
    the rows each event in its own savepoint stored, its rows added one by one (a batch
    with a rejected event falls back to that, and must store the same too)."""
    first, second = world.a.branch_ids
    _prepare(world, first)
    _prepare(world, second)
    together = []
    apply_together = push.apply_together

    def spy(session, **kwargs):
        together.append(answer := apply_together(session, **kwargs))
        return answer

    monkeypatch.setattr(push, "apply_together", spy)
    customer_id = None
    if void:
        with transaction(world.sessions()) as session:
            customer = Customer(tenant_id=world.a.id, name="Regular")
            session.add(customer)
            session.flush()
            customer_id = customer.id
    fast_answers, fast = _push(world, first, "A", bad=bad, customer_id=customer_id)
    assert (together[0] is None) == bad  # the path under test was taken

    _take_the_reference_path(monkeypatch)
    slow_answers, slow = _push(world, second, "B", bad=bad, customer_id=customer_id)

    assert fast_answers == slow_answers
    expected = ["applied", "rejected" if bad else "applied", "applied"] + ["applied"] * void
    assert [status for status, _ in fast_answers] == expected
    for part in STORED:
        assert fast[part] == slow[part], part
    if not bad:
        # Sales, their lines and payments, and the claims (and the void's), three of each.
        assert [len(fast[part]) for part in ("sales", "received", "payments")] == [3, 3 + void, 3]
        assert len(fast["sale_lines"]) == 9
    if void:
        # The void found the sale the batch had booked, and the last sale its customer.
        assert [sale["status"] for _, sale in fast["sales"]] == ["voided", "completed", "completed"]
        assert fast["sales"][2][1]["customer_id"] == customer_id
        assert [a[0] for a in fast["audit"]].count("sale.voided") == 1
    assert len(fast["audit"]) > 6 and len(fast["changes"]) > 6
    with transaction(world.sessions()) as session:
        # The columns _stored leaves out: both paths signed as the till, by its device.
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.tenant_id == world.a.id, AuditEntry.action == "sale.recorded")
            .order_by(AuditEntry.id.desc())
            .limit(4)
        ).all()
        assert len(entries) == 4
        assert len({e.device_id for e in entries} - {None}) == 2  # the two tills
        assert len({(e.actor, e.actor_id, e.key_id) for e in entries}) == 1
        assert all(e.record_mac and e.nonce and e.actor.startswith("device:") for e in entries)
        changes = session.scalars(
            select(Change)
            .where(Change.tenant_id == world.a.id, Change.entity == "stock")
            .order_by(Change.id.desc())
            .limit(2 * sum(1 for c in fast["changes"] if c[0] == "stock"))
        ).all()
        assert {c.branch_id for c in changes} == {first, second}
        assert all(c.at is not None and c.op == "upsert" for c in changes)
        # The chain holds across both pushes: each entry linked, the head signed.
        report = audit.verify(session, tenant_id=world.a.id)
        assert report.ok, report.reason
        assert report.entries >= len(fast["audit"]) + len(slow["audit"])


@pytest.mark.parametrize("bad", [True, False], ids=["one-rejected", "all-applied"])
def test_a_push_of_one_event_applied_together_stores_what_its_own_savepoint_stores(
    world: World, monkeypatch: pytest.MonkeyPatch, bad: bool
) -> None:
    """A till pushes after each sale: a push of one event takes the path of a batch (one
    savepoint, set-based appends, one flush), and stores what the event in its own
    savepoint stored; an event that fails there falls back and is rejected as before."""
    first, second = world.a.branch_ids
    _prepare(world, first)
    _prepare(world, second)
    together = []
    apply_together = push.apply_together

    def spy(session, **kwargs):
        together.append(answer := apply_together(session, **kwargs))
        return answer

    monkeypatch.setattr(push, "apply_together", spy)
    fast_answers, fast = _push(world, first, "A", bad=bad, one_at_a_time=True)
    # Each push of one took the batch's path; the bad one fell back to its own savepoint.
    assert [answer is None for answer in together] == [False, bad, False]

    # The reference, as in the test above: each event in its own savepoint, rows one by one.
    _take_the_reference_path(monkeypatch)
    slow_answers, slow = _push(world, second, "B", bad=bad, one_at_a_time=True)

    assert fast_answers == slow_answers
    assert [status for status, _ in fast_answers] == [
        "applied",
        "rejected" if bad else "applied",
        "applied",
    ]
    for part in STORED:
        assert fast[part] == slow[part], part
    assert len(fast["sales"]) == (2 if bad else 3)
    assert len(fast["audit"]) > 4 and len(fast["changes"]) > 4
    with transaction(world.sessions()) as session:
        report = audit.verify(session, tenant_id=world.a.id)
        assert report.ok, report.reason
