"""Render a report as JSON, CSV (streamed), XLSX (typed cells) or PDF (table and chart)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import ValidationFailed
from common.hygiene import spreadsheet_safe
from sync_server.org.models import Branch, Tenant
from sync_server.org.service import get_setting
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


@dataclass(frozen=True, slots=True)
class Letterhead:
    """What a printed or saved report is headed with: the shop, its time zone, branch names."""

    shop: str = ""
    zone: str = "UTC"
    branches: Mapping[int, str] = field(default_factory=dict)

    def local_time(self, moment: datetime) -> str:
        """Return a UTC moment in the shop's time zone, named."""
        try:
            zone, name = ZoneInfo(self.zone), self.zone
        except (ValueError, ZoneInfoNotFoundError):
            zone, name = ZoneInfo("UTC"), "UTC"
        local = moment.astimezone(zone)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({name})"

    def describe(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        """Return the filters as a person reads them: branch names instead of ids."""
        shown: dict[str, Any] = {}
        for key, value in filters.items():
            if key == "branch_id":
                shown["branch"] = self.branches.get(value, value)
            else:
                shown[key.replace("_", " ")] = value
        return shown


def letterhead(session: Session, *, tenant_id: int) -> Letterhead:
    """Read the shop's name, time zone and branch names for an export."""
    tenant = session.get(Tenant, tenant_id)
    rows = session.execute(
        select(Branch.id, Branch.name, Branch.gstin).where(Branch.tenant_id == tenant_id)
    ).all()
    names = {branch_id: name for branch_id, name, _ in rows}
    # The shop's own name from its profile, and its GSTIN when the business has just one.
    shop = str(get_setting(session, tenant_id=tenant_id, key="trade_name") or "")
    shop = shop or (tenant.name if tenant else "")
    numbers = {gstin for _, _, gstin in rows if gstin}
    if len(numbers) == 1:
        shop = f"{shop} · GSTIN {numbers.pop()}"
    return Letterhead(
        shop=shop,
        zone=str(get_setting(session, tenant_id=tenant_id, key="time_zone")),
        branches=names,
    )


def _filename(report: Report, fmt: Format) -> str:
    return f"{report.name}-{report.generated_at:%Y%m%d-%H%M%S}.{fmt.value}"


def _disposition(report: Report, fmt: Format) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{_filename(report, fmt)}"'}


def render(
    report: Report, fmt: Format, head: Letterhead | None = None
) -> Response | dict[str, Any]:
    """Return the response for a format (a dict for JSON, which FastAPI serialises)."""
    if fmt == Format.JSON:
        return as_json(report)
    if fmt == Format.CSV:
        return StreamingResponse(
            csv_chunks(report), media_type=MEDIA_TYPES[fmt], headers=_disposition(report, fmt)
        )
    body = xlsx_bytes(report, head) if fmt == Format.XLSX else pdf_bytes(report, head)
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


# A fractional quantity shows up to three decimals, and no trailing point.
QTY_FRACTION_FORMAT = "#,##0.0##"

# XLSX --------------------------------------------------------------------------------------

NUMBER_FORMATS = {
    Kind.MONEY: "#,##0.00",
    # Whole quantities: "#,##0.###" would show 8 as "8." in Excel.
    Kind.QTY: "#,##0",
    Kind.RATIO: "0.0",
    Kind.INT: "0",
    Kind.DATE: "yyyy-mm-dd",
}


def _cell(value: Any) -> Any:
    # openpyxl writes Decimal as a number already; dates stay dates.
    if isinstance(value, Decimal | int | date) or value is None:
        return value
    return str(value)


def _fractional(value: Any) -> bool:
    return isinstance(value, Decimal) and value != value.to_integral()


def _as_text_cells(row: Any) -> None:
    """Store every text cell of a row as a string, never as a formula."""
    for cell in row:
        if isinstance(cell.value, str):
            # openpyxl reads any text starting with "=" as a formula; the type says otherwise.
            cell.data_type = "s"


def xlsx_bytes(report: Report, head: Letterhead | None = None) -> bytes:
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
                if column.kind == Kind.QTY and _fractional(cell.value):
                    cell.number_format = QTY_FRACTION_FORMAT
    sheet.freeze_panes = "A2"
    head = head or Letterhead()
    about = book.create_sheet("About")
    if head.shop:
        about.append(["Shop", head.shop])
    about.append(["Report", report.title])
    about.append(["Generated at", head.local_time(report.generated_at)])
    for key, value in report.filters.items():
        about.append([key, str(value)])
    if "branch_id" in report.filters:
        about.append(["Branch", str(head.branches.get(report.filters["branch_id"], ""))])
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


def _pdf_chart(report: Report, width: float) -> Any:
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


# Font sizes tried in turn until the columns fit the page; words are never broken.
PDF_FONT_SIZES = (7.5, 7.0, 6.5, 6.0, 5.5, 5.0)
# Left plus right padding of a table cell, and slack for the paragraph's own measuring.
CELL_PAD = 6.5
BOLD = "Helvetica-Bold"
PLAIN = "Helvetica"


def _pdf_text(value: Any, kind: Kind) -> str:
    """Return a value as printed: money and counts with thousands separators."""
    if value is None:
        return ""
    if kind == Kind.MONEY:
        return f"{value:,.2f}"
    if kind == Kind.QTY:
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if kind == Kind.INT:
        return f"{value:,}"
    return _csv_text(value, kind)


def _totals(report: Report, columns: list[Column]) -> list[Any] | None:
    """Return the totals of the summed columns (None elsewhere), or None when nothing adds up."""
    if not report.rows or not any(c.summed for c in columns):
        return None
    sums: list[Any] = []
    for column in columns:
        if not column.summed:
            sums.append(None)
            continue
        values = [typed(row.get(column.key), column.kind) for row in report.rows]
        sums.append(
            sum((v for v in values if v is not None), Decimal(0) if column.kind != Kind.INT else 0)
        )
    return sums


def _fit_widths(
    grid: list[list[str]], columns: list[Column], *, size: float, available: float
) -> list[float] | None:
    """Return column widths that fit, or None when even the narrowest layout is too wide.

    Numbers never wrap; labels and text wrap only between words, so a column is at least as
    wide as its longest word.
    """
    from reportlab.pdfbase.pdfmetrics import stringWidth

    natural: list[float] = []
    narrow: list[float] = []
    for i, column in enumerate(columns):
        header, *cells = [row[i] for row in grid]
        header_words = max((stringWidth(w, BOLD, size) for w in header.split()), default=0)
        full = stringWidth(header, BOLD, size)
        widest = 0.0
        least = header_words
        for index, cell in enumerate(cells):
            # The last row is the totals row, printed bold.
            font = BOLD if index == len(cells) - 1 else PLAIN
            width = stringWidth(cell, font, size)
            widest = max(widest, width)
            if column.kind == Kind.TEXT:
                words = cell.split()
                least = max(least, max((stringWidth(w, font, size) for w in words), default=0))
            else:
                least = max(least, width)
        natural.append(max(full, widest) + CELL_PAD)
        narrow.append(least + CELL_PAD)
    if sum(narrow) > available:
        return None
    if sum(natural) <= available:
        return natural
    # Share what is left over the narrowest layout in proportion to what each column wants.
    spare = available - sum(narrow)
    wants = [n - m for n, m in zip(natural, narrow, strict=True)]
    total_want = sum(wants) or 1.0
    return [m + spare * w / total_want for m, w in zip(narrow, wants, strict=True)]


def pdf_bytes(report: Report, head: Letterhead | None = None) -> bytes:
    """Return the report as a PDF: shop, title, filters, local time, fitted table, totals."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    head = head or Letterhead()
    columns = [c for c in report.columns if not c.internal]
    header = [c.label for c in columns]
    body = [
        [_pdf_text(typed(row.get(c.key), c.kind), c.kind) for c in columns] for row in report.rows
    ]
    totals = _totals(report, columns)
    total_row: list[str] = []
    if totals is not None:
        total_row = [
            _pdf_text(v, c.kind) if v is not None else ""
            for v, c in zip(totals, columns, strict=True)
        ]
        # "Total" goes in the first column that has no sum of its own.
        label_at = next((i for i, v in enumerate(totals) if v is None), None)
        if label_at is not None:
            total_row[label_at] = "Total"
    grid = [header, *body, total_row or [""] * len(columns)]

    margin = 12 * mm
    widths: list[float] | None = None
    size = PDF_FONT_SIZES[0]
    pagesize = A4
    # The largest type that fits wins; portrait when it fits as large, else landscape.
    for size in PDF_FONT_SIZES:
        for pagesize in (A4, landscape(A4)):
            available = pagesize[0] - 2 * margin
            widths = _fit_widths(grid, columns, size=size, available=available)
            if widths is not None:
                break
        if widths is not None:
            break
    if widths is None:
        # Too many columns for any page: the narrowest layout, a little past the margin.
        widths = _fit_widths(grid, columns, size=size, available=float("inf"))
    assert widths is not None

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=pagesize,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=report.title,
        author=head.shop,
    )
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    cell_style = styles["BodyText"].clone("cell", fontName=PLAIN, fontSize=size, leading=size + 1.5)
    head_style = cell_style.clone("head", fontName=BOLD)
    head_right = head_style.clone("head_right", alignment=2)
    story: list[Any] = []
    if head.shop:
        story.append(Paragraph(_escape(head.shop), styles["Heading2"]))
    story.append(Paragraph(_escape(report.title), styles["Title"]))
    shown = "; ".join(f"{k}: {v}" for k, v in head.describe(report.filters).items()) or "none"
    story.append(Paragraph(f"<b>Filters</b> — {_escape(shown)}", small))
    story.append(
        Paragraph(
            f"<b>Generated</b> {_escape(head.local_time(report.generated_at))} · "
            f"{len(report.rows)} rows",
            small,
        )
    )
    for note in report.notes:
        story.append(Paragraph(_escape(note), small))
    story.append(Spacer(1, 4 * mm))
    if report.chart is not None and report.rows:
        story.append(_pdf_chart(report, doc.width))
        story.append(Spacer(1, 4 * mm))

    data: list[list[Any]] = [
        [
            Paragraph(_escape(text), head_right if c.numeric else head_style)
            for text, c in zip(header, columns, strict=True)
        ]
    ]
    for row in body:
        data.append(
            [
                Paragraph(_escape(text), cell_style) if c.kind == Kind.TEXT else text
                for text, c in zip(row, columns, strict=True)
            ]
        )
    if not body:
        data.append(["No data for these filters."] + [""] * (len(columns) - 1))
    if total_row:
        data.append(total_row)
    table = Table(data, colWidths=widths, repeatRows=1)
    style: list[Any] = [
        ("FONT", (0, 0), (-1, -1), PLAIN, size),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf2")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#5b6b80")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f7f9")]),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if total_row:
        style += [
            ("FONT", (0, -1), (-1, -1), BOLD, size),
            ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.HexColor("#5b6b80")),
            ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#e8ecf2")),
        ]
    for i, column in enumerate(columns):
        if column.numeric:
            style.append(("ALIGN", (i, 1), (i, -1), "RIGHT"))
    table.setStyle(TableStyle(style))
    story.append(table)
    doc.build(story)
    return out.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
