"""Shelf and product barcode labels: A4/Letter sheets as PDF and single labels as ZPL."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

import barcode
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPageSize, QPainter

from common.barcodes import MAX_CODE128_LENGTH, BarcodeError, validate_gtin
from common.money import format_money
from pos_client.printing.pdf import RESOLUTION_DPI, mono_font, new_writer, require_gui

__all__ = ["LabelSpec", "Symbology", "bar_pattern", "render_label_sheet", "render_label_zpl"]

Symbology = Literal["ean13", "code128"]

PAGES: dict[str, QPageSize.PageSizeId] = {
    "A4": QPageSize.PageSizeId.A4,
    "Letter": QPageSize.PageSizeId.Letter,
}
NOMINAL_MODULE_MM = 0.33  # GS1 100 % magnification
MIN_MODULE_MM = 0.19  # narrower bars are unreliable on 203/300 dpi label printers
PADDING_MM = 2.5
MAX_ZPL_COPIES = 99_999_999  # the largest quantity ^PQ accepts
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
# EAN-13 modules that belong to the start, centre and end guards, drawn longer than the rest.
_EAN_GUARDS = frozenset({0, 1, 2, 45, 46, 47, 48, 49, 92, 93, 94})


def _label_code(*, name: str, code: str, symbology: str) -> str:
    """Return the code to encode, or raise BarcodeError naming the label."""
    stripped = code.strip()
    if symbology == "ean13":
        try:
            gtin = validate_gtin(stripped)
        except BarcodeError as exc:
            raise BarcodeError(f"Label for {name!r}: not a valid EAN-13 ({exc})") from exc
        # A UPC-A is an EAN-13 with a leading zero; the check digit stays the same.
        ean = "0" + gtin if len(gtin) == 12 else gtin
        if len(ean) != 13:
            raise BarcodeError(
                f"Label for {name!r}: not a valid EAN-13 ({gtin} has {len(gtin)} digits, "
                "an EAN-13 has 13)"
            )
        return ean
    if symbology == "code128":
        if not stripped or _PRINTABLE_ASCII.fullmatch(stripped) is None:
            raise BarcodeError(
                f"Label for {name!r}: Code 128 needs printable ASCII characters, got {code!r}"
            )
        if len(stripped) > MAX_CODE128_LENGTH:
            raise BarcodeError(
                f"Label for {name!r}: Code 128 code is longer than {MAX_CODE128_LENGTH} characters"
            )
        return stripped
    raise ValueError(f"Unknown symbology {symbology!r}; use 'ean13' or 'code128'")


@dataclass(frozen=True)
class LabelSpec:
    """What one label shows: product name, price and a validated barcode."""

    name: str
    price: Decimal
    currency: str
    code: str
    symbology: Symbology = "ean13"

    def __post_init__(self) -> None:
        if not isinstance(self.price, Decimal) or not self.price.is_finite():
            raise TypeError(f"LabelSpec.price must be a finite Decimal, got {self.price!r}")
        code = _label_code(name=self.name, code=self.code, symbology=self.symbology)
        object.__setattr__(self, "code", code)


def bar_pattern(label: LabelSpec) -> str:
    """Return the label's modules as a string of '1' (bar) and '0' (space)."""
    symbol = barcode.get(label.symbology, label.code)
    if label.symbology == "ean13" and symbol.get_fullcode() != label.code:
        # python-barcode recomputes the check digit; a difference means validation was skipped.
        raise BarcodeError(f"EAN-13 {label.code} was changed to {symbol.get_fullcode()}")
    pattern: str = symbol.build()[0]
    return pattern


def _mm(value: float) -> float:
    """Convert millimetres to writer device units."""
    return value * RESOLUTION_DPI / 25.4


def _font(*, family: str, point_size: float, bold: bool = False) -> QFont:
    """Return a font of the given family and size."""
    font = QFont(family)
    font.setPointSizeF(point_size)
    font.setBold(bold)
    return font


def _runs(pattern: str) -> list[tuple[int, int]]:
    """Return (first module, length) of each bar in the pattern."""
    return [(m.start(), m.end() - m.start()) for m in re.finditer("1+", pattern)]


def _draw_bars(
    painter: QPainter,
    *,
    pattern: str,
    left: float,
    top: float,
    module: float,
    height: float,
    guard_extra: float,
    guards: frozenset[int],
) -> None:
    """Fill one rectangle per bar; guard bars reach guard_extra further down."""
    for start, length in _runs(pattern):
        extra = guard_extra if start in guards else 0.0
        painter.fillRect(
            QRectF(left + start * module, top, length * module, height + extra),
            Qt.GlobalColor.black,
        )


