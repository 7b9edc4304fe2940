"""Render a report as JSON, CSV (streamed), XLSX (typed cells) or PDF (table and chart)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from fastapi.responses import Response, StreamingResponse

from common.errors import ValidationFailed
from common.hygiene import spreadsheet_safe
from sync_server.reports.base import Column, Kind, Report, typed, wire


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


MEDIA_TYPES = {
    Format.JSON: "application/json",
    Format.CSV: "text/csv; charset=utf-8",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.PDF: "application/pdf",
}
# Rows per chunk of a streamed CSV: big enough to be cheap, small enough to start at once.
CSV_CHUNK_ROWS = 1000


def negotiate(*, requested: str | None, accept: str | None) -> Format:
    """Pick the format from ?format=, else from the Accept header, else JSON."""
    if requested:
        try:
            return Format(requested.lower())
        except ValueError:
            names = ", ".join(f.value for f in Format)
            raise ValidationFailed(f"Unknown format '{requested}'; use one of {names}.") from None
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        for fmt, known in MEDIA_TYPES.items():
            if media == known.split(";")[0]:
                return fmt
    return Format.JSON


def as_json(report: Report) -> dict[str, Any]:
    """Return the report as the JSON body: typed columns, rows with money as strings."""
    keys = [(c.key, c.kind) for c in report.columns]
    rows = [
        {key: wire(value, kind) for (key, kind), value in zip(keys, row, strict=True)}
        for row in report.typed_rows()
    ]
    return {
        "report": report.name,
        "title": report.title,
        "generated_at": report.generated_at.isoformat(),
        "filters": report.filters,
        "columns": [{"key": c.key, "label": c.label, "kind": c.kind.value} for c in report.columns],
        "rows": rows,
        "notes": list(report.notes),
    }


def _filename(report: Report, fmt: Format) -> str:
    return f"{report.name}-{report.generated_at:%Y%m%d-%H%M%S}.{fmt.value}"


def _disposition(report: Report, fmt: Format) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{_filename(report, fmt)}"'}


def render(report: Report, fmt: Format) -> Response | dict[str, Any]:
    """Return the response for a format (a dict for JSON, which FastAPI serialises)."""
    if fmt == Format.JSON:
        return as_json(report)
    if fmt == Format.CSV:
        return StreamingResponse(
            csv_chunks(report), media_type=MEDIA_TYPES[fmt], headers=_disposition(report, fmt)
        )
    body = xlsx_bytes(report) if fmt == Format.XLSX else pdf_bytes(report)
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=_disposition(report, fmt))


def _csv_text(value: Any, kind: Kind) -> str:
    if value is None:
        return ""
    shown = wire(value, kind)
    return str(shown)


def _csv_cell(value: Any, kind: Kind) -> str:
    # Text someone typed (a customer's name) must not become a formula in a spreadsheet;
    # numbers are written by us and a negative one stays a number.
    text = _csv_text(value, kind)
    return spreadsheet_safe(text) if isinstance(value, str) else text


def csv_chunks(report: Report) -> Iterator[str]:
    """Yield the CSV a chunk of rows at a time: a header, then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(c.label) for c in report.columns])
    kinds = [c.kind for c in report.columns]
    for index, row in enumerate(report.rows, start=1):
        writer.writerow(
            [_csv_cell(_typed(row, c), kind) for c, kind in zip(report.columns, kinds, strict=True)]
        )
        if index % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _typed(row: dict[str, Any], column: Column) -> Any:
    return typed(row.get(column.key), column.kind)


# XLSX --------------------------------------------------------------------------------------

NUMBER_FORMATS = {
    Kind.MONEY: "#,##0.00",
    Kind.QTY: "#,##0.###",
    Kind.RATIO: "0.0",
    Kind.INT: "0",
    Kind.DATE: "yyyy-mm-dd",
}


def _cell(value: Any) -> Any:
    # openpyxl writes Decimal as a number already; dates stay dates.
    if isinstance(value, Decimal | int | date) or value is None:
        return value
    return str(value)


def _as_text_cells(row: Any) -> None:
    """Store every text cell of a row as a string, never as a formula."""
    for cell in row:
        if isinstance(cell.value, str):
            # openpyxl reads any text starting with "=" as a formula; the type says otherwise.
            cell.data_type = "s"


