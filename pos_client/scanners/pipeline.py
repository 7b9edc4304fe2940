"""From a scanned code to a cart line: validate, normalise, decode, look up, add.

HID and serial scanners both feed `ScanPipeline.handle`. Parsing is pure and instant on the
GUI thread; the replica lookup runs as a query op on the DB worker, and the line is added
on the GUI thread when it answers. An unknown or invalid code never blocks the cashier: it
is reported with a message and a beep, and selling goes on. No scan is ever dropped in
silence: while a dialog is open a scan is queued for when it closes, or refused aloud.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from PySide6.QtCore import QObject, Signal, SignalInstance
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
from pos_client.services.expiry import expiry_warning
from pos_client.services.packs import find_pack
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
    attributes: dict[str, str] = field(default_factory=dict)


QUEUE = "queue"  # what a blocker returns to keep a scan for when the dialog closes


def match_scan(scan: ScannedCode, item: CatalogItem) -> ScanMatch:
    """Work out quantity and price from a scan of a known product (labels may carry them)."""
    if scan.gs1 is not None:
        return _match_gs1(scan, item)
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


def _match_gs1(scan: ScannedCode, item: CatalogItem) -> ScanMatch:
    data = scan.gs1
    assert data is not None
    attributes = data.attributes
    if data.price is not None:
        # Priced at the scale, like a price-embedded EAN: one piece at the printed amount.
        return ScanMatch(
            item=dataclasses.replace(item, unit=Unit.PIECE, price=data.price),
            quantity=Decimal(1),
            unit_price=data.price,
            attributes=attributes,
        )
    if data.net_weight_kg is not None:
        attributes.pop("net_weight_kg", None)  # it is the line's quantity
        return ScanMatch(
            item=dataclasses.replace(item, unit=Unit.KG),
            quantity=data.net_weight_kg.quantize(Decimal("0.001")),
            unit_price=None,
            attributes=attributes,
        )
    quantity = Decimal(data.count) if data.count else Decimal(1)
    return ScanMatch(item=item, quantity=quantity, unit_price=None, attributes=attributes)


def explain_barcode_error(raw: str, error: BarcodeError) -> str:
    """Say what a cashier should do about a code that cannot be read."""
    code = raw.strip()
    if code.isdigit() and code.isascii():
        # Digits that fail the check are a misread or a scan cut short, not a product.
        return f"Barcode {code} was not read correctly — scan the item again"
    return f"Barcode not accepted: {error}"


def resolve(
    session: Session, scan: ScannedCode, *, lookup: Lookup = find_by_codes
) -> ScanMatch | None:
    """Look a parsed scan up in the replica (DB thread)."""
    candidates = lookup_candidates(scan)
    item = lookup(session, candidates)
    if item is None:
        # Not a unit's code: perhaps a case's, which sells its pieces at the case's price.
        pack = find_pack(session, candidates)
        if pack is not None:
            return ScanMatch(item=pack.item, quantity=pack.quantity, unit_price=None)
    return None if item is None else match_scan(scan, item)


class ScanPipeline(QObject):
    """Turn scans into cart lines; report unknown codes without stopping the sale."""

    added = Signal(object)  # CartLine
    rejected = Signal(str)  # a message for the cashier
    # Codes go here instead of the cart while a dialog wants them (e.g. a receipt number).
    diverted = Signal(str)
    queued = Signal(str)  # a message: the scan waits for the open dialog to close
    refused = Signal(str)  # a message: the scan was not taken (locked till, payment open)
    flagged = Signal(str)  # a warning about the item added (its label says it has expired)

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
        self.locked_message = "Till is locked — sign in, then scan the item again"
        self.divert_to: Callable[[str], None] | None = None
        # Asked before each scan goes to the cart: None (go ahead), QUEUE, or why it is refused.
        self.blocker: Callable[[], str | None] = lambda: None
        self.waiting: list[ScannedCode] = []
        self.today: Callable[[], date] = date.today  # what expiry dates are judged against

    def connect_source(self, signal: SignalInstance) -> None:
        """Feed the pipeline from a scanner's scanned(str) signal."""
        signal.connect(self.handle)

    def handle(self, raw: str) -> None:
        """Process one scan (GUI thread)."""
        if self.divert_to is not None:
            self.divert_to(raw.strip())
            self.diverted.emit(raw.strip())
            return
        if not self.enabled:
            self._refuse(self.locked_message, raw=raw)
            return
        try:
            scan = parse_scan(raw, rules=self._rules)
        except BarcodeError as exc:
            self._reject(explain_barcode_error(raw, exc))
            return
        block = self.blocker()
        if block == QUEUE:
            self.waiting.append(scan)
            log.info("Scan %s queued until the open dialog closes", scan.code)
            count = len(self.waiting)
            waiting = f" ({count} waiting)" if count > 1 else ""
            self.queued.emit(
                f"Scanned {scan.code}{waiting} — it goes into the cart when this window closes"
            )
            return
        if block is not None:
            self._refuse(block, raw=scan.code)
            return
        self._look_up(scan)

    def release(self) -> int:
        """Add the scans queued while a dialog was open, in order; return how many."""
        released = 0
        while self.waiting and self.enabled and self.blocker() is None:
            self._look_up(self.waiting.pop(0))
            released += 1
        return released

    def _look_up(self, scan: ScannedCode) -> None:
        QueryOp(
            lambda session: resolve(session, scan, lookup=self._lookup), runner=self._runner
        ).success(lambda match: self._add(scan, match)).failure(
            lambda exc: self._reject(f"Could not look up {scan.code}: {exc}")
        ).run()

    def _add(self, scan: ScannedCode, match: ScanMatch | None) -> None:
        if match is None:
            if scan.symbology == "code128" and scan.code.isdigit():
                # Digits of no GTIN length are, far more often than a product, a scan cut short.
                self._reject(
                    f"No product has barcode {scan.code} — it may have been read short: "
                    "scan the item again, or search by name (F2)"
                )
                return
            self._reject(f"Unknown barcode {scan.code} — search by name (F2) instead")
            return
        try:
            line: CartLine = self._cart_source().add(
                match.item,
                quantity=match.quantity,
                unit_price=match.unit_price,
                attributes=match.attributes,
            )
        except DomainError as exc:
            self._reject(exc.detail)
            return
        self.added.emit(line)
        warning = expiry_warning(match.attributes, today=self.today())
        if warning is not None:
            log.info("Scan %s flagged: %s", scan.code, warning)
            self.beep()
            self.flagged.emit(warning)

    def _reject(self, message: str) -> None:
        log.info("Scan rejected: %s", message)
        self.beep()
        self.rejected.emit(message)

    def _refuse(self, message: str, *, raw: str) -> None:
        log.info("Scan %s refused: %s", raw.strip(), message)
        self.beep()
        self.refused.emit(message)
