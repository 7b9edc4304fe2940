"""Build ESC/POS byte streams for receipt printers, in the printer's own code page."""

from __future__ import annotations

import codecs
import dataclasses
import unicodedata
from typing import Literal, Self, TypeVar

from pos_client.printing.receipt import Receipt, layout

__all__ = [
    "CODEPAGES",
    "EscPosBuilder",
    "encode_text",
    "receipt_to_escpos",
    "resolve_codepage",
    "transliterate",
]

ESC = b"\x1b"
GS = b"\x1d"

# ESC t n numbers of the Epson character code tables (other vendors' clones follow them for
# these pages). Keys are Python codec names as codecs.lookup() spells them.
CODEPAGES: dict[str, int] = {
    "cp437": 0,
    "cp850": 2,
    "cp860": 3,
    "cp863": 4,
    "cp865": 5,
    "cp857": 13,
    "cp737": 14,
    "iso8859-7": 15,
    "cp1252": 16,
    "cp866": 17,
    "cp852": 18,
    "cp858": 19,
    "cp720": 32,
    "cp775": 33,
    "cp855": 34,
    "cp861": 35,
    "cp862": 36,
    "cp864": 37,
    "cp869": 38,
    "iso8859-2": 39,
    "iso8859-15": 40,
    "cp1125": 44,
    "cp1250": 45,
    "cp1251": 46,
    "cp1253": 47,
    "cp1254": 48,
    "cp1255": 49,
    "cp1256": 50,
    "cp1257": 51,
    "cp1258": 52,
    "kz1048": 53,
}

# What NFKD cannot reduce to a base letter: ligature letters, currency signs, typography.
_FALLBACKS: dict[str, str] = {
    "ß": "ss",
    "ẞ": "SS",
    "Æ": "AE",
    "æ": "ae",
    "Œ": "OE",
    "œ": "oe",
    "Ø": "O",
    "ø": "o",
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Ð": "D",
    "ð": "d",
    "Þ": "Th",
    "þ": "th",
    "ı": "i",
    "Ħ": "H",
    "ħ": "h",
    "€": "EUR",
    "₹": "Rs",
    "£": "GBP",
    "¥": "JPY",
    "₽": "RUB",
    "₺": "TL",
    "¢": "c",
    "‘": "'",
    "’": "'",
    "‚": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "–": "-",
    "—": "-",
    "−": "-",
    "•": "*",
    "·": ".",
    "×": "x",
    "÷": "/",
    "°": "o",
}

_T = TypeVar("_T")


def resolve_codepage(codepage: str) -> str:
    """Return the codec name of a supported printer code page or raise ValueError."""
    try:
        name = codecs.lookup(codepage).name
    except LookupError:
        name = codepage
    if name not in CODEPAGES:
        supported = ", ".join(sorted(CODEPAGES))
        raise ValueError(f"Code page {codepage!r} is not supported; use one of {supported}")
    return name


def _encodable(text: str, codec: str) -> bool:
    """Tell whether text encodes in codec without loss."""
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def transliterate(text: str, *, codepage: str) -> str:
    """Return text with every character the code page lacks replaced by ASCII or '?'."""
    codec = resolve_codepage(codepage)
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        if ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) == "Cc":
            # Control bytes in data would be read by the printer as commands (ESC p opens
            # the drawer), so they never pass through.
            out.append(" " if ch == "\t" else "?")
        elif _encodable(ch, codec):
            out.append(ch)
        else:
            # NFKD splits "é" into "e" + accent and unfolds ligatures and compatibility forms.
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            if base and _encodable(base, codec) and base.isprintable():
                out.append(base)
            elif ch in _FALLBACKS:
                out.append(_FALLBACKS[ch])
            else:
                out.append("?")
    return "".join(out)


def encode_text(text: str, *, codepage: str) -> bytes:
    """Encode text for a printer using codepage; never raises for unsupported characters."""
    codec = resolve_codepage(codepage)
    return transliterate(text, codepage=codec).encode(codec, errors="replace")


