"""The till window prices scans with the engine; the receipt says what was saved and why."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from common.schemas.pricing import PromotionIn
from common.sync.protocol import ChangeOp, PulledChange
from pos_client.launch import Till
from pos_client.printing.receipt import render_text
from pos_client.services.demo import DEMO_PRODUCTS
from pos_client.store import replica
from pos_client.ui.till.payment import PaymentDialog

IST = timezone(timedelta(hours=5, minutes=30))
WEDNESDAY_1730 = datetime(2026, 12, 2, 17, 30, tzinfo=IST)
TEA = DEMO_PRODUCTS[3]  # ₹165, product 4
COKE = DEMO_PRODUCTS[11]  # ₹40, product 12
RULES = (
    PromotionIn(name="Tea 2+1", kind="buy_x_get_y", product_ids=[4], buy_qty=2, get_qty=1),
    PromotionIn(
        name="Happy hour Coke",
        kind="percent_off",
        percent=Decimal("25"),
        product_ids=[12],
        window={"weekdays": [0, 1, 2, 3, 4], "time_from": "17:00", "time_to": "19:00"},
    ),
)


def _pull_rules(till: Till) -> None:
    """Put the promotions in the replica as a pull from the server would."""
    changes = [
        PulledChange(
            entity="promotion",
            key=str(n),
            op=ChangeOp.UPSERT,
            data={"id": n, "name": r.name, "spec": r.model_dump(mode="json", exclude={"name"})},
        )
        for n, r in enumerate(RULES, start=1)
    ]
    with till.store.transaction() as session:
        replica.apply_changes(session, changes)


def test_scans_get_the_promotions_and_the_receipt_says_what_was_saved(
    qtbot: QtBot, till: Till, sign_in, scan, settle, printer_file: Path
) -> None:
    _pull_rules(till)
    sign_in()
    window = till.window
    qtbot.waitUntil(lambda: window.cart.pricing is not None, timeout=5000)
    window.cart.pricing.clock = lambda: WEDNESDAY_1730  # in the happy hour, on the shop's clock
    for code in (TEA.barcode, TEA.barcode, TEA.barcode, COKE.barcode):
        scan(code)
    assert [(r.name, r.quantity) for r in window.sale_screen.cart_model.rows] == [
        (TEA.name, Decimal(3)),
        (COKE.name, Decimal(1)),
    ]
    # 3 teas, one free (330) + a Coke at 25 % off (30).
    assert window.sale_screen.totals.total.text() == "₹360.00"

    window.activateWindow()
    qtbot.keyClick(window.sale_screen.search, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: isinstance(window.dialog, PaymentDialog), timeout=2000)
    dialog = window.dialog
    dialog.amount.setText("500")
    qtbot.keyClick(dialog.amount, Qt.Key.Key_Return)
    with qtbot.waitSignal(till.receipts.queue.job_done, timeout=5000):
        if window.last_sale is None:  # Enter on an amount that covers the sale completes it
            dialog.complete.click()
        qtbot.waitUntil(lambda: window.last_sale is not None, timeout=5000)
    settle()

    receipt = window.last_sale.receipt
    assert receipt.total == Decimal("360.00")
    assert receipt.savings == (
        ("Happy hour Coke", Decimal("10.00")),
        ("Tea 2+1", Decimal("165.00")),
    )
    text = "\n".join(render_text(receipt))
    assert "YOU SAVED" in text and "175.00" in text
    printed = printer_file.read_bytes()
    assert b"YOU SAVED" in printed and b"Tea 2+1" in printed


def test_a_coupon_typed_at_the_till(qtbot: QtBot, till: Till, sign_in, scan, settle) -> None:
    coupon = PromotionIn(
        name="Save ₹20", kind="basket_amount", amount=Decimal("20"), coupon_code="SAVE20"
    )
    with till.store.transaction() as session:
        replica.apply_changes(
            session,
            [
                PulledChange(
                    entity="promotion",
                    key="9",
                    op=ChangeOp.UPSERT,
                    data={
                        "id": 9,
                        "name": coupon.name,
                        "spec": coupon.model_dump(mode="json", exclude={"name"}),
                    },
                )
            ],
        )
    sign_in()
    window = till.window
    qtbot.waitUntil(lambda: window.cart.pricing is not None, timeout=5000)
    scan(TEA.barcode)
    window.run_action("coupon")
    dialog = window.dialog
    dialog.value.setText("NOPE1")
    qtbot.mouseClick(dialog.findChild(QPushButton, "OkButton"), Qt.MouseButton.LeftButton)
    assert "not valid" in dialog.error.text() and dialog.isVisible()
    dialog.value.setText("save20")
    qtbot.mouseClick(dialog.findChild(QPushButton, "OkButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)
    assert window.sale_screen.totals.total.text() == "₹145.00"
    assert "Coupon SAVE20 applied" in window.sale_screen.notice.text()
    assert window.cart.used_coupons() == ["SAVE20"]
