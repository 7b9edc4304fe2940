"""Receipts leave the till here: ESC/POS to the print queue, PDFs on request."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from pos_client.printing.escpos import EscPosBuilder, receipt_to_escpos
from pos_client.printing.pdf import receipt_to_pdf, zreport_to_pdf
from pos_client.printing.queue import PrinterConfig, PrintQueue
from pos_client.printing.receipt import Receipt, layout_report


class ReceiptDesk(QObject):
    """Queue receipts without ever holding up the sale; keep the last one for reprint."""

    state_changed = Signal(str)
    job_failed = Signal(str, str)

    def __init__(
        self,
        *,
        printer: PrinterConfig | None,
        pdf_dir: Path,
        width: int = 42,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.pdf_dir = pdf_dir
        self.width = width
        self.last: Receipt | None = None
        self.queue: PrintQueue | None = None
        self.set_printer(printer)

    def set_printer(self, printer: PrinterConfig | None) -> None:
        """Print to another printer (or none: PDF receipts) from the next job on."""
        if printer is None:
            if self.queue is not None:
                self.queue.close(timeout_s=2)
                self.queue = None
        elif self.queue is not None:
            self.queue.set_config(printer)
        else:
            self.queue = PrintQueue(config=printer, parent=self)
            self.queue.state_changed.connect(self.state_changed)
            self.queue.job_failed.connect(self.job_failed)
        self.state_changed.emit(self.state)

    @property
    def state(self) -> str:
        """Return the printer's state as last seen ("none" without a printer)."""
        return str(self.queue.state) if self.queue is not None else "none"

    def print_receipt(self, receipt: Receipt, *, job_id: str) -> Path | None:
        """Queue a receipt for printing and return at once; with no printer, save a PDF.

        Returns the PDF's path when one was written (no printer), else None.
        """
        self.last = receipt
        if self.queue is None:
            try:
                return self.save_pdf(receipt)
            except OSError as exc:
                self.job_failed.emit(job_id, f"could not save the PDF ({exc.strerror or exc})")
                return None
        self.queue.submit(
            job_id,
            data=receipt_to_escpos(receipt, codepage=self.queue.config.codepage, width=self.width),
        )
        return None

    def reprint(self, receipt: Receipt) -> bool:
        """Queue a copy of a receipt; say whether there is a printer to print it."""
        if self.queue is None:
            return False
        copy = replace(receipt, is_copy=True)
        self.queue.reprint(
            receipt_to_escpos(copy, codepage=self.queue.config.codepage, width=self.width)
        )
        return True

    def retry_failed(self) -> int:
        """Queue every failed job again; return how many."""
        if self.queue is None:
            return 0
        failed = list(self.queue.failed_jobs)
        for job_id in failed:
            self.queue.retry(job_id)
        return len(failed)

    def save_pdf(self, receipt: Receipt) -> Path:
        """Write the receipt as a PDF and return its path."""
        self.pdf_dir.mkdir(parents=True, exist_ok=True)
        path = self.pdf_dir / f"receipt-{receipt.receipt_number}.pdf"
        receipt_to_pdf(receipt, path=path, width=self.width)
        return path

    def save_copy_pdf(self, receipt: Receipt) -> Path:
        """Write a copy of a receipt as a PDF (reprint without a printer)."""
        self.pdf_dir.mkdir(parents=True, exist_ok=True)
        path = self.pdf_dir / f"receipt-{receipt.receipt_number}-copy.pdf"
        receipt_to_pdf(replace(receipt, is_copy=True), path=path, width=self.width)
        return path

    def save_report_pdf(self, *, title: str, rows: list[tuple[str, str]], name: str) -> Path:
        """Write a Z report as a PDF and return its path."""
        self.pdf_dir.mkdir(parents=True, exist_ok=True)
        path = self.pdf_dir / f"{name}.pdf"
        zreport_to_pdf(title=title, rows=rows, path=path, width=self.width)
        return path

    def print_report(self, *, title: str, rows: list[tuple[str, str]], job_id: str) -> bool:
        """Queue a key/value report (a Z report) for the receipt printer, if there is one."""
        if self.queue is None:
            return False
        codepage = self.queue.config.codepage
        job = EscPosBuilder(codepage=codepage).initialize().codepage(codepage)
        for line in layout_report(title, rows=rows, width=self.width):
            job.bold(line.bold)
            if line.large:
                job.align("center").size(height=2).line(line.text.strip()).size().align("left")
            else:
                job.line(line.text)
        job.bold(False)
        self.queue.submit(job_id, data=job.feed(2).cut().build())
        return True

    def close(self) -> None:
        """Stop the printer worker."""
        if self.queue is not None:
            self.queue.close(timeout_s=2)
