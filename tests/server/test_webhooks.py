"""Webhooks as a receiver sees them: signed over time and body, replay refused, full orders."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TOLERANCE_SECONDS,
    InvalidSignature,
    sign,
    verify,
)
from sync_server.config import Settings
from sync_server.db import transaction
from sync_server.notifications import service as notifications
from sync_server.notifications.dispatcher import dispatch_due
from sync_server.notifications.webhooks import EVENTS, ORDER_EVENTS
from tests.server.test_orders import order_body, post, stock, store

SECRET = "webhook-signing-secret-0123"


@pytest.fixture
def receiver():
    """A real HTTP server on loopback that keeps every delivery and answers 204."""
    seen: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((dict(self.headers), body))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", seen
    server.shutdown()
    server.server_close()


def _rule(world, url: str, event: str = "order.*") -> None:
    with transaction(world.sessions()) as session:
        notifications.create_rule(
            session,
            actor=world.principal("admin").actor,
            event=event,
            channel="webhook",
            address=url,
            secret=SECRET,
        )


def _deliver(world, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "n", secret_key="x" * 40, notify_timeout=5)
    dispatch_due(world.sessions(), settings=settings)


def test_order_webhooks_carry_lines_and_customer_and_are_signed_over_time_and_body(
    world, receiver, tmp_path
):
    url, seen = receiver
    _rule(world, url)
    stock(world, quantity="10", product=0)
    stock(world, quantity="10", product=1)
    shop = store(world)
    body = order_body("WH-1", ("ADMIN-0", "2"), ("ADMIN-1", "3"), shipping_address="12 MG Road")
    placed = post(shop, body)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    assert shop.post(f"orders/{order_id}/payment", json={"amount": "50.00"}).status_code == 200
    _deliver(world, tmp_path)

    assert len(seen) == 2
    documents = []
    for headers, raw in seen:
        signed_at = verify(secret=SECRET, body=raw, header=headers[SIGNATURE_HEADER])
        assert abs(signed_at - time.time()) < 60
        document = json.loads(raw)
        assert headers[DELIVERY_HEADER] == str(document["id"])
        assert headers["X-StockPilot-Event"] == document["event"]
        documents.append(document)
    assert [d["event"] for d in documents] == ["order.created", "order.confirmed"]
    confirmed = documents[1]["payload"]
    assert confirmed["order_id"] == order_id
    assert (confirmed["status"], confirmed["external_number"]) == ("confirmed", "WH-1")
    assert (confirmed["total"], confirmed["paid_amount"], confirmed["currency"]) == (
        "50.00",
        "50.00",
        "INR",
    )
    assert confirmed["shipping_address"] == "12 MG Road"
    customer = confirmed["customer"]
    assert (customer["name"], customer["email"]) == ("Asha Rao", "asha@example.com")
    assert customer["id"] == placed.json()["customer_id"]
    assert [
        (line["sku"], line["quantity"], line["unit_price"], line["line_total"])
        for line in confirmed["lines"]
    ] == [("ADMIN-0", "2", "10.00", "20.00"), ("ADMIN-1", "3", "10.00", "30.00")]
    assert all(line["returned_quantity"] == "0" for line in confirmed["lines"])

    # A receiver holding a captured delivery cannot have it accepted later, or altered.
    headers, raw = seen[1]
    later = time.time() + TOLERANCE_SECONDS + 1
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify(secret=SECRET, body=raw, header=headers[SIGNATURE_HEADER], now=later)
    tampered = raw.replace(b'"50.00"', b'"0.01"', 1)
    assert tampered != raw
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(secret=SECRET, body=tampered, header=headers[SIGNATURE_HEADER])
    # Moving the timestamp forward to pass the age check breaks the signature.
    digest = headers[SIGNATURE_HEADER].split("v1=")[1]
    forged = f"t={int(time.time()) + 5},v1={digest}"
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(secret=SECRET, body=raw, header=forged)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(secret="another-secret", body=raw, header=headers[SIGNATURE_HEADER])


def test_verify_refuses_missing_and_malformed_signatures_and_accepts_a_rotated_secret():
    body = b'{"event":"order.created"}'
    now = 1_800_000_000
    header = sign(secret=SECRET, body=body, timestamp=now)
    assert header.startswith(f"t={now},v1=")
    assert verify(secret=SECRET, body=body, header=header, now=now + 10) == now
    # During a rotation a sender may put two signatures; either secret verifies.
    old = sign(secret="old-secret", body=body, timestamp=now).split(",")[1]
    assert verify(secret="old-secret", body=body, header=f"{header},{old}", now=now) == now
    for bad in (None, "", "v1=abc", "t=soon,v1=abc", f"t={now}"):
        with pytest.raises(InvalidSignature):
            verify(secret=SECRET, body=body, header=bad, now=now)
    with pytest.raises(InvalidSignature, match="tolerance"):  # from the future, too
        verify(secret=SECRET, body=body, header=header, now=now - TOLERANCE_SECONDS - 1)


def test_openapi_documents_every_webhook_event_its_payload_and_the_signature(client):
    document = client.get("/openapi.json").json()
    webhooks = document["webhooks"]
    assert set(webhooks) == set(EVENTS)
    assert set(ORDER_EVENTS) <= set(webhooks) and "stock.available" in webhooks
    shipped = webhooks["order.shipped"]["post"]
    assert SIGNATURE_HEADER in shipped["description"] and "replayed" in shipped["description"]
    assert str(TOLERANCE_SECONDS) in shipped["description"]
    headers = {p["name"] for p in shipped["parameters"] if p["in"] == "header"}
    assert {SIGNATURE_HEADER, DELIVERY_HEADER, "X-StockPilot-Event"} <= headers
    body = shipped["requestBody"]["content"]["application/json"]["schema"]["allOf"]
    assert body[1]["properties"]["payload"] == {"$ref": "#/components/schemas/OrderEventPayload"}
    schemas = document["components"]["schemas"]
    payload = schemas["OrderEventPayload"]
    assert {"lines", "customer", "total", "status"} <= set(payload["required"])
    assert payload["properties"]["lines"]["items"] == {
        "$ref": "#/components/schemas/WebhookOrderLine"
    }
    assert "WebhookCustomer" in schemas and "WebhookDelivery" in schemas
