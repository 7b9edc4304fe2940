"""Documents that close their loop, driven in the manager window at 1366×768 on a live server."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from common.schemas.inventory import StockLevelRead
from tests.factories import World
from tests.ui.manager_support import (
    TIMEOUT,
    accept_dialog,
    eventually,
    reload_until,
    select_row,
    wait_loaded,
)

LONG_NAME = "Basmati Rice Premium Aged Extra Long Grain 5 kg Pouch"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def _shot(widget, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}.png"))


def _laptop(window) -> None:
    window.resize(1366, 768)


def _on_hand(api, *, branch_id: int, product_id: int) -> Decimal:
    rows = api.get("stock/levels", params={"branch_id": branch_id, "product_id": product_id}).json()
    return Decimal(rows["items"][0]["on_hand"]) if rows["items"] else Decimal(0)


def _find_and_add(qtbot: QtBot, form, text: str, product_id: int) -> None:
    """Type into a form's product search, wait for the answer and pick the matching product."""
    picker = form.picker
    picker.search.setText(text)
    picker.look_up(text)  # the box also asks by itself after a pause; ask now
    qtbot.waitUntil(lambda: picker.item_for(product_id) is not None, timeout=TIMEOUT)
    picker.results.itemActivated.emit(picker.item_for(product_id))


def _stock_in(api, *, branch_id: int, product_id: int, quantity: str) -> None:
    response = api.post(
        "stock/receipts",
        json={
            "branch_id": branch_id,
            "lines": [{"product_id": product_id, "quantity": quantity, "unit_cost": "5.00"}],
        },
    )
    assert response.status_code == 201, response.text


def _level_row(page, product_id: int) -> StockLevelRead | None:
    return next((r for r in page.levels.model.rows if r.product_id == product_id), None)


