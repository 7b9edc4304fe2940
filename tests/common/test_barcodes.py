"""Tests for GS1 validation, normalization and scan parsing in common.barcodes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.barcodes import (
    DEFAULT_RULES,
    BarcodeError,
    ScannedCode,
    VariableMeasure,
    VariableMeasureRules,
    decode_variable_measure,
    gs1_check_digit,
    internal_ean13,
    is_valid_gtin,
    lookup_candidates,
    make_ean13,
    normalize,
    parse_scan,
    validate_gtin,
)


def digit_strings(length: int) -> st.SearchStrategy[str]:
    """Draw strings of exactly length ASCII digits."""
    return st.text(alphabet="0123456789", min_size=length, max_size=length)


def with_check_digit(body: str) -> str:
    """Append the GS1 check digit to body."""
    return body + str(gs1_check_digit(body))


gtin_bodies = st.sampled_from([7, 11, 12, 13]).flatmap(digit_strings)


# --- known real codes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("590123412345", 7),  # EAN-13 from the GS1 examples
        ("400638133393", 1),  # EAN-13 on a retail product
        ("03600029145", 2),  # UPC-A
        ("9638507", 4),  # GTIN-8
        ("1001234567890", 2),  # GTIN-14
        ("00000000000", 0),
    ],
)
def test_check_digit_of_known_codes(body: str, check: int) -> None:
    assert gs1_check_digit(body) == check


@pytest.mark.parametrize(
    "code",
    ["5901234123457", "4006381333931", "036000291452", "96385074", "10012345678902"],
)
def test_known_codes_are_valid(code: str) -> None:
    assert is_valid_gtin(code)
    assert validate_gtin(code) == code


def test_wrong_check_digit_names_the_expected_digit() -> None:
    assert not is_valid_gtin("5901234123458")
    with pytest.raises(BarcodeError, match=r"^Check digit of 5901234123458 should be 7$"):
        validate_gtin("5901234123458")


def test_validate_strips_surrounding_whitespace() -> None:
    assert validate_gtin("  5901234123457\r\n") == "5901234123457"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "empty"),
        ("   \r\n", "empty"),
        ("ABCDEFGHIJKLM", "digits only"),
        ("1001234567890A", "digits only"),  # 14 characters, a letter in the check position
        ("590123412345X", "digits only"),
        ("5901234-123457", "digits only"),
        ("５９０１２３４１２３４５７", "digits only"),  # fullwidth digits are not barcode digits
        ("1234567", "7 digits"),
        ("12345678901", "11 digits"),
        ("123456789012345", "15 digits"),  # too long for any GTIN
        ("1" * 48, "48 digits"),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(code: str, reason: str) -> None:
    assert not is_valid_gtin(code)
    with pytest.raises(BarcodeError, match=reason):
        validate_gtin(code)


def test_barcode_error_is_a_value_error() -> None:
    assert issubclass(BarcodeError, ValueError)


@pytest.mark.parametrize("body", ["", "12a4", " 123", "١٢٣"])
def test_check_digit_needs_ascii_digits(body: str) -> None:
    with pytest.raises(BarcodeError):
        gs1_check_digit(body)


# --- make_ean13 and internal codes -----------------------------------------------------------


def test_make_ean13_appends_check_digit() -> None:
    assert make_ean13("590123412345") == "5901234123457"


@pytest.mark.parametrize("body", ["59012341234", "5901234123457", "59012341234X", ""])
def test_make_ean13_needs_twelve_digits(body: str) -> None:
    with pytest.raises(BarcodeError, match="12 digits"):
        make_ean13(body)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        (0, "0400000000008"),
        (1, "0400000000015"),
        (9_999_999_999, make_ean13("049999999999")),
    ],
)
def test_internal_ean13(number: int, code: str) -> None:
    assert internal_ean13(number) == code
    assert is_valid_gtin(code)


@pytest.mark.parametrize("number", [-1, 10_000_000_000])
def test_internal_ean13_out_of_range(number: int) -> None:
    with pytest.raises(ValueError, match="between 0 and 9999999999"):
        internal_ean13(number)


@pytest.mark.parametrize("number", [True, 1.0, "1"])
def test_internal_ean13_needs_an_int(number: object) -> None:
    with pytest.raises(TypeError):
        internal_ean13(number)  # type: ignore[arg-type]


def test_internal_codes_are_not_variable_measure() -> None:
    scan = parse_scan(internal_ean13(12345))
    assert scan.symbology == "gtin"
    assert scan.code == "0400000123455"


# --- normalize -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "normalized"),
    [
        ("5901234123457", "5901234123457"),
        ("036000291452", "0036000291452"),  # UPC-A widened to EAN-13
        ("00036000291452", "0036000291452"),  # GTIN-14 of a UPC-A
        ("05901234123457", "5901234123457"),  # GTIN-14 of an EAN-13
        ("10012345678902", "10012345678902"),  # packaging indicator 1 stays GTIN-14
        ("96385074", "96385074"),  # GTIN-8 stays
        ("\t 5901234123457\r\n", "5901234123457"),
        ("SKU-00042", "SKU-00042"),  # Code 128 / internal SKU passes through
        ("abc 12/x", "abc 12/x"),
        ("12345", "12345"),  # digits of no GTIN length are an internal number
        ("1001234567890A", "1001234567890A"),
        ("X" * 48, "X" * 48),
    ],
)
def test_normalize(code: str, normalized: str) -> None:
    assert normalize(code) == normalized


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("5901234123458", "should be 7"),
        ("036000291453", "should be 2"),
        ("", "empty"),
        ("  ", "empty"),
        ("X" * 49, "at most 48"),
        ("SKU\x1d42", "control"),
        ("café", "non-ASCII"),
    ],
)
def test_normalize_refuses(code: str, reason: str) -> None:
    with pytest.raises(BarcodeError, match=reason):
        normalize(code)


# --- variable measure ------------------------------------------------------------------------


def test_decode_weight_label() -> None:
    assert make_ean13("201234501500") == "2012345015005"
    assert decode_variable_measure("2012345015005") == VariableMeasure(
        prefix="20",
        item_code="12345",
        kind="weight",
        value=Decimal("1.500"),
        lookup_code="2012345000001",
    )


def test_decode_price_label() -> None:
    measure = decode_variable_measure("2598765012348")
    assert measure is not None
    assert measure.kind == "price"
    assert measure.value == Decimal("12.34")
    assert str(measure.value) == "12.34"
    assert measure.lookup_code == "2598765000000"


def test_decoded_value_keeps_its_decimal_places() -> None:
    measure = decode_variable_measure(make_ean13("200000100000"))
    assert measure is not None
    assert str(measure.value) == "0.000"
    assert measure.value.as_tuple().exponent == -3


@pytest.mark.parametrize(
    "code",
    [
        "5901234123457",  # ordinary EAN-13
        "2012345015006",  # wrong check digit
        "201234501500",  # 12 digits
        "02012345015005",  # 14 digits (parse_scan narrows it first; decode does not)
        "20123450150X5",
        "",
    ],
)
def test_decode_returns_none_for_other_codes(code: str) -> None:
    assert decode_variable_measure(code) is None


def test_shop_rules_choose_prefixes_and_decimals() -> None:
    rules = VariableMeasureRules(
        weight_prefixes=frozenset({"21"}),
        price_prefixes=frozenset({"28"}),
        weight_decimals=2,
        price_decimals=0,
    )
    weight = decode_variable_measure(make_ean13("211111101234"), rules=rules)
    price = decode_variable_measure(make_ean13("282222201234"), rules=rules)
    assert weight is not None and weight.value == Decimal("12.34")
    assert price is not None and price.value == Decimal("1234")
    # A prefix the shop does not use is an ordinary GTIN.
    assert decode_variable_measure(make_ean13("201111101234"), rules=rules) is None
    assert parse_scan(make_ean13("201111101234"), rules=rules).symbology == "gtin"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"weight_prefixes": frozenset({"19"})}, ValueError),
        ({"price_prefixes": frozenset({"2"})}, ValueError),
        ({"weight_prefixes": frozenset({"20", "25"})}, ValueError),  # overlaps price
        ({"weight_prefixes": {"20"}}, TypeError),
        ({"weight_decimals": 6}, ValueError),
        ({"price_decimals": -1}, ValueError),
        ({"price_decimals": 2.0}, TypeError),
    ],
)
def test_rules_refuse_ambiguous_settings(kwargs: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        VariableMeasureRules(**kwargs)  # type: ignore[arg-type]


# --- parse_scan and lookup_candidates --------------------------------------------------------


def test_parse_scan_ean13_keeps_raw() -> None:
    scan = parse_scan("5901234123457\r\n")
    assert scan == ScannedCode(
        raw="5901234123457\r\n", code="5901234123457", symbology="gtin", variable=None
    )
    assert lookup_candidates(scan) == ("5901234123457",)


def test_parse_scan_upc_a_looks_up_both_forms() -> None:
    scan = parse_scan("036000291452\n")
    assert scan.symbology == "gtin"
    assert scan.code == "0036000291452"
    assert lookup_candidates(scan) == ("0036000291452", "036000291452")


def test_parse_scan_gtin8_and_gtin14() -> None:
    assert lookup_candidates(parse_scan("96385074")) == ("96385074",)
    assert lookup_candidates(parse_scan("10012345678902")) == ("10012345678902",)
    assert parse_scan("00012345678905").code == "0012345678905"


def test_parse_scan_variable_measure() -> None:
    scan = parse_scan("2012345015005\r")
    assert scan.symbology == "variable"
    assert scan.code == "2012345015005"
    assert scan.variable is not None and scan.variable.value == Decimal("1.500")
    assert lookup_candidates(scan) == ("2012345000001",)


def test_parse_scan_variable_measure_as_gtin14() -> None:
    scan = parse_scan("02012345015005")
    assert scan.symbology == "variable"
    assert scan.code == "2012345015005"


def test_parse_scan_code128_passthrough() -> None:
    scan = parse_scan("  SKU-00042\r\n")
    assert scan == ScannedCode(
        raw="  SKU-00042\r\n", code="SKU-00042", symbology="code128", variable=None
    )
    assert lookup_candidates(scan) == ("SKU-00042",)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("5901234123458\r\n", "should be 7"),
        ("2012345015006", "should be 5"),  # a misread weight label must not sell as a GTIN
        ("", "empty"),
        ("\r\n", "empty"),
        ("590\x001234", "control"),
        ("\x1b[A", "control"),
        ("X" * 49, "at most 48"),
    ],
)
def test_parse_scan_refuses(raw: str, reason: str) -> None:
    with pytest.raises(BarcodeError, match=reason):
        parse_scan(raw)


def test_default_rules_are_the_documented_ones() -> None:
    assert DEFAULT_RULES.weight_prefixes == frozenset({"20", "21", "22", "23", "24"})
    assert DEFAULT_RULES.price_prefixes == frozenset({"25", "26", "27", "28", "29"})
    assert (DEFAULT_RULES.weight_decimals, DEFAULT_RULES.price_decimals) == (3, 2)


# --- properties ----------------------------------------------------------------------------


@given(digit_strings(12))
def test_any_body_with_its_check_digit_is_valid(body: str) -> None:
    code = make_ean13(body)
    assert code[:12] == body
    assert is_valid_gtin(code)
    assert validate_gtin(code) == code


@given(gtin_bodies)
def test_every_gtin_length_validates(body: str) -> None:
    assert is_valid_gtin(with_check_digit(body))


@given(gtin_bodies, st.data())
def test_changing_any_single_digit_invalidates(body: str, data: st.DataObject) -> None:
    code = with_check_digit(body)
    position = data.draw(st.integers(min_value=0, max_value=len(code) - 1), label="position")
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != code[position]]))
    altered = code[:position] + digit + code[position + 1 :]
    assert not is_valid_gtin(altered)
    with pytest.raises(BarcodeError, match="Check digit"):
        validate_gtin(altered)


@given(gtin_bodies, st.data())
def test_adjacent_swaps_are_caught_unless_digits_differ_by_five(
    body: str, data: st.DataObject
) -> None:
    code = with_check_digit(body)
    i = data.draw(st.integers(min_value=0, max_value=len(code) - 2), label="position")
    a, b = int(code[i]), int(code[i + 1])
    swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    # Weights 3 and 1 make a swap change the sum by 2(a - b): invisible mod 10 only if 5 | a - b.
    assert is_valid_gtin(swapped) == ((a - b) % 5 == 0)


@given(digit_strings(11))
def test_upc_a_normalizes_to_a_valid_ean13(body: str) -> None:
    upc = with_check_digit(body)
    ean = normalize(upc)
    assert ean == "0" + upc
    assert is_valid_gtin(ean)
    assert normalize(ean) == ean
    assert normalize("0" + ean) == ean  # its GTIN-14 form too


@given(digit_strings(12))
def test_normalize_is_idempotent_for_valid_codes(body: str) -> None:
    once = normalize(make_ean13(body))
    assert normalize(once) == once


@given(
    st.sampled_from(sorted(DEFAULT_RULES.weight_prefixes | DEFAULT_RULES.price_prefixes)),
    digit_strings(5),
    st.integers(min_value=0, max_value=99_999),
)
def test_variable_measure_round_trips(prefix: str, item_code: str, amount: int) -> None:
    code = make_ean13(f"{prefix}{item_code}{amount:05d}")
    measure = decode_variable_measure(code)
    assert measure is not None
    is_weight = prefix in DEFAULT_RULES.weight_prefixes
    decimals = 3 if is_weight else 2
    assert measure.kind == ("weight" if is_weight else "price")
    assert measure.prefix == prefix
    assert measure.item_code == item_code
    assert measure.value == Decimal(amount) / 10**decimals
    assert measure.value.as_tuple().exponent == -decimals
    assert measure.value * 10**decimals == amount
    assert measure.lookup_code == make_ean13(f"{prefix}{item_code}00000")
    assert parse_scan(code).variable == measure


@given(st.text(max_size=60))
def test_parse_scan_only_ever_raises_barcode_error(raw: str) -> None:
    try:
        scan = parse_scan(raw)
    except BarcodeError:
        return
    assert scan.code == normalize(raw)
    assert scan.code in lookup_candidates(scan) or scan.symbology == "variable"
    assert 1 <= len(scan.code) <= 48


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=48))
def test_printable_text_that_is_not_a_gtin_passes_through(text: str) -> None:
    # A leading "]" (an AIM symbology identifier) or "(" (a GS1 application identifier written
    # out) marks a GS1 code: those are parsed, and refused when malformed (tested above).
    if not text or text[0] in "](" or (text.isdigit() and len(text) in {8, 12, 13, 14}):
        return
    assert normalize(text) == text
    assert parse_scan(text).symbology == "code128"
