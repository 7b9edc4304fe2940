"""Screens refresh from what commands and sync cycles say they changed, not from a timer.

Every timer the till window owns is stopped before the command runs, so nothing polling the
store could have refreshed the screen: only the change the command published did.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from common import giftcards as numbers
from pos_client.launch import Till
from pos_client.services.changes import OpChanges, pulled
from pos_client.services.demo import DEMO_PRODUCTS
from pos_client.store import outbox
from pos_client.store.models import StockLevel
from pos_client.ui.till.payment import PaymentDialog
from pos_client.ui.till.program_dialogs import SellCardDialog

MILK, BREAD = (p.barcode for p in DEMO_PRODUCTS[:2])


def stop_timers(till: Till) -> int:
    """Stop every timer the till window owns (the clock too); return how many ran."""
    running = [t for t in till.window.findChildren(QTimer) if t.isActive()]
    for timer in running:
        timer.stop()
    return len(running)


def stored_pending(till: Till) -> int:
    with till.store.session() as session:
        return outbox.pending_count(session)


def heard(till: Till) -> list[OpChanges]:
    seen: list[OpChanges] = []
    till.window.ctx.changes.changed.connect(seen.append)
    return seen


def test_a_completed_sale_updates_the_pending_count_with_no_timer_running(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    sign_in()
    scan(MILK)
    scan(BREAD)
    window = till.window
    before = window.sync_status.pending
    assert before == stored_pending(till) and before > 0  # the shift's opening is queued
    changes = heard(till)
    assert stop_timers(till) >= 1
    window.sales.pay()
    qtbot.waitUntil(lambda: isinstance(window.dialog, PaymentDialog), timeout=3000)
    payment = window.dialog
    sold = window.last_sale
    payment.amount.setText("500")
    qtbot.keyClick(payment.amount, Qt.Key.Key_Return)
    assert payment.complete.isEnabled()
    payment.complete.click()
    qtbot.waitUntil(lambda: window.last_sale is not sold, timeout=5000)
    settle()
    assert window.sync_status.pending == before + 1 == stored_pending(till)
    assert changes and changes[0].sale and changes[0].outbox and changes[0].stock


def test_a_gift_card_sold_updates_the_pending_count_with_no_timer_running(
    qtbot: QtBot, till: Till, sign_in, settle
) -> None:
    # Selling a card never asked for the count: only the 3-second poll used to show it.
    sign_in()
    window = till.window
    before = window.sync_status.pending
    stop_timers(till)
    window.programs.run_program_action("sell_card")
    qtbot.waitUntil(lambda: isinstance(window.dialog, SellCardDialog), timeout=3000)
    sell = window.dialog
    sell.number.setText(numbers.new_number())
    sell.amount.setText("500")
    sell.submit()
    qtbot.waitUntil(lambda: not sell.isVisible(), timeout=3000)
    settle()
    # The card and the cash it put in the drawer: two events.
    assert window.sync_status.pending == before + 2 == stored_pending(till)


def test_pulled_stock_refreshes_the_search_results_shown(
    qtbot: QtBot, till: Till, sign_in, settle
) -> None:
    sign_in()
    screen = till.window.sale_screen
    screen.search.setText("basmati ri")
    qtbot.waitUntil(lambda: [i.sku for i in screen.results_model.items] == ["RICE-5KG"])
    item = screen.results_model.items[0]
    assert item.on_hand == Decimal("3")
    stop_timers(till)
    # What a pull does: the stock level changes in the store, and the sync worker says so
    # (the composition root connects SyncWorker.changed to ctx.changes.publish).
    with till.store.transaction() as session:
        session.get(StockLevel, item.product_id).on_hand = Decimal("40")
    till.window.ctx.changes.publish(pulled({"stock_level"}))
    qtbot.waitUntil(lambda: screen.results_model.items[0].on_hand == Decimal("40"))
    settle()


def test_nothing_changed_is_not_published(till: Till) -> None:
    changes = heard(till)
    till.window.ctx.changes.publish(OpChanges())
    till.window.ctx.changes.publish(pulled(set()))
    assert changes == []
    assert pulled({"product", "stock"}) == OpChanges(catalog=True, stock=True)
    assert pulled({"customer"}) | OpChanges(outbox=True) == OpChanges(customer=True, outbox=True)
