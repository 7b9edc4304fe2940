"""The scanner and printer settings screen a manager opens from the till (Ctrl+D).

What is chosen here is saved to the till's settings file and used at once: the serial
scanner is reopened, the keyboard-scanner limits and the printer apply to the next scan
and the next receipt. A test area shows what any scanner reads while the screen is open.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from common.barcodes import BarcodeError, parse_scan
from pos_client.config import HidScannerSettings, TillConfig
from pos_client.printing.queue import PrinterConfig
from pos_client.scanners.serial import SerialScannerConfig, list_ports
from pos_client.ui.models.cart_model import describe_attributes
from pos_client.ui.till.dialogs import button, error_label, title_label

BAUD_RATES = ("1200", "2400", "4800", "9600", "19200", "38400", "57600", "115200")
SUFFIX_CHOICES = (
    ("CR (Enter)", "CR"),
    ("LF", "LF"),
    ("CR LF", "CRLF"),
    ("Nothing — a pause ends the code", "NONE"),
)
PRINTER_CHOICES = (
    ("No printer (PDF receipts)", ""),
    ("Network (address:port)", "network"),
    ("Serial / USB port", "serial"),
    ("File or spooler", "file"),
)


def describe_scan(raw: str) -> str:
    """Say in words what a test scan read, as the till will understand it."""
    shown = raw.replace("\x1d", " <GS> ")
    try:
        scan = parse_scan(raw)
    except BarcodeError as exc:
        return f"Read “{shown}” — not a code the till accepts: {exc}"
    if scan.gs1 is not None:
        # Spaced out by field, so a long label wraps where a person would read it.
        fields = " ".join(f"({ai}) {value}" for ai, value in scan.gs1.elements)
        shown = f"{scan.aim or ''} {fields}".strip()
    parts = [f"Read “{shown}”", f"product code {scan.code}"]
    if scan.aim:
        parts.append(f"symbology {scan.aim}")
    if scan.gs1 is not None:
        details = describe_attributes(scan.gs1.attributes)
        if scan.gs1.price is not None:
            details = " · ".join(filter(None, [details, f"Price {scan.gs1.price}"]))
        parts.append(f"GS1: {details}" if details else "GS1")
    return " · ".join(parts)


class DevicesDialog(QDialog):
    """Serial scanner (port, speed, suffix), keyboard-scanner limits, printer, test scan."""

    saved = Signal(object)  # TillConfig

    def __init__(self, *, config: TillConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Scanner and printer")
        self.setModal(True)
        self.config = config
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Scanner and printer"))
        # Two columns: a till's screen is wide and not very tall.
        columns = QGridLayout()
        columns.setHorizontalSpacing(18)
        layout.addLayout(columns)

        serial_box = QGroupBox("Serial scanner (no port: USB keyboard scanners only)")
        form = QFormLayout(serial_box)
        self.port = QComboBox()
        self.port.setObjectName("DevicesPort")
        self.port.setEditable(True)
        self.port.addItems(["", *list_ports()])
        self.baud = QComboBox()
        self.baud.setObjectName("DevicesBaud")
        self.baud.addItems(BAUD_RATES)
        self.suffix = QComboBox()
        self.suffix.setObjectName("DevicesSuffix")
        for label, value in SUFFIX_CHOICES:
            self.suffix.addItem(label, value)
        form.addRow("Port", self.port)
        form.addRow("Speed (baud)", self.baud)
        form.addRow("Code ends with", self.suffix)
        note = QLabel("CR, LF and CR LF are all accepted whatever is chosen here.")
        note.setWordWrap(True)
        form.addRow(note)
        columns.addWidget(serial_box, 0, 0)

        hid_box = QGroupBox("USB keyboard scanner")
        hid_form = QFormLayout(hid_box)
        self.typical_gap = _milliseconds(name="DevicesTypicalGap")
        self.stall_gap = _milliseconds(name="DevicesStallGap")
        self.adaptive = QCheckBox("Learn this scanner's speed")
        self.adaptive.setObjectName("DevicesAdaptive")
        hid_form.addRow("Typical gap between keys", self.typical_gap)
        hid_form.addRow("Longest pause inside a scan", self.stall_gap)
        hid_form.addRow(self.adaptive)
        columns.addWidget(hid_box, 1, 0)

        printer_box = QGroupBox("Receipt printer")
        printer_form = QFormLayout(printer_box)
        self.printer_kind = QComboBox()
        self.printer_kind.setObjectName("DevicesPrinterKind")
        for label, value in PRINTER_CHOICES:
            self.printer_kind.addItem(label, value)
        self.printer_target = QLineEdit()
        self.printer_target.setObjectName("DevicesPrinterTarget")
        self.printer_target.setPlaceholderText("192.168.1.50:9100, /dev/ttyUSB1 or a file path")
        printer_form.addRow("Printer", self.printer_kind)
        printer_form.addRow("Address", self.printer_target)
        columns.addWidget(printer_box, 0, 1)

        test_box = QGroupBox("Test scan")
        test_layout = QVBoxLayout(test_box)
        self.test_result = QLabel(
            "Scan any barcode with either scanner: what the till reads shows here."
        )
        self.test_result.setObjectName("DevicesTestResult")
        self.test_result.setWordWrap(True)
        test_layout.addWidget(self.test_result, 1)
        columns.addWidget(test_box, 1, 1)

        self.error = error_label()
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        cancel = button("Cancel (Esc)")
        cancel.clicked.connect(self.reject)
        self.save = button("Save  Ctrl+S", role="primary", name="DevicesSave")
        self.save.clicked.connect(self.submit)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save)
        layout.addLayout(buttons)
        QShortcut(QKeySequence("Ctrl+S"), self).activated.connect(self.submit)
        self.setMinimumWidth(980)
        self._load(config)

    def _load(self, config: TillConfig) -> None:
        scanner = config.serial_scanner
        self.port.setCurrentText(scanner.port if scanner else "")
        self.baud.setCurrentText(str(scanner.baudrate if scanner else 9600))
        self.suffix.setCurrentIndex(
            max(0, self.suffix.findData(scanner.suffix if scanner else "CR"))
        )
        self.typical_gap.setValue(config.hid.max_gap_ms)
        self.stall_gap.setValue(config.hid.stall_gap_ms)
        self.adaptive.setChecked(config.hid.adaptive)
        printer = config.printer
        self.printer_kind.setCurrentIndex(
            max(0, self.printer_kind.findData(printer.kind if printer else ""))
        )
        self.printer_target.setText(printer.target if printer else "")

    def take_scan(self, raw: str) -> None:
        """Show what a scan made while this screen is open reads as."""
        self.test_result.setText(describe_scan(raw))

    def result_config(self) -> TillConfig:
        """Return the settings as chosen; raise ValueError saying what is wrong."""
        port = self.port.currentText().strip()
        scanner = None
        if port:
            old = self.config.serial_scanner
            base = old if old is not None else SerialScannerConfig(port=port)
            scanner = replace(
                base,
                port=port,
                baudrate=int(self.baud.currentText()),
                suffix=self.suffix.currentData(),
            )
        if self.stall_gap.value() < self.typical_gap.value():
            raise ValueError("The longest pause cannot be shorter than the typical gap")
        hid = HidScannerSettings(
            max_gap_ms=self.typical_gap.value(),
            stall_gap_ms=self.stall_gap.value(),
            min_length=self.config.hid.min_length,
            adaptive=self.adaptive.isChecked(),
        )
        kind = self.printer_kind.currentData()
        printer = None
        if kind:
            old_printer = self.config.printer
            codepage = old_printer.codepage if old_printer else "cp858"
            printer = PrinterConfig(
                kind=kind, target=self.printer_target.text().strip(), codepage=codepage
            )
        return self.config.with_changes(serial_scanner=scanner, hid=hid, printer=printer)

    def submit(self) -> None:
        """Check the settings; emit them and close, or say what is wrong."""
        try:
            config = self.result_config()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.saved.emit(config)
        self.accept()


def _milliseconds(*, name: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setRange(5, 500)
    box.setDecimals(0)
    box.setSuffix(" ms")
    box.setAlignment(Qt.AlignmentFlag.AlignRight)
    return box
