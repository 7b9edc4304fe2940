"""A purchase order as a document: lines with units and tax, totals, history, receipts, the
e-mails sent for it with their delivery state, and the PDF the supplier gets."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtPdf import QPdfDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.roles import Permission
from common.schemas.purchasing import (
    ALLOWED_FROM,
    POEmailRead,
    POEmailsRead,
    POLineRead,
    PORead,
    ReceiptRead,
)
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import as_label, as_money, as_quantity, as_when
from pos_client.ui.manager.widgets import CommentDialog, ask_pdf_path, button

# The PO's timestamps, in the order a PO lives through them: its status history.
HISTORY = [
    ("created_at", "Created", "created_by_name"),
    ("submitted_at", "Submitted for approval", None),
    ("decided_at", "Decided", "decided_by_name"),
    ("sent_at", "Sent to supplier", None),
    ("confirmed_at", "Confirmed by supplier", None),
    ("shipped_at", "Shipped", None),
    ("received_at", "Received in full", None),
    ("closed_at", "Closed", None),
    ("cancelled_at", "Cancelled", None),
]
LINE_HEADERS = [
    "Product",
    "Ordered",
    "Unit",
    "Received",
    "Unit cost",
    "Taxable",
    "Tax %",
    "Tax",
    "Total",
    "Note",
]
TOTAL_COLUMN = LINE_HEADERS.index("Total")
EVENTS = {
    "purchase_order.sent": "Order to supplier",
    "purchase_order.approval_requested": "Approval asked",
    "purchase_order.approved": "Approved",
    "purchase_order.rejected": "Rejected",
    "purchase_order.goods_received": "Goods received",
}
FAILED = QColor("#b3261e")
EMAILS_TAB, PDF_TAB = 1, 2
PREVIEW_WIDTH = 860


def fetch_document(api: ApiClient, po_id: int) -> dict[str, Any]:
    """Fetch a PO with its receipts, products, e-mails and PDF (runs on a network thread)."""
    po = api.purchase_order(po_id)
    ids = sorted({line.product_id for line in po.lines})
    products = {pid: api.product(pid) for pid in ids}
    return {
        "po": po,
        "receipts": api.purchase_order_receipts(po_id),
        "names": {pid: product.name for pid, product in products.items()},
        "units": {pid: product.unit for pid, product in products.items()},
        "emails": api.purchase_order_emails(po_id),
        "pdf": api.purchase_order_pdf(po_id),
    }


def line_unit(line: POLineRead, base: str) -> str:
    """Return the unit a line counts in: "piece", or "case of 12 piece"."""
    unit = line.purchase_unit
    if not unit or unit == base:
        return base
    return f"{unit} of {as_quantity(line.units_per or 1)} {base}"


def email_state(mail: POEmailRead) -> str:
    """Say where an e-mail is: sent (when), queued (and why it is waiting), failed (why)."""
    if mail.state == "sent":
        return f"Sent {as_when(mail.delivered_at)}"
    if mail.state == "failed":
        return f"Failed for good: {mail.error or 'no reason given'}"
    if mail.error:
        return f"Queued, retrying (attempt {mail.attempts}: {mail.error})"
    return "Queued for delivery"


def pdf_file_name(number: str) -> str:
    """Suggest a file name for a PO's PDF."""
    return f"purchase-order-{re.sub(r'[^A-Za-z0-9]+', '-', number).strip('-') or 'po'}.pdf"


def render_page(pdf: bytes, *, width: int) -> QPixmap:
    """Render the first page of a PDF at a width in pixels (empty when it cannot be read)."""
    buffer = QBuffer()
    buffer.setData(QByteArray(pdf))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument()
    document.load(buffer)
    if document.status() != QPdfDocument.Status.Ready or document.pageCount() < 1:
        return QPixmap()
    size = document.pagePointSize(0)
    height = round(width * size.height() / max(size.width(), 1))
    rendered = document.render(0, QSize(width, height))
    document.close()
    # The page renders with a transparent background: lay it on white paper.
    page = QImage(rendered.size(), QImage.Format.Format_RGB32)
    page.fill(QColor("white"))
    painter = QPainter(page)
    painter.drawImage(0, 0, rendered)
    painter.end()
    return QPixmap.fromImage(page)


def _wrapping_list(name: str) -> QListWidget:
    """Make a list whose long entries wrap instead of hiding behind a scroll bar."""
    widget = QListWidget()
    widget.setObjectName(name)
    widget.setWordWrap(True)
    widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    widget.setResizeMode(QListWidget.ResizeMode.Adjust)
    return widget


