"""From a scanned code to a cart line: validate, normalise, decode, look up, add.

HID and serial scanners both feed `ScanPipeline.handle`. Parsing is pure and instant on the
GUI thread; the replica lookup runs as a query op on the DB worker, and the line is added
on the GUI thread when it answers. An unknown or invalid code never blocks the cashier: it
is reported with a message and a beep, and selling goes on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication
from sqlalchemy.orm import Session

from common.barcodes import (
    DEFAULT_RULES,
    BarcodeError,
    ScannedCode,
    VariableMeasureRules,
    lookup_candidates,
    parse_scan,
)
from common.codes import Unit
from common.errors import DomainError
from pos_client.qt.ops import OpRunner, QueryOp
from pos_client.services.queries import find_by_codes
from pos_client.services.till import Cart, CartLine, CatalogItem

log = logging.getLogger(__name__)

Lookup = Callable[[Session, tuple[str, ...]], CatalogItem | None]


@dataclass(frozen=True)
class ScanMatch:
    """What one scan puts in the cart."""

    item: CatalogItem
    quantity: Decimal
    unit_price: Decimal | None


def match_scan(scan: ScannedCode, item: CatalogItem) -> ScanMatch:
    """Work out quantity and price from a scan of a known product (labels may carry them)."""
    variable = scan.variable
    if variable is None:
        return ScanMatch(item=item, quantity=Decimal(1), unit_price=None)
    if variable.kind == "weight":
        return ScanMatch(
            item=dataclasses.replace(item, unit=Unit.KG),
            quantity=variable.value.quantize(Decimal("0.001")),
            unit_price=None,
        )
    # A price label is one packed piece at the price the scale printed on it.
    return ScanMatch(
        item=dataclasses.replace(item, unit=Unit.PIECE, price=variable.value),
        quantity=Decimal(1),
        unit_price=variable.value,
    )


def resolve(
    session: Session, scan: ScannedCode, *, lookup: Lookup = find_by_codes
) -> ScanMatch | None:
    """Look a parsed scan up in the replica (DB thread)."""
    item = lookup(session, lookup_candidates(scan))
    return None if item is None else match_scan(scan, item)


class ScanPipeline(QObject):
    """Turn scans into cart lines; report unknown codes without stopping the sale."""

    added = Signal(object)  # CartLine
    rejected = Signal(str)  # a message for the cashier
    # Codes go here instead of the cart while a dialog wants them (e.g. a receipt number).
    diverted = Signal(str)

    def __init__(
        self,
        *,
        runner: OpRunner,
        cart_source: Callable[[], Cart],
        rules: VariableMeasureRules = DEFAULT_RULES,
        lookup: Lookup = find_by_codes,
        beep: Callable[[], None] = QApplication.beep,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._cart_source = cart_source
        self._rules = rules
        self._lookup = lookup
        self.beep = beep
        self.enabled = True
        self.divert_to: Callable[[str], None] | None = None

    def connect_source(self, signal: Signal) -> None:
        """Feed the pipeline from a scanner's scanned(str) signal."""
        signal.connect(self.handle)

    def handle(self, raw: str) -> None:
        """Process one scan (GUI thread)."""
        if self.divert_to is not None:
            self.divert_to(raw.strip())
            self.diverted.emit(raw.strip())
            return
        if not self.enabled:
            log.info("Scan ignored while the till is locked")
            return
        try:
            scan = parse_scan(raw, rules=self._rules)
        except BarcodeError as exc:
            self._reject(f"Barcode not accepted: {exc}")
            return
        QueryOp(
            lambda session: resolve(session, scan, lookup=self._lookup), runner=self._runner
        ).success(lambda match: self._add(scan, match)).failure(
            lambda exc: self._reject(f"Could not look up {scan.code}: {exc}")
        ).run()

    def _add(self, scan: ScannedCode, match: ScanMatch | None) -> None:
        if match is None:
            self._reject(f"Unknown barcode {scan.code} — search by name (F2) instead")
            return
        try:
            line: CartLine = self._cart_source().add(
                match.item, quantity=match.quantity, unit_price=match.unit_price
            )
        except DomainError as exc:
            self._reject(exc.detail)
            return
        self.added.emit(line)

    def _reject(self, message: str) -> None:
        log.info("Scan rejected: %s", message)
        self.beep()
        self.rejected.emit(message)
