"""Receipt text layout and the receipt/report PDFs rendered by poppler."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from pos_client.printing.pdf import receipt_to_pdf, zreport_to_pdf
from pos_client.printing.receipt import (
    Receipt,
    ReceiptLine,
    ReceiptPayment,
    layout,
    render_text,
)

D = Decimal


def make_receipt(**changes: object) -> Receipt:
    """Build a realistic receipt; keyword arguments replace fields."""
    receipt = Receipt(
        shop_name="Annapurna Stores",
        branch_name="MG Road",
        address_lines=("12 MG Road, Bengaluru 560001", "GSTIN 29ABCDE1234F1Z5"),
        receipt_number="R-000123",
        issued_at=datetime(2024, 5, 1, 14, 3),
        cashier="Asha",
        lines=(
            ReceiptLine("Crème brûlée", D("2"), "pc", D("120.00"), D("10.00"), D("230.00")),
            ReceiptLine(
                "Basmati rice premium long grain extra aged 5kg bag",
                D("1"),
                "pc",
                D("1249.50"),
                D("0.00"),
                D("1249.50"),
            ),
            ReceiptLine("Tomatoes", D("0.755"), "kg", D("40.00"), D("0.00"), D("30.20")),
        ),
        subtotal=D("1519.70"),
        discount_total=D("10.00"),
        tax_total=D("72.37"),
        total=D("1509.70"),
        payments=(
            ReceiptPayment("Cash", D("1000.00")),
            ReceiptPayment("UPI", D("600.00"), "412345678901"),
        ),
        change_due=D("90.30"),
        customer="Ravi K",
        footer="Thank you for shopping with us!\nReturns within 7 days",
    )
    return dataclasses.replace(receipt, **changes)


def line_with(lines: list[str], prefix: str) -> str:
    """Return the one line that starts with prefix."""
    found = [line for line in lines if line.startswith(prefix)]
    assert len(found) == 1, (prefix, lines)
    return found[0]


@pytest.mark.parametrize("width", [24, 32, 42, 48])
def test_every_line_fits_and_amounts_end_at_the_right_edge(width: int) -> None:
    lines = render_text(make_receipt(), width=width)
    assert all(len(line) <= width for line in lines)
    assert all(line == line.rstrip() for line in lines)
    for prefix, amount in [
        ("Subtotal", "1,519.70"),
        ("Tax", "72.37"),
        ("TOTAL INR", "1,509.70"),
        ("Cash ", "1,000.00"),
        ("Change", "90.30"),
    ]:
        line = line_with(lines, prefix)
        assert line.endswith(amount) and len(line) == width


def test_header_is_centred_and_rules_span_the_width() -> None:
    lines = render_text(make_receipt(), width=42)
    assert lines[0] == " " * 13 + "Annapurna Stores"
    assert lines[1].strip() == "MG Road"
    assert "-" * 42 in lines


def test_items_show_quantity_times_price_and_discounts() -> None:
    lines = render_text(make_receipt(), width=42)
    start = lines.index("Crème brûlée")
    assert lines[start + 1] == "  2 pc x 120.00" + " " * 21 + "240.00"
    assert lines[start + 2] == "  Discount" + " " * 26 + "-10.00"
    assert line_with(lines, "  0.755 kg x 40.00").endswith(" 30.20")
    assert line_with(lines, "  1 pc x 1,249.50").endswith(" 1,249.50")
    # The long name wraps at a word boundary instead of being cut.
    assert "Basmati rice premium long grain extra aged" in lines
    assert "5kg bag" in lines


def test_totals_payments_change_and_footer_appear_in_order() -> None:
    lines = render_text(make_receipt(), width=42)
    totals = lines[lines.index("Tomatoes") + 2 :]
    order = [
        "Subtotal",
        "Discount",
        "Tax",
        "TOTAL INR",
        "Cash",
        "UPI",
        "  Ref 412345678901",
        "Change",
        "Thank you for shopping with us!",
        "Returns within 7 days",
    ]
    positions = [
        next(i for i, line in enumerate(totals) if line.lstrip().startswith(text.strip()))
        for text in order
    ]
    assert positions == sorted(positions)
    assert line_with(totals, "Discount").endswith("-10.00")
    header = lines[lines.index("-" * 42) + 1]
    assert header.startswith("Receipt R-000123") and header.endswith("2024-05-01 14:03")
    assert "Customer: Ravi K" in lines


def test_large_amounts_get_thousands_separators() -> None:
    lines = render_text(make_receipt(total=D("1234567.5")), width=42)
    assert line_with(lines, "TOTAL INR").endswith(" 1,234,567.50")


def test_plain_receipt_has_no_markers() -> None:
    text = "\n".join(render_text(make_receipt()))
    assert "REFUND" not in text and "REPRINT" not in text


def test_refund_is_marked_at_top_and_bottom_and_in_the_total() -> None:
    lines = render_text(make_receipt(is_refund=True))
    marked = [i for i, line in enumerate(lines) if line.strip() == "*** REFUND ***"]
    assert len(marked) == 2
    assert marked[0] < lines.index("-" * 42) and marked[1] == len(lines) - 1
    assert line_with(lines, "REFUND TOTAL INR").endswith("1,509.70")


def test_reprint_is_marked_at_top_and_bottom() -> None:
    lines = render_text(make_receipt(is_copy=True))
    assert [line.strip() for line in lines].count("*** REPRINT ***") == 2
    assert lines[-1].strip() == "*** REPRINT ***"


def test_emphasis_hints_for_printers() -> None:
    printed = layout(make_receipt())
    assert printed[0].large and printed[0].bold
    total = next(line for line in printed if line.text.startswith("TOTAL"))
    assert total.bold and total.large


def test_control_characters_in_names_become_spaces() -> None:
    receipt = make_receipt(
        lines=(ReceiptLine("Tea\x1bp\nbag", D("1"), "pc", D("5.00"), D("0"), D("5.00")),)
    )
    lines = render_text(receipt)
    assert "Tea p bag" in lines
    assert not any("\x1b" in line for line in lines)


def test_money_must_be_decimal() -> None:
    with pytest.raises(TypeError, match="unit_price"):
        ReceiptLine("Tea", D("1"), "pc", 5.0, D("0"), D("5.00"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="amount"):
        ReceiptPayment("Cash", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="total"):
        make_receipt(total=1509.7)


def test_too_narrow_width_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 24"):
        render_text(make_receipt(), width=20)


def pdftoppm() -> str:
    """Return the pdftoppm executable, or skip outside CI when poppler is not installed."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftoppm (poppler-utils) is required in CI")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    return exe


