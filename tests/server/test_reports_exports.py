"""Report exports: CSV streams, XLSX reads back typed, PDF renders (pdftoppm) with its chart."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from sync_server.db import transaction
from sync_server.orders.models import Order, OrderLine
from sync_server.partners.models import Customer
from sync_server.reports.base import Chart, Column, Kind, Report
from sync_server.reports.exports import CSV_CHUNK_ROWS, Format, csv_chunks, negotiate, xlsx_bytes

D = Decimal
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _report(n: int = 3) -> Report:
    return Report(
        name="revenue-trend",
        title="Revenue trend by day",
        columns=[
            Column("period", "Period", Kind.DATE),
            Column("sales", "Sales", Kind.INT),
            Column("revenue", "Revenue", Kind.MONEY),
            Column("note", "Note"),
        ],
        rows=[
            {
                "period": date(2026, 1, 1 + i % 28),
                "sales": i,
                "revenue": D("1234.5") + i,
                "note": f'a, "quoted" {i}',
            }
            for i in range(n)
        ],
        filters={"date_from": "2026-01-01"},
        generated_at=datetime(2026, 2, 1, 12, 0, tzinfo=UTC),
        chart=Chart(x="period", series=("revenue",)),
    )


def test_format_comes_from_the_query_then_the_accept_header():
    assert negotiate(requested="XLSX", accept="application/pdf") == Format.XLSX
    assert negotiate(requested=None, accept="text/html, application/pdf;q=0.9") == Format.PDF
    assert negotiate(requested=None, accept="text/csv") == Format.CSV
    assert negotiate(requested=None, accept="*/*") == Format.JSON


def test_csv_streams_in_chunks_and_quotes_text():
    report = _report(CSV_CHUNK_ROWS + 5)
    chunks = list(csv_chunks(report))
    # The header and the first thousand rows, then the last five: it never builds one string.
    assert len(chunks) == 2
    parsed = list(csv.reader(io.StringIO("".join(chunks))))
    assert parsed[0] == ["Period", "Sales", "Revenue", "Note"]
    assert parsed[1] == ["2026-01-01", "0", "1234.50", 'a, "quoted" 0']
    assert len(parsed) == CSV_CHUNK_ROWS + 6


def test_xlsx_cells_are_typed_with_a_bold_frozen_header():
    book = load_workbook(io.BytesIO(xlsx_bytes(_report())))
    sheet = book["revenue-trend"]
    assert [c.value for c in sheet[1]] == ["Period", "Sales", "Revenue", "Note"]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    period, sales, revenue, note = (c.value for c in sheet[3])
    assert period == datetime(2026, 1, 2)  # a date cell (openpyxl reads dates as datetimes)
    assert sheet.cell(row=3, column=1).is_date
    assert sales == 1 and revenue == pytest.approx(1235.5)
    assert isinstance(revenue, float | int)  # a number, not the text "1235.50"
    assert sheet.cell(row=3, column=3).number_format == "#,##0.00"
    assert note == 'a, "quoted" 1'
    assert sheet.column_dimensions["D"].width >= len('a, "quoted" 1')
    about = {row[0].value: row[1].value for row in book["About"].iter_rows()}
    assert about["Report"] == "Revenue trend by day" and about["date_from"] == "2026-01-01"


def _pdf_first_page_png(pdf: bytes, tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "report.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(source), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (png,) = tmp_path.glob("page*.png")
    assert png.stat().st_size > 5000  # a page with a table and a chart, not a blank sheet
    return png


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) missing")
def test_reports_export_over_http_as_csv_xlsx_and_pdf(world, tmp_path):
    a = world.a
    with transaction(world.sessions()) as s:
        customer = Customer(tenant_id=a.id, name="Online")
        s.add(customer)
        s.flush()
        # Revenue on 01-03 (30.00) and 01-10 (12.50) of January 2026.
        for number, day, qty, total in (("E1", 3, "3", "30"), ("E2", 10, "1", "12.50")):
            order = Order(
                tenant_id=a.id,
                external_number=number,
                status="confirmed",
                customer_id=customer.id,
                branch_id=a.branch_ids[0],
                total=D(total),
                paid_amount=D(total),
                created_at=datetime(2026, 1, day, 9, tzinfo=UTC),
            )
            order.lines.append(
                OrderLine(
                    tenant_id=a.id,
                    product_id=a.product_ids[0],
                    sku="s",
                    name="n",
                    quantity=D(qty),
                    unit_price=D(total) / D(qty),
                    line_total=D(total),
                )
            )
            s.add(order)
    api = world.api("viewer")
    params = {"date_from": "2026-01-01", "date_to": "2026-01-14", "grain": "day"}

    as_csv = api.get("reports/revenue-trend", params={**params, "format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(as_csv.text)))
    assert lines[0][:3] == ["Period", "Sales", "Revenue (net)"]
    assert lines[3][:3] == ["2026-01-03", "1", "30.00"] and len(lines) == 15

    as_xlsx = api.get("reports/revenue-trend", params=params, headers={"Accept": XLSX})
    assert as_xlsx.status_code == 200 and as_xlsx.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet.freeze_panes == "A2"
    assert sheet["A11"].value == datetime(2026, 1, 10) and sheet["C11"].value == 12.5

    as_pdf = api.get("reports/revenue-trend", params={**params, "format": "pdf"})
    assert as_pdf.status_code == 200
    assert as_pdf.headers["content-type"] == "application/pdf"
    assert as_pdf.content.startswith(b"%PDF")
    _pdf_first_page_png(as_pdf.content, tmp_path / "trend")
    # A wide report goes landscape; it must render too.
    wide = api.get("reports/sales-summary", params={**params, "format": "pdf"})
    _pdf_first_page_png(wide.content, tmp_path / "wide")

    bad = api.get("reports/revenue-trend", params={"format": "docx"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
