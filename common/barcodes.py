"""Validate, normalize and decode the barcodes a till scans.

This module is the only place that checks GS1 check digits: python-barcode renders
whatever it is given (it silently rewrites a wrong check digit), so every code is
validated here before it is stored, looked up or printed.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

__all__ = [
    "DEFAULT_RULES",
    "GS",
    "BarcodeError",
    "GS1Data",
    "ScannedCode",
    "VariableMeasure",
    "VariableMeasureRules",
    "decode_variable_measure",
    "gs1_check_digit",
    "internal_ean13",
    "is_product_code",
    "is_valid_gtin",
    "lookup_candidates",
    "make_ean13",
    "normalize",
    "parse_gs1",
    "parse_scan",
    "split_aim",
    "validate_gtin",
]

GTIN_LENGTHS = frozenset({8, 12, 13, 14})
MAX_CODE128_LENGTH = 48
INTERNAL_PREFIX = "04"  # GS1 restricted circulation: numbers a company assigns for its own use
INTERNAL_MAX_NUMBER = 10**10 - 1
VARIABLE_PREFIXES = frozenset(str(p) for p in range(20, 30))

# str.isdigit() also accepts non-ASCII digits (Arabic-Indic, fullwidth); a barcode never has them.
_DIGITS = re.compile(r"[0-9]+")
# Printable ASCII, space included: what a Code 128 scan of a label or SKU can hold.
_PRINTABLE = re.compile(r"[\x20-\x7e]+")


class BarcodeError(ValueError):
    """A scanned or typed code that cannot be accepted; the message says why."""


def _is_digits(text: str) -> bool:
    """Tell whether text is one or more ASCII digits."""
    return _DIGITS.fullmatch(text) is not None


def gs1_check_digit(body: str) -> int:
    """Compute the GS1 mod-10 check digit for the digits before the check digit."""
    if not _is_digits(body):
        raise BarcodeError(f"Cannot compute a check digit of {body!r}: digits only")
    # Weights alternate 3, 1, 3, … starting from the rightmost body digit, whatever the length.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate_gtin(code: str) -> str:
    """Return the stripped GTIN-8/12/13/14 or raise BarcodeError saying what is wrong."""
    stripped = code.strip()
    if not stripped:
        raise BarcodeError("Barcode is empty")
    if not _is_digits(stripped):
        raise BarcodeError(f"Barcode {stripped!r} must contain digits only")
    if len(stripped) not in GTIN_LENGTHS:
        raise BarcodeError(
            f"Barcode {stripped} has {len(stripped)} digits; a GTIN has 8, 12, 13 or 14"
        )
    expected = gs1_check_digit(stripped[:-1])
    if int(stripped[-1]) != expected:
        raise BarcodeError(f"Check digit of {stripped} should be {expected}")
    return stripped


def is_valid_gtin(code: str) -> bool:
    """Tell whether code (surrounding whitespace ignored) is a GTIN with a correct check digit."""
    try:
        validate_gtin(code)
    except BarcodeError:
        return False
    return True


def _check_passthrough(code: str) -> str:
    """Return code if it is acceptable as a Code 128 / internal SKU, else raise BarcodeError."""
    if not code:
        raise BarcodeError("Barcode is empty")
    if _PRINTABLE.fullmatch(code) is None:
        raise BarcodeError(f"Barcode {code!r} contains control or non-ASCII characters")
    if len(code) > MAX_CODE128_LENGTH:
        raise BarcodeError(
            f"Barcode has {len(code)} characters; at most {MAX_CODE128_LENGTH} are accepted"
        )
    return code


def _gtin_to_canonical(gtin: str) -> str:
    """Shorten a validated GTIN to the form the catalog stores (EAN-13 where one exists)."""
    # A leading zero carries no weight in the mod-10 sum, so dropping or adding it keeps the
    # check digit correct.
    if len(gtin) == 12:
        return "0" + gtin
    if len(gtin) == 14 and gtin[0] == "0":
        return gtin[1:]
    return gtin


def normalize(code: str) -> str:
    """Return the catalog form of a code: GTINs validated and widened/narrowed to EAN-13."""
    stripped = code.strip()
    if _is_digits(stripped) and len(stripped) in GTIN_LENGTHS:
        return _gtin_to_canonical(validate_gtin(stripped))
    return _check_passthrough(stripped)


def make_ean13(body12: str) -> str:
    """Append the check digit to 12 digits to make an EAN-13."""
    if len(body12) != 12 or not _is_digits(body12):
        raise BarcodeError(f"An EAN-13 body is 12 digits, got {body12!r}")
    return body12 + str(gs1_check_digit(body12))


def internal_ean13(number: int) -> str:
    """Make the in-store EAN-13 "04" + 10-digit number + check digit for an unbarcoded product."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise TypeError(f"Internal barcode number must be an int, got {type(number).__name__}")
    if not 0 <= number <= INTERNAL_MAX_NUMBER:
        raise ValueError(
            f"Internal barcode number must be between 0 and {INTERNAL_MAX_NUMBER}, got {number}"
        )
    return make_ean13(f"{INTERNAL_PREFIX}{number:010d}")


