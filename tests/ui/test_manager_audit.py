"""The audit log screen against a real server: entries listed, the chain verified and broken."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select, update

from sync_server.audit.models import AuditEntry
from tests.factories import World
from tests.ui.manager_support import TIMEOUT, wait_loaded


def test_the_chain_verifies_until_an_entry_is_edited_behind_the_server(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    branch = world.a.branch_ids[0]
    for quantity in ("2", "3"):
        answer = admin.post(
            "stock/adjustments",
            json={
                "branch_id": branch,
                "product_id": world.a.product_ids[0],
                "quantity": quantity,
                "reason": "found",
            },
        )
        assert answer.status_code == 201, answer.text

    window = open_window("admin", start="audit")
    page = window.open_screen("audit")
    wait_loaded(qtbot, page.table)
    assert page.table.total >= 2
    qtbot.mouseClick(page.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Chain intact" in page.verify_result.text(), timeout=TIMEOUT)
    assert page.verify_result.objectName() == "VerifyOk"

    # Someone with database access turns an adjustment of 2 into one of 20.
    with world.engine.begin() as conn:
        seq, after = conn.execute(
            select(AuditEntry.seq, AuditEntry.after)
            .where(AuditEntry.tenant_id == world.a.id, AuditEntry.seq.is_not(None))
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).one()
        conn.execute(
            update(AuditEntry)
            .where(AuditEntry.tenant_id == world.a.id, AuditEntry.seq == seq)
            .values(after={**after, "quantity": "20"})
        )
    qtbot.mouseClick(page.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "broken" in page.verify_result.text(), timeout=TIMEOUT)
    assert page.verify_result.objectName() == "VerifyBroken"
    assert f"entry {seq}" in page.verify_result.text()
