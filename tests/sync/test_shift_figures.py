"""The till's Z report and the server's shift report tell the same story, figure by figure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from common.roles import Role
from pos_client.services import queries, returns, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart, card_payment, cash_payment
from pos_client.store.db import LocalStore

D = Decimal
SHOP = ShopInfo(shop_name="Test Shop")


@pytest.fixture
def till(world, live_server, tmp_path, stock_in):
    """A till enrolled at branch 0 over real HTTP, with the catalog and stock pulled."""
    for product in world.a.product_ids:
        stock_in(product_id=product, branch_id=world.a.branch_ids[0], quantity="100")
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=30, backoff_base=0.05)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    assert engine.sync_once().online
    yield engine
    engine.stop()
    store.close()


def test_z_report_and_server_shift_report_agree(world, till) -> None:
    store = till.store
    cashier = Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )

    def sell(lines: list[tuple[int, str]], payments) -> str:
        cart = Cart()
        with store.session() as session:
            for number, quantity in lines:
                sku = f"ADMIN-{number}"
                cart.add(queries.find_by_codes(session, (sku,)), quantity=D(quantity))
        with store.transaction() as session:
            return complete_sale(
                session,
                cart=cart,
                payments=payments(cart.totals().total),
                cashier=cashier,
                shift_id=shift_id,
                shop=SHOP,
            ).receipt_number

    with store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=cashier, opening_float=D("500")).shift_id
    # 30.00 paid with a 100 note: 70 change, 30 kept.
    sell([(0, "3")], lambda due: [cash_payment(due=due, tendered=D("100"))])
    sell([(1, "2")], lambda due: [card_payment(amount=due, reference="C1")])
    # 50.00: 20 on card, the rest from a 50 note (20 change).
    split = sell(
        [(2, "5")],
        lambda due: [
            card_payment(amount=D("20"), reference="C2"),
            cash_payment(due=due - D("20"), tendered=D("50")),
        ],
    )
    with store.transaction() as session:
        sale = returns.find_sale(session, receipt_number=split)
        returns.return_with_receipt(
            session,
            sale_id=sale.sale_id,
            quantities={sale.lines[0].line_id: D(2)},
            cashier=cashier,
            shift_id=shift_id,
            reason="Too many",
            shop=SHOP,
            non_cash={"card": D("5")},
        )
        shifts.move_cash(
            session,
            cashier=cashier,
            shift_id=shift_id,
            direction="in",
            amount=D(40),
            reason="Coins",
        )
        shifts.move_cash(
            session, cashier=cashier, shift_id=shift_id, direction="out", amount=D(25), reason="Tea"
        )
    with store.transaction() as session:
        z = shifts.close_shift(
            session,
            cashier=cashier,
            shift_id=shift_id,
            counts={D(500): 1, D(50): 1, D(5): 1, D(2): 1, D(1): 1},
        )
    # 500 float + 30 + 30 cash kept - 15 cash refund + 40 in - 25 out = 560; 558 counted.
    assert (z.expected_cash, z.counted_cash, z.variance) == (D("560.00"), D("558"), D("-2.00"))
    assert z.by_tender == {"cash": D("60.00"), "card": D("40.00")}
    assert z.refunds_by_tender == {"card": D("5.00"), "cash": D("15.00")}

    status = till.sync_once()
    assert status.online and status.pending == 0, status
    today = datetime.now(UTC).date()
    period = {
        "date_from": (today - timedelta(days=1)).isoformat(),
        "date_to": (today + timedelta(days=1)).isoformat(),
    }
    response = world.api("admin").get("reports/shift-reports", params=period)
    assert response.status_code == 200, response.text
    (row,) = response.json()["rows"]

    def money(value: Decimal) -> str:
        return f"{value:.2f}"

    till_figures = {
        "sales": z.sale_count,
        "sales_total": money(z.sales_total),
        "discounts": money(z.discounts),
        "tax": money(z.sales_tax),
        **{t: money(z.by_tender.get(t, D(0))) for t in shifts.METHOD_LABELS},
        "returns": z.refund_count,
        "returns_total": money(z.refunds),
        **{f"refund_{t}": money(z.refunds_by_tender.get(t, D(0))) for t in shifts.METHOD_LABELS},
        "opening_float": money(z.opening_float),
        "cash_in": money(z.cash_in),
        "cash_out": money(z.cash_out),
        "expected_cash": money(z.expected_cash),
        "counted_cash": money(z.counted_cash),
        "variance": money(z.variance),
    }
    assert {key: row[key] for key in till_figures} == till_figures
    assert row["cash"] == "60.00"  # cash kept, not the 150.00 handed over
