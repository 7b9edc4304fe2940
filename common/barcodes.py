"""Validate, normalize and decode the barcodes a till scans.

This module is the only place that checks GS1 check digits: python-barcode renders
whatever it is given (it silently rewrites a wrong check digit), so every code is
validated here before it is stored, looked up or printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

__all__ = [
    "DEFAULT_RULES",
    "BarcodeError",
    "ScannedCode",
    "VariableMeasure",
    "VariableMeasureRules",
    "decode_variable_measure",
    "gs1_check_digit",
    "internal_ean13",
    "is_valid_gtin",
    "lookup_candidates",
    "make_ean13",
    "normalize",
    "parse_scan",
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


@dataclass(frozen=True)
class ScannedCode:
    """One scan as received (raw) and as the catalog knows it (code)."""

    raw: str
    code: str
    symbology: Literal["gtin", "variable", "code128"]
    variable: VariableMeasure | None


def parse_scan(raw: str, *, rules: VariableMeasureRules = DEFAULT_RULES) -> ScannedCode:
    """Classify and normalize one scan; raise BarcodeError if it cannot be a product code."""
    # Scanners end a code with CR, LF or Tab depending on their setup.
    stripped = raw.strip()
    if _is_digits(stripped) and len(stripped) in GTIN_LENGTHS:
        code = _gtin_to_canonical(validate_gtin(stripped))
        variable = decode_variable_measure(code, rules=rules)
        if variable is not None:
            return ScannedCode(raw=raw, code=code, symbology="variable", variable=variable)
        return ScannedCode(raw=raw, code=code, symbology="gtin", variable=None)
    return ScannedCode(
        raw=raw, code=_check_passthrough(stripped), symbology="code128", variable=None
    )


def lookup_candidates(scan: ScannedCode) -> tuple[str, ...]:
    """List the codes to try in the catalog for a scan, most specific first."""
    if scan.variable is not None:
        return (scan.variable.lookup_code,)
    if scan.symbology == "gtin" and len(scan.code) == 13 and scan.code[0] == "0":
        # Products entered by hand may have been stored under their 12-digit UPC-A.
        return (scan.code, scan.code[1:])
    return (scan.code,)
