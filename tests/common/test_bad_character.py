"""bad_character refuses exactly Unicode's control (Cc) and surrogate (Cs) characters and the
bidirectional controls, less what its caller allows (layout whitespace, GS in scans)."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from common.hygiene import GS, bad_character

BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _refused_by_definition(char: str, *, layout_ok: bool, scans_ok: bool) -> bool:
    if (char in "\t\n\r" and layout_ok) or (char == GS and scans_ok):
        return False
    return char in BIDI or unicodedata.category(char) in ("Cc", "Cs")


@pytest.mark.parametrize("layout_ok", [False, True])
@pytest.mark.parametrize("scans_ok", [False, True])
def test_every_code_point_is_judged_by_its_category(layout_ok: bool, scans_ok: bool) -> None:
    refused = {
        c
        for c in range(sys.maxunicode + 1)
        if _refused_by_definition(chr(c), layout_ok=layout_ok, scans_ok=scans_ok)
    }
    # The pattern finds the same set: each refused code point alone, and none of the others
    # (all of them in one text, split where a refused one sits, would be found at once).
    for c in refused:
        assert bad_character(chr(c), layout_ok=layout_ok, scans_ok=scans_ok) is not None, hex(c)
    allowed = "".join(chr(c) for c in range(sys.maxunicode + 1) if c not in refused)
    assert bad_character(allowed, layout_ok=layout_ok, scans_ok=scans_ok) is None


def test_the_first_bad_character_is_named() -> None:
    assert bad_character("ab\x00c\u202e") == "a NUL byte"
    assert bad_character("ab\u202ec\x00") == "a bidirectional control character (U+202E)"
    assert bad_character("x\x1by") == "a control character (U+001B)"
    assert bad_character("line\nnext") is None
    assert bad_character("line\nnext", layout_ok=False) == "a control character (U+000A)"
    assert bad_character(f"01{GS}10", scans_ok=True) is None
    assert bad_character(f"01{GS}10") == "a control character (U+001D)"
    assert bad_character("x\ud800y") == "a control character (U+D800)"
    assert bad_character("") is None
