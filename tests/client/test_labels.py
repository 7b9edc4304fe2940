"""Barcode labels: validated codes, PDF sheets that poppler renders and scan back, and ZPL."""

from __future__ import annotations

import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from common.barcodes import BarcodeError, make_ean13
from pos_client.printing.labels import (
    LabelSpec,
    bar_pattern,
    render_label_sheet,
    render_label_zpl,
)

# EAN-13 digit encodings: L (odd parity), R (right half); G is R reversed.
_L = [
    "0001101",
    "0011001",
    "0010011",
    "0111101",
    "0100011",
    "0110001",
    "0101111",
    "0111011",
    "0110111",
    "0001011",
]
_R = ["".join("1" if bit == "0" else "0" for bit in code) for code in _L]
_G = [code[::-1] for code in _R]
# Which of L/G the six left digits use tells the first digit.
_PARITY = [
    "LLLLLL",
    "LLGLGG",
    "LLGGLG",
    "LLGGGL",
    "LGLLGG",
    "LGGLLG",
    "LGGGLL",
    "LGLGLG",
    "LGLGGL",
    "LGGLGL",
]

A4_MM = (210.0, 297.0)
CELL_MM = (70.0, 297.0 / 8)


def decode_ean13(bits: str) -> str:
    """Decode 95 EAN-13 modules into its 13 digits (independently of python-barcode)."""
    assert len(bits) == 95
    assert bits[:3] == "101" and bits[45:50] == "01010" and bits[92:] == "101"
    parity, digits = "", ""
    for i in range(6):
        chunk = bits[3 + 7 * i : 10 + 7 * i]
        if chunk in _L:
            parity, digits = parity + "L", digits + str(_L.index(chunk))
        else:
            parity, digits = parity + "G", digits + str(_G.index(chunk))
    for i in range(6):
        digits += str(_R.index(bits[50 + 7 * i : 57 + 7 * i]))
    return str(_PARITY.index(parity)) + digits


def pdftoppm() -> str:
    """Return the pdftoppm executable, or skip outside CI when poppler is not installed."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftoppm (poppler-utils) is required in CI")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    return exe


def render(pdf: Path, *args: str, prefix: str = "page") -> list[Path]:
    """Render a PDF to PNGs with poppler and return them in page order."""
    out = pdf.parent / prefix
    subprocess.run(
        [pdftoppm(), "-png", *args, str(pdf), str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return sorted(pdf.parent.glob(f"{prefix}-*.png"))


def scan_row(image: QImage, *, y: int) -> list[tuple[bool, int]]:
    """Read one pixel row as bar/space runs, the way a scanner's laser line sees the bars."""
    gray = image.convertToFormat(QImage.Format.Format_Grayscale8)
    dark = [gray.pixelColor(x, y).value() < 128 for x in range(gray.width())]
    first, last = dark.index(True), len(dark) - 1 - dark[::-1].index(True)
    runs: list[tuple[bool, int]] = []
    for pixel in dark[first : last + 1]:
        if runs and runs[-1][0] == pixel:
            runs[-1] = (pixel, runs[-1][1] + 1)
        else:
            runs.append((pixel, 1))
    return runs


def modules_from_runs(runs: list[tuple[bool, int]], *, modules: int) -> str:
    """Turn pixel runs into modules, knowing how many modules the symbol spans."""
    module_px = sum(length for _, length in runs) / modules
    return "".join(("1" if bar else "0") * round(length / module_px) for bar, length in runs)


def make_labels(count: int) -> list[LabelSpec]:
    """Build count labels, every fifth one a Code 128 SKU."""
    names = [
        "Basmati Rice 5 kg",
        "Crème brûlée",
        "Amul Butter 500 g salted, family pack",
        "Пельмени 1 kg",
        "Tata Salt 1 kg",
    ]
    labels = []
    for i in range(count):
        if i % 5 == 4:
            labels.append(
                LabelSpec(names[i % 5], Decimal("20.00") + i, "INR", f"SKU-{i:05d}", "code128")
            )
        else:
            labels.append(
                LabelSpec(names[i % 5], Decimal("1249.50") + i, "INR", make_ean13(f"890{i:09d}"))
            )
    return labels


def test_sheet_of_30_labels_renders_on_two_a4_pages(qapp, tmp_path: Path) -> None:
    pdf = tmp_path / "labels.pdf"
    assert render_label_sheet(make_labels(30), pdf) == 2
    pages = render(pdf, "-r", "50")
    assert len(pages) == 2
    for page in pages:
        image = QImage(str(page))
        assert (image.width(), image.height()) in {(413, 585), (414, 585), (413, 584)}