def _symbol_geometry(label: LabelSpec, *, width: float) -> tuple[str, int, int, float]:
    """Return pattern, left quiet zone, total modules and module size fitting width."""
    pattern = bar_pattern(label)
    # Quiet zones are part of the symbol: 11 + 7 modules for EAN-13, 10 each side for Code 128.
    quiet_left, quiet_right = (11, 7) if label.symbology == "ean13" else (10, 10)
    modules = quiet_left + len(pattern) + quiet_right
    module = min(_mm(NOMINAL_MODULE_MM), width / modules)
    if module < _mm(MIN_MODULE_MM):
        raise BarcodeError(
            f"Label for {label.name!r}: code {label.code} is too long to print "
            "legibly at this label size"
        )
    return pattern, quiet_left, modules, module


def _draw_label(painter: QPainter, *, label: LabelSpec, cell: QRectF) -> None:
    """Draw one label inside cell (device units): name, price, bars and digits."""
    inner = cell.adjusted(_mm(PADDING_MM), _mm(PADDING_MM), -_mm(PADDING_MM), -_mm(PADDING_MM))
    device = painter.device()

    name_font = _font(family="DejaVu Sans", point_size=8.0, bold=True)
    name_metrics = QFontMetricsF(name_font, device)
    painter.setFont(name_font)
    name = unicodedata.normalize("NFC", " ".join(label.name.split()))
    name = name_metrics.elidedText(name, Qt.TextElideMode.ElideRight, inner.width())
    painter.drawText(
        QRectF(inner.left(), inner.top(), inner.width(), name_metrics.height()),
        Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
        name,
    )
    y = inner.top() + name_metrics.height()

    price_font = _font(family="DejaVu Sans", point_size=13.0, bold=True)
    price_metrics = QFontMetricsF(price_font, device)
    painter.setFont(price_font)
    painter.drawText(
        QRectF(inner.left(), y, inner.width(), price_metrics.height()),
        Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
        format_money(label.price, label.currency),
    )
    y += price_metrics.height() + _mm(1.0)

    digits_font = mono_font()
    digits_font.setPointSizeF(7.5)
    digits_metrics = QFontMetricsF(digits_font, device)
    pattern, quiet_left, modules, module = _symbol_geometry(label, width=inner.width())
    bars_left = inner.center().x() - modules * module / 2 + quiet_left * module
    bar_height = inner.bottom() - y - digits_metrics.height()
    painter.setFont(digits_font)

    if label.symbology == "ean13":
        _draw_bars(
            painter,
            pattern=pattern,
            left=bars_left,
            top=y,
            module=module,
            height=bar_height,
            guard_extra=digits_metrics.height() / 2,
            guards=_EAN_GUARDS,
        )
        baseline = y + bar_height + digits_metrics.ascent()
        first = QRectF(
            bars_left - quiet_left * module,
            y + bar_height,
            (quiet_left - 2) * module,
            digits_metrics.height(),
        )
        painter.drawText(
            first, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, label.code[0]
        )
        # Digits 2-7 sit under the left half (modules 3-44), 8-13 under the right (50-91).
        for index, digit in enumerate(label.code[1:]):
            start = 3 + 7 * index if index < 6 else 50 + 7 * (index - 6)
            centre = bars_left + (start + 3.5) * module
            advance = digits_metrics.horizontalAdvance(digit)
            painter.drawText(QPointF(centre - advance / 2, baseline), digit)
    else:
        _draw_bars(
            painter,
            pattern=pattern,
            left=bars_left,
            top=y,
            module=module,
            height=bar_height,
            guard_extra=0.0,
            guards=frozenset(),
        )
        text = digits_metrics.elidedText(label.code, Qt.TextElideMode.ElideMiddle, inner.width())
        painter.drawText(
            QRectF(inner.left(), y + bar_height, inner.width(), digits_metrics.height()),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            text,
        )


