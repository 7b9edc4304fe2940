"""The report summaries answer exactly what the lines answer, on SQLite and PostgreSQL.

A seeded month and a half of till business in two branches (sales with discounts, change
and split tenders, returns, sales voided before and after they were summed) is reported
twice: from the lines alone (summaries emptied inside a transaction that is rolled back)
and through the summaries the keeper built in small steps, with an unsummarised tail.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import case, delete, func, select, update

from sync_server.db import transaction
from sync_server.foundation.principal import Principal
from sync_server.inventory.ledger import RESERVATION_CODES, RESERVATION_ONLY
from sync_server.inventory.models import StockLevel, StockMovement
from sync_server.main import create_app
from sync_server.reports import branches, keeper, rollups, sales, stock, summary, totals
from sync_server.reports.base import Grain, make_filters
from sync_server.reports.keeper import in_server_summaries
from sync_server.reports.models import (
    ProductDaily,
    ProductLastDay,
    ProductTotals,
    SalesDaily,
    StockSnapshot,
    SummaryState,
    TenderDaily,
)
from sync_server.sales.models import Return, ReturnLine, Sale, SaleLine, SalePayment
from tests.asgi import TestClient

D = Decimal
TODAY = date(2026, 3, 15)
FIRST = date(2026, 2, 1)


def _seed(session, *, a, rnd: random.Random, count: int, prefix: str, first: date = FIRST) -> None:
    """Insert `count` till sales (some voided) and a return for about one in five."""
    cashiers = [a.users["cashier"], a.users["manager"], None]
    for n in range(count):
        day = first + timedelta(days=rnd.randrange((TODAY - first).days + 1))
        when = datetime(day.year, day.month, day.day, rnd.randrange(24), rnd.randrange(60))
        when = when.replace(tzinfo=UTC)
        branch = rnd.choice(a.branch_ids)
        cashier = rnd.choice(cashiers)
        number = f"{prefix}{n}"
        sale = Sale(
            tenant_id=a.id,
            uuid=f"u-{number}",
            receipt_number=number,
            status="voided" if rnd.random() < 0.1 else "completed",
            branch_id=branch,
            cashier_id=cashier,
            channel=rnd.choice(("in_store", "in_store", "phone")),
            subtotal=D(0),
            total=D(0),
            change_due=D(rnd.choice((0, 0, 1, 5))),
            occurred_at=when,
        )
        total = D(0)
        for i in range(rnd.randint(1, 4)):
            qty = D(rnd.randint(1, 3))
            price = D(rnd.randint(100, 2000)) / 100
            discount = D(rnd.choice((0, 0, 1)))
            line_total = qty * price - discount
            total += line_total
            sale.lines.append(
                SaleLine(
                    tenant_id=a.id,
                    line_uuid=f"{number}-{i}",
                    product_id=rnd.choice(a.product_ids),
                    sku="x",
                    name="x",
                    quantity=qty,
                    unit_price=price,
                    discount=discount,
                    tax=D("0.50"),
                    total=line_total,
                )
            )
        sale.subtotal = sale.total = total
        card = (total / 2).quantize(D("0.01")) if rnd.random() < 0.3 else D(0)
        for i, (method, amount) in enumerate(
            (("card", card), ("cash", total - card + sale.change_due))
        ):
            if amount:
                sale.payments.append(
                    SalePayment(
                        tenant_id=a.id,
                        payment_uuid=f"{number}-p{i}",
                        method=method,
                        amount=amount,
                    )
                )
        session.add(sale)
        if rnd.random() < 0.2:
            back = when + timedelta(days=rnd.randint(0, 3))
            line = sale.lines[0]
            session.add(
                Return(
                    tenant_id=a.id,
                    uuid=f"r-{number}",
                    receipt_number=f"R{number}",
                    branch_id=branch,
                    cashier_id=cashier,
                    total=line.unit_price,
                    occurred_at=back,
                    lines=[
                        ReturnLine(
                            tenant_id=a.id,
                            line_uuid=f"r-{number}-0",
                            product_id=line.product_id,
                            quantity=D(1),
                            amount=line.unit_price,
                            tax=D("0.10"),
                        )
                    ],
                )
            )


def _moves(session, *, a, rnd: random.Random, count: int, prefix: str, first: date) -> None:
    """Insert `count` stock movements of every kind from `first` to TODAY in both branches."""
    codes = ("receipt", "receipt", "sale", "adjustment", "reservation", "return")
    for n in range(count):
        day = first + timedelta(days=rnd.randrange((TODAY - first).days + 1))
        code = rnd.choice(codes)
        qty = D(rnd.randint(1, 20))
        session.add(
            StockMovement(
                tenant_id=a.id,
                uuid=f"{prefix}{n}",
                branch_id=rnd.choice(a.branch_ids),
                product_id=rnd.choice(a.product_ids),
                code=code,
                quantity=-qty if code == "sale" else qty,
                unit_cost=D(rnd.randint(100, 900)) / 100 if code == "receipt" else None,
                reference_type="test",
                reference_id=f"{prefix}{n}",
                occurred_at=datetime(day.year, day.month, day.day, rnd.randrange(24), tzinfo=UTC),
            )
        )


def _levels(session, *, a) -> None:
    """Put the levels in step with the movements (the ledger invariant holds after the test)."""
    held = [c.value for c in RESERVATION_CODES]
    only = [c.value for c in RESERVATION_ONLY]
    m = StockMovement
    sums = session.execute(
        select(
            m.branch_id,
            m.product_id,
            func.sum(case((m.code.in_(only), 0), else_=m.quantity)),
            func.sum(case((m.code.in_(held), m.quantity), else_=0)),
        )
        .where(m.tenant_id == a.id)
        .group_by(m.branch_id, m.product_id)
    ).all()
    for branch_id, product_id, on_hand, reserved in sums:
        level = session.scalar(
            select(StockLevel).where(
                StockLevel.tenant_id == a.id,
                StockLevel.branch_id == branch_id,
                StockLevel.product_id == product_id,
            )
        )
        if level is None:
            level = StockLevel(tenant_id=a.id, branch_id=branch_id, product_id=product_id)
            session.add(level)
        level.on_hand, level.reserved = D(on_hand), D(reserved)


def _answers(session, *, a) -> dict[str, list]:
    """Every summarised report, over filters that take each path, as typed rows."""
    admin = Principal.for_user(
        tenant_id=a.id, user_id=a.users["admin"], username="admin", role="admin", branch_ids=[]
    )
    year = {"date_from": date(2025, 9, 1), "date_to": TODAY}
    variants = {
        "all": make_filters(principal=admin, **year),
        "month": make_filters(principal=admin, date_from=date(2026, 2, 10), date_to=TODAY),
        "branch": make_filters(principal=admin, branch_id=a.branch_ids[1], **year),
        "in_store": make_filters(principal=admin, channel="in_store", **year),
        "cashier": make_filters(principal=admin, cashier_id=a.users["cashier"], **year),
    }
    out: dict[str, list] = {}
    for name in ("all", "branch"):
        for as_of in (
            date(2025, 10, 20),
            date(2025, 12, 31),
            date(2026, 1, 1),
            date(2026, 2, 14),
            TODAY,
            date(2026, 11, 30),
        ):
            report = stock.stock_valuation(session, filters=variants[name], as_of=as_of)
            out[f"valuation {as_of} {name}"] = report.typed_rows()
    for name, f in variants.items():
        for group in sales.GroupBy:
            report = sales.sales_summary(session, filters=f, group_by=group)
            out[f"summary {group} {name}"] = report.typed_rows()
        for rank in sales.Rank:
            report = sales.best_sellers(session, filters=f, by=rank, limit=50)
            out[f"best {rank} {name}"] = report.typed_rows()
        trend = sales.revenue_trend(session, filters=f, grain=Grain.DAY)
        out[f"trend {name}"] = trend.typed_rows()
        out[f"branches {name}"] = branches.branch_comparison(session, filters=f).typed_rows()
        for window, dead in ((7, 14), (28, 60)):
            report = stock.movers(
                session, filters=f, today=TODAY, window_days=window, dead_days=dead, only=None
            )
            out[f"movers {window} {name}"] = report.typed_rows()
        # Ten days back: products sold since have summed days after the report's end.
        report = stock.movers(
            session,
            filters=f,
            today=TODAY - timedelta(days=10),
            window_days=28,
            dead_days=60,
            only=None,
        )
        out[f"movers earlier {name}"] = report.typed_rows()
        report = stock.stock_shortages(session, filters=f, today=TODAY)
        out[f"shortages {name}"] = report.typed_rows()
    return out


def _from_lines(world) -> dict[str, list]:
    """The answers with every summary emptied: each report reads the lines alone."""
    session = world.sessions()()
    try:
        with session.begin():
            for model in (
                SalesDaily,
                ProductDaily,
                ProductTotals,
                ProductLastDay,
                TenderDaily,
                StockSnapshot,
                SummaryState,
            ):
                session.execute(delete(model).where(model.tenant_id == world.a.id))
            answers = _answers(session, a=world.a)
            session.rollback()
    finally:
        session.close()
    return answers


def _summarised(world) -> dict[str, list]:
    with transaction(world.sessions(), readonly=True) as session:
        return _answers(session, a=world.a)


def _compare(world) -> int:
    lines, summed = _from_lines(world), _summarised(world)
    assert summed.keys() == lines.keys()
    for key in lines:
        assert summed[key] == lines[key], key
    return sum(len(rows) for rows in lines.values())


def test_every_summarised_report_gives_what_the_lines_give(world):
    a = world.a
    rnd = random.Random(24)
    with transaction(world.sessions()) as s:
        _seed(s, a=a, rnd=rnd, count=120, prefix="A")
        _moves(s, a=a, rnd=rnd, count=300, prefix="MA", first=date(2025, 9, 10))
        s.flush()
        _levels(s, a=a)
    # Built by the keeper in steps of 7 sale ids: many small transactions, one answer.
    steps = keeper.keep_once(world.sessions(), step=7)
    assert steps >= 120 // 7
    with transaction(world.sessions(), readonly=True) as s:
        assert summary.watermarks(s, tenant_id=a.id)[0] == s.scalar(
            select(func.max(Sale.id)).where(Sale.tenant_id == a.id)
        )
        stored = s.scalar(select(func.count()).select_from(ProductDaily))
        tenders = s.scalar(select(func.count()).select_from(TenderDaily))
        snapped = s.scalar(select(func.count()).select_from(StockSnapshot))
        totalled = s.scalar(select(func.count()).select_from(ProductTotals))
        # One last day per product, channel and direction summed: the latest summed day.
        last = s.execute(
            select(ProductLastDay.product_id, ProductLastDay.channel, ProductLastDay.is_return)
            .where(ProductLastDay.tenant_id == a.id)
            .order_by(ProductLastDay.product_id, ProductLastDay.channel, ProductLastDay.is_return)
        ).all()
        keyed = s.execute(
            select(ProductDaily.product_id, ProductDaily.channel, ProductDaily.is_return)
            .where(ProductDaily.tenant_id == a.id)
            .distinct()
            .order_by(ProductDaily.product_id, ProductDaily.channel, ProductDaily.is_return)
        ).all()
        assert last == keyed
        newest = s.scalar(
            select(func.max(ProductLastDay.day)).where(ProductLastDay.tenant_id == a.id)
        )
        assert newest == s.scalar(
            select(func.max(ProductDaily.day)).where(ProductDaily.tenant_id == a.id)
        )
        # Best sellers over the long range read month-start totals (and days at the ends).
        admin = Principal.for_user(
            tenant_id=a.id, user_id=a.users["admin"], username="admin", role="admin", branch_ids=[]
        )
        long = make_filters(principal=admin, date_from=date(2025, 9, 1), date_to=TODAY)
        assert totals.stored_rows(s, filters=long, start=long.start, end=long.end)
    assert stored and tenders and snapped and totalled  # the reports read the summaries
    rows = _compare(world)
    assert rows > 200  # the reports are not trivially empty

    # Summed sales voided since, and a tail the keeper has not seen (sales, voids, returns).
    with transaction(world.sessions()) as s:
        summed = s.scalars(
            select(Sale.id).where(Sale.tenant_id == a.id, Sale.status == "completed")
        ).all()
        voided = rnd.sample(list(summed), 12)
        s.execute(update(Sale).where(Sale.id.in_(voided)).values(status="voided"))
        # Every sale of one product on its last summed sale day voided: movers must move
        # its last sale day back (only such products are grouped per day there).
        latest = s.scalars(
            select(Sale)
            .where(Sale.tenant_id == a.id, Sale.status == "completed")
            .order_by(Sale.occurred_at.desc())
            .limit(1)
        ).one()
        gone_product = latest.lines[0].product_id
        gone_day = latest.occurred_at.date()
        day_start = datetime(gone_day.year, gone_day.month, gone_day.day, tzinfo=UTC)
        same_day = select(SaleLine.sale_id).where(
            SaleLine.product_id == gone_product,
            SaleLine.sale_id.in_(
                select(Sale.id).where(
                    Sale.tenant_id == a.id,
                    Sale.occurred_at >= day_start,
                    Sale.occurred_at < day_start + timedelta(days=1),
                )
            ),
        )
        s.execute(update(Sale).where(Sale.id.in_(same_day)).values(status="voided"))
        _seed(s, a=a, rnd=rnd, count=30, prefix="B")
        # Sales and returns recorded now from before the first summed day (and the first
        # month-start product total): every total must take them.
        _seed(s, a=a, rnd=rnd, count=12, prefix="L", first=date(2025, 10, 1))
        # Movements recorded now that happened months ago (an offline till catching up).
        _moves(s, a=a, rnd=rnd, count=60, prefix="MB", first=date(2025, 10, 1))
        s.flush()
        _levels(s, a=a)
    _compare(world)
    with transaction(world.sessions(), readonly=True) as s:
        admin = Principal.for_user(
            tenant_id=a.id, user_id=a.users["admin"], username="admin", role="admin", branch_ids=[]
        )
        f = make_filters(principal=admin, today=TODAY)
        moved = stock.movers(s, filters=f, today=TODAY, window_days=28, dead_days=60, only=None)
        mine = [r for r in moved.rows if r["product_id"] == gone_product]
        tail_sale = s.scalar(
            select(func.count())
            .select_from(SaleLine)
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(
                SaleLine.product_id == gone_product,
                Sale.status == "completed",
                Sale.occurred_at >= day_start,
                Sale.occurred_at < day_start + timedelta(days=1),
            )
        )
        if not tail_sale and mine:  # no new sale of it that day since
            assert mine[0]["last_sale_at"] != gone_day
    keeper.keep_once(world.sessions())
    _compare(world)


def _summed_sale_and_return_lines(s, *, tenant_id: int) -> tuple[int, int, int]:
    """The lines the product days count, and the tenant's sale lines and return lines."""
    summed = s.scalar(
        select(func.sum(ProductDaily.lines)).where(ProductDaily.tenant_id == tenant_id)
    )
    lines = s.scalar(
        select(func.count())
        .select_from(SaleLine)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.tenant_id == tenant_id)
    )
    returned = s.scalar(
        select(func.count())
        .select_from(ReturnLine)
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.tenant_id == tenant_id)
    )
    return summed, lines, returned