@dataclass(frozen=True)
class VariableMeasure:
    """What a weight- or price-embedded label (layout "PP IIIII VVVVV C") says."""

    prefix: str
    item_code: str
    kind: Literal["weight", "price"]
    value: Decimal
    lookup_code: str


@dataclass(frozen=True)
class VariableMeasureRules:
    """How one shop's scales print variable-measure labels."""

    weight_prefixes: frozenset[str] = frozenset({"20", "21", "22", "23", "24"})
    price_prefixes: frozenset[str] = frozenset({"25", "26", "27", "28", "29"})
    weight_decimals: int = 3
    price_decimals: int = 2

    def __post_init__(self) -> None:
        """Refuse rules that would make a label ambiguous or undecodable."""
        for name in ("weight_prefixes", "price_prefixes"):
            prefixes = getattr(self, name)
            if not isinstance(prefixes, frozenset):
                raise TypeError(f"{name} must be a frozenset of two-digit strings")
            unknown = prefixes - VARIABLE_PREFIXES
            if unknown:
                raise ValueError(f"{name} must be within 20..29, got {sorted(unknown)}")
        overlap = self.weight_prefixes & self.price_prefixes
        if overlap:
            raise ValueError(f"Prefixes {sorted(overlap)} are both weight and price prefixes")
        for name in ("weight_decimals", "price_decimals"):
            decimals = getattr(self, name)
            # The value field has five digits, so more than five decimals cannot be printed.
            if isinstance(decimals, bool) or not isinstance(decimals, int):
                raise TypeError(f"{name} must be an int")
            if not 0 <= decimals <= 5:
                raise ValueError(f"{name} must be between 0 and 5, got {decimals}")


DEFAULT_RULES = VariableMeasureRules()


def decode_variable_measure(
    code: str, *, rules: VariableMeasureRules = DEFAULT_RULES
) -> VariableMeasure | None:
    """Decode a valid EAN-13 weight/price label, or return None if code is not one."""
    stripped = code.strip()
    if len(stripped) != 13 or not is_valid_gtin(stripped):
        return None
    prefix, item_code, digits = stripped[:2], stripped[2:7], stripped[7:12]
    if prefix in rules.weight_prefixes:
        kind: Literal["weight", "price"] = "weight"
        decimals = rules.weight_decimals
    elif prefix in rules.price_prefixes:
        kind = "price"
        decimals = rules.price_decimals
    else:
        return None
    # scaleb keeps the exponent, so 01500 reads as Decimal("1.500"), never a float.
    value = Decimal(int(digits)).scaleb(-decimals)
    return VariableMeasure(
        prefix=prefix,
        item_code=item_code,
        kind=kind,
        value=value,
        lookup_code=make_ean13(f"{prefix}{item_code}00000"),
    )


# -- AIM symbology identifiers and GS1 element strings ------------------------------------

GS = "\x1d"  # the group separator a scanner sends for FNC1 between variable-length fields
# "]" + code character + modifier: what a scanner set to send symbology identifiers prefixes.
_AIM = re.compile(r"\][A-Za-z][0-9A-Za-z]")
# Identifiers whose data is a GS1 element string (GS1-128, DataBar, DataMatrix, QR, DotCode).
GS1_AIMS = frozenset({"]C1", "]e0", "]e1", "]e2", "]d2", "]Q3", "]J1"})
# What a lot or serial may hold: GS1's printable set, no spaces.
_GS1_TEXT = re.compile(r"[!-~]+")
_HRI = re.compile(r"\((\d{2,4})\)([^(]*)")


@dataclass(frozen=True)
class _AI:
    """How one application identifier's data is laid out."""

    name: str
    length: int  # fixed data length, or the maximum for a variable-length field
    fixed: bool


