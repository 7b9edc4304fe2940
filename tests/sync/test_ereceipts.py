"""E-receipts, on both engines: asked for offline, queued, delivered to a real SMTP server on
loopback by the server's notification outbox, with the customer's consent recorded."""

from __future__ import annotations

import json
import socket
import threading
from decimal import Decimal
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from common.errors import ValidationFailed
from common.roles import Role
from pos_client.services import ereceipts, queries, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart, cash_payment
from pos_client.store.db import LocalStore
from sync_server.config import Settings
from sync_server.db import transaction
from sync_server.ereceipts.models import ReceiptConsent
from sync_server.notifications.dispatcher import dispatch_due
from sync_server.notifications.models import Notification

D = Decimal
SHOP = ShopInfo(shop_name="Test Shop")


class _Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd), collecting what it receives."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture
def till(world, live_server, tmp_path):
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=30, backoff_base=0.05)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    assert engine.sync_once().online
    yield engine
    engine.stop()
    store.close()


def _sale(world, store):
    cashier = Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="Asha", role=Role.CASHIER
    )
    cart = Cart()
    with store.session() as session:
        cart.add(queries.find_by_codes(session, ("ADMIN-2",)), quantity=D(2))
    with store.transaction() as session:
        shift = shifts.open_shift(session, cashier=cashier, opening_float=D("0"))
        return complete_sale(
            session,
            cart=cart,
            payments=[cash_payment(due=D("20.00"), tendered=D("50"))],
            cashier=cashier,
            shift_id=shift.shift_id,
            shop=SHOP,
        )


def test_a_receipt_emailed_offline_is_delivered_after_sync_with_consent_kept(
    world, live_server, till, smtp, tmp_path
) -> None:
    port, inbox = smtp
    live_server.stop()
    sale = _sale(world, till.store)
    with till.store.transaction() as session:
        with pytest.raises(ValidationFailed, match="must agree"):
            ereceipts.email_receipt(
                session, receipt=sale.receipt, email="asha@example.com", consent=False
            )
        with pytest.raises(ValidationFailed, match="does not look like"):
            ereceipts.email_receipt(session, receipt=sale.receipt, email="asha@", consent=True)
        queued = ereceipts.email_receipt(
            session, receipt=sale.receipt, email=" asha@example.com ", consent=True
        )
    assert queued.email == "asha@example.com"
    offline = till.sync_once()
    assert not offline.online and offline.pending >= 2  # the sale and the e-mail wait

    live_server.start()
    assert till.sync_once().pending == 0
    settings = Settings(
        data_dir=tmp_path / "n",
        secret_key="x" * 40,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="shop@shop.test",
        notify_timeout=5,
    )
    assert dispatch_due(world.engine, settings=settings) == 1
    [(recipients, message)] = inbox.messages
    assert recipients == ["asha@example.com"]
    assert message["Subject"] == f"Your receipt {sale.receipt_number} from Test Shop"
    text = message.get_payload()
    assert sale.receipt_number in text and "20.00" in text and "Asha" in text

    with transaction(world.sessions(), readonly=True) as session:
        consent = session.scalar(select(ReceiptConsent))
        assert (consent.email, consent.receipt_number) == ("asha@example.com", sale.receipt_number)
        assert consent.consent_text == ereceipts.CONSENT_TEXT
        assert consent.device_id is not None and consent.given_at is not None
        sent = session.get(Notification, consent.notification_id)
        assert (sent.channel, sent.status, sent.event) == ("email", "delivered", "receipt.email")


@pytest.fixture
def gateway():
    """A real HTTP SMS gateway on loopback that accepts every message."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            length = int(self.headers.get("Content-Length") or 0)
            seen.append(
                {"query": parse_qs(urlparse(self.path).query), "body": self.rfile.read(length)}
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_a_receipt_sent_by_sms_reaches_the_gateway_with_consent_kept(
    world, live_server, till, gateway, tmp_path
) -> None:
    url, seen = gateway
    sale = _sale(world, till.store)
    with till.store.transaction() as session:
        with pytest.raises(ValidationFailed, match="phone number"):
            ereceipts.sms_receipt(session, receipt=sale.receipt, phone="call me", consent=True)
        ereceipts.sms_receipt(session, receipt=sale.receipt, phone="+91 98450 12345", consent=True)
    assert till.sync_once().pending == 0
    settings = Settings(
        data_dir=tmp_path / "n",
        secret_key="x" * 40,
        sms_gateway_url=url + "/send?to={to}",
        sms_gateway_body='{"to": "{to}", "message": "{text}"}',
        notify_timeout=5,
    )
    assert dispatch_due(world.engine, settings=settings) == 1
    [message] = seen
    assert message["query"]["to"] == ["+919845012345"]
    text = json.loads(message["body"])["message"]
    assert sale.receipt_number in text and "20.00" in text
    with transaction(world.sessions(), readonly=True) as session:
        consent = session.scalar(select(ReceiptConsent))
        assert (consent.phone, consent.email) == ("+919845012345", None)
        assert consent.consent_text == ereceipts.SMS_CONSENT_TEXT
