"""GS1 element strings and AIM symbology identifiers in common.barcodes: tables and properties."""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.barcodes import (
    GS,
    BarcodeError,
    gs1_check_digit,
    gs1_date,
    lookup_candidates,
    parse_gs1,
    parse_scan,
    split_aim,
)

TODAY = date(2026, 6, 15)
GTIN14 = "09501101530003"


def gtin14(body13: str) -> str:
    return body13 + str(gs1_check_digit(body13))


@pytest.mark.parametrize(
    ("raw", "aim", "data"),
    [
        ("]E05901234123457", "]E0", "5901234123457"),
        ("]E496385074", "]E4", "96385074"),
        ("]A0ABC-123", "]A0", "ABC-123"),
        ("]C10109501101530003", "]C1", "0109501101530003"),
        ("5901234123457", None, "5901234123457"),
        ("]", None, "]"),
        ("]E", None, "]E"),
    ],
)
def test_split_aim(raw: str, aim: str | None, data: str) -> None:
    assert split_aim(raw) == (aim, data)


@pytest.mark.parametrize(
    ("raw", "code", "symbology"),
    [
        ("]E05901234123457", "5901234123457", "gtin"),
        ("]E496385074", "96385074", "gtin"),
        ("]E0" + "036000291452", "0036000291452", "gtin"),  # UPC-A reported as 12 digits
        ("]A0ABC-123", "ABC-123", "code128"),
        ("\t]E05901234123457\r\n", "5901234123457", "gtin"),
    ],
)
def test_aim_prefix_is_stripped_before_the_code_is_read(
    raw: str, code: str, symbology: str
) -> None:
    scan = parse_scan(raw)
    assert (scan.code, scan.symbology) == (code, symbology)
    assert scan.aim == (raw.strip()[:3] if raw.strip().startswith("]") else None)


def test_aim_prefix_does_not_hide_a_bad_check_digit() -> None:
    with pytest.raises(BarcodeError, match="Check digit"):
        parse_scan("]E05901234123458")


# (element string, expected fields) — FNC1 as GS after variable-length fields.
GS1_TABLE = [
    (f"01{GTIN14}", {"gtin": GTIN14}),
    (f"01{GTIN14}3103001250", {"gtin": GTIN14, "net_weight_kg": Decimal("1.250")}),
    (f"01{GTIN14}3100000002", {"gtin": GTIN14, "net_weight_kg": Decimal("2")}),
    (f"01{GTIN14}3105012345", {"gtin": GTIN14, "net_weight_kg": Decimal("0.12345")}),
    (
        f"01{GTIN14}10LOT-7{GS}17261231",
        {"gtin": GTIN14, "lot": "LOT-7", "expiry": date(2026, 12, 31)},
    ),
    (f"01{GTIN14}17260200", {"gtin": GTIN14, "expiry": date(2026, 2, 28)}),
    (f"01{GTIN14}1728022921SER1", {"expiry": date(2028, 2, 29), "serial": "SER1"}),
    (f"01{GTIN14}392212345", {"price": Decimal("123.45")}),
    (f"01{GTIN14}3921{'9' * 15}", {"price": Decimal("99999999999999.9")}),
    (f"01{GTIN14}3932356{'1050'}", {"price": Decimal("10.50")}),
    (f"01{GTIN14}3103000500{GS}3922000450{GS}10A1", {"price": Decimal("4.50"), "lot": "A1"}),
    (f"{GS}01{GTIN14}10B2{GS}", {"gtin": GTIN14, "lot": "B2"}),  # leading FNC1, trailing GS
    (f"(01){GTIN14}(3103)001250(10)L9", {"net_weight_kg": Decimal("1.250"), "lot": "L9"}),
    (f"01{GTIN14}306", {"count": 6}),
]


