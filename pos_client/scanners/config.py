"""How a serial scanner is set up: plain data the till's settings hold (no Qt, no threads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import serial

Parity = Literal["N", "E", "O"]
Suffix = Literal["CR", "LF", "CRLF", "NONE"]

SUFFIXES: tuple[Suffix, ...] = ("CR", "LF", "CRLF", "NONE")
PARITY: dict[str, str] = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}
BYTESIZE = {5: serial.FIVEBITS, 6: serial.SIXBITS, 7: serial.SEVENBITS, 8: serial.EIGHTBITS}
STOPBITS = {1: serial.STOPBITS_ONE, 1.5: serial.STOPBITS_ONE_POINT_FIVE, 2: serial.STOPBITS_TWO}


def as_suffix(text: str) -> Suffix:
    """Return a suffix chosen by name (a settings screen's text); refuse any other."""
    for suffix in SUFFIXES:
        if suffix == text:
            return suffix
    raise ValueError(f"suffix must be CR, LF, CRLF or NONE, got {text!r}")


@dataclass(frozen=True, slots=True)
class SerialScannerConfig:
    """How to talk to one serial scanner; the defaults match most scanners out of the box."""

    port: str
    baudrate: int = 9600
    parity: Parity = "N"
    bytesize: int = 8
    stopbits: float = 1
    suffix: Suffix = "CR"
    reconnect_interval_s: float = 2.0
    # A frame that stops arriving mid-way is discarded after this long, so a glitch does
    # not glue itself to the front of the next code.
    frame_timeout_s: float = 0.5
    # With suffix "NONE", a frame ends when the scanner has been quiet this long.
    idle_end_s: float = 0.1

    def __post_init__(self) -> None:
        if not self.port:
            raise ValueError("port is required")
        if self.baudrate <= 0:
            raise ValueError(f"baudrate must be positive, got {self.baudrate}")
        if self.parity not in PARITY:
            raise ValueError(f"parity must be one of N, E, O, got {self.parity!r}")
        if self.bytesize not in BYTESIZE:
            raise ValueError(f"bytesize must be 5, 6, 7 or 8, got {self.bytesize}")
        if self.stopbits not in STOPBITS:
            raise ValueError(f"stopbits must be 1, 1.5 or 2, got {self.stopbits}")
        if self.suffix not in SUFFIXES:
            raise ValueError(f"suffix must be CR, LF, CRLF or NONE, got {self.suffix!r}")
        if self.reconnect_interval_s <= 0:
            raise ValueError("reconnect_interval_s must be positive")
        if self.frame_timeout_s <= 0:
            raise ValueError("frame_timeout_s must be positive")
        if self.idle_end_s <= 0:
            raise ValueError("idle_end_s must be positive")
