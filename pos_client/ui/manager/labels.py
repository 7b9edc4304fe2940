"""Print barcode labels: a PDF sheet for an office printer, or ZPL to a thermal label printer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QLineEdit,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QWidget,
)

from common.barcodes import BarcodeError, validate_gtin
from common.money import DEFAULT_CURRENCY
from common.schemas.catalog import ProductRead
from pos_client.printing.labels import LabelSpec, Symbology, render_label_sheet, render_label_zpl
from pos_client.printing.queue import PrinterConfig, PrinterError, transport_for
from pos_client.qt.threads import start_thread
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.widgets import FormDialog, choice

log = logging.getLogger(__name__)

MAX_COPIES = 500


@dataclass(frozen=True)
class SheetLayout:
    """A pre-cut label sheet: page size and how many labels across and down."""

    label: str
    page: str
    columns: int
    rows: int


SHEETS = [
    SheetLayout("A4, 3 × 8 labels (70 × 37 mm)", "A4", 3, 8),
    SheetLayout("A4, 3 × 7 labels (70 × 42 mm)", "A4", 3, 7),
    SheetLayout("Letter, 3 × 10 labels (Avery 5160)", "Letter", 3, 10),
]
# Thermal label stock people actually buy: width × height in millimetres.
ROLL_SIZES = [
    ("50 × 30 mm", (50.0, 30.0)),
    ("40 × 25 mm", (40.0, 25.0)),
    ("58 × 40 mm", (58.0, 40.0)),
]
PRINTER_KINDS = [
    ("Network (host:port, raw 9100)", "network"),
    ("Serial or USB serial port", "serial"),
    ("Device or file path", "file"),
]


def label_for(product: ProductRead) -> LabelSpec:
    """Make the label of a product's first barcode: EAN-13 when it is a GTIN, else Code 128."""
    code = product.barcodes[0]
    symbology: Symbology
    try:
        gtin = validate_gtin(code)
        symbology = "ean13" if len(gtin) in (12, 13) else "code128"
    except BarcodeError:
        symbology = "code128"
    return LabelSpec(
        name=product.name,
        price=product.price,
        currency=DEFAULT_CURRENCY,
        code=code,
        symbology=symbology,
    )


def label_settings() -> QSettings:
    """Where the back office remembers the label printer between sessions."""
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, "StockPilot", "back-office"
    )