@pytest.mark.parametrize(("data", "expected"), GS1_TABLE)
def test_gs1_element_strings(data: str, expected: dict[str, object]) -> None:
    parsed = parse_gs1(data, today=TODAY)
    for name, value in expected.items():
        assert getattr(parsed, name) == value, name


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (f"01{GTIN14[:-1]}4", "Check digit"),
        (f"01{GTIN14[:10]}", "shorter"),
        (f"01{GTIN14}99XYZ", "cannot read: 99XY"),
        (f"01{GTIN14}17261301", "month 13"),
        (f"01{GTIN14}17260230", "no day 30"),
        (f"01{GTIN14}3103ABCDEF", "digits"),
        (f"01{GTIN14}10{'X' * 21}", "1 to 20"),
        (f"01{GTIN14}10{GS}17260101", "1 to 20"),
        (f"01{GTIN14}10A B", "characters"),
        (f"01{GTIN14}01{GTIN14}", "twice"),
        ("(01)123(", "brackets"),
        ("", "empty"),
    ],
)
def test_bad_gs1_element_strings_say_why(data: str, message: str) -> None:
    with pytest.raises(BarcodeError, match=message):
        parse_gs1(data, today=TODAY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("260615", date(2026, 6, 15)),
        ("751231", date(2075, 12, 31)),  # 49 years ahead: this century
        ("770101", date(1977, 1, 1)),  # 51 years ahead: last century
        ("240200", date(2024, 2, 29)),  # day 00: the month's last day, leap year
    ],
)
def test_gs1_dates(text: str, expected: date) -> None:
    assert gs1_date(text, today=TODAY) == expected


def test_gs1_128_scan_reaches_the_catalog_as_its_gtin() -> None:
    raw = f"]C101{GTIN14}3103001250{GS}10LOT42{GS}17261231"
    scan = parse_scan(raw, today=TODAY)
    assert scan.symbology == "gs1"
    assert scan.aim == "]C1"
    assert scan.code == "9501101530003"  # GTIN-14 with a leading 0 is the EAN-13
    assert lookup_candidates(scan) == ("9501101530003",)
    assert scan.gs1 is not None
    assert scan.gs1.attributes == {
        "lot": "LOT42",
        "expiry": "2026-12-31",
        "net_weight_kg": "1.250",
    }


def test_gs1_without_a_product_number_is_refused() -> None:
    with pytest.raises(BarcodeError, match="no product number"):
        parse_scan("]C1" + "10LOT1", today=TODAY)


def test_bare_element_string_without_aim_is_read_as_gs1() -> None:
    scan = parse_scan(f"01{GTIN14}17261231", today=TODAY)
    assert scan.symbology == "gs1"
    assert scan.gs1 is not None and scan.gs1.expiry == date(2026, 12, 31)


lots = st.text(alphabet="ABCDEFGHJK0123456789-/", min_size=1, max_size=20)
weights = st.integers(min_value=0, max_value=999_999)
decimals = st.integers(min_value=0, max_value=5)
dates = st.dates(min_value=date(1977, 1, 1), max_value=date(2075, 12, 31))
bodies = st.text(alphabet="0123456789", min_size=13, max_size=13)


@given(body=bodies, lot=lots, weight=weights, places=decimals, expiry=dates, order=st.booleans())
def test_gs1_round_trip(
    body: str, lot: str, weight: int, places: int, expiry: date, order: bool
) -> None:
    """Whatever order the fields come in, each is read back exactly."""
    gtin = gtin14(body)
    fields = [
        f"310{places}{weight:06d}",
        f"17{expiry:%y%m%d}",
        f"10{lot}{GS}",
    ]
    if order:
        fields.reverse()
    parsed = parse_gs1(f"01{gtin}" + "".join(fields), today=TODAY)
    assert parsed.gtin == gtin
    assert parsed.lot == lot
    assert parsed.expiry == expiry
    assert parsed.net_weight_kg == Decimal(weight).scaleb(-places)
    assert isinstance(parsed.net_weight_kg, Decimal)


@given(junk=st.text(max_size=40))
def test_parse_scan_never_raises_anything_but_barcode_error(junk: str) -> None:
    with contextlib.suppress(BarcodeError):
        parse_scan(junk, today=TODAY)