def test_the_keeper_backfills_a_bulk_load_and_then_takes_only_the_new_sales(world):
    a = world.a
    with transaction(world.sessions()) as s:
        _seed(s, a=a, rnd=random.Random(5), count=40, prefix="C")
    keeper.keep_once(world.sessions(), step=1000)
    with transaction(world.sessions(), readonly=True) as s:
        before, count, returned = _summed_sale_and_return_lines(s, tenant_id=a.id)
    # Every line summed once, voided ones too (they come off when read).
    assert before == count + returned
    keeper.keep_once(world.sessions(), step=1000)  # nothing new: nothing added twice
    with transaction(world.sessions(), readonly=True) as s:
        again = s.scalar(select(func.sum(ProductDaily.lines)).where(ProductDaily.tenant_id == a.id))
    assert again == before


def test_a_report_that_read_its_watermarks_before_the_keeper_moved_gives_the_same_answer(
    world, monkeypatch
):
    # A report reads the watermarks' values first (the floor its tail's id ranges start
    # from) and the watermarks themselves inside its statement. The keeper may step on in
    # between: the floor is then below the stored watermark, and the answer must not change.
    a = world.a
    with transaction(world.sessions()) as s:
        _seed(s, a=a, rnd=random.Random(31), count=60, prefix="W")
        s.flush()
        _levels(s, a=a)
    with transaction(world.sessions()) as s:
        summary.refresh(s, tenant_id=a.id, limit=15)
    with transaction(world.sessions(), readonly=True) as s:
        early = rollups.read_marks(s, tenant_id=a.id)
        assert (early[0].floor, early[1].floor) == summary.watermarks(s, tenant_id=a.id)
    keeper.keep_once(world.sessions(), step=7)
    with transaction(world.sessions(), readonly=True) as s:
        assert summary.watermarks(s, tenant_id=a.id)[0] > early[0].floor > 0
    fresh = _summarised(world)
    monkeypatch.setattr(rollups, "read_marks", lambda session, *, tenant_id: early)
    late = _summarised(world)
    assert late == fresh and sum(len(rows) for rows in fresh.values()) > 0


