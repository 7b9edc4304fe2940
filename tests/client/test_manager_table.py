"""The back office's table model: what each cell shows, colours and hovers."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from pos_client.ui.manager.table import Column, RowsModel, as_money

WHY = "sells ~7/week (flat), lead time 7 days, safety stock 5"


def test_cells_show_formatted_values_and_long_ones_hover_in_full(qapp: QApplication) -> None:
    model = RowsModel(
        [
            Column("why", "Why"),
            Column("total", "Total", as_money, numeric=True),
            Column("status", "Status", status=True),
        ]
    )
    model.set_rows([{"why": WHY, "total": "1249.50", "status": "shipped"}, {"why": "x"}])
    tip = Qt.ItemDataRole.ToolTipRole
    assert model.data(model.index(0, 0), tip) == WHY
    assert model.data(model.index(1, 0), tip) is None  # short text fits its column
    assert model.data(model.index(0, 1)) == "₹1,249.50"
    aligned = model.data(model.index(0, 1), Qt.ItemDataRole.TextAlignmentRole)
    assert aligned & Qt.AlignmentFlag.AlignRight
    background = model.data(model.index(0, 2), Qt.ItemDataRole.BackgroundRole)
    assert background is not None and background.color().name() == "#e6effa"
