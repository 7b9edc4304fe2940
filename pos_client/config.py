"""Typed settings of one till, kept as JSON in its data directory."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from pos_client.printing.config import PrinterConfig
from pos_client.scanners.config import SerialScannerConfig

CONFIG_FILE = "till.json"
STORE_FILE = "till.db"


@dataclass(frozen=True)
class ShopInfo:
    """What the receipt header and footer say."""

    shop_name: str
    branch_name: str = ""
    address_lines: tuple[str, ...] = ()
    footer: str = ""
    currency: str = "INR"
    # The tax identity, from the server's shop and branch profile (empty until synced).
    legal_name: str = ""
    gstin: str = ""
    state_code: str = ""
    state: str = ""


@dataclass(frozen=True)
class HidScannerSettings:
    """How the keyboard-wedge filter tells a scan from typing (see scanners/hid.py)."""

    # The typical gap between a scan's keys (a person's is 60 ms or more); with adaptive
    # on, it rises with the rhythm measured on this scanner's scans.
    max_gap_ms: float = 30.0
    # The longest single gap inside a scan: a busy till stretches a few to 30-75 ms, and a
    # very busy one now and then past 100 ms.
    stall_gap_ms: float = 120.0
    min_length: int = 6
    adaptive: bool = True


@dataclass(frozen=True)
class TillConfig:
    """Everything a till needs to start; widgets read these typed fields, never raw keys."""

    data_dir: Path
    server_url: str = "http://127.0.0.1:8765"
    shop_name: str = "StockPilot Store"
    branch_name: str = ""
    address_lines: tuple[str, ...] = ()
    receipt_footer: str = "Thank you for shopping with us!"
    currency: str = "INR"
    # Lock the till after this long without a key press or click.
    idle_lock_s: int = 300
    # A cashier may give up to this share of a line or order without a manager.
    max_discount_percent: Decimal = Decimal("10")
    receipt_width: int = 42
    printer: PrinterConfig | None = None
    serial_scanner: SerialScannerConfig | None = None
    hid: HidScannerSettings = field(default_factory=HidScannerSettings)
    # Barcodes or SKUs shown as one-touch buttons for items sold without a barcode.
    quick_keys: tuple[str, ...] = ()
    enrolled: bool = False

    @property
    def store_path(self) -> Path:
        """Return the path of the local SQLite store."""
        return self.data_dir / STORE_FILE

    @property
    def receipts_dir(self) -> Path:
        """Return where receipt and Z report PDFs are written."""
        return self.data_dir / "receipts"

    @property
    def shop(self) -> ShopInfo:
        """Return what receipts say about the shop."""
        return ShopInfo(
            shop_name=self.shop_name,
            branch_name=self.branch_name,
            address_lines=self.address_lines,
            footer=self.receipt_footer,
            currency=self.currency,
        )

    def with_changes(self, **changes: Any) -> TillConfig:
        """Return a copy with some fields changed."""
        return replace(self, **changes)


def _to_json(config: TillConfig) -> dict[str, Any]:
    data = asdict(config)
    data.pop("data_dir")
    data["max_discount_percent"] = str(config.max_discount_percent)
    return data


def load_config(data_dir: Path | str, *, server_url: str | None = None) -> TillConfig:
    """Read the till's settings from data_dir (defaults where the file is missing)."""
    data_dir = Path(data_dir)
    path = data_dir / CONFIG_FILE
    raw: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.exists() else {}
    printer = raw.pop("printer", None)
    scanner = raw.pop("serial_scanner", None)
    hid = raw.pop("hid", None)
    config = TillConfig(
        data_dir=data_dir,
        printer=PrinterConfig(**printer) if printer else None,
        serial_scanner=SerialScannerConfig(**scanner) if scanner else None,
        hid=HidScannerSettings(**hid) if hid else HidScannerSettings(),
        **{
            key: _coerce(key, value)
            for key, value in raw.items()
            if key in TillConfig.__dataclass_fields__
        },
    )
    if server_url:
        config = config.with_changes(server_url=server_url)
    return config


def _coerce(key: str, value: Any) -> Any:
    """Turn JSON values back into the field's type (Decimal and tuples do not survive JSON)."""
    if key == "max_discount_percent":
        return Decimal(str(value))
    if isinstance(value, list):
        return tuple(value)
    return value


def save_config(config: TillConfig) -> None:
    """Write the till's settings atomically, so a power cut never leaves half a file."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    path = config.data_dir / CONFIG_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_to_json(config), indent=2), "utf-8")
    tmp.replace(path)
