"""The business's settings as a typed form, generated from the one settings model.

Each setting of `common.tenant_settings.TenantSettings` gets the editor its type calls for
(a checkbox, a spin box, a list to pick from, a text box), its help text and range, and a
line under it where a refusal shows in red. Save checks every changed value with the same
`validate_setting` the server runs; if any is refused nothing is sent, and the server checks
each value again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import available_timezones

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from common.tenant_settings import (
    SettingRefused,
    TenantSettings,
    kind,
    setting_keys,
    validate_setting,
)
from pos_client.api.client import ApiClient, ApiError
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.widgets import button

# Settings picked from a list (still typeable, and checked like any other value).
CHOICES: dict[str, list[str]] = {
    "currency": ["INR", "USD", "EUR", "GBP", "AED", "SGD", "LKR", "NPR", "BDT"],
    "time_zone": sorted(available_timezones()),
}


_WORDS = {"po": "PO", "upi": "UPI", "vpa": "VPA", "sms": "SMS", "skus": "SKUs", "email": "e-mail"}


def title(key: str) -> str:
    """Return a setting's name for a person ("po_admin_approval_threshold" → "PO admin …")."""
    text = " ".join(_WORDS.get(word, word) for word in key.split("_"))
    return text[0].upper() + text[1:]


def _bounds(key: str) -> tuple[int, int]:
    low, high = 0, 2**31 - 1
    for rule in TenantSettings.model_fields[key].metadata:
        low = int(getattr(rule, "ge", low) if getattr(rule, "ge", None) is not None else low)
        high = int(getattr(rule, "le", high) if getattr(rule, "le", None) is not None else high)
    return low, high


class SettingField:
    """One setting's editor, help text and error line; reads and writes the JSON value."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.kind = kind(key)
        self.loaded: Any = None
        field = TenantSettings.model_fields[key]
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        self.editor: QWidget
        if self.kind == "true or false":
            self.editor = QCheckBox()
        elif self.kind == "a whole number":
            spin = QSpinBox()
            spin.setRange(*_bounds(key))
            spin.setFixedWidth(160)
            # The shop's style pads inputs for touch: the arrows would be squeezed to slivers.
            # Up/Down keys and the wheel still step it; typing is bounded by the range.
            spin.setButtonSymbols(QSpinBox.ButtonSymbols.NoButtons)
            self.editor = spin
        elif key in CHOICES:
            combo = QComboBox()
            combo.setEditable(True)
            combo.addItems(CHOICES[key])
            combo.setFixedWidth(320)
            self.editor = combo
        else:
            line = QLineEdit()
            if self.kind == "a decimal number as text":
                line.setFixedWidth(200)
            self.editor = line
        self.editor.setObjectName(f"Setting_{key}")
        self.description = words = field.description or ""
        if self.kind == "true or false" and words.startswith("true: "):
            words = "Ticked: " + words.removeprefix("true: ")
        if extra.get("range"):
            words += f" Allowed: {extra['range']}."
        self.help = QLabel(words)
        self.help.setObjectName("KeyHint")
        self.help.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("ErrorText")
        self.error.setWordWrap(True)
        self.error.hide()

    def show(self, value: Any) -> None:
        """Put the server's value in the editor."""
        self.loaded = value
        self.say("")
        editor = self.editor
        if isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        elif isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(json.dumps(value) if isinstance(value, dict) else str(value))

    def value(self) -> Any:
        """Return what the editor holds as the setting's JSON; ValueError for unreadable JSON."""
        editor = self.editor
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QSpinBox):
            return editor.value()
        text = editor.currentText() if isinstance(editor, QComboBox) else editor.text()  # type: ignore[attr-defined]
        text = text.strip()
        if self.kind.startswith("a dict"):
            try:
                value = json.loads(text or "{}")
            except ValueError:
                raise ValueError('write it as {"name": number, …}, e.g. {"read": 600}') from None
            if not isinstance(value, dict):
                raise ValueError('write it as {"name": number, …}, e.g. {"read": 600}')
            return value
        return text

    def changed(self) -> bool:
        """Tell whether the editor differs from what the server holds."""
        try:
            value = self.value()
        except ValueError:
            return True
        if self.kind == "a decimal number as text":
            try:
                return Decimal(str(value)) != Decimal(str(self.loaded))
            except ArithmeticError:
                return True
        return bool(value != self.loaded)

    def say(self, text: str) -> None:
        """Show a refusal in red under the editor, or hide the line."""
        # The help text is right above: the refusal need not repeat it, nor the raw key.
        if self.description and text.endswith(": " + self.description):
            text = text.removesuffix(": " + self.description) + "."
        text = text.replace(f"Setting '{self.key}'", title(self.key))
        self.error.setText(text)
        self.error.setVisible(bool(text))


