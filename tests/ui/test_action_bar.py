"""The back office's ActionBar: controls flow onto more rows when narrow, and the height it
reports follows every change of its controls (it keeps heights between layout passes)."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton, QWidget

from pos_client.ui.manager.widgets import ActionBar


def test_the_height_follows_width_hidden_shown_and_resized_controls(qtbot):
    page = QWidget()
    qtbot.addWidget(page)
    bar = ActionBar()
    page.setLayout(bar)
    buttons = [bar.add(QPushButton(f"Action {n}")) for n in range(4)]
    bar.addStretch()
    one = buttons[0].sizeHint()
    row = one.height()
    wide = sum(b.sizeHint().width() for b in buttons) + 3 * bar.spacing()

    assert bar.heightForWidth(wide) == row
    narrow = bar.heightForWidth(one.width())  # one control per row
    assert narrow == 4 * row + 3 * bar.spacing()
    assert bar.heightForWidth(wide) == row  # asked again: the same answer

    for button in buttons[1:]:
        button.hide()
    assert bar.heightForWidth(one.width() + 50) == row
    buttons[3].show()
    assert bar.heightForWidth(one.width() + 50) == 2 * row + bar.spacing()

    # A control whose text grows takes more width: the row it fitted in no longer holds both.
    buttons[3].setText("Action 3 with a much longer label")
    both = one.width() + bar.spacing() + buttons[3].sizeHint().width()
    assert bar.heightForWidth(both) == row
    buttons[0].setText("Action 0 with an even much longer label than that")
    assert bar.heightForWidth(both) == 2 * row + bar.spacing()
