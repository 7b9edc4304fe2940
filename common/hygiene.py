"""What input may look like before it reaches a database: the bounds both engines store."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

# Signed 64-bit: SQLite INTEGER and PostgreSQL BIGINT both stop here.
MAX_BIGINT = 2**63 - 1
# NUMERIC(14,4) (money) holds 10 digits before the point; NUMERIC(14,3) (quantities) 11.
MAX_AMOUNT = Decimal("9999999999.9999")
MAX_QUANTITY = Decimal("1000000000")
# Free-form JSON (attributes, settings): deep enough for any real use, shallow enough that
# nothing downstream (audit hashing, exports, JSON parsers) can be made to recurse too far.
MAX_JSON_DEPTH = 8
MAX_JSON_BYTES = 16_384

# Characters that reorder or hide text (Trojan Source) or that no name has a reason to hold.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Layout whitespace that multi-line text (descriptions, notes) may carry.
_LAYOUT = frozenset("\t\n\r")
# A decimal in plain ASCII: what strict_decimal accepts, as OpenAPI documents it.
DECIMAL_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_DECIMAL = re.compile(DECIMAL_PATTERN, re.ASCII)


# GS1's field separator (FNC1): the one control character a scanned code may carry.
GS = "\x1d"


def _forbidden(*, layout_ok: bool, scans_ok: bool) -> re.Pattern[str]:
    """Return a pattern finding the characters bad_character refuses (one scan in C)."""
    allowed = (_LAYOUT if layout_ok else frozenset()) | ({GS} if scans_ok else frozenset())
    # Unicode's Cc (controls) are exactly U+0000-U+001F and U+007F-U+009F; Cs (surrogates)
    # U+D800-U+DFFF (a str may hold them lone).
    controls = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in allowed]
    listed = "".join(re.escape(char) for char in (*controls, *sorted(_BIDI)))
    return re.compile(f"[{listed}\ud800-\udfff]")


_FORBIDDEN = {
    (layout_ok, scans_ok): _forbidden(layout_ok=layout_ok, scans_ok=scans_ok)
    for layout_ok in (False, True)
    for scans_ok in (False, True)
}


def bad_character(text: str, *, layout_ok: bool = True, scans_ok: bool = False) -> str | None:
    """Return a description of the first forbidden character in text, or None."""
    found = _FORBIDDEN[layout_ok, scans_ok].search(text)
    if found is None:
        return None
    char = found.group()
    if char in _BIDI:
        return f"a bidirectional control character (U+{ord(char):04X})"
    return "a NUL byte" if char == "\x00" else f"a control character (U+{ord(char):04X})"


def check_text(text: str, *, layout_ok: bool = True) -> str:
    """Return text, or raise ValueError when it holds NUL, control or bidi characters."""
    found = bad_character(text, layout_ok=layout_ok)
    if found is not None:
        raise ValueError(f"must not contain {found}")
    return text


def strict_decimal(value: Any) -> Any:
    """Accept a decimal written plainly in ASCII (or an int, or a Decimal); refuse the rest."""
    if isinstance(value, bool):
        raise ValueError('must be a number written as a string, e.g. "12.50"')
    if isinstance(value, Decimal | int):
        return value
    if isinstance(value, float):
        # A JSON number with a fraction has already been through a float: not exact.
        raise ValueError('must be a string such as "1.5", not a JSON number with a fraction')
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            raise ValueError(
                'must be a plain decimal number such as "1000.50" (ASCII digits, no separators)'
            )
        try:
            number = Decimal(text)
        except InvalidOperation:  # an exponent beyond what Decimal can even hold
            raise ValueError("is far too large or too small a number") from None
        return _sane_magnitude(number)
    return value


# No amount or quantity StockPilot stores comes near 10^20 or below 10^-20: beyond, an
# exponent such as "1e999999" would overflow the arithmetic before any bound is checked.
_MAX_ADJUSTED_EXPONENT = 20


def _sane_magnitude(value: Decimal) -> Decimal:
    if value and abs(value.adjusted()) > _MAX_ADJUSTED_EXPONENT:
        raise ValueError("is far too large or too small a number")
    return value


def bounded_json(value: Any) -> Any:
    """Return value, or raise ValueError when it is too deep, too big or holds bad text."""
    _walk(value, depth=1)
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
    if size > MAX_JSON_BYTES:
        raise ValueError(f"must be at most {MAX_JSON_BYTES} bytes as JSON (it is {size})")
    return value


def _walk(value: Any, *, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"must be nested at most {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key))
            _walk(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth=depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_BIGINT:
        raise ValueError("holds an integer beyond 64 bits")


# What a spreadsheet reads as the start of a formula (or of a cell it may run as one).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Return text a spreadsheet shows as text: a leading formula character gets a quote."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