class SettingsForm(QWidget):
    """Every setting with its own editor and help; Save sends the changed ones."""

    saved = Signal(list)

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.fields = {key: SettingField(key) for key in setting_keys()}
        body = QWidget()
        grid = QGridLayout(body)
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(2)
        for index, (key, item) in enumerate(self.fields.items()):
            row = index * 4
            label = QLabel(title(key))
            label.setToolTip(key)
            grid.addWidget(label, row, 0)
            if item.kind in ("text", "a dict (a JSON object)") and key not in CHOICES:
                grid.addWidget(item.editor, row, 1)  # text takes the row's width
            else:
                grid.addWidget(item.editor, row, 1, Qt.AlignmentFlag.AlignLeft)
            grid.addWidget(item.help, row + 1, 1)
            grid.addWidget(item.error, row + 2, 1)
            grid.setRowMinimumHeight(row + 3, 10)
        grid.setRowStretch(len(self.fields) * 4, 1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(body)
        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        self.message.setWordWrap(True)
        self.save_button = button("Save changes", role="primary", name="SaveSetting")
        self.save_button.clicked.connect(self.save)
        self.reload_button = button("Undo changes", name="ReloadSettings")
        self.reload_button.clicked.connect(self.load)
        bar = QHBoxLayout()
        bar.addWidget(self.message, 1)
        bar.addWidget(self.reload_button)
        bar.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scroll_area, 1)
        layout.addLayout(bar)
        self.loaded = False

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setObjectName("ErrorText" if error else "PageStatus")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setText(text)

    def load(self) -> None:
        """Ask the server for the settings and show them."""
        NetOp(lambda api: api.settings(), pool=self.ctx.pool, owner=self).success(
            self.show_values
        ).failure(lambda e: self._say(describe(e), error=True)).run()

    def show_values(self, settings: TenantSettings) -> None:
        """Fill every editor from the server's values, as they travel in JSON."""
        values = settings.model_dump(mode="json")
        for key, item in self.fields.items():
            if key in values:
                item.show(values[key])
        self.loaded = True
        self._say("")

    def save(self) -> None:
        """Check every changed setting as the server will; send them only if all pass."""
        changes: dict[str, Any] = {}
        refused: list[SettingField] = []
        for item in self.fields.values():
            item.say("")
            if not item.changed():
                continue
            try:
                changes[item.key] = validate_setting(item.key, item.value())
            except (SettingRefused, ValueError) as exc:
                item.say(
                    str(exc) if isinstance(exc, SettingRefused) else f"{title(item.key)}: {exc}"
                )
                refused.append(item)
        if refused:
            self._reveal(refused[0])
            self._say(
                f"Nothing was saved: {len(refused)} setting(s) refused, shown in red.", error=True
            )
            return
        if not changes:
            self._say("Nothing changed.")
            return
        self.save_button.setEnabled(False)
        self._say(f"Saving {len(changes)} setting(s)…")
        NetOp(self._sender(changes), pool=self.ctx.pool, owner=self).success(self._sent).failure(
            self._failed
        ).run()

    def _reveal(self, item: SettingField) -> None:
        """Scroll the first refused setting and its red words into view, and focus it."""
        item.editor.setFocus()
        self.scroll_area.ensureWidgetVisible(item.editor)
        # The red line is laid out on the next turn of the event loop.
        QTimer.singleShot(
            0, self.scroll_area, lambda: self.scroll_area.ensureWidgetVisible(item.error, 50, 20)
        )

    @staticmethod
    def _sender(changes: dict[str, Any]) -> Callable[[ApiClient], list[tuple[str, Any, str]]]:
        def send(api: ApiClient) -> list[tuple[str, Any, str]]:
            done: list[tuple[str, Any, str]] = []
            for key, value in changes.items():
                try:
                    answer = api.put_setting(key, value)
                    done.append((key, answer.value, ""))
                except ApiError as exc:
                    done.append((key, None, exc.detail))
            return done

        return send

    def _sent(self, done: list[tuple[str, Any, str]]) -> None:
        self.save_button.setEnabled(True)
        saved = [key for key, _, problem in done if not problem]
        for key, value, problem in done:
            if problem:
                self.fields[key].say(problem)
            else:
                self.fields[key].show(value)
        refused = [key for key, _, problem in done if problem]
        if refused:
            self._reveal(self.fields[refused[0]])
            self._say(
                f"The server refused {', '.join(map(title, refused))} (shown in red)"
                + (f"; saved {', '.join(map(title, saved))}." if saved else "; nothing saved."),
                error=True,
            )
        else:
            self._say(f"Saved {', '.join(map(title, saved))}.")
        self.saved.emit(saved)

    def _failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        self._say(describe(error), error=True)
