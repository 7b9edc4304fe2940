"""Admin → Settings as a typed form at 1366×768 against a live server: save, and refuse in red."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from common.tenant_settings import setting_keys
from tests.factories import World
from tests.ui.manager_support import TIMEOUT
from tests.ui.test_manager_documents import _laptop, _shot

LEFT = Qt.MouseButton.LeftButton


def test_settings_form_saves_typed_changes_and_refuses_a_bad_value_in_red(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    window = open_window("admin", start="admin")
    _laptop(window)
    page = window.pages["admin"]
    labels = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    page.tabs.setCurrentIndex(labels.index("Settings"))
    form = page.settings
    qtbot.waitUntil(lambda: form.loaded, timeout=TIMEOUT)

    # One editor per setting of the shared model, of the setting's type, with its help.
    assert list(form.fields) == setting_keys()
    fields = form.fields
    assert isinstance(fields["allow_over_receipt"].editor, QCheckBox)
    assert isinstance(fields["order_reservation_minutes"].editor, QSpinBox)
    assert fields["order_reservation_minutes"].editor.maximum() == 7 * 24 * 60
    assert isinstance(fields["time_zone"].editor, QComboBox)
    assert isinstance(fields["receipt_footer"].editor, QLineEdit)
    assert fields["time_zone"].editor.currentText() == "Asia/Kolkata"
    assert "Allowed: 0 to 100" in fields["till_max_discount_percent"].help.text()
    assert all(f.help.text() for f in fields.values())

    # Good changes of three types are saved and the server holds them.
    fields["allow_over_receipt"].editor.setChecked(True)
    fields["order_reservation_minutes"].editor.setValue(45)
    fields["till_max_discount_percent"].editor.setText("12.5")
    qtbot.mouseClick(form.save_button, LEFT)
    qtbot.waitUntil(lambda: form.message.text().startswith("Saved"), timeout=TIMEOUT)
    assert form.message.objectName() == "PageStatus"
    held = admin.get("settings").json()
    assert held["allow_over_receipt"] is True and held["order_reservation_minutes"] == 45
    assert Decimal(held["till_max_discount_percent"]) == Decimal("12.5")

    # A bad value and a good one together: the bad one is red under its field, nothing is sent.
    fields["receipt_footer"].editor.setText("Visit again")
    fields["till_max_discount_percent"].editor.setText("150")
    fields["time_zone"].editor.setCurrentText("Mars/Olympus")
    qtbot.mouseClick(form.save_button, LEFT)
    assert form.message.objectName() == "ErrorText"
    assert form.message.text() == "Nothing was saved: 2 setting(s) refused, shown in red."
    discount, zone = fields["till_max_discount_percent"], fields["time_zone"]
    assert discount.error.isVisibleTo(form) and "0 to 100" in discount.error.text()
    assert zone.error.isVisibleTo(form) and "is not a time zone" in zone.error.text()
    assert zone.error.objectName() == "ErrorText"
    assert discount.error.text().startswith("Till max discount percent must be 0 to 100")
    qtbot.wait(50)  # the red words scroll into view on the next turn of the event loop
    assert not fields["receipt_footer"].error.isVisibleTo(form)
    _shot(window, "manager-settings-refused")
    held = admin.get("settings").json()
    assert held["receipt_footer"] != "Visit again"
    assert Decimal(held["till_max_discount_percent"]) == Decimal("12.5")
    assert held["time_zone"] == "Asia/Kolkata"

    # Fixed, the same Save goes through.
    discount.editor.setText("15")
    zone.editor.setCurrentText("Europe/London")
    qtbot.mouseClick(form.save_button, LEFT)
    qtbot.waitUntil(lambda: form.message.text().startswith("Saved"), timeout=TIMEOUT)
    assert not discount.error.isVisibleTo(form)
    held = admin.get("settings").json()
    assert (held["receipt_footer"], held["time_zone"]) == ("Visit again", "Europe/London")
    assert Decimal(held["till_max_discount_percent"]) == 15
