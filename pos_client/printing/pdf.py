"""Write receipts and key/value reports as 80 mm roll PDFs (for printing or e-mailing)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QBuffer, QMarginsF, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
)

from pos_client.printing.receipt import PrintLine, Receipt, layout, layout_report

__all__ = ["PAGE_WIDTH_MM", "receipt_to_pdf", "zreport_to_pdf"]

PAGE_WIDTH_MM = 80.0
MARGIN_MM = 4.0
RESOLUTION_DPI = 600
FONT_FAMILY = "DejaVu Sans Mono"


def require_gui() -> None:
    """Raise if there is no QGuiApplication, which Qt needs before it can lay out text."""
    if QGuiApplication.instance() is None:
        raise RuntimeError("PDF rendering needs a QGuiApplication (or QApplication) first")


def mono_font(*, bold: bool = False) -> QFont:
    """Return DejaVu Sans Mono, or the system's fixed-pitch font where it is not installed."""
    font = QFont(FONT_FAMILY)
    font.setStyleHint(QFont.StyleHint.TypeWriter)
    font.setFixedPitch(True)
    font.setBold(bold)
    # Unhinted advances are exact fractions, so a column count maps to a width precisely.
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    return font


def custom_page(*, width_mm: float, height_mm: float, name: str) -> QPageSize:
    """Return a page size of exactly these millimetres (Qt would otherwise snap to a standard)."""
    return QPageSize(
        QSizeF(width_mm, height_mm),
        QPageSize.Unit.Millimeter,
        name,
        QPageSize.SizeMatchPolicy.ExactMatch,
    )


def new_writer(*, path: Path | QBuffer, title: str, page_size: QPageSize) -> QPdfWriter:
    """Create a PDF writer with no page margins; the painter places everything itself."""
    writer = QPdfWriter(path if isinstance(path, QBuffer) else str(path))
    writer.setResolution(RESOLUTION_DPI)
    writer.setTitle(title)
    writer.setCreator("StockPilot")
    writer.setPageLayout(
        QPageLayout(page_size, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0))
    )
    return writer


def _mm(value: float) -> float:
    """Convert millimetres to writer device units."""
    return value * RESOLUTION_DPI / 25.4


def _fit_font(*, writer: QPdfWriter, columns: int, width_mm: float) -> QFont:
    """Size the monospace font so that columns characters span width_mm exactly."""
    font = mono_font()
    font.setPointSizeF(10.0)
    advance = QFontMetricsF(font, writer).horizontalAdvance("0" * columns)
    font.setPointSizeF(10.0 * _mm(width_mm) / advance)
    return font


def _lines_to_pdf(lines: Sequence[PrintLine], *, path: Path, title: str, width: int) -> None:
    """Draw laid-out lines on one roll-shaped page whose height follows the line count."""
    require_gui()
    text_width_mm = PAGE_WIDTH_MM - 2 * MARGIN_MM
    # A throwaway writer gives the font metrics of the PDF device before the page height is known.
    buffer = QBuffer()
    probe = QPdfWriter(buffer)
    probe.setResolution(RESOLUTION_DPI)
    font = _fit_font(writer=probe, columns=width, width_mm=text_width_mm)
    line_height = QFontMetricsF(font, probe).lineSpacing()
    height_px = sum(line_height * (2 if line.large else 1) for line in lines)
    height_mm = 2 * MARGIN_MM + height_px * 25.4 / RESOLUTION_DPI
    page = custom_page(width_mm=PAGE_WIDTH_MM, height_mm=height_mm, name=title)
    # Drawn in memory, then written in one go: Qt's writer does not report a full disk, and a
    # receipt cut short by one must not be left behind as if it were whole.
    document = QBuffer()
    document.open(QBuffer.OpenModeFlag.WriteOnly)
    writer = new_writer(path=document, title=title, page_size=page)

    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"Cannot write PDF to {path}")
    try:
        painter.setPen(Qt.GlobalColor.black)
        left = _mm(MARGIN_MM)
        y = _mm(MARGIN_MM)
        for line in lines:
            line_font = QFont(font)
            line_font.setBold(line.bold)
            if line.large:
                _draw_large(
                    painter,
                    line=line,
                    font=line_font,
                    width=width,
                    box=QRectF(left, y, _mm(text_width_mm), 2 * line_height),
                )
                y += 2 * line_height
                continue
            painter.setFont(line_font)
            painter.drawText(
                QPointF(left, y + QFontMetricsF(line_font, writer).ascent()), line.text
            )
            y += line_height
    finally:
        painter.end()
    write_whole(path, bytes(document.data().data()))


def write_whole(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (a full disk leaves no truncated file behind)."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise


def _draw_large(
    painter: QPainter, *, line: PrintLine, font: QFont, width: int, box: QRectF
) -> None:
    """Draw a large line as a receipt printer would: double size centred, else double height."""
    stripped = line.text.strip()
    if len(stripped) * 2 <= width:
        big = QFont(font)
        big.setPointSizeF(font.pointSizeF() * 2)
        painter.setFont(big)
        painter.drawText(
            box, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, stripped
        )
        return
    painter.save()
    painter.setFont(font)
    painter.translate(box.left(), box.top())
    painter.scale(1.0, 2.0)
    painter.drawText(QPointF(0, QFontMetricsF(font, painter.device()).ascent()), line.text)
    painter.restore()


def receipt_to_pdf(receipt: Receipt, *, path: Path | str, width: int = 42) -> None:
    """Write the receipt as a one-page 80 mm wide PDF laid out like the printed slip."""
    _lines_to_pdf(
        layout(receipt, width=width),
        path=Path(path),
        title=f"Receipt {receipt.receipt_number}",
        width=width,
    )


def zreport_to_pdf(
    *, title: str, rows: Sequence[tuple[str, str]], path: Path | str, width: int = 42
) -> None:
    """Write a key/value report (such as a shift Z report) as an 80 mm wide PDF."""
    _lines_to_pdf(
        layout_report(title, rows=rows, width=width), path=Path(path), title=title, width=width
    )
