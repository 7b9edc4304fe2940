"""Printed reports a person can read: shop, local time, whole words, totals, no internal ids."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from sync_server.db import transaction
from sync_server.reports.base import Column, Kind, Report
from sync_server.reports.exports import Letterhead, pdf_bytes, xlsx_bytes
from sync_server.sales.models import Shift
from tests.server.test_reports_ops import MARCH, at, till_world  # noqa: F401, F811 - a fixture

D = Decimal
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A printed number: digits with thousands commas and at most three decimals, maybe signed.
NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d{1,3})?$")

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) missing: scripts/system-deps.sh installs it",
)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """Return the PDF's text laid out as printed, after checking it renders to a real page."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "report.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(source), str(tmp_path / "p")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (png,) = tmp_path.glob("p*.png")
    assert png.stat().st_size > 5000
    done = subprocess.run(
        ["pdftotext", "-layout", str(source), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


def assert_readable(text: str, *, labels: list[str]) -> None:
    """Check every header word prints whole and every number stands alone."""
    words = set(re.findall(r"\S+", text))
    for label in labels:
        for word in label.split():
            assert word in words, f"header word {word!r} of {label!r} is broken:\n{text}"
    for token in words:
        if re.fullmatch(r"-?[\d.,]+", token) and any(ch.isdigit() for ch in token):
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", token):
                continue
            assert NUMBER.match(token), f"numbers run together in {token!r}:\n{text}"
    assert not UUID.search(text), f"an internal id is printed:\n{text}"


@needs_poppler
@pytest.mark.usefixtures("till_world")
def test_the_shift_report_pdf_reads_whole_with_shop_local_time_and_totals(world, tmp_path):
    a = world.a
    with transaction(world.sessions()) as s:
        # A second, busier shift with real ids, as tills send them.
        s.add(
            Shift(
                tenant_id=a.id,
                uuid="01935a2b-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
                device_id="01935a2b-0000-7e8f-9a0b-1c2d3e4f5a6c",
                branch_id=a.branch_ids[1],
                cashier_id=a.users["manager"],
                opened_at=at("2026-03-05", 8),
                closed_at=at("2026-03-05", 18),
                opening_float=D("1500"),
                expected_cash=D("71871.50"),
                counted_cash=D("71871.50"),
                variance=D(0),
                totals={},
            )
        )
    admin = world.api("admin")
    assert admin.put("settings/time_zone", json={"value": "Mars/Olympus"}).status_code == 422
    assert admin.put("settings/time_zone", json={"value": "Asia/Kolkata"}).status_code == 200

    answer = admin.get("reports/shift-reports", params={**MARCH, "format": "pdf"})
    assert answer.status_code == 200, answer.text
    text = pdf_text(answer.content, tmp_path / "shift")
    labels = [
        c["label"] for c in admin.get("reports/shift-reports", params=MARCH).json()["columns"]
    ]
    shown = [x for x in labels if x not in ("Shift", "Device", "Branch id")]
    assert_readable(text, labels=shown)
    assert "Tenant A" in text.splitlines()[0]
    assert re.search(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d IST \(Asia/Kolkata\)", text)
    assert "Branch id" not in text and "Device" not in text
    (total,) = [line for line in text.splitlines() if line.strip().startswith("Total")]
    # Float 100.00 + 1,500.00 and expected cash 158.00 + 71,871.50, in the totals row.
    assert "1,600.00" in total and "72,029.50" in total and "-3.00" in total


@needs_poppler
@pytest.mark.usefixtures("till_world")
def test_every_report_prints_readable_pdfs(world, tmp_path):
    admin = world.api("admin")
    b0 = world.a.branch_ids[0]
    names = [
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
    ]
    for name in names:
        params = {**MARCH, "branch_id": b0}
        report = admin.get(f"reports/{name}", params=params).json()
        answer = admin.get(f"reports/{name}", params={**params, "format": "pdf"})
        assert answer.status_code == 200, (name, answer.text)
        text = pdf_text(answer.content, tmp_path / name)
        labels = [c["label"] for c in report["columns"] if not c["label"].endswith(" id")]
        labels = [x for x in labels if x not in ("Shift", "Device")]
        assert_readable(text, labels=labels)
        if "branch_id" in report["filters"]:
            # The branch filter is named, not numbered.
            assert "branch: Tenant A MAIN" in text, (name, text)


def test_pdf_totals_add_money_quantities_and_counts_only():
    report = Report(
        name="t",
        title="T",
        columns=[
            Column("name", "Name"),
            Column("rank", "Rank", Kind.INT, total=False),
            Column("qty", "Quantity", Kind.QTY),
            Column("amount", "Amount", Kind.MONEY),
            Column("share", "Share %", Kind.RATIO),
            Column("product_id", "Product id", Kind.INT, internal=True),
        ],
        rows=[
            {
                "name": "Basmati rice 5 kg",
                "rank": 1,
                "qty": D("8"),
                "amount": D("1200.5"),
                "share": D("60"),
                "product_id": 7,
            },
            {
                "name": "Toor dal",
                "rank": 2,
                "qty": D("1.25"),
                "amount": D("800"),
                "share": D("40"),
                "product_id": 9,
            },
        ],
        filters={},
        generated_at=datetime(2026, 3, 1, 18, 30, tzinfo=UTC),
    )
    assert [c.summed for c in report.columns] == [False, False, True, True, False, False]
    head = Letterhead(shop="Corner Stores", zone="Asia/Kolkata")
    assert head.local_time(report.generated_at) == "2026-03-02 00:00 IST (Asia/Kolkata)"
    assert Letterhead(zone="Nowhere/Else").local_time(report.generated_at).endswith("(UTC)")
    assert pdf_bytes(report, head).startswith(b"%PDF")


def test_xlsx_quantities_never_show_a_trailing_point():
    report = Report(
        name="q",
        title="Q",
        columns=[Column("qty", "Quantity", Kind.QTY), Column("day", "Day", Kind.DATE)],
        rows=[{"qty": D("8"), "day": date(2026, 3, 1)}, {"qty": D("1.25"), "day": None}],
        filters={"branch_id": 3},
        generated_at=datetime(2026, 3, 1, 18, 30, tzinfo=UTC),
    )
    head = Letterhead(shop="Corner Stores", zone="Asia/Kolkata", branches={3: "Andheri"})
    book = load_workbook(io.BytesIO(xlsx_bytes(report, head)))
    sheet = book["q"]
    whole, part = sheet["A2"], sheet["A3"]
    assert whole.value == 8 and whole.number_format == "#,##0"
    assert part.value == pytest.approx(1.25) and part.number_format == "#,##0.0##"
    # Neither format ends in a bare point, which Excel prints as "8.".
    assert not any(f.endswith(".") or f.endswith(".###") for f in (whole.number_format,))
    about = {row[0].value: row[1].value for row in book["About"].iter_rows()}
    assert about["Shop"] == "Corner Stores" and about["Branch"] == "Andheri"
    assert about["Generated at"] == "2026-03-02 00:00 IST (Asia/Kolkata)"
