"""A purchase order sent to its supplier arrives by real SMTP with its PDF attached."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from common.errors import ValidationFailed
from sync_server.db import transaction, utcnow
from sync_server.notifications import service as notifications
from sync_server.notifications.dispatcher import dispatch_due
from sync_server.notifications.models import Notification, NotificationAttachment


@pytest.fixture
def settings(settings):
    """A server that names a mail server: without one, sending a PO is refused."""
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": 9})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd), collecting what it receives."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


def _sent_po(world) -> dict:
    buyer = world.api("purchase_admin")
    supplier = buyer.post("suppliers", json={"name": "Acme", "email": "orders@acme.test"})
    assert supplier.status_code == 201, supplier.text
    p = world.a.product_ids
    po = buyer.post(
        "purchase-orders",
        json={
            "supplier_id": supplier.json()["id"],
            "branch_id": world.a.branch_ids[0],
            "expected_date": (datetime.now(UTC).date() + timedelta(days=3)).isoformat(),
            "lines": [{"product_id": p[0], "quantity": "10", "unit_cost": "4.00"}],
        },
    ).json()
    assert buyer.post(f"purchase-orders/{po['id']}/submit").status_code == 200
    assert world.api("manager").post(f"purchase-orders/{po['id']}/approve").status_code == 200
    sent = buyer.post(f"purchase-orders/{po['id']}/send")
    assert sent.status_code == 200, sent.text
    return sent.json()


def test_sent_po_is_mailed_with_its_pdf_attached_and_a_retry_keeps_it(world, settings, smtp):
    port, inbox = smtp
    po = _sent_po(world)
    factory = world.sessions()
    # First round: the mail server is down (nothing listens on that port), so it is retried.
    down = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": _free_port(), "notify_timeout": 2}
    )
    now = utcnow()
    assert dispatch_due(factory, settings=down, now=now) == 0
    with transaction(factory, readonly=True) as session:
        mail = session.scalar(
            select(Notification).where(Notification.event == "purchase_order.sent")
        )
        assert (mail.status, mail.attempts) == ("pending", 1)
        assert mail.last_error
    assert inbox.messages == []

    up = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_from": "buying@shop.test",
            "notify_timeout": 5,
        }
    )
    assert dispatch_due(factory, settings=up, now=now + timedelta(hours=1)) == 1
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["orders@acme.test"]
    assert message["Subject"] == f"Purchase order {po['number']}"
    assert message.is_multipart()
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert po["number"] in text and "attached" in text
    pdfs = [
        part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"
    ]
    assert len(pdfs) == 1
    assert pdfs[0].get_filename() == f"purchase-order-{po['number']}.pdf"
    data = pdfs[0].get_content()
    assert data.startswith(b"%PDF")
    assert po["number"].encode() in data
    # What went out is the very file rendered when the PO was sent.
    with transaction(factory, readonly=True) as session:
        stored = session.scalar(select(NotificationAttachment.content))
        status = session.scalar(
            select(Notification.status).where(Notification.event == "purchase_order.sent")
        )
    assert bytes(stored) == data
    assert status == "delivered"


def test_attachments_ride_only_on_emails_and_oversized_files_are_refused(world):
    factory = world.sessions()
    file = notifications.Attachment("a.pdf", "application/pdf", b"%PDF-1.4 tiny")
    with transaction(factory) as session:
        rows = notifications.notify(
            session,
            tenant_id=world.a.id,
            event="purchase_order.sent",
            subject="PO",
            body="b",
            payload={},
            roles=["manager"],
            email="orders@acme.test",
            attachments=[file],
        )
        assert sorted(row.channel for row in rows) == ["email", "in_app"]
    with transaction(factory, readonly=True) as session:
        owners = session.scalars(select(NotificationAttachment.notification_id)).all()
        email_id = session.scalar(select(Notification.id).where(Notification.channel == "email"))
    assert owners == [email_id]

    huge = notifications.Attachment(
        "big.pdf", "application/pdf", b"x" * (notifications.MAX_ATTACHMENT_BYTES + 1)
    )
    with pytest.raises(ValidationFailed), transaction(factory) as session:
        notifications.notify(
            session,
            tenant_id=world.a.id,
            event="purchase_order.sent",
            subject="PO",
            body="b",
            payload={},
            email="other@acme.test",
            attachments=[huge],
        )
    with transaction(factory, readonly=True) as session:
        assert (
            session.scalar(
                select(Notification.id).where(Notification.recipient == "other@acme.test")
            )
            is None
        )


def test_a_pos_emails_show_queued_then_failed_for_good_with_the_reason(world, settings):
    po = _sent_po(world)
    buyer = world.api("purchase_admin")
    queued = buyer.get(f"purchase-orders/{po['id']}/emails")
    assert queued.status_code == 200, queued.text
    [mail] = queued.json()["emails"]
    assert queued.json()["email_configured"] is True
    assert (mail["state"], mail["recipient"], mail["attempts"], mail["error"]) == (
        "queued",
        "orders@acme.test",
        0,
        None,
    )
    # Nothing listens on the mail server's port, and one attempt is all it gets.
    last_try = settings.model_copy(
        update={"smtp_port": _free_port(), "notify_max_attempts": 1, "notify_timeout": 2}
    )
    assert dispatch_due(world.sessions(), settings=last_try) == 0
    [mail] = buyer.get(f"purchase-orders/{po['id']}/emails").json()["emails"]
    assert (mail["state"], mail["attempts"], mail["next_attempt_at"]) == ("failed", 1, None)
    assert "Connection" in mail["error"]
