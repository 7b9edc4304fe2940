"""The e-mails sent about a purchase order, and whether each one left.

Every notification about a PO carries its id in the payload (sent to the supplier, approval
asked, decided, goods received); its e-mails are the rows on the e-mail channel. Delivery
state is the outbox row's: pending is queued (or being retried after an error), delivered
is sent (the mail server accepted it), failed is given up for good with the last error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.foundation.principal import Principal
from sync_server.notifications.models import Notification
from sync_server.purchasing import service

STATES = {"pending": "queued", "delivered": "sent", "failed": "failed"}
EVENT_PREFIX = "purchase_order."


def emails(
    session: Session, *, actor: Principal, po_id: int, email_configured: bool
) -> dict[str, Any]:
    """Return the PO's e-mails, oldest first, with their delivery state."""
    po = service.visible_po(session, actor=actor, po_id=po_id)
    rows = session.scalars(
        select(Notification)
        .where(
            Notification.tenant_id == po.tenant_id,
            Notification.channel == "email",
            Notification.event.like(f"{EVENT_PREFIX}%"),
            Notification.payload["purchase_order_id"].as_integer() == po.id,
        )
        .order_by(Notification.created_at, Notification.id)
    )
    return {
        "email_configured": email_configured,
        "emails": [
            {
                "id": row.id,
                "event": row.event,
                "recipient": row.recipient,
                "subject": row.subject,
                "state": STATES.get(row.status, "queued"),
                "attempts": row.attempts,
                "error": row.last_error,
                "created_at": row.created_at,
                "delivered_at": row.delivered_at,
                "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
            }
            for row in rows
        ],
    }