# The AIs a till reads off consumer goods; an unknown AI cannot be skipped (its length is unknown).
_AIS: dict[str, _AI] = {
    "00": _AI("sscc", 18, fixed=True),
    "01": _AI("gtin", 14, fixed=True),
    "02": _AI("content", 14, fixed=True),
    "10": _AI("lot", 20, fixed=False),
    "11": _AI("production date", 6, fixed=True),
    "13": _AI("packaging date", 6, fixed=True),
    "15": _AI("best before", 6, fixed=True),
    "16": _AI("sell by", 6, fixed=True),
    "17": _AI("expiry", 6, fixed=True),
    "20": _AI("variant", 2, fixed=True),
    "21": _AI("serial", 20, fixed=False),
    "30": _AI("count", 8, fixed=False),
    "37": _AI("count", 8, fixed=False),
    **{f"310{n}": _AI("net weight (kg)", 6, fixed=True) for n in range(6)},
    **{f"392{n}": _AI("price", 15, fixed=False) for n in range(10)},
    **{f"393{n}": _AI("price with currency", 18, fixed=False) for n in range(10)},
}
_DATE_AIS = frozenset({"11", "13", "15", "16", "17"})


@dataclass(frozen=True)
class GS1Data:
    """What a GS1 element string says about the item in hand."""

    elements: tuple[tuple[str, str], ...]
    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    expiry: date | None = None
    best_before: date | None = None
    net_weight_kg: Decimal | None = None
    price: Decimal | None = None
    count: int | None = None

    @property
    def attributes(self) -> dict[str, str]:
        """Return what a sale line keeps of this label (lot, expiry, serial, weight)."""
        found = {
            "lot": self.lot,
            "expiry": self.expiry.isoformat() if self.expiry else None,
            "best_before": self.best_before.isoformat() if self.best_before else None,
            "serial": self.serial,
            "net_weight_kg": str(self.net_weight_kg) if self.net_weight_kg is not None else None,
        }
        return {key: value for key, value in found.items() if value is not None}


def split_aim(raw: str) -> tuple[str | None, str]:
    """Split a leading AIM symbology identifier (``]E0``, ``]C1``...) from the data."""
    if _AIM.match(raw):
        return raw[:3], raw[3:]
    return None, raw


def gs1_date(text: str, *, today: date | None = None) -> date:
    """Read a GS1 YYMMDD date; day 00 means the month's last day; century per GS1 7.12."""
    if len(text) != 6 or not _is_digits(text):
        raise BarcodeError(f"GS1 date {text!r} is not six digits (YYMMDD)")
    yy, month, day = int(text[:2]), int(text[2:4]), int(text[4:])
    if not 1 <= month <= 12:
        raise BarcodeError(f"GS1 date {text} has month {month:02d}")
    now = today or date.today()
    century = now.year // 100 * 100
    # A date more than 50 years ahead is last century's; more than 49 years back, next century's.
    difference = yy - now.year % 100
    if difference >= 51:
        century -= 100
    elif difference <= -50:
        century += 100
    year = century + yy
    last = calendar.monthrange(year, month)[1]
    if day == 0:
        day = last
    if day > last:
        raise BarcodeError(f"GS1 date {text} has no day {day} in that month")
    return date(year, month, day)


def _split_elements(data: str) -> list[tuple[str, str]]:
    """Cut an element string into (AI, value) pairs at fixed lengths and GS separators."""
    if data.startswith("("):
        # Human-readable form typed or scanned from a label: (01)…(17)…
        pairs = _HRI.findall(data)
        if "".join(f"({ai}){value}" for ai, value in pairs) != data:
            raise BarcodeError("GS1 code in brackets is not of the form (AI)value(AI)value")
        return [(ai, value) for ai, value in pairs]
    elements: list[tuple[str, str]] = []
    rest = data.lstrip(GS)
    while rest:
        ai = next((rest[:n] for n in (2, 4) if rest[:n] in _AIS), None)
        if ai is None:
            raise BarcodeError(f"GS1 code has an application identifier we cannot read: {rest[:4]}")
        spec = _AIS[ai]
        body = rest[len(ai) :]
        if spec.fixed:
            value, rest = body[: spec.length], body[spec.length :]
            if len(value) != spec.length or GS in value:
                raise BarcodeError(f"GS1 field ({ai}) is shorter than {spec.length} characters")
        else:
            end = body.find(GS)
            value, rest = (body, "") if end < 0 else (body[:end], body[end:])
        elements.append((ai, value))
        rest = rest.lstrip(GS)
    return elements


