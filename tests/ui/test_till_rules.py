"""Rules the server syncs to the till (discount limit, credit offline) and role-aware approval."""

from __future__ import annotations

from decimal import Decimal

from pytestqt.qtbot import QtBot

from common.codes import Tender
from pos_client.launch import Till
from pos_client.services.demo import DEMO_PRODUCTS
from pos_client.services.queries import find_customers
from pos_client.store import documents
from pos_client.store.models import ReplicaRow, Setting
from pos_client.ui.till.dialogs import OverrideDialog

TEA, RICE = DEMO_PRODUCTS[3].barcode, DEMO_PRODUCTS[2].barcode


def test_synced_limits_apply_at_the_till(qtbot: QtBot, till: Till, sign_in, scan, settle) -> None:
    with till.store.transaction() as session:
        session.add(Setting(key="till_max_discount_percent", value="5"))
        session.add(Setting(key="till_offline_credit_allowed", value=False))
    sign_in()
    window = till.window
    assert window.cart.max_discount_percent == Decimal("5")
    scan(TEA)
    window.sales.discount(order=False)
    window.dialog.value.setText("8%")  # within the config's 10%, beyond the server's 5%
    window.dialog.submitted.emit("8%")
    qtbot.waitUntil(lambda: window.findChild(OverrideDialog) is not None, timeout=2000)
    assert window.cart.lines[0].discount == 0
    window.findChild(OverrideDialog).reject()

    with till.store.session() as session:
        window.cart.set_customer(find_customers(session, "Meera")[0])
    window.sales.pay()
    dialog = window.dialog
    dialog.tender_buttons[Tender.ACCOUNT].click()
    dialog.add_payment()
    assert dialog.error.text() == ("Selling on account needs the server, and this till is offline")
    assert dialog.payments == []


def test_manager_at_the_till_approves_own_discount(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    sign_in("ravi")
    window = till.window
    scan(RICE)
    window.sales.discount(order=True)
    window.dialog.submitted.emit("20%")
    assert window.findChild(OverrideDialog) is None
    assert window.cart.order_discount == Decimal("129.80")
    assert [(o.action, o.manager_id) for o in window.cart.overrides] == [("order_discount", 2)]


def test_the_till_names_the_shop_and_branch_from_the_synced_profile(
    qtbot: QtBot, till: Till, sign_in
) -> None:
    with till.store.transaction() as session:
        session.add(Setting(key="trade_name", value="Demo Kirana"))
        state = documents.get_state(session)
        state.branch_id = 7
        session.add(
            ReplicaRow(entity="branch", key="7", data={"id": 7, "name": "Andheri", "gstin": ""})
        )
    sign_in()
    window = till.window
    qtbot.waitUntil(lambda: window.shop_label.text() == "Demo Kirana · Andheri", timeout=3000)
    assert window.windowTitle() == "StockPilot Till · Demo Kirana · Andheri"
