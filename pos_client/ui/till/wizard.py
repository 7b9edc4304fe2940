"""First run: enrol the till with the server, then set up the receipt printer and scanner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWizard,
    QWizardPage,
)

from pos_client.config import TillConfig, save_config
from pos_client.printing.queue import PrinterConfig
from pos_client.qt.threads import wait_off_gui_thread
from pos_client.scanners.config import as_suffix
from pos_client.scanners.serial import SerialScannerConfig, list_ports
from pos_client.ui.widgets.messages import explain

Enrol = Callable[[str, str, str], Any]  # server URL, code, till name -> enrolment answer


class ServerPage(QWizardPage):
    """Server URL and the one-time enrolment code an admin issued for this branch."""

    def __init__(
        self, *, config: TillConfig, enrol: Enrol, code: str = "", notice: str = ""
    ) -> None:
        super().__init__()
        self.enrol = enrol
        self.setTitle("Connect this till")
        self.setSubTitle("Ask an admin for an enrolment code for this branch.")
        form = QFormLayout(self)
        self.url = QLineEdit(config.server_url)
        self.url.setObjectName("ServerUrl")
        self.code = QLineEdit(code)
        self.code.setObjectName("EnrolCode")
        self.name = QLineEdit("Till 1")
        self.name.setObjectName("TillName")
        # Why a code given on the command line was refused, so nobody wonders why they are here.
        self.error = QLabel(notice)
        self.error.setObjectName("ErrorText")
        self.error.setWordWrap(True)
        form.addRow("Server address", self.url)
        form.addRow("Enrolment code", self.code)
        form.addRow("Name of this till", self.name)
        form.addRow(self.error)
        self.answer: Any = None

    def validatePage(self) -> bool:
        url, code, name = self.url.text().strip(), self.code.text().strip(), self.name.text()
        if not url or not code:
            self.error.setText("Enter the server address and the enrolment code")
            return False
        self.error.setText("Enrolling…")
        try:
            self.answer = wait_off_gui_thread(
                lambda: self.enrol(url, code, name.strip() or "Till"), name="till-enrol"
            )
        except Exception as exc:  # noqa: BLE001 - shown to the person setting up
            self.error.setText(explain(exc) if not str(exc) else str(exc))
            return False
        self.error.setText("")
        return True


class PrinterPage(QWizardPage):
    """Where receipts go."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Receipt printer")
        self.setSubTitle("Network printers listen on port 9100; serial ones on a COM port.")
        form = QFormLayout(self)
        self.kind = QComboBox()
        self.kind.setObjectName("PrinterKind")
        for label, kind in (
            ("No printer (PDF receipts)", ""),
            ("Network", "network"),
            ("Serial / USB", "serial"),
            ("File or spooler", "file"),
        ):
            self.kind.addItem(label, kind)
        self.target = QLineEdit()
        self.target.setObjectName("PrinterTarget")
        self.target.setPlaceholderText("192.168.1.50:9100, /dev/ttyUSB0 or a file path")
        self.codepage = QLineEdit("cp858")
        self.codepage.setObjectName("PrinterCodepage")
        form.addRow("Printer", self.kind)
        form.addRow("Address", self.target)
        form.addRow("Code page", self.codepage)

    def printer(self) -> PrinterConfig | None:
        """Return the printer configured here (None for no printer)."""
        kind = self.kind.currentData()
        if not kind:
            return None
        return PrinterConfig(
            kind=kind,
            target=self.target.text().strip(),
            codepage=self.codepage.text().strip() or "cp858",
        )

    def validatePage(self) -> bool:
        try:
            self.printer()
        except ValueError as exc:
            self.setSubTitle(str(exc))
            return False
        return True


class ScannerPage(QWizardPage):
    """USB keyboard scanners need nothing; serial scanners need their port."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Barcode scanner")
        self.setSubTitle(
            "USB (keyboard) scanners work as they are. Choose a port only for a serial scanner."
        )
        form = QFormLayout(self)
        self.port = QComboBox()
        self.port.setObjectName("ScannerPort")
        self.port.setEditable(True)
        self.port.addItem("")
        self.port.addItems(list_ports())
        self.suffix = QComboBox()
        self.suffix.setObjectName("ScannerSuffix")
        self.suffix.addItems(["CR", "LF", "CRLF", "NONE"])
        self.baud = QComboBox()
        self.baud.setObjectName("ScannerBaud")
        self.baud.addItems(["9600", "19200", "38400", "115200"])
        form.addRow("Serial port", self.port)
        form.addRow("Ends with", self.suffix)
        form.addRow("Speed", self.baud)

    def scanner(self) -> SerialScannerConfig | None:
        """Return the serial scanner configured here (None for USB only)."""
        port = self.port.currentText().strip()
        if not port:
            return None
        return SerialScannerConfig(
            port=port,
            baudrate=int(self.baud.currentText()),
            suffix=as_suffix(self.suffix.currentText()),
        )


class FirstRunWizard(QWizard):
    """Enrol, printer, scanner; the result is saved in the till's settings."""

    def __init__(
        self, *, config: TillConfig, enrol: Enrol, code: str = "", notice: str = ""
    ) -> None:
        super().__init__()
        self.setWindowTitle("Set up StockPilot Till")
        self.config = config
        self.server = ServerPage(config=config, enrol=enrol, code=code, notice=notice)
        self.printer = PrinterPage()
        self.scanner = ScannerPage()
        for page in (self.server, self.printer, self.scanner):
            self.addPage(page)
        self.setMinimumSize(620, 440)

    def result_config(self) -> TillConfig:
        """Return the settings chosen in the wizard."""
        answer = self.server.answer
        branch = getattr(answer, "branch_code", "") or self.config.branch_name
        return self.config.with_changes(
            server_url=self.server.url.text().strip(),
            enrolled=True,
            branch_name=branch,
            printer=self.printer.printer(),
            serial_scanner=self.scanner.scanner(),
        )


def run_first_run_wizard(
    *, config: TillConfig, store: Any, code: str = "", notice: str = ""
) -> TillConfig | None:
    """Show the wizard; return the saved settings, or None if it was cancelled."""
    from pos_client.services.sync_engine import SyncEngine

    engine = SyncEngine(store, server_url=config.server_url)
    wizard = FirstRunWizard(
        config=config,
        enrol=lambda url, code, name: engine.enrol(server_url=url, code=code, name=name),
        code=code,
        notice=notice,
    )
    if wizard.exec() != QWizard.DialogCode.Accepted:
        return None
    result = wizard.result_config()
    save_config(result)
    return result
