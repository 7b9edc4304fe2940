"""Send a receipt by e-mail: queued in the outbox (offline too); the server's notification
outbox delivers it and keeps the customer's consent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from common.errors import ValidationFailed
from common.ids import new_id
from common.money import format_money
from common.sync.programs import ReceiptEmailRequested
from common.sync.protocol import Event
from pos_client.printing.receipt import Receipt, render_text
from pos_client.store import documents, outbox

# What the cashier reads out, and what the server records as agreed to.
CONSENT_TEXT = "The customer agreed to receive this receipt by e-mail at this address."
SMS_CONSENT_TEXT = "The customer agreed to receive this receipt by SMS at this number."
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{6,30}$")
# A plain shape check at the till; the server validates the address properly.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class QueuedEmail:
    request_id: str
    event_id: str
    email: str


def email_receipt(
    session: Session,
    *,
    receipt: Receipt,
    email: str,
    consent: bool,
    customer_id: int | None = None,
) -> QueuedEmail:
    """Queue the receipt for e-mail with the customer's consent; sent when the till syncs."""
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValidationFailed(f"“{email}” does not look like an e-mail address")
    if not consent:
        raise ValidationFailed(
            "Ask the customer first: they must agree to get the receipt by e-mail"
        )
    state = documents.get_state(session)
    body = "\n".join(render_text(receipt))
    payload = ReceiptEmailRequested(
        request_id=new_id(),
        receipt_number=receipt.receipt_number,
        branch_id=state.branch_id or 0,
        email=email,
        consent=True,
        consent_text=CONSENT_TEXT,
        customer_id=customer_id,
        subject=f"Your receipt {receipt.receipt_number} from {receipt.shop_name}"[:200],
        body=body,
    )
    event = Event.wrap(payload, device_id=state.device_id or "")
    outbox.enqueue(session, event=event, document_id=payload.request_id)
    return QueuedEmail(request_id=payload.request_id, event_id=event.id, email=email)


def sms_receipt(
    session: Session,
    *,
    receipt: Receipt,
    phone: str,
    consent: bool,
    customer_id: int | None = None,
) -> QueuedEmail:
    """Queue a short text of the receipt by SMS with the customer's consent."""
    phone = phone.strip()
    if not _PHONE.match(phone):
        raise ValidationFailed(f"“{phone}” does not look like a phone number")
    if not consent:
        raise ValidationFailed("Ask the customer first: they must agree to get the receipt by SMS")
    state = documents.get_state(session)
    total = format_money(receipt.total, receipt.currency)
    body = (
        f"{receipt.shop_name}: receipt {receipt.receipt_number}, {len(receipt.lines)} item(s), "
        f"total {total}. Thank you!"
    )
    payload = ReceiptEmailRequested(
        request_id=new_id(),
        receipt_number=receipt.receipt_number,
        branch_id=state.branch_id or 0,
        phone=phone,
        consent=True,
        consent_text=SMS_CONSENT_TEXT,
        customer_id=customer_id,
        subject=f"Receipt {receipt.receipt_number}",
        body=body,
    )
    event = Event.wrap(payload, device_id=state.device_id or "")
    outbox.enqueue(session, event=event, document_id=payload.request_id)
    return QueuedEmail(request_id=payload.request_id, event_id=event.id, email=phone)
