"""The Reports screen against a real server: every report run, exported three ways, at 1366×768."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import QDate, Qt
from pytestqt.qtbot import QtBot

from pos_client.ui.manager.reports import REPORTS
from tests.factories import World
from tests.server.test_reports_ops import till_world  # noqa: F401, F811 - a fixture
from tests.ui.manager_support import TIMEOUT

LEFT = Qt.MouseButton.LeftButton
LAPTOP = (1366, 768)


def _run(qtbot: QtBot, page, name: str) -> None:
    page.select(name)
    qtbot.waitUntil(lambda: not page.loading, timeout=TIMEOUT)
    assert page.last_error == "", page.last_error
    assert page.report is not None and page.report["report"] == name


def _export(qtbot: QtBot, page, fmt: str, target: Path) -> None:
    page.ask_export_path = lambda suggested, f: target
    qtbot.mouseClick(page.export_buttons[fmt], LEFT)
    # While the server renders, the buttons wait and a progress bar runs.
    assert page.progress.isVisibleTo(page) and not page.export_buttons["pdf"].isEnabled()
    qtbot.waitUntil(lambda: not page.exporting, timeout=TIMEOUT * 3)
    assert page.last_error == "", page.last_error
    assert page.last_export == target and not page.progress.isVisibleTo(page)


@pytest.mark.usefixtures("till_world")
def test_every_report_runs_and_exports_as_csv_xlsx_and_pdf_on_a_laptop_screen(
    open_window,
    qtbot: QtBot,
    world: World,
    tmp_path: Path,
) -> None:
    window = open_window("manager", start="dashboard")
    window.resize(*LAPTOP)
    page = window.open_screen("reports")
    qtbot.waitUntil(lambda: not page.loading, timeout=TIMEOUT)
    # The screen fits a 1366×768 laptop: nothing pushes the window wider or taller.
    hint = page.minimumSizeHint()
    assert hint.width() <= LAPTOP[0] - 220 and hint.height() <= LAPTOP[1] - 60, hint
    assert window.width() <= LAPTOP[0]

    page.start.setDate(QDate(2026, 3, 1))
    page.end.setDate(QDate(2026, 3, 31))
    main = world.a.branch_ids[0]
    page.branch.setCurrentIndex(page.branch.findData(main))
    assert {r.name for r in REPORTS} == {
        "stock-shortages",
        "stock-valuation",
        "sales-summary",
        "revenue-trend",
        "best-sellers",
        "movers",
        "branch-comparison",
        "customer-credit-ageing",
        "purchase-summary",
        "supplier-performance",
        "shift-reports",
    }
    for kind in REPORTS:
        _run(qtbot, page, kind.name)
        report = page.report
        shown = [
            page.model.headerData(i, Qt.Orientation.Horizontal)
            for i in range(page.model.columnCount())
        ]
        assert not any(label.endswith(" id") for label in shown), shown
        assert page.model.rowCount() == len(report["rows"])
        for fmt in ("csv", "xlsx", "pdf"):
            target = tmp_path / f"{kind.name}.{fmt}"
            _export(qtbot, page, fmt, target)
            content = target.read_bytes()
            if fmt == "csv":
                header = next(csv.reader(io.StringIO(content.decode("utf-8"))))
                assert header == [c["label"] for c in report["columns"]]
            elif fmt == "xlsx":
                sheet = load_workbook(target).active
                assert [c.value for c in sheet[1]] == [c["label"] for c in report["columns"]]
                assert sheet.max_row == len(report["rows"]) + 1
            else:
                assert content.startswith(b"%PDF")
        assert window.width() <= LAPTOP[0]

    # The Z report as a person reads it: the shift's figures, a totals row, the branch named.
    _run(qtbot, page, "shift-reports")
    (shift,) = page.model.rows
    assert shift["sales_total"] == "58.00" and shift["variance"] == "-3.00"
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "shift-reports.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (total,) = [line for line in text.splitlines() if line.strip().startswith("Total")]
    assert "58.00" in total and "-3.00" in total
    assert "Tenant A MAIN" in text and "Bra nch" not in text

    # A chart where a picture helps: revenue per day; none for the Z report.
    assert not page.chart.view.isVisibleTo(page)
    _run(qtbot, page, "sales-summary")
    assert page.chart.view.isVisibleTo(page) and page.chart.bars.count() == len(page.model.rows)
    window.grab().save(str(tmp_path / "reports.png"))

    # A period that ends before it starts is refused in words, and nothing is fetched.
    page.start.setDate(QDate(2026, 4, 1))
    refused = tmp_path / "refused.csv"
    page.ask_export_path = lambda suggested, f: refused
    qtbot.mouseClick(page.export_buttons["csv"], LEFT)
    assert "starts after it ends" in page.message.text() and not refused.exists()
    # A file that cannot be written is said so, and the buttons come back.
    page.start.setDate(QDate(2026, 3, 1))
    page.ask_export_path = lambda suggested, f: tmp_path / "no-such-folder" / "x.csv"
    qtbot.mouseClick(page.export_buttons["csv"], LEFT)
    qtbot.waitUntil(lambda: not page.exporting, timeout=TIMEOUT)
    assert "Could not save" in page.message.text()
    assert page.export_buttons["csv"].isEnabled()
    assert date(2026, 3, 1) == page.filters()["date_from"]