@pytest.mark.parametrize("index", [0, 3, 4])
def test_printed_bars_scan_back_to_the_code(qapp, tmp_path: Path, index: int) -> None:
    labels = make_labels(6)
    pdf = tmp_path / "labels.pdf"
    render_label_sheet(labels, pdf)
    dpi = 600
    row, column = divmod(index, 3)
    left, top = column * CELL_MM[0], row * CELL_MM[1]
    px = [str(round(mm / 25.4 * dpi)) for mm in (left, top, *CELL_MM)]
    (png,) = render(
        pdf,
        "-r",
        str(dpi),
        "-f",
        "1",
        "-l",
        "1",
        "-x",
        px[0],
        "-y",
        px[1],
        "-W",
        px[2],
        "-H",
        px[3],
    )
    image = QImage(str(png))
    # 60 % down the label is within the bars, below the name and price.
    runs = scan_row(image, y=int(image.height() * 0.6))
    label = labels[index]
    expected = bar_pattern(label)
    scanned = modules_from_runs(runs, modules=len(expected))
    assert scanned == expected
    if label.symbology == "ean13":
        assert decode_ean13(scanned) == label.code


def test_wrong_check_digit_is_refused_with_a_clear_error() -> None:
    # python-barcode alone would quietly print 5901234123457 instead.
    with pytest.raises(BarcodeError, match=r"'Rice'.*not a valid EAN-13.*should be 7"):
        LabelSpec("Rice", Decimal("99.00"), "INR", "5901234123458")


@pytest.mark.parametrize("code", ["590123412345X", "59012341234", "12345670", "", "59012341234570"])
def test_codes_that_are_not_ean13_are_refused(code: str) -> None:
    with pytest.raises(BarcodeError, match="not a valid EAN-13"):
        LabelSpec("Rice", Decimal("99.00"), "INR", code)


def test_upc_a_is_printed_as_its_ean13_form() -> None:
    label = LabelSpec("Cola", Decimal("40.00"), "INR", " 036000291452 ")
    assert label.code == "0036000291452"


def test_code128_accepts_printable_ascii_only() -> None:
    assert LabelSpec("Bolt", Decimal("1.00"), "INR", "SKU-42/A", "code128").code == "SKU-42/A"
    with pytest.raises(BarcodeError, match="printable ASCII"):
        LabelSpec("Bolt", Decimal("1.00"), "INR", "SKU-ü", "code128")


def test_price_must_be_decimal() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        LabelSpec("Rice", 99.0, "INR", "5901234123457")  # type: ignore[arg-type]


def test_code_too_long_for_the_label_is_refused_before_writing(qapp, tmp_path: Path) -> None:
    label = LabelSpec("Long", Decimal("1.00"), "INR", "X" * 40, "code128")
    pdf = tmp_path / "labels.pdf"
    with pytest.raises(BarcodeError, match="too long"):
        render_label_sheet([label], pdf)
    assert not pdf.exists()


def test_empty_sheet_is_refused(qapp, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no labels"):
        render_label_sheet([], tmp_path / "labels.pdf")


def test_zpl_has_an_ean13_field_with_the_code() -> None:
    zpl = render_label_zpl(LabelSpec("Basmati Rice", Decimal("1249.50"), "INR", "5901234123457"))
    assert zpl.startswith(b"^XA\n") and zpl.endswith(b"^XZ\n")
    # ^BE takes the 12 data digits; the printer adds the check digit, equal to ours.
    assert b"^BEN," in zpl
    assert b"^FD590123412345^FS" in zpl
    assert b"^FDINR 1,249.50^FS" in zpl


def test_zpl_escapes_command_characters_and_utf8_in_names() -> None:
    label = LabelSpec("Crème ^XZ ~ _", Decimal("5.00"), "INR", "5901234123457")
    zpl = render_label_zpl(label).decode("ascii")
    name_field = next(line for line in zpl.splitlines() if "Cr_C3_A8me" in line)
    assert "^FH_^FDCr_C3_A8me _5EXZ _7E _5F^FS" in name_field
    assert zpl.count("^XZ") == 1


def test_zpl_code128_label() -> None:
    zpl = render_label_zpl(LabelSpec("Bolt", Decimal("1.00"), "INR", "SKU-42", "code128"))
    assert b"^BCN," in zpl and b"^FDSKU-42^FS" in zpl
    with pytest.raises(BarcodeError, match="ZPL"):
        render_label_zpl(LabelSpec("Bolt", Decimal("1.00"), "INR", "A>B", "code128"))


def test_zpl_copies_are_a_print_quantity_and_bounded() -> None:
    label = LabelSpec("Bolt", Decimal("1.00"), "INR", "5901234123457")
    assert b"^PQ12\n" in render_label_zpl(label, copies=12)
    with pytest.raises(ValueError, match="Copies"):
        render_label_zpl(label, copies=0)