def render_label_sheet(
    labels: Sequence[LabelSpec],
    path: Path | str,
    *,
    columns: int = 3,
    rows: int = 8,
    page: str = "A4",
) -> int:
    """Write labels onto pre-cut label sheets as a PDF and return the number of pages."""
    if not labels:
        raise ValueError("There are no labels to print")
    if columns < 1 or rows < 1:
        raise ValueError(f"A sheet needs at least one column and row, got {columns}x{rows}")
    if page not in PAGES:
        raise ValueError(f"Unknown page {page!r}; use one of {', '.join(PAGES)}")
    require_gui()
    page_size = QPageSize(PAGES[page])
    size_mm = page_size.size(QPageSize.Unit.Millimeter)
    cell_w = _mm(size_mm.width()) / columns
    cell_h = _mm(size_mm.height()) / rows
    # Check every code before the first page is written, so a bad label leaves no half file.
    for label in labels:
        _symbol_geometry(label, width=cell_w - 2 * _mm(PADDING_MM))

    writer = new_writer(path=Path(path), title="Labels", page_size=page_size)
    per_page = columns * rows
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"Cannot write PDF to {path}")
    try:
        painter.setPen(Qt.GlobalColor.black)
        for index, label in enumerate(labels):
            slot = index % per_page
            if index and slot == 0:
                writer.newPage()
            row, column = divmod(slot, columns)
            cell = QRectF(column * cell_w, row * cell_h, cell_w, cell_h)
            _draw_label(painter, label=label, cell=cell)
    finally:
        painter.end()
    return math.ceil(len(labels) / per_page)


def _zpl_text(text: str) -> str:
    """Escape field text for ^FH_: command characters and non-ASCII become _XX UTF-8 bytes."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if unicodedata.category(ch) == "Cc":
            out.append(" ")
        elif ch in "^~_" or ord(ch) > 126:
            out.append("".join(f"_{byte:02X}" for byte in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def render_label_zpl(
    label: LabelSpec,
    *,
    dpi: int = 203,
    width_mm: float = 50.0,
    height_mm: float = 30.0,
    copies: int = 1,
) -> bytes:
    """Return a ZPL II program that prints copies of one label on a thermal label printer."""
    if not 1 <= copies <= MAX_ZPL_COPIES:
        raise ValueError(f"Copies must be 1..{MAX_ZPL_COPIES}, got {copies}")

    def dots(mm: float) -> int:
        return round(mm * dpi / 25.4)

    width, height, margin = dots(width_mm), dots(height_mm), dots(2.0)
    module = 2 if dpi < 300 else 3
    pattern = bar_pattern(label)
    if label.symbology == "ean13":
        # ^BE takes the 12 data digits and prints the check digit it computes itself,
        # which equals ours because the code was validated.
        symbol = f"^BEN,{dots(11)},Y,N^FD{label.code[:12]}^FS"
    else:
        if any(ch in label.code for ch in "^~>"):
            raise BarcodeError(
                f"Label for {label.name!r}: code {label.code!r} contains ^, ~ or "
                "> which ZPL Code 128 cannot print as given"
            )
        symbol = f"^BCN,{dots(11)},Y,N,N^FD{label.code}^FS"
    while module > 1 and (len(pattern) + 20) * module > width:
        module -= 1
    if (len(pattern) + 20) * module > width:
        raise BarcodeError(
            f"Label for {label.name!r}: code {label.code} is too long for a {width_mm:g} mm label"
        )
    bars_left = (width - len(pattern) * module) // 2
    name_h, price_h = dots(3.0), dots(4.5)
    # ^FB would overprint text that does not fit on its one line; font 0 is about 0.55 em wide.
    max_chars = int((width - 2 * margin) / (name_h * 0.55))
    name = " ".join(label.name.split())
    if len(name) > max_chars:
        name = name[: max_chars - 3].rstrip() + "..."
    # The currency code rather than a symbol: printer-resident fonts rarely have the rupee sign.
    price = f"{label.currency} {format_money(label.price, label.currency, symbol=False)}"
    commands = [
        "^XA",
        "^CI28",  # field data is UTF-8
        f"^PW{width}",
        f"^LL{height}",
        "^LH0,0",
        f"^FO{margin},{margin}^A0N,{name_h},{name_h}^FB{width - 2 * margin},1,0,C,0"
        f"^FH_^FD{_zpl_text(name)}^FS",
        f"^FO{margin},{margin + name_h + dots(0.5)}^A0N,{price_h},{price_h}"
        f"^FB{width - 2 * margin},1,0,C,0"
        f"^FH_^FD{_zpl_text(price)}^FS",
        f"^FO{bars_left},{margin + name_h + price_h + dots(1.5)}^BY{module}{symbol}",
        f"^PQ{copies}",
        "^XZ",
    ]
    return ("\n".join(commands) + "\n").encode("ascii")
