"""SMS through an HTTP gateway: rules, customer opt-ins, low-stock texts, retries."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from common.codes import MovementCode
from sync_server.audit.models import AuditEntry
from sync_server.config import Settings
from sync_server.db import utcnow
from sync_server.inventory import ledger, thresholds
from sync_server.notifications import service as notifications
from sync_server.notifications.dispatcher import dispatch_due
from sync_server.notifications.models import Notification


@pytest.fixture
def gateway():
    """A real HTTP SMS gateway on loopback: refuses the first message (503), then accepts."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            length = int(self.headers.get("Content-Length") or 0)
            status = 503 if not seen else 200
            seen.append(
                {
                    "query": parse_qs(urlparse(self.path).query),
                    "headers": dict(self.headers),
                    "body": self.rfile.read(length),
                    "status": status,
                }
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _settings(tmp_path, url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "n",
        secret_key="x" * 40,
        sms_gateway_url=url + "/send?to={to}&sender=SHOP",
        sms_gateway_auth_header="Authorization: Bearer gw-token",
        sms_gateway_body='{"to": "{to}", "message": "{text}"}',
        notify_backoff_seconds=30,
        notify_timeout=5,
    )


def _sms(factory) -> list[tuple[str, str, int]]:
    with factory() as session:
        return sorted(
            session.execute(
                select(Notification.recipient, Notification.status, Notification.attempts).where(
                    Notification.channel == "sms"
                )
            ).all()
        )


def test_low_stock_sms_to_the_managers_numbers_with_retry(shop, gateway, tmp_path):
    url, seen = gateway
    admin = shop.api("admin")
    bad = admin.put("settings/low_stock_sms_to", json={"value": ["+919800000001"]})
    assert bad.status_code == 422
    r = admin.put("settings/low_stock_sms_to", json={"value": "+919800000001, +919800000002"})
    assert r.status_code == 200, r.text
    with shop.tx() as session:
        thresholds.set_thresholds(
            session,
            actor=shop.actor,
            branch_id=shop.branch_ids[0],
            product_id=shop.product_ids[0],
            low_stock_threshold=Decimal("5"),
            reorder_quantity=None,
        )
        ledger.record_movement(
            session,
            actor=shop.actor,
            branch_id=shop.branch_ids[0],
            product_id=shop.product_ids[0],
            code=MovementCode.RECEIPT,
            quantity=Decimal("3"),
            reference_type="test",
            reference_id="sms-1",
        )
    assert _sms(shop.factory) == [("+919800000001", "pending", 0), ("+919800000002", "pending", 0)]

    settings = _settings(tmp_path, url)
    now = utcnow()
    # The gateway refuses the first text: it waits for its backoff, the other goes out.
    assert dispatch_due(shop.factory, settings=settings, now=now) == 1
    assert dispatch_due(shop.factory, settings=settings, now=now + timedelta(seconds=5)) == 0
    assert dispatch_due(shop.factory, settings=settings, now=now + timedelta(seconds=31)) == 1
    assert [hit["status"] for hit in seen] == [503, 200, 200]
    statuses = {r[0]: (r[1], r[2]) for r in _sms(shop.factory)}
    refused_first = seen[0]["query"]["to"][0]
    assert statuses[refused_first] == ("delivered", 2)
    assert {s for s, _ in statuses.values()} == {"delivered"}

    hit = seen[-1]
    assert hit["headers"]["Authorization"] == "Bearer gw-token"
    assert hit["headers"]["Content-Type"] == "application/json"
    document = json.loads(hit["body"])
    assert document["to"] == hit["query"]["to"][0]
    assert document["message"] == "Stock item 0 (STK-0): 3 available, threshold 5."


def test_customer_opt_in_sms_rules_and_a_missing_gateway(shop, gateway, tmp_path):
    url, seen = gateway
    sales = shop.api("sales_admin")
    customer = sales.post("customers", json={"name": "Asha", "phone": "98450 12345"}).json()
    viewer = shop.api("viewer")
    assert viewer.put(f"customers/{customer['id']}/sms-opt-in").status_code == 403
    assert sales.put("customers/999999/sms-opt-in").status_code == 404
    bad = sales.put(f"customers/{customer['id']}/sms-opt-in", json={"phone": "call me"})
    assert bad.status_code == 422
    opted = sales.put(f"customers/{customer['id']}/sms-opt-in")
    assert opted.status_code == 200, opted.text
    assert opted.json()["phone"] == "9845012345"
    rule = shop.api("admin").post(
        "notification-rules", json={"event": "order.*", "channel": "sms", "address": "+91 80 1234"}
    )
    assert rule.status_code == 201, rule.text
    assert rule.json()["address"] == "+91801234"

    def queue() -> None:
        with shop.tx() as session:
            notifications.notify(
                session,
                tenant_id=shop.tenant_id,
                event="order.shipped",
                subject="Your order W-1 is on its way",
                body="Your order W-1 is on its way.",
                payload={"order": "W-1"},
                customer_id=customer["id"],
            )

    queue()
    assert [r[0] for r in _sms(shop.factory)] == ["+91801234", "9845012345"]
    # Without a configured gateway the texts stay queued as failed attempts, not lost.
    no_gateway = Settings(data_dir=tmp_path / "n", secret_key="x" * 40)
    assert dispatch_due(shop.factory, settings=no_gateway) == 0
    with shop.factory() as session:
        errors = session.scalars(
            select(Notification.last_error).where(Notification.channel == "sms")
        ).all()
    assert all("STOCKPILOT_SMS_GATEWAY_URL" in e for e in errors)

    assert sales.delete(f"customers/{customer['id']}/sms-opt-in").status_code == 204
    with shop.factory() as session:
        session.query(Notification).delete()
        session.commit()
    queue()
    assert [r[0] for r in _sms(shop.factory)] == ["+91801234"]  # the customer opted out
    with shop.factory() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("customer.sms_%"))
        ).all()
    assert sorted(actions) == ["customer.sms_opt_in", "customer.sms_opt_out"]
