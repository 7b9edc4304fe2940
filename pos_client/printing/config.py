"""Where and how the till reaches its receipt printer: plain settings data (no Qt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pos_client.printing.escpos import resolve_codepage

DEFAULT_PORT = 9100  # raw "JetDirect" printing, what network receipt printers listen on


def parse_address(target: str) -> tuple[str, int]:
    """Split "host", "host:port" or "[v6]:port" into host and port (default 9100)."""
    text = target.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"Printer address {target!r} has no host")
    try:
        port = int(port_text) if port_text else DEFAULT_PORT
    except ValueError:
        raise ValueError(f"Printer address {target!r} has a bad port") from None
    if not 0 < port < 65536:
        raise ValueError(f"Printer port must be 1..65535, got {port}")
    return host, port


@dataclass(frozen=True)
class PrinterConfig:
    """Where and how the till reaches its receipt printer.

    target is a file or device path, "host[:port]", or a serial port (pyserial URLs work).
    query_status can be turned off for network printers that never answer DLE EOT.
    """

    kind: Literal["file", "network", "serial"]
    target: str
    baudrate: int = 9600
    timeout_s: float = 3.0
    codepage: str = "cp858"
    query_status: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("file", "network", "serial"):
            raise ValueError(f"Printer kind must be file, network or serial, got {self.kind!r}")
        if not self.target.strip():
            raise ValueError("Printer target is empty")
        if self.timeout_s <= 0:
            raise ValueError(f"Printer timeout must be positive, got {self.timeout_s}")
        resolve_codepage(self.codepage)
        if self.kind == "network":
            parse_address(self.target)