def xlsx_bytes(report: Report) -> bytes:
    """Return the report as an XLSX workbook: typed cells, bold frozen header, sized columns."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = report.name[:31]
    sheet.append([c.label for c in report.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(c.label) for c in report.columns]
    for row in report.typed_rows():
        sheet.append([_cell(v) for v in row])
        _as_text_cells(sheet[sheet.max_row])
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(str(value)) if value is not None else 0)
    for i, column in enumerate(report.columns, start=1):
        letter = get_column_letter(i)
        sheet.column_dimensions[letter].width = min(max(widths[i - 1] + 2, 8), 60)
        fmt = NUMBER_FORMATS.get(column.kind)
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = fmt
    sheet.freeze_panes = "A2"
    about = book.create_sheet("About")
    about.append(["Report", report.title])
    about.append(["Generated at (UTC)", report.generated_at.strftime("%Y-%m-%d %H:%M:%S")])
    for key, value in report.filters.items():
        about.append([key, str(value)])
    for note in report.notes:
        about.append(["Note", note])
    for row in about.iter_rows():
        _as_text_cells(row)
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 60
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# PDF ---------------------------------------------------------------------------------------


def _pdf_chart(report: Report, width: float):
    """Draw the report's line chart (e.g. revenue against the previous period)."""
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    chart_def = report.chart
    assert chart_def is not None
    by_key = {c.key: c for c in report.columns}
    # Chart coordinates: the drawing library plots floats (the table beside it stays exact).
    data = [[float(row.get(key) or 0) for row in report.rows] for key in chart_def.series]
    labels = [str(_typed(row, by_key[chart_def.x])) for row in report.rows]
    height = 170
    drawing = Drawing(width, height + 30)
    chart = HorizontalLineChart()
    chart.x, chart.y = 50, 30
    chart.width, chart.height = width - 70, height - 30
    chart.data = data or [[0]]
    chart.categoryAxis.categoryNames = labels
    step = max(1, len(labels) // 12)
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.categoryAxis.labels.fontSize = 6
    if step > 1:
        chart.categoryAxis.categoryNames = [
            t if i % step == 0 else "" for i, t in enumerate(labels)
        ]
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7
    palette = [colors.HexColor("#1f77b4"), colors.HexColor("#ff7f0e"), colors.HexColor("#2ca02c")]
    for i in range(len(data)):
        chart.lines[i].strokeColor = palette[i % len(palette)]
        chart.lines[i].strokeWidth = 1.5
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 60, height + 20
    legend.fontSize = 7
    legend.columnMaximum = 1
    legend.dx, legend.dy = 8, 8
    legend.deltax = 120
    legend.alignment = "right"
    legend.colorNamePairs = [
        (palette[i % len(palette)], by_key[key].label) for i, key in enumerate(chart_def.series)
    ]
    drawing.add(legend)
    return drawing


def pdf_bytes(report: Report) -> bytes:
    """Return the report as a PDF: title, filters, generation time, table, chart if any."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    wide = len(report.columns) > 7
    pagesize = landscape(A4) if wide else A4
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=pagesize,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=report.title,
    )
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    cell_style = styles["BodyText"].clone("cell", fontSize=7, leading=8.5)
    story: list[Any] = [Paragraph(report.title, styles["Title"])]
    shown = "; ".join(f"{k}: {v}" for k, v in report.filters.items()) or "none"
    story.append(Paragraph(f"<b>Filters</b> — {_escape(shown)}", small))
    generated = report.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    story.append(Paragraph(f"<b>Generated</b> {generated} · {len(report.rows)} rows", small))
    for note in report.notes:
        story.append(Paragraph(_escape(note), small))
    story.append(Spacer(1, 4 * mm))
    if report.chart is not None and report.rows:
        story.append(_pdf_chart(report, doc.width))
        story.append(Spacer(1, 4 * mm))
    right = cell_style.clone("right", alignment=2)
    header = [
        Paragraph(f"<b>{_escape(c.label)}</b>", right if c.numeric else cell_style)
        for c in report.columns
    ]
    body = [
        [
            Paragraph(_escape(_csv_text(value, c.kind)), cell_style)
            if c.kind == Kind.TEXT
            else _csv_text(value, c.kind)
            for value, c in zip(row, report.columns, strict=True)
        ]
        for row in report.typed_rows()
    ]
    if not body:
        body = [["No data for these filters."] + [""] * (len(report.columns) - 1)]
    table = Table([header, *body], repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 7),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf2")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#5b6b80")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f7f9")]),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    for i, column in enumerate(report.columns):
        if column.numeric:
            style.append(("ALIGN", (i, 1), (i, -1), "RIGHT"))
    table.setStyle(TableStyle(style))
    story.append(table)
    doc.build(story)
    return out.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