class PoDetailDialog(QDialog):
    """A purchase order as a document; approve or reject it here, save or preview its PDF."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        document: dict[str, Any],
        supplier_name: str,
        changed: Callable[[str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.po: PORead = document["po"]
        po = self.po
        self.pdf: bytes = document.get("pdf") or b""
        names: dict[int, str] = document["names"]
        units: dict[int, str] = document.get("units", {})
        self._changed = changed
        self.sub_dialog: QDialog | None = None
        # Where the PDF is saved; the file chooser by default (tests point it at a folder).
        self.ask_path: Callable[[], Path | None] = lambda: ask_pdf_path(
            self, title="Save purchase order", suggested=pdf_file_name(po.number)
        )
        self.saved_to: Path | None = None
        self.setWindowTitle(f"Purchase order {po.number}")
        self.setMinimumSize(1100, 660)
        title = QLabel(
            f"{po.number} · {supplier_name} → {ctx.branch_name(po.branch_id)} · "
            f"{as_label(po.status)}"
        )
        title.setObjectName("DialogTitle")
        title.setWordWrap(True)
        self.lines = self._lines_table(po, names, units)
        self.totals = QLabel(
            f"Taxable value {as_money(po.subtotal)}   Tax {as_money(po.tax_total)}   "
            f"<b>Total {as_money(po.total)}</b>   Received {as_money(po.received_value)}"
        )
        self.totals.setObjectName("PoDetailTotals")
        self.history = _wrapping_list("PoHistory")
        self._fill_history(po)
        self.receipts = _wrapping_list("PoReceipts")
        self._fill_receipts(document["receipts"], names)
        self.emails = QTableWidget(0, 4)
        self.emails.setObjectName("PoEmails")
        self.emails.setHorizontalHeaderLabels(["About", "Queued", "To", "Delivery"])
        self.emails.verticalHeader().setVisible(False)
        self.emails.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.emails.setWordWrap(True)
        header = self.emails.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.email_note = QLabel("")
        self.email_note.setObjectName("PoEmailNote")
        self.email_note.setWordWrap(True)
        self.refresh_emails_button = button("Refresh", name="PoEmailsRefresh")
        self.refresh_emails_button.clicked.connect(self.refresh_emails)
        emails_tab = QWidget()
        email_box = QVBoxLayout(emails_tab)
        email_head = QHBoxLayout()
        email_head.addWidget(
            QLabel("E-mails sent about this order, and whether each one has left.")
        )
        email_head.addStretch(1)
        email_head.addWidget(self.refresh_emails_button)
        email_box.addLayout(email_head)
        email_box.addWidget(self.emails, 1)
        email_box.addWidget(self.email_note)
        lists = QHBoxLayout()
        for caption, widget in (("Status history", self.history), ("Receipts", self.receipts)):
            box = QVBoxLayout()
            box.addWidget(QLabel(caption))
            box.addWidget(widget)
            lists.addLayout(box, 1)
        order_tab = QWidget()
        order_layout = QVBoxLayout(order_tab)
        order_layout.addWidget(self.lines, 1)
        order_layout.addWidget(self.totals)
        order_layout.addLayout(lists, 1)
        self.preview = QLabel("This purchase order's PDF could not be shown.")
        self.preview.setObjectName("PoPdfPreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        page = render_page(self.pdf, width=PREVIEW_WIDTH) if self.pdf else QPixmap()
        if not page.isNull():
            self.preview.setPixmap(page)
        self.preview.setStyleSheet("background: #9e9e9e; padding: 12px;")
        scroll = QScrollArea()
        scroll.setWidget(self.preview)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("PoDetailTabs")
        self.tabs.addTab(order_tab, "Order")
        self.tabs.addTab(emails_tab, "E-mails")
        self.tabs.addTab(scroll, "PDF preview")
        self.show_emails(document.get("emails") or POEmailsRead(email_configured=True, emails=[]))
        self.error = QLabel("")
        self.error.setObjectName("ErrorText")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        self.save_pdf_button = button("Save PDF…", name="PoSavePdf")
        self.save_pdf_button.setEnabled(bool(self.pdf))
        self.save_pdf_button.clicked.connect(self.save_pdf)
        self.buttons.addButton(self.save_pdf_button, QDialogButtonBox.ButtonRole.ActionRole)
        decidable = po.status in ALLOWED_FROM["approve"] and ctx.can(Permission.PURCHASING_APPROVE)
        self.approve_button = button("Approve", role="primary", name="DetailApprove")
        self.reject_button = button("Reject…", role="danger", name="DetailReject")
        for decision in (self.approve_button, self.reject_button):
            self.buttons.addButton(decision, QDialogButtonBox.ButtonRole.ActionRole)
            decision.setVisible(decidable)  # after adding: the box shows what it is given
        self.approve_button.clicked.connect(self.approve)
        self.reject_button.clicked.connect(self.reject_po)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    @staticmethod
    def _lines_table(po: PORead, names: dict[int, str], units: dict[int, str]) -> QTableWidget:
        table = QTableWidget(len(po.lines), len(LINE_HEADERS))
        table.setObjectName("PoDetailLines")
        table.setHorizontalHeaderLabels(LINE_HEADERS)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        for row, line in enumerate(po.lines):
            free = line.unit_cost == 0
            cells = (
                names.get(line.product_id, f"#{line.product_id}"),
                as_quantity(line.quantity),
                line_unit(line, units.get(line.product_id, "")),
                as_quantity(line.received_quantity),
                as_money(line.unit_cost),
                as_money(line.taxable),
                as_quantity(line.tax_rate),
                as_money(line.tax_amount),
                as_money(line.line_total),
                "Free" if free else "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column in (1, 3, 4, 5, 6, 7, 8):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                table.setItem(row, column, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(LINE_HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        return table

    def _fill_history(self, po: PORead) -> None:
        for key, label, who in HISTORY:
            when = getattr(po, key)
            if when:
                by = f" by {getattr(po, who)}" if who and getattr(po, who) else ""
                if key == "decided_at":
                    label = "Rejected" if po.status == "rejected" else "Approved"
                comment = (
                    f" — {po.decision_comment}"
                    if key == "decided_at" and po.decision_comment
                    else ""
                )
                self.history.addItem(f"{as_when(when)}  {label}{by}{comment}")

    def _fill_receipts(self, receipts: list[ReceiptRead], names: dict[int, str]) -> None:
        for receipt in receipts:
            items = ", ".join(
                f"{as_quantity(x.quantity)} × {names.get(x.product_id, '#')}" for x in receipt.lines
            )
            note = f" ({receipt.note})" if receipt.note else ""
            self.receipts.addItem(
                f"{as_when(receipt.received_at)}  {receipt.actor}: {items} — "
                f"{as_money(receipt.value)}{note}"
            )
        if not receipts:
            self.receipts.addItem("Nothing received yet.")

    def show_emails(self, answer: POEmailsRead) -> None:
        """Show the PO's e-mails and where each one is."""
        mails = answer.emails
        self.emails.setRowCount(len(mails))
        for row, mail in enumerate(mails):
            cells = (
                EVENTS.get(mail.event, mail.subject),
                as_when(mail.created_at),
                mail.recipient,
                email_state(mail),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 3 and mail.state == "failed":
                    item.setForeground(FAILED)
                self.emails.setItem(row, column, item)
        self.emails.resizeRowsToContents()
        if not answer.email_configured:
            self.email_note.setText(
                "This server has no mail server configured: no e-mail can leave it. "
                "Ask whoever runs the server to set STOCKPILOT_SMTP_HOST."
            )
            self.email_note.setStyleSheet("color: #b3261e;")
        elif not mails:
            self.email_note.setText("No e-mail has been sent about this order.")
            self.email_note.setStyleSheet("")
        else:
            self.email_note.setText("")
        # The tab says at a glance where the e-mails are: "E-mails (1 sent, 1 failed)".
        counts = [
            f"{sum(m.state == state for m in mails)} {state}"
            for state in ("sent", "queued", "failed")
            if any(m.state == state for m in mails)
        ]
        label = f"E-mails ({', '.join(counts)})" if counts else "E-mails"
        if not answer.email_configured:
            label = "E-mails (no mail server)"
        self.tabs.setTabText(EMAILS_TAB, label)

    def refresh_emails(self) -> None:
        """Ask the server again where the PO's e-mails are."""
        po_id = self.po.id
        NetOp(lambda api: api.purchase_order_emails(po_id), pool=self.ctx.pool, owner=self).success(
            self.show_emails
        ).failure(self._failed).run()

    def save_pdf(self) -> None:
        """Save the PO's PDF (as the supplier gets it) where the user says."""
        path = self.ask_path()
        if path is None:
            return
        try:
            path.write_bytes(self.pdf)
        except OSError as exc:
            self.error.setText(f"Could not save the PDF to {path}: {exc.strerror or exc}.")
            self.error.setVisible(True)
            return
        self.saved_to = path
        self.error.setVisible(False)

    def approve(self) -> None:
        """Approve the PO shown; the server checks who may."""
        self.approve_button.setEnabled(False)
        self.error.setVisible(False)
        po_id = self.po.id
        NetOp(lambda api: api.po_action(po_id, "approve"), pool=self.ctx.pool, owner=self).success(
            lambda r: self._finished(f"{r.number} is now {as_label(r.status).lower()}.")
        ).failure(self._failed).run()

    def reject_po(self) -> None:
        """Ask why, then reject the PO shown."""
        po_id = self.po.id
        dialog = CommentDialog(
            ctx=self.ctx,
            title=f"Reject {self.po.number}",
            ok_text="Reject",
            call=lambda api, comment: api.po_action(po_id, "reject", comment=comment),
            parent=self,
        )
        dialog.accepted.connect(lambda: self._finished(f"Rejected {self.po.number}."))
        self.sub_dialog = dialog
        dialog.open()

    def _failed(self, error: BaseException) -> None:
        self.approve_button.setEnabled(True)
        self.error.setText(describe(error))
        self.error.setVisible(True)

    def _finished(self, text: str) -> None:
        self._changed(text)
        self.accept()