def test_multi_line_transfer_dispatched_and_received_with_a_discrepancy(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    main, west = world.a.branch_ids[0], world.a.branch_ids[1]
    p0, p1, p2 = world.a.product_ids
    for product_id in (p0, p1, p2):
        _stock_in(admin, branch_id=main, product_id=product_id, quantity="94")
    window = open_window("admin", start="stock")
    _laptop(window)
    page = window.open_screen("stock")
    page.branch.setCurrentIndex(page.branch.findData(main))
    reload_until(qtbot, page.levels, lambda rows: _level_row(page, p0) is not None)
    page.tabs.setCurrentIndex(1)
    wait_loaded(qtbot, page.transfers)
    qtbot.mouseClick(page.new_transfer_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert dialog.source.currentData() == main
    dialog.destination.setCurrentIndex(dialog.destination.findData(west))
    for text, product_id in (("ADMIN-0", p0), ("Product 1 of admin", p1), ("ADMIN-2", p2)):
        _find_and_add(qtbot, dialog, text, product_id)
    assert dialog.table.rowCount() == 3
    dialog.set_quantity(0, "10")
    dialog.set_quantity(1, "abc")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.error.isVisible() and "Product 1 of admin" in dialog.error.text()
    dialog.set_quantity(1, "6")
    dialog.set_quantity(2, "4")
    _shot(dialog, "transfer-new")
    accept_dialog(qtbot, dialog)
    transfer = dialog.result_value
    assert len(transfer.lines) == 3

    reload_until(qtbot, page.transfers, lambda rows: any(r.id == transfer.id for r in rows))
    select_row(page.transfers, lambda r: r.id == transfer.id)
    qtbot.mouseClick(page.dispatch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "dispatched" in page.transfer_message.text(), timeout=TIMEOUT)
    # The levels follow the dispatch without being asked.
    reload_until(qtbot, page.levels, lambda rows: _level_row(page, p0).on_hand == Decimal(84))

    reload_until(
        qtbot,
        page.transfers,
        lambda rows: any(r.id == transfer.id and r.status == "dispatched" for r in rows),
    )
    select_row(page.transfers, lambda r: r.id == transfer.id)
    page.dialog = None
    qtbot.mouseClick(page.receive_transfer_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible(), timeout=TIMEOUT)
    receive = page.dialog
    names = [receive.table.item(r, 0).text() for r in range(3)]
    assert names == ["Product 0 of admin", "Product 1 of admin", "Product 2 of admin"]
    receive.set_arrived(0, "11")  # more than was sent: refused in the form
    qtbot.mouseClick(receive.ok_button, Qt.MouseButton.LeftButton)
    assert receive.error.isVisible()
    receive.set_arrived(0, "10")
    receive.set_arrived(1, "5")  # one went missing on the way
    receive.set_arrived(2, "4")
    receive.close_box.setChecked(True)
    _shot(receive, "transfer-receive")
    accept_dialog(qtbot, receive)
    assert receive.result_value.status == "closed"
    qtbot.waitUntil(lambda: "never arrived" in page.transfer_message.text(), timeout=TIMEOUT)
    assert page.tabs.currentIndex() == 1  # said where the user is looking
    got = admin.get(f"transfers/{transfer.id}").json()
    assert [Decimal(x["discrepancy"]) for x in got["lines"]] == [0, 1, 0]
    eventually(
        qtbot,
        lambda: [_on_hand(admin, branch_id=west, product_id=p) for p in (p0, p1, p2)] == [10, 5, 4],
    )
    assert _on_hand(admin, branch_id=main, product_id=p1) == 88

    # A failure shows in red on the Transfers tab: this one is closed and cannot be sent again.
    reload_until(
        qtbot,
        page.transfers,
        lambda rows: any(r.id == transfer.id and r.status == "closed" for r in rows),
    )
    select_row(page.transfers, lambda r: r.id == transfer.id)
    qtbot.mouseClick(page.dispatch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.transfer_message.objectName() == "ErrorText", timeout=TIMEOUT)
    assert "dispatched already" in page.transfer_message.text()


def test_count_with_quantities_undo_and_a_reviewed_post(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    main = world.a.branch_ids[0]
    p0, p1, p2 = world.a.product_ids
    codes = [admin.get(f"products/{p}").json()["barcodes"][0] for p in (p0, p1, p2)]
    for product_id in (p0, p1, p2):
        _stock_in(admin, branch_id=main, product_id=product_id, quantity="20")
    window = open_window("admin", start="stock")
    _laptop(window)
    page = window.open_screen("stock")
    page.branch.setCurrentIndex(page.branch.findData(main))
    wait_loaded(qtbot, page.levels)
    qtbot.mouseClick(page.count_button, Qt.MouseButton.LeftButton)
    count = page.dialog
    qtbot.waitUntil(lambda: count.count is not None, timeout=TIMEOUT)

    def enter(code: str, quantity: str | None = None) -> None:
        entries = len(count.entries)
        if quantity is not None:
            count.quantity.setText(quantity)
        count.scan.setText(code)
        qtbot.keyClick(count.scan, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: len(count.entries) == entries + 1, timeout=TIMEOUT)

    def counted() -> dict[int, Decimal]:
        return {r.product_id: r.counted for r in count.model.rows}

    enter(codes[0], "18")
    assert count.quantity.text() == "1"  # back to one for the next scan
    enter(codes[0])  # one more of the same
    enter(codes[1], "25")
    enter(codes[2], "7")  # a slip: undone below
    assert counted() == {p0: 19, p1: 25, p2: 7}
    qtbot.mouseClick(count.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p2 not in counted(), timeout=TIMEOUT)
    qtbot.mouseClick(count.undo_button, Qt.MouseButton.LeftButton)  # the 25 goes too
    qtbot.waitUntil(lambda: p1 not in counted(), timeout=TIMEOUT)
    enter(codes[1], "22")
    qtbot.mouseClick(count.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p1 not in counted(), timeout=TIMEOUT)
    qtbot.mouseClick(count.undo_button, Qt.MouseButton.LeftButton)  # the "+1" on p0
    qtbot.waitUntil(lambda: counted() == {p0: 18}, timeout=TIMEOUT)
    enter(codes[1], "22")
    count.quantity.setText("two")
    count.scan.setText(codes[2])
    qtbot.keyClick(count.scan, Qt.Key.Key_Return)
    assert count.status.objectName() == "ErrorText" and "Quantity" in count.status.text()
    assert counted() == {p0: 18, p1: 22}
    _shot(count, "count")

    # Nothing moves until the review is confirmed; "Keep counting" posts nothing.
    qtbot.mouseClick(count.post_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: count.review is not None and count.review.isVisible(), timeout=TIMEOUT)
    review = count.review
    rows = {r.line.product_id: r.line.difference for r in review.model.rows}
    assert rows == {p0: -2, p1: 2}
    _shot(review, "count-review")
    review.reject()
    assert _on_hand(admin, branch_id=main, product_id=p0) == 20
    count.review = None
    qtbot.mouseClick(count.post_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: count.review is not None and count.review.isVisible(), timeout=TIMEOUT)
    qtbot.mouseClick(count.review.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Posted" in count.status.text(), timeout=TIMEOUT)
    eventually(
        qtbot,
        lambda: (
            [_on_hand(admin, branch_id=main, product_id=p) for p in (p0, p1, p2)] == [18, 22, 20]
        ),
    )
    count.accept()
    reload_until(qtbot, page.levels, lambda rows: _level_row(page, p0).on_hand == Decimal(18))
