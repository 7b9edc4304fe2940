"""Stock count in the manager window at 1366×768: quantities, zero the uncounted, review, post."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.factories import World
from tests.ui.manager_support import TIMEOUT, eventually, wait_loaded
from tests.ui.test_manager_documents import _laptop, _on_hand, _shot, _stock_in

LEFT = Qt.MouseButton.LeftButton


def test_count_with_quantities_zeroes_the_uncounted_after_review_and_posts(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    main, west = world.a.branch_ids[:2]
    p0, p1, p2 = world.a.product_ids
    codes = [admin.get(f"products/{p}").json()["barcodes"][0] for p in (p0, p1)]
    for product_id in (p0, p1, p2):
        _stock_in(admin, branch_id=main, product_id=product_id, quantity="20")
    _stock_in(admin, branch_id=west, product_id=p2, quantity="7")
    window = open_window("admin", start="stock")
    _laptop(window)
    page = window.open_screen("stock")
    page.branch.setCurrentIndex(page.branch.findData(main))
    wait_loaded(qtbot, page.levels)
    qtbot.mouseClick(page.count_button, LEFT)
    count = page.dialog
    qtbot.waitUntil(lambda: count.count is not None, timeout=TIMEOUT)
    for code, quantity in ((codes[0], "15"), (codes[1], "20")):
        entries = len(count.entries)
        count.quantity.setText(quantity)
        count.scan.setText(code)
        qtbot.keyClick(count.scan, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda e=entries: len(count.entries) == e + 1, timeout=TIMEOUT)

    # Someone else has p2 on another open count of the branch: the scope is unclear.
    other = admin.post("counts", json={"branch_id": main}).json()["id"]
    admin.post(f"counts/{other}/lines", json={"product_id": p2, "quantity": "3"})
    qtbot.mouseClick(count.post_button, LEFT)
    qtbot.waitUntil(lambda: count.review is not None and count.review.isVisible(), timeout=TIMEOUT)
    review = count.review
    review.zero_box.setChecked(True)
    qtbot.waitUntil(lambda: review.zero_message.objectName() == "ErrorText", timeout=TIMEOUT)
    assert f"count {other}" in review.zero_message.text()
    assert not review.zero_box.isChecked() and review.ok_button.isEnabled()
    assert "keep their stock" in review.intro.text()
    review.reject()
    count.review = None

    # Once the other sheet is empty the option lists what it will zero, and posts it.
    assert admin.delete(f"counts/{other}/lines/{p2}").status_code == 200
    qtbot.mouseClick(count.post_button, LEFT)
    qtbot.waitUntil(lambda: count.review is not None and count.review.isVisible(), timeout=TIMEOUT)
    review = count.review
    review.zero_box.setChecked(True)
    qtbot.waitUntil(lambda: "Scope:" in review.zero_message.text(), timeout=TIMEOUT)
    assert review.zero_message.objectName() == "PageStatus"
    assert "all categories" in review.zero_message.text()
    rows = {r.line.product_id: r.line.difference for r in review.model.rows}
    assert rows == {p0: -5, p2: -20}
    assert "1 product(s) not counted will be set to zero" in review.intro.text()
    assert review.ok_button.text() == "Post and zero 1 uncounted"
    _shot(review, "count-review-zero")
    assert _on_hand(admin, branch_id=main, product_id=p2) == 20  # nothing moved yet
    qtbot.mouseClick(review.ok_button, LEFT)
    qtbot.waitUntil(lambda: "Posted" in count.status.text(), timeout=TIMEOUT)
    eventually(
        qtbot,
        lambda: (
            [_on_hand(admin, branch_id=main, product_id=p) for p in (p0, p1, p2)] == [15, 20, 0]
        ),
    )
    assert _on_hand(admin, branch_id=west, product_id=p2) == 7
    moves = admin.get(
        "stock/movements", params={"branch_id": main, "product_id": p2, "limit": 10}
    ).json()["items"]
    assert [(m["code"], Decimal(m["quantity"])) for m in moves if m["code"] == "count"] == [
        ("count", Decimal(-20))
    ]


def test_a_category_count_zeroes_only_its_category(open_window, qtbot: QtBot, world: World) -> None:
    admin = world.api("admin")
    main = world.a.branch_ids[0]
    p0, p1, p2 = world.a.product_ids
    dairy = admin.post("categories", json={"name": "Dairy"}).json()["id"]
    for product_id in (p0, p1):
        assert admin.patch(f"products/{product_id}", json={"category_id": dairy}).status_code == 200
    for product_id in (p0, p1, p2):
        _stock_in(admin, branch_id=main, product_id=product_id, quantity="20")
    code = admin.get(f"products/{p0}").json()["barcodes"][0]
    window = open_window("admin", start="stock")
    _laptop(window)
    page = window.open_screen("stock")
    page.branch.setCurrentIndex(page.branch.findData(main))
    wait_loaded(qtbot, page.levels)
    qtbot.mouseClick(page.count_button, LEFT)
    count = page.dialog
    qtbot.waitUntil(lambda: count.count is not None and count.scope.count() > 1, timeout=TIMEOUT)
    count.scope.setCurrentIndex(count.scope.findData(dairy))
    qtbot.waitUntil(lambda: count.count.category_id == dairy, timeout=TIMEOUT)
    count.quantity.setText("5")
    count.scan.setText(code)
    qtbot.keyClick(count.scan, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(count.entries) == 1, timeout=TIMEOUT)
    assert not count.scope.isEnabled()  # the scope is fixed once something is counted

    qtbot.mouseClick(count.post_button, LEFT)
    qtbot.waitUntil(lambda: count.review is not None and count.review.isVisible(), timeout=TIMEOUT)
    review = count.review
    review.zero_box.setChecked(True)
    qtbot.waitUntil(lambda: "Scope:" in review.zero_message.text(), timeout=TIMEOUT)
    assert "category Dairy" in review.zero_message.text()
    assert {r.line.product_id for r in review.model.rows} == {p0, p1}
    qtbot.mouseClick(review.ok_button, LEFT)
    qtbot.waitUntil(lambda: "Posted" in count.status.text(), timeout=TIMEOUT)
    eventually(
        qtbot,
        lambda: [_on_hand(admin, branch_id=main, product_id=p) for p in (p0, p1, p2)] == [5, 0, 20],
    )
