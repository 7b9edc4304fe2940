"""Send a till receipt by e-mail through the notification outbox, recording the consent."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from common.errors import ValidationFailed
from common.sync.programs import ReceiptEmailRequested
from sync_server.audit import service as audit
from sync_server.ereceipts.models import ReceiptConsent
from sync_server.foundation.principal import Actor
from sync_server.notifications import service as notifications

EVENT = "receipt.email"


def _address(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed(f"{email!r} is not an e-mail address: {exc}") from None


def request(
    session: Session, *, actor: Actor, branch_id: int, payload: ReceiptEmailRequested
) -> ReceiptConsent:
    """Queue the receipt (e-mail or SMS) and keep who agreed to it, when and at which till."""
    if not payload.consent:
        raise ValidationFailed("The customer did not agree to get the receipt.")
    if (payload.email is None) == (payload.phone is None):
        raise ValidationFailed("An e-receipt goes to an e-mail address or a phone number.")
    address = _address(payload.email) if payload.email else None
    phone = notifications.normalize_phone(payload.phone) if payload.phone else None
    subject = payload.subject or f"Your receipt {payload.receipt_number}"
    rows = notifications.notify(
        session,
        tenant_id=actor.tenant_id,
        event=EVENT,
        subject=subject,
        body=payload.body,
        payload={"receipt_number": payload.receipt_number},
        branch_id=branch_id,
        email=address,
        sms=phone,
    )
    session.flush()
    channel = "email" if address else "sms"
    consent = ReceiptConsent(
        tenant_id=actor.tenant_id,
        request_id=payload.request_id,
        receipt_number=payload.receipt_number,
        email=address,
        phone=phone,
        customer_id=payload.customer_id,
        consent_text=payload.consent_text,
        branch_id=branch_id,
        device_id=actor.device_id,
        notification_id=next((r.id for r in rows if r.channel == channel), None),
    )
    session.add(consent)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="receipt.email_consent" if address else "receipt.sms_consent",
        entity_type="receipt",
        entity_id=payload.receipt_number,
        after={"to": address or phone, "consent_text": payload.consent_text},
    )
    return consent