def render_first_page(pdf: Path, *, dpi: int = 50) -> QImage:
    """Render page 1 of a PDF with poppler and load the PNG."""
    prefix = pdf.with_suffix("")
    subprocess.run(
        [pdftoppm(), "-png", "-r", str(dpi), "-f", "1", "-l", "1", str(pdf), str(prefix)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (png,) = pdf.parent.glob(f"{prefix.name}-*.png")
    image = QImage(str(png))
    assert not image.isNull()
    return image


def dark_pixels(image: QImage) -> int:
    """Count pixels darker than mid-grey."""
    gray = image.convertToFormat(QImage.Format.Format_Grayscale8)
    return sum(
        1
        for y in range(gray.height())
        for x in range(gray.width())
        if gray.pixelColor(x, y).value() < 128
    )


def test_receipt_pdf_is_80mm_wide_and_renders(qapp, tmp_path: Path) -> None:
    pdf = tmp_path / "receipt.pdf"
    receipt_to_pdf(make_receipt(), path=pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    image = render_first_page(pdf)
    assert image.width() in (157, 158)  # 80 mm at 50 dpi
    assert image.height() > image.width()
    assert dark_pixels(image) > 500


def test_receipt_pdf_height_follows_the_line_count(qapp, tmp_path: Path) -> None:
    short, long = tmp_path / "short.pdf", tmp_path / "long.pdf"
    item = make_receipt().lines[0]
    receipt_to_pdf(make_receipt(lines=(item,)), path=short)
    receipt_to_pdf(make_receipt(lines=(item,) * 40), path=long)
    short_height = render_first_page(short).height()
    long_height = render_first_page(long).height()
    # Each extra item is three lines (name, quantity, discount).
    lines_added = 39 * 3
    assert long_height - short_height == pytest.approx(lines_added * 3.5 / 25.4 * 50, rel=0.15)


def test_zreport_pdf_renders(qapp, tmp_path: Path) -> None:
    pdf = tmp_path / "z.pdf"
    rows = [
        ("Shift", "42"),
        ("Opened", "2024-05-01 09:00"),
        ("Takings", ""),
        ("Cash", "12,345.00"),
        ("Card", "1,000.00"),
    ]
    zreport_to_pdf(title="Z report", rows=rows, path=pdf)
    image = render_first_page(pdf)
    assert image.width() in (157, 158)
    assert dark_pixels(image) > 200
