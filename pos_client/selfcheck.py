"""`stockpilot-till --self-check`: prove an installed till has every part it needs.

Each check exercises the real thing (a store on disk, the serial port enumerator, a receipt
rendered to PDF), so a bundle that lacks a Qt plugin, a font or a pyserial handler fails
here, on the shop's machine, rather than at the first sale.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

__all__ = ["CheckResult", "main_self_check", "run_checks"]

_app: object | None = None


@dataclass(frozen=True)
class CheckResult:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    seconds: float


def _version() -> str:
    from pos_client.app import __version__

    return (
        f"StockPilot till {__version__}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}" + (" (bundle)" if _frozen() else "")
    )


def _frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def _qt() -> str:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtGui import QFontDatabase, QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QGuiApplication.instance()
    if app is None:
        global _app  # Qt's application must outlive this function, or it is destroyed with it
        app = _app = QApplication(sys.argv[:1])
    families = QFontDatabase.families()
    if not families:
        raise RuntimeError("Qt finds no fonts: receipts and labels cannot be drawn")
    platform = QGuiApplication.platformName()
    return f"PySide6 {pyside_version}, platform {platform}, {len(families)} fonts"


def _data_dir() -> str:
    from pos_client.paths import DATA_DIR_ENV, default_data_dir

    return f"{default_data_dir()} (set {DATA_DIR_ENV} or --data-dir to move it)"


def _store(workdir: Path) -> str:
    from sqlalchemy import text

    from pos_client.backup import backup_store
    from pos_client.store.db import LocalStore

    path = workdir / "till.db"
    store = LocalStore(path)  # the till's own opener: pragmas and schema migrations
    try:
        with store.transaction() as session:
            mode = session.execute(text("PRAGMA journal_mode")).scalar_one()
            tables = session.execute(
                text("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
            ).scalar_one()
        schema = f"schema v{store.schema_version}, {tables} tables"
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE selfcheck_probe (id INTEGER PRIMARY KEY, at TEXT)")
        conn.execute(
            "INSERT INTO selfcheck_probe (at) VALUES (?)", (datetime.now(UTC).isoformat(),)
        )
        conn.commit()
    finally:
        conn.close()
    copy = backup_store(source=path, target=workdir / "till-backup.db")
    if copy.tables.get("selfcheck_probe") != 1:
        raise RuntimeError("the backup of the probe store lost its row")
    return (
        f"opened, written and backed up ({schema}, journal {mode}, SQLite {sqlite3.sqlite_version})"
    )


def _serial() -> str:
    import serial
    from serial.tools import list_ports

    ports = sorted(port.device for port in list_ports.comports())
    # The loop:// handler is loaded by name at run time; a bundle must carry it.
    with serial.serial_for_url("loop://", timeout=1) as loop:
        loop.write(b"5901234123457\r")
        if loop.read(14) != b"5901234123457\r":
            raise RuntimeError("pyserial loop:// did not echo")
    listed = ", ".join(ports) if ports else "none connected"
    return f"pyserial {serial.__version__}; ports: {listed}"


def _receipt(workdir: Path) -> str:
    from pos_client.printing.pdf import receipt_to_pdf
    from pos_client.printing.receipt import Receipt, ReceiptLine, ReceiptPayment

    line = ReceiptLine(
        name="Self-check item",
        quantity=Decimal("2"),
        unit="pc",
        unit_price=Decimal("12.50"),
        discount=Decimal("0"),
        total=Decimal("25.00"),
    )
    receipt = Receipt(
        shop_name="StockPilot",
        branch_name="Self-check",
        address_lines=(),
        receipt_number="SELFCHECK-1",
        issued_at=datetime.now(UTC),
        cashier="self-check",
        lines=(line,),
        subtotal=Decimal("25.00"),
        discount_total=Decimal("0"),
        tax_total=Decimal("0"),
        total=Decimal("25.00"),
        payments=(ReceiptPayment(method="Cash", amount=Decimal("30.00")),),
        change_due=Decimal("5.00"),
        customer=None,
        footer="Self-check receipt",
    )
    path = workdir / "selfcheck-receipt.pdf"
    receipt_to_pdf(receipt, path=path)
    data = path.read_bytes()
    if not data.startswith(b"%PDF") or len(data) < 500:
        raise RuntimeError(f"{path} is not a PDF ({len(data)} bytes)")
    return f"test receipt rendered to PDF ({len(data)} bytes)"


def _barcode(workdir: Path) -> str:
    from io import BytesIO

    import barcode
    from barcode.writer import SVGWriter

    from common.barcodes import internal_ean13

    code = internal_ean13(1)
    out = BytesIO()
    barcode.get("ean13", code, writer=SVGWriter()).write(out)
    if b"<svg" not in out.getvalue():
        raise RuntimeError("python-barcode wrote no SVG")
    return f"python-barcode {barcode.version} drew EAN-13 {code}"


def run_checks(*, workdir: Path, verbose: bool = False) -> list[CheckResult]:
    """Run every check in workdir (a scratch folder) and return the results in order."""
    checks: list[tuple[str, Callable[[], str]]] = [
        ("version", _version),
        ("qt", _qt),
        ("data folder", _data_dir),
        ("local store", lambda: _store(workdir)),
        ("serial ports", _serial),
        ("receipt pdf", lambda: _receipt(workdir)),
        ("barcodes", lambda: _barcode(workdir)),
    ]
    results = []
    for name, check in checks:
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as exc:  # the report must name every failure, not stop at the first
            detail, ok = f"{type(exc).__name__}: {exc}", False
            if verbose:
                traceback.print_exc()
        results.append(
            CheckResult(name=name, ok=ok, detail=detail, seconds=time.perf_counter() - started)
        )
    return results


def report(results: Sequence[CheckResult], *, out: TextIO) -> None:
    """Print one line per check and a verdict."""
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        print(
            f"  {mark} {result.name:<13} {result.detail}  [{result.seconds * 1000:.0f} ms]",
            file=out,
        )
    failed = [r.name for r in results if not r.ok]
    verdict = "self-check passed" if not failed else f"self-check FAILED: {', '.join(failed)}"
    print(verdict, file=out, flush=True)


def main_self_check(argv: Sequence[str] = ()) -> int:
    """Run `stockpilot-till --self-check`; exit 0 when every check passes, else 1."""
    parser = argparse.ArgumentParser(prog="stockpilot-till --self-check")
    parser.add_argument("--self-check", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of failures")
    args, _ = parser.parse_known_args(list(argv))
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        # A check opens no window, so a server or a CI box without a screen may run it too.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    print("StockPilot till self-check", flush=True)
    with tempfile.TemporaryDirectory(prefix="stockpilot-selfcheck-") as tmp:
        results = run_checks(workdir=Path(tmp), verbose=args.verbose)
        report(results, out=sys.stdout)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main_self_check(sys.argv[1:]))