def test_the_server_process_keeps_the_summaries_on_its_own(world, settings):
    """The keeper thread the server starts (asgi.py) sums new sales with no command run."""
    a = world.a
    with transaction(world.sessions()) as s:
        _seed(s, a=a, rnd=random.Random(9), count=15, prefix="S")
        top = s.scalar(select(func.max(Sale.id)).where(Sale.tenant_id == a.id))
    app = create_app(settings, engine=world.engine, background=[in_server_summaries])
    with TestClient(app):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with transaction(world.sessions(), readonly=True) as s:
                if summary.watermarks(s, tenant_id=a.id)[0] == top:
                    break
            time.sleep(0.1)
    with transaction(world.sessions(), readonly=True) as s:
        assert summary.watermarks(s, tenant_id=a.id)[0] == top
        assert s.scalar(select(func.sum(TenderDaily.payments)).where(TenderDaily.tenant_id == a.id))


def test_documents_arriving_while_the_keeper_runs_are_summed_once(world, caplog):
    """The keeper's thread (run_forever, as the server runs it) and pushes landing at once:
    every sale, return and movement committed between, during or after its rounds is summed
    exactly once, and the reports still give what the lines give."""
    a = world.a
    rnd = random.Random(77)
    with transaction(world.sessions()) as s:
        _seed(s, a=a, rnd=rnd, count=40, prefix="P")
        _moves(s, a=a, rnd=rnd, count=80, prefix="MP", first=date(2025, 10, 1))
        s.flush()
        _levels(s, a=a)
    rounds: list[int] = []
    real = keeper.keep_once

    def counted(factory, **kwargs):
        rounds.append(real(factory, **kwargs))
        return rounds[-1]

    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: keeper.run_forever(world.sessions(), stop=stop, interval=0.01),
        daemon=True,
    )
    caplog.set_level("ERROR", logger="stockpilot.reports")
    with pytest.MonkeyPatch.context() as patch:
        # Small steps: a round takes several transactions, so arrivals land between them.
        patch.setattr(keeper, "keep_once", lambda factory: counted(factory, step=3))
        thread.start()
        try:
            for batch in range(12):
                with transaction(world.sessions()) as s:
                    _seed(s, a=a, rnd=rnd, count=4, prefix=f"Q{batch}-")
                    _moves(s, a=a, rnd=rnd, count=6, prefix=f"MQ{batch}-", first=FIRST)
                    s.flush()
                    _levels(s, a=a)
                time.sleep(0.02)
        finally:
            stop.set()
            thread.join(60)
    assert not thread.is_alive()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert rounds and max(rounds) > 3  # it summed, in steps, while the batches landed
    keeper.keep_once(world.sessions())  # whatever landed after its last round
    with transaction(world.sessions(), readonly=True) as s:
        summed, lines, returned = _summed_sale_and_return_lines(s, tenant_id=a.id)
        assert summed == lines + returned  # each line summed once: none left out, none twice
        assert summary.watermarks(s, tenant_id=a.id)[0] == s.scalar(
            select(func.max(Sale.id)).where(Sale.tenant_id == a.id)
        )
        moved = s.scalar(select(func.max(StockMovement.id)).where(StockMovement.tenant_id == a.id))
        state = s.scalar(select(SummaryState).where(SummaryState.tenant_id == a.id))
        assert state.movement_id_through == moved
    _compare(world)