def parse_gs1(data: str, *, today: date | None = None) -> GS1Data:
    """Parse a GS1 element string (FNC1 as GS, or the (AI) form); raise BarcodeError if bad."""
    elements = _split_elements(data)
    if not elements:
        raise BarcodeError("GS1 code is empty")
    found: dict[str, object] = {}
    for ai, value in elements:
        spec = _AIS.get(ai)
        if spec is None:
            raise BarcodeError(f"GS1 code has an application identifier we cannot read: {ai}")
        if spec.name in found:
            raise BarcodeError(f"GS1 code carries ({ai}) twice")
        if not value or len(value) > spec.length:
            raise BarcodeError(f"GS1 field ({ai}) must have 1 to {spec.length} characters")
        if ai in ("01", "02"):
            found[spec.name] = validate_gtin(value)
        elif ai in _DATE_AIS:
            found[spec.name] = gs1_date(value, today=today)
        elif ai in ("10", "21"):
            if _GS1_TEXT.fullmatch(value) is None:
                raise BarcodeError(f"GS1 field ({ai}) has characters a label cannot carry")
            found[spec.name] = value
        else:
            amount = value[3:] if ai.startswith("393") else value
            if not _is_digits(amount):
                raise BarcodeError(f"GS1 field ({ai}) must be digits, got {value!r}")
            if ai.startswith(("310", "392", "393")):
                # The AI's last digit is where the decimal point goes.
                found[spec.name] = Decimal(int(amount)).scaleb(-int(ai[3]))
            else:
                found[spec.name] = value if ai in ("00", "20") else int(value)
    return GS1Data(
        elements=tuple(elements),
        gtin=found.get("gtin"),  # type: ignore[arg-type]
        lot=found.get("lot"),  # type: ignore[arg-type]
        serial=found.get("serial"),  # type: ignore[arg-type]
        expiry=found.get("expiry"),  # type: ignore[arg-type]
        best_before=found.get("best before"),  # type: ignore[arg-type]
        net_weight_kg=found.get("net weight (kg)"),  # type: ignore[arg-type]
        price=found.get("price", found.get("price with currency")),  # type: ignore[arg-type]
        count=found.get("count"),  # type: ignore[arg-type]
    )


def _looks_like_gs1(aim: str | None, data: str) -> bool:
    if aim is not None:
        return aim in GS1_AIMS
    if GS in data or data.startswith("(01)"):
        return True
    # A bare element string: (01) + 14 digits + more, longer than any GTIN.
    return len(data) > 16 and data.startswith("01") and _is_digits(data[2:16])


@dataclass(frozen=True)
class ScannedCode:
    """One scan as received (raw) and as the catalog knows it (code)."""

    raw: str
    code: str
    symbology: Literal["gtin", "variable", "code128", "gs1"]
    variable: VariableMeasure | None
    aim: str | None = None
    gs1: GS1Data | None = field(default=None)


def parse_scan(
    raw: str, *, rules: VariableMeasureRules = DEFAULT_RULES, today: date | None = None
) -> ScannedCode:
    """Classify and normalize one scan; raise BarcodeError if it cannot be a product code."""
    # Scanners end a code with CR, LF or Tab depending on their setup.
    aim, stripped = split_aim(raw.strip(" \t\r\n"))
    stripped = stripped.strip(" \t\r\n")
    if _looks_like_gs1(aim, stripped):
        data = parse_gs1(stripped, today=today)
        if data.gtin is None:
            raise BarcodeError("GS1 code carries no product number (AI 01): scan the item's code")
        return ScannedCode(
            raw=raw,
            code=_gtin_to_canonical(data.gtin),
            symbology="gs1",
            variable=None,
            aim=aim,
            gs1=data,
        )
    if _is_digits(stripped) and len(stripped) in GTIN_LENGTHS:
        code = _gtin_to_canonical(validate_gtin(stripped))
        variable = decode_variable_measure(code, rules=rules)
        if variable is not None:
            return ScannedCode(raw=raw, code=code, symbology="variable", variable=variable, aim=aim)
        return ScannedCode(raw=raw, code=code, symbology="gtin", variable=None, aim=aim)
    return ScannedCode(
        raw=raw, code=_check_passthrough(stripped), symbology="code128", variable=None, aim=aim
    )


def is_product_code(text: str) -> bool:
    """Tell whether text reads as a whole product code (a GTIN with its check digit, or GS1)."""
    stripped = text.strip()
    if not stripped:
        return False
    try:
        scan = parse_scan(stripped)
    except BarcodeError:
        return False
    return scan.symbology in ("gtin", "variable", "gs1")


def lookup_candidates(scan: ScannedCode) -> tuple[str, ...]:
    """List the codes to try in the catalog for a scan, most specific first."""
    if scan.variable is not None:
        return (scan.variable.lookup_code,)
    if scan.symbology == "gtin" and len(scan.code) == 13 and scan.code[0] == "0":
        # Products entered by hand may have been stored under their 12-digit UPC-A.
        return (scan.code, scan.code[1:])
    return (scan.code,)