class PrintJob(QObject):
    """Send one job to a printer on its own thread (a printer can take seconds to time out)."""

    finished = Signal(object)  # on the GUI thread: None when printed, else the error
    _sent = Signal(object)  # from the worker thread

    def __init__(self, *, send: Callable[[], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._send = send
        self.done = False
        self._sent.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def start(self) -> None:
        """Start sending and return at once."""
        start_thread(self._run, name="label-printer")

    def _run(self) -> None:
        try:
            self._send()
        except Exception as exc:  # noqa: BLE001 - shown to the user by the dialog
            self._sent.emit(exc)
        else:
            self._sent.emit(None)

    @Slot(object)
    def _deliver(self, error: object) -> None:
        self.done = True
        self.finished.emit(error)


class LabelDialog(FormDialog):
    """Choose where labels go and how many of each; the printer is remembered.

    A FormDialog for its look and error line, but it prints instead of calling the server.
    """

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        products: Sequence[ProductRead],
        ask_path: Callable[[], Path | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            ctx=ctx, title=f"Labels for {len(products)} product(s)", ok_text="Print", parent=parent
        )
        self.products = list(products)
        self.ask_path = ask_path
        self.outcome = ""
        self.saved_to: Path | None = None
        self.settings = label_settings()
        self.setWindowTitle("Print labels")

        self.copies = QSpinBox()
        self.copies.setObjectName("LabelCopies")
        self.copies.setRange(1, MAX_COPIES)
        self.copies.setValue(1)
        self.to_sheet = QRadioButton("Label sheet (PDF for an office printer)")
        self.to_printer = QRadioButton("Label printer (ZPL thermal printer)")
        self.to_sheet.setObjectName("ToSheet")
        self.to_printer.setObjectName("ToPrinter")
        group = QButtonGroup(self)
        group.addButton(self.to_sheet)
        group.addButton(self.to_printer)

        self.sheet = choice([(s.label, s) for s in SHEETS], name="SheetLayout")
        sheet_page = QWidget()
        sheet_form = QFormLayout(sheet_page)
        sheet_form.addRow("Sheet", self.sheet)

        self.printer_kind = choice(PRINTER_KINDS, name="LabelPrinterKind")
        self.printer_target = QLineEdit()
        self.printer_target.setObjectName("LabelPrinterTarget")
        self.printer_target.setPlaceholderText("e.g. 192.168.1.50:9100 or /dev/usb/lp0")
        self.roll = choice(ROLL_SIZES, name="LabelRoll")
        self.dpi = choice([("203 dpi", 203), ("300 dpi", 300)], name="LabelDpi")
        printer_page = QWidget()
        printer_form = QFormLayout(printer_page)
        printer_form.addRow("Printer", self.printer_kind)
        printer_form.addRow("Address", self.printer_target)
        printer_form.addRow("Label size", self.roll)
        printer_form.addRow("Resolution", self.dpi)

        self.details = QStackedWidget()
        self.details.addWidget(sheet_page)
        self.details.addWidget(printer_page)
        self.to_sheet.toggled.connect(lambda on: self._show_details(0 if on else 1))

        self.form.addRow("Labels per product", self.copies)
        # Between the form and the error line: where the labels go, and its settings.
        for index, widget in enumerate((self.to_sheet, self.to_printer, self.details), start=2):
            self.body.insertWidget(index, widget)
        self._restore()

    def _restore(self) -> None:
        """Open where the user printed last time."""
        target = str(self.settings.value("labels/printer_target", "") or "")
        kind = str(self.settings.value("labels/printer_kind", "network") or "network")
        self.printer_target.setText(target)
        index = self.printer_kind.findData(kind)
        self.printer_kind.setCurrentIndex(max(index, 0))
        use_printer = self.settings.value("labels/output", "sheet") == "printer" and bool(target)
        (self.to_printer if use_printer else self.to_sheet).setChecked(True)
        self._show_details(1 if use_printer else 0)

    def _show_details(self, index: int) -> None:
        # A stacked widget is as tall as its tallest page; let the hidden one take no room.
        for page in range(self.details.count()):
            policy = QSizePolicy.Policy.Preferred if page == index else QSizePolicy.Policy.Ignored
            widget = self.details.widget(page)
            if widget is not None:  # every index below count() has its page
                widget.setSizePolicy(QSizePolicy.Policy.Preferred, policy)
        self.details.setCurrentIndex(index)
        self.adjustSize()

    def labels(self) -> list[LabelSpec]:
        """Return each product's label once per copy asked for (sheet order)."""
        return [label_for(p) for p in self.products for _ in range(self.copies.value())]

    def submit(self) -> None:
        """Print to the chosen output; stay open with the reason when it fails."""
        self.error.setVisible(False)
        try:
            if self.to_sheet.isChecked():
                self._print_sheet()
            else:
                self._print_zpl()
        except (BarcodeError, ValueError, OSError) as exc:
            self.show_error(f"Labels not printed: {exc}")

    def _print_sheet(self) -> None:
        path = self.ask_path()
        if path is None:
            return
        layout: SheetLayout = self.sheet.currentData()
        labels = self.labels()
        pages = render_label_sheet(
            labels, path, columns=layout.columns, rows=layout.rows, page=layout.page
        )
        self.settings.setValue("labels/output", "sheet")
        self.saved_to = path
        self.outcome = f"{len(labels)} label(s) on {pages} page(s) saved to {path}."
        self.accept()

    def _print_zpl(self) -> None:
        target = self.printer_target.text().strip()
        if not target:
            raise ValueError("type the label printer's address")
        config = PrinterConfig(
            kind=self.printer_kind.currentData(), target=target, query_status=False
        )
        width, height = self.roll.currentData()
        copies = self.copies.value()
        # One ZPL format per product with a print quantity: the printer repeats it itself.
        job = b"".join(
            render_label_zpl(
                label_for(p),
                dpi=self.dpi.currentData(),
                width_mm=width,
                height_mm=height,
                copies=copies,
            )
            for p in self.products
        )
        transport = transport_for(config)
        self.ok_button.setEnabled(False)
        count = len(self.products) * copies

        def sent(_: object) -> None:
            self.settings.setValue("labels/output", "printer")
            self.settings.setValue("labels/printer_kind", config.kind)
            self.settings.setValue("labels/printer_target", target)
            self.outcome = f"{count} label(s) sent to the label printer at {target}."
            self.accept()

        self.job = PrintJob(send=lambda: transport.send(job), parent=self)
        self.job.finished.connect(
            lambda error: sent(None) if error is None else self._printer_failed(error)
        )
        self.job.start()

    def _printer_failed(self, error: BaseException) -> None:
        self.ok_button.setEnabled(True)
        if isinstance(error, PrinterError):
            reason = f"{error.reason}: {error}" if str(error) else error.reason
            self.show_error(f"The label printer did not take the job. {reason}.")
        else:
            log.error("Label printing failed", exc_info=error)
            self.show_error(f"Labels not printed: {error}")
