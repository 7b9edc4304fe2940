"""The notification outbox: written with the event, delivered over real SMTP and HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta
from decimal import Decimal
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from common.codes import MovementCode
from common.roles import Role
from common.webhooks import verify
from sync_server.cli import main as cli
from sync_server.config import Settings
from sync_server.db import utcnow
from sync_server.inventory import ledger, thresholds
from sync_server.main import create_app
from sync_server.notifications import service as notifications
from sync_server.notifications.dispatcher import dispatch_due, in_server_worker
from sync_server.notifications.models import Notification
from tests.asgi import TestClient

SECRET = "webhook-secret-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd), collecting what it receives."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture
def receiver():
    """A real HTTP server on loopback that answers 500 to the first POST, then 204."""
    seen: list[tuple[dict[str, str], bytes, int]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = 500 if not seen else 204
            seen.append((dict(self.headers), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/stock", seen
    server.shutdown()
    server.server_close()


def _settings(tmp_path, smtp_port: int, **extra) -> Settings:
    return Settings(
        data_dir=tmp_path / "n",
        secret_key="x" * 40,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_from="stockpilot@shop.test",
        notify_backoff_seconds=30,
        notify_timeout=5,
        **extra,
    )


def _low_stock(stock, *, threshold="5", on_hand="3") -> None:
    """Put product 0 of MAIN below a threshold, which opens a low-stock alert."""
    with stock.tx() as session:
        thresholds.set_thresholds(
            session,
            actor=stock.actor,
            branch_id=stock.branch_ids[0],
            product_id=stock.product_ids[0],
            low_stock_threshold=Decimal(threshold),
            reorder_quantity=None,
        )
        ledger.record_movement(
            session,
            actor=stock.actor,
            branch_id=stock.branch_ids[0],
            product_id=stock.product_ids[0],
            code=MovementCode.RECEIPT,
            quantity=Decimal(on_hand),
            reference_type="test",
            reference_id="n-1",
        )


def _rules(stock, url: str) -> None:
    with stock.tx() as session:
        notifications.create_rule(
            session, actor=stock.actor, event="alert.*", channel="email", address="ops@shop.test"
        )
        notifications.create_rule(
            session,
            actor=stock.actor,
            event="alert.low_stock",
            channel="webhook",
            address=url,
            secret=SECRET,
        )


def test_the_outbox_is_written_in_the_events_transaction(stock, engine, receiver):
    _rules(stock, receiver[0])
    with pytest.raises(RuntimeError), stock.tx() as session:
        ledger.record_movement(
            session,
            actor=stock.actor,
            branch_id=stock.branch_ids[0],
            product_id=stock.product_ids[0],
            code=MovementCode.SALE,
            quantity=Decimal("-1"),
            reference_type="test",
            reference_id="rolled-back",
            allow_negative=True,
        )
        raise RuntimeError("the caller fails after the movement")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Notification)) == 0
    _low_stock(stock)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Notification.channel, Notification.recipient, Notification.status)
        ).all()
    assert sorted(rows) == sorted(
        [
            ("email", "ops@shop.test", "pending"),
            ("webhook", receiver[0], "pending"),
            ("in_app", "role:admin", "delivered"),
            ("in_app", "role:manager", "delivered"),
        ]
    )


def test_dispatch_delivers_email_and_retries_a_failing_webhook_with_backoff(
    stock, engine, smtp, receiver, tmp_path
):
    port, inbox = smtp
    url, seen = receiver
    settings = _settings(tmp_path, port)
    _rules(stock, url)
    _low_stock(stock)
    factory = stock.factory

    now = utcnow()
    assert dispatch_due(factory, settings=settings, now=now) == 1  # the e-mail; the hook failed
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["ops@shop.test"]
    assert message["Subject"] == "Low stock: Stock item 0"
    assert message["From"] == "stockpilot@shop.test"
    assert "3 available, threshold 5" in message.get_payload()

    with factory() as session:
        hook = session.scalar(select(Notification).where(Notification.channel == "webhook"))
        assert (hook.status, hook.attempts) == ("pending", 1)
        assert "HTTP 500" in hook.last_error
        assert hook.next_attempt_at >= now + timedelta(seconds=29)
    # Not due yet: a second round right away leaves it alone.
    assert dispatch_due(factory, settings=settings, now=now + timedelta(seconds=5)) == 0
    assert len(seen) == 1
    assert dispatch_due(factory, settings=settings, now=now + timedelta(seconds=31)) == 1
    assert [status for _, _, status in seen] == [500, 204]

    headers, body, _ = seen[1]
    # Signed over the sending time and the body (see tests/server/test_webhooks.py).
    signed_at = verify(secret=SECRET, body=body, header=headers["X-StockPilot-Signature"])
    assert abs(signed_at - time.time()) < 60
    document = json.loads(body)
    assert document["event"] == "alert.low_stock"
    assert document["payload"]["product_id"] == stock.product_ids[0]
    with factory() as session:
        statuses = session.execute(
            select(Notification.channel, Notification.status, Notification.attempts).where(
                Notification.channel != "in_app"
            )
        ).all()
    assert sorted(statuses) == [("email", "delivered", 1), ("webhook", "delivered", 2)]


def test_a_receiver_that_never_answers_ends_as_failed(stock, tmp_path):
    closed_port = _free_port()  # nothing listens there
    settings = _settings(tmp_path, _free_port(), notify_max_attempts=2)
    with stock.tx() as session:
        notifications.create_rule(
            session,
            actor=stock.actor,
            event="*",
            channel="webhook",
            address=f"http://127.0.0.1:{closed_port}/x",
        )
        notifications.notify(
            session,
            tenant_id=stock.tenant_id,
            event="order.confirmed",
            subject="Order 42 confirmed",
            body="",
            payload={"order": 42},
        )
    now = utcnow()
    assert dispatch_due(stock.factory, settings=settings, now=now) == 0
    assert dispatch_due(stock.factory, settings=settings, now=now + timedelta(hours=1)) == 0
    with stock.factory() as session:
        row = session.scalar(select(Notification))
        assert (row.status, row.attempts) == ("failed", 2)
        assert "ConnectError" in row.last_error
    # Failed rows are not retried any more.
    assert dispatch_due(stock.factory, settings=settings, now=now + timedelta(days=1)) == 0


def test_email_rules_by_role_reach_that_roles_users_in_the_branch(stock):
    from sync_server.auth.models import User, UserBranch

    main, west = stock.branch_ids
    with stock.tx() as session:
        for name, branch in (("m1", main), ("m2", west)):
            session.add(
                User(
                    tenant_id=stock.tenant_id,
                    username=name,
                    email=f"{name}@shop.test",
                    password_hash="!",
                    role="manager",
                    branch_links=[UserBranch(tenant_id=stock.tenant_id, branch_id=branch)],
                )
            )
        notifications.create_rule(
            session, actor=stock.actor, event="approval.requested", channel="email", role="manager"
        )
    with stock.tx() as session:
        rows = notifications.notify(
            session,
            tenant_id=stock.tenant_id,
            event="approval.requested",
            subject="PO 7 waits for approval",
            body="",
            payload={},
            branch_id=main,
        )
    assert [(r.channel, r.recipient) for r in rows] == [("email", "m1@shop.test")]


def test_in_app_notifications_reach_the_right_roles_and_branches(shop):
    main, west = shop.branch_ids
    _low_stock(shop)
    manager = shop.api("manager", branches=[main])
    other_manager = shop.api("manager", branches=[west])
    cashier = shop.api("cashier", branches=[main])
    mine = manager.get("notifications").json()
    assert [n["event"] for n in mine["items"]] == ["alert.low_stock"]
    assert other_manager.get("notifications").json()["total"] == 0
    assert cashier.get("notifications").json()["total"] == 0
    nid = mine["items"][0]["id"]
    assert cashier.post(f"notifications/{nid}/read").status_code == 404
    read = manager.post(f"notifications/{nid}/read")
    assert read.status_code == 200 and read.json()["read_at"]
    assert manager.get("notifications", params={"unread": True}).json()["total"] == 0


def test_rules_are_managed_through_the_api_by_admins_only(shop, receiver):
    admin = shop.api()
    body = {"event": "alert.*", "channel": "webhook", "address": receiver[0], "secret": SECRET}
    created = admin.post("notification-rules", json=body)
    assert created.status_code == 201, created.text
    assert "secret" not in created.json()
    assert shop.api("manager").post("notification-rules", json=body).status_code == 403
    bad = {**body, "address": "ftp://nope"}
    assert admin.post("notification-rules", json=bad).status_code == 422
    assert admin.get("notification-rules").json()["total"] == 1
    assert admin.delete(f"notification-rules/{created.json()['id']}").status_code == 204
    assert admin.get("notification-rules").json()["total"] == 0


def test_worker_command_and_in_server_worker_deliver(
    stock, engine, smtp, database_url, tmp_path, monkeypatch, capsys
):
    port, inbox = smtp
    with stock.tx() as session:
        for n in range(2):
            notifications.notify(
                session,
                tenant_id=stock.tenant_id,
                event="order.confirmed",
                subject=f"Order {n} confirmed",
                body="Thank you",
                payload={},
                email=f"customer{n}@shop.test",
                roles=[Role.MANAGER],
            )
    monkeypatch.setenv("STOCKPILOT_DATABASE_URL", database_url)
    monkeypatch.setenv("STOCKPILOT_DATA_DIR", str(tmp_path / "w"))
    monkeypatch.setenv("STOCKPILOT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("STOCKPILOT_SMTP_PORT", str(port))
    assert cli(["worker", "--once", "--limit", "1"]) == 0
    assert "Delivered 1 notification(s)." in capsys.readouterr().out
    assert len(inbox.messages) == 1

    # The embedded setup: the same dispatcher runs inside the server process.
    settings = _settings(tmp_path, port, notify_poll_seconds=0.05, database_url=database_url)
    app = create_app(settings, engine=engine, background=[in_server_worker])
    with TestClient(app):
        deadline = time.monotonic() + 10
        while len(inbox.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sorted(m["To"] for _, m in inbox.messages) == [
        "customer0@shop.test",
        "customer1@shop.test",
    ]