class EscPosBuilder:
    """Accumulate ESC/POS commands and text for one print job."""

    def __init__(self, *, codepage: str = "cp858") -> None:
        self._buffer = bytearray()
        self._codec = resolve_codepage(codepage)

    def raw(self, data: bytes) -> Self:
        """Append bytes as they are."""
        self._buffer += data
        return self

    def initialize(self) -> Self:
        """Reset the printer (ESC @); this also resets its code page to table 0."""
        return self.raw(ESC + b"@")

    def codepage(self, codepage: str) -> Self:
        """Select the character code table (ESC t n) and encode later text with it."""
        self._codec = resolve_codepage(codepage)
        return self.raw(ESC + b"t" + bytes([CODEPAGES[self._codec]]))

    def text(self, text: str) -> Self:
        """Append text in the current code page."""
        return self.raw(encode_text(text, codepage=self._codec))

    def line(self, text: str = "") -> Self:
        """Append text and a line feed."""
        return self.text(text).raw(b"\n")

    def bold(self, on: bool = True) -> Self:
        """Turn emphasized printing on or off (ESC E n)."""
        return self.raw(ESC + b"E" + bytes([1 if on else 0]))

    def size(self, *, width: int = 1, height: int = 1) -> Self:
        """Set the character magnification, 1 to 8 each way (GS ! n)."""
        if not (1 <= width <= 8 and 1 <= height <= 8):
            raise ValueError(f"Character size must be 1..8, got {width}x{height}")
        return self.raw(GS + b"!" + bytes([(width - 1) << 4 | (height - 1)]))

    def align(self, alignment: Literal["left", "center", "right"]) -> Self:
        """Set the justification of the following lines (ESC a n)."""
        codes = {"left": 0, "center": 1, "right": 2}
        return self.raw(ESC + b"a" + bytes([codes[alignment]]))

    def feed(self, lines: int = 1) -> Self:
        """Print the buffer and feed lines (ESC d n)."""
        if not 0 <= lines <= 255:
            raise ValueError(f"Feed must be 0..255 lines, got {lines}")
        return self.raw(ESC + b"d" + bytes([lines]))

    def cut(self, *, partial: bool = False) -> Self:
        """Feed to the cutter and cut (GS V 65/66 0), so the last line is above the cut."""
        return self.raw(GS + b"V" + (b"B" if partial else b"A") + b"\x00")

    def kick_drawer(self, *, pin: Literal[2, 5] = 2, on_ms: int = 50, off_ms: int = 500) -> Self:
        """Pulse the cash drawer connector (ESC p m t1 t2; times in 2 ms units)."""
        on_units = min(max(on_ms // 2, 1), 255)
        off_units = min(max(off_ms // 2, on_units), 255)
        return self.raw(ESC + b"p" + bytes([0 if pin == 2 else 1, on_units, off_units]))

    def build(self) -> bytes:
        """Return the accumulated job."""
        return bytes(self._buffer)


def _map_strings(value: _T, codec: str) -> _T:
    """Transliterate every string inside a receipt so the layout counts printable columns."""
    if isinstance(value, str):
        return transliterate(value, codepage=codec)  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(_map_strings(v, codec) for v in value)  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _map_strings(getattr(value, f.name), codec) for f in dataclasses.fields(value)
        }
        return dataclasses.replace(value, **changes)
    return value


def receipt_to_escpos(
    receipt: Receipt,
    *,
    codepage: str = "cp858",
    width: int = 42,
    open_drawer: bool = False,
    partial_cut: bool = False,
) -> bytes:
    """Return the complete ESC/POS job for a receipt, ending with a cut."""
    codec = resolve_codepage(codepage)
    # Transliterate before laying out: "ß" -> "ss" changes a line's length, and right-aligned
    # amounts must line up in what is actually printed.
    printable = _map_strings(receipt, codec)
    job = EscPosBuilder(codepage=codec).initialize().codepage(codec)
    if open_drawer:
        # First, so the drawer opens while the receipt is still printing.
        job.kick_drawer()
    for line in layout(printable, width=width):
        if line.bold:
            job.bold(True)
        if line.large and len(line.text.strip()) * 2 <= width:
            job.align("center").size(width=2, height=2).line(line.text.strip())
            job.size().align("left")
        elif line.large:
            job.size(height=2).line(line.text).size()
        else:
            job.line(line.text)
        if line.bold:
            job.bold(False)
    return job.cut(partial=partial_cut).build()
