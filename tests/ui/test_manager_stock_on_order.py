"""The Stock screen shows what open purchase orders bring next to on hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.factories import World
from tests.ui.manager_support import reload_until, wait_loaded


def test_levels_show_on_order_and_due_date(open_window, qtbot: QtBot, world: World) -> None:
    admin, buyer = world.api("admin"), world.api("purchase_admin")
    branch_id, (stocked, other, _) = world.a.branch_ids[0], world.a.product_ids
    for product_id in (stocked, other):
        r = admin.post(
            "stock/adjustments",
            json={
                "branch_id": branch_id,
                "product_id": product_id,
                "quantity": "4",
                "reason": "found",
            },
        )
        assert r.status_code == 201, r.text
    due = (datetime.now(UTC).date() + timedelta(days=4)).isoformat()
    supplier = buyer.post("suppliers", json={"name": "Acme"}).json()
    po = buyer.post(
        "purchase-orders",
        json={
            "supplier_id": supplier["id"],
            "branch_id": branch_id,
            "expected_date": due,
            "lines": [{"product_id": stocked, "quantity": "12", "unit_cost": "1.00"}],
        },
    ).json()
    assert buyer.post(f"purchase-orders/{po['id']}/submit").status_code == 200
    assert world.api("manager").post(f"purchase-orders/{po['id']}/approve").status_code == 200

    window = open_window("manager", start="stock")
    page = window.open_screen("stock")
    page.branch.setCurrentIndex(page.branch.findData(branch_id))
    wait_loaded(qtbot, page.levels)
    reload_until(qtbot, page.levels, lambda rows: any(r.product_id == stocked for r in rows))
    model = page.levels.model
    keys = [c.key for c in model.columns]
    headers = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(len(keys))]
    assert headers[keys.index("on_order")] == "On order"

    def cell(product_id: int, key: str) -> str:
        row = next(i for i, r in enumerate(model.rows) if r.product_id == product_id)
        return model.data(model.index(row, keys.index(key)), Qt.ItemDataRole.DisplayRole)

    assert (cell(stocked, "on_hand"), cell(stocked, "on_order")) == ("4", "12")
    assert cell(stocked, "expected_at") == due
    # Nothing on the way: the cells stay blank rather than showing a wall of zeros.
    assert (cell(other, "on_order"), cell(other, "expected_at")) == ("", "")
