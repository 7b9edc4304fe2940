"""A GS1 label whose expiry has passed is flagged at the till (sold only knowingly)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pytestqt.qtbot import QtBot

from common.roles import Role
from pos_client.launch import Till
from pos_client.services.checkout import sale_event
from pos_client.services.demo import DEMO_PRODUCTS
from pos_client.services.expiry import expiry_warning
from pos_client.services.login import Cashier
from pos_client.services.till import Cart, CatalogItem, cash_payment

MILK = DEMO_PRODUCTS[0].barcode
TODAY = date(2026, 12, 4)


def _label(expiry: date, lot: str) -> str:
    return f"]C101{'0' + MILK}17{expiry:%y%m%d}10{lot}"


def test_an_expired_label_goes_into_the_cart_flagged_and_a_fresh_one_does_not(
    qtbot: QtBot, till: Till, sign_in, scan
) -> None:
    heard: list[bool] = []
    till.window.pipeline.beep = lambda: heard.append(True)
    till.window.pipeline.today = lambda: TODAY
    sign_in()
    scan(_label(TODAY + timedelta(days=20), "FRESH1"))
    qtbot.waitUntil(lambda: len(till.window.cart.lines) == 1, timeout=3000)
    assert not heard and "Expired" not in till.window.sale_screen.notice.text()

    scan(_label(TODAY - timedelta(days=2), "OLD7"))
    qtbot.waitUntil(lambda: len(till.window.cart.lines) == 2, timeout=3000)
    qtbot.waitUntil(lambda: "Expired" in till.window.sale_screen.notice.text(), timeout=3000)
    notice = till.window.sale_screen.notice.text()
    assert "2 Dec 2026" in notice and "lot OLD7" in notice
    assert heard == [True]
    # The line keeps the label's lot, so the sale tells the server which lot left.
    assert till.window.cart.lines[1].attributes["lot"] == "OLD7"


def test_the_last_day_is_still_good_and_labels_without_expiry_say_nothing() -> None:
    assert expiry_warning({"expiry": TODAY.isoformat()}, today=TODAY) is None
    assert expiry_warning({"lot": "A"}, today=TODAY) is None
    assert expiry_warning({"expiry": "garbage"}, today=TODAY) is None
    assert "Expired on 3 Dec 2026" in expiry_warning(
        {"expiry": (TODAY - timedelta(days=1)).isoformat()}, today=TODAY
    )


def test_the_sale_tells_the_server_which_lot_the_label_named() -> None:
    cart = Cart()
    item = CatalogItem(product_id=7, sku="MILK", name="Milk", price=Decimal("30.00"))
    cart.add(item, attributes={"lot": "OLD7", "expiry": "2026-12-02"})
    cart.add(item)
    event = sale_event(
        cart=cart,
        payments=[cash_payment(due=Decimal("60.00"), tendered=Decimal("60.00"))],
        receipt_number="R-1",
        branch_id=1,
        shift_id=None,
        cashier=Cashier(user_id=1, username="a", full_name="A", role=Role.CASHIER),
        completed_at=datetime.now(UTC),
    )
    assert [line.lot for line in event.lines] == ["OLD7", None]
    # A line without a lot does not carry the field: servers from before lots refuse it.
    wire = event.model_dump(mode="json")["lines"]
    assert wire[0]["lot"] == "OLD7" and "lot" not in wire[1]
