"""Errors answer and leave the client's keep-alive connection usable (real uvicorn)."""

from __future__ import annotations

import httpx
import pytest

from common.sync.protocol import Event
from tests import web
from tests.factories import Api
from tests.sync.sync_helpers import sale_payload


def _local_port(response: httpx.Response) -> int:
    """Return the client's own port of the connection that carried a response."""
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


@pytest.fixture
def app_with_a_bug(app):
    """The app plus one route that fails the way a bug would.

    A bug cannot be produced on purpose through the real routes (they are meant to have
    none), so this one test route raises; everything around it is the real server.
    """

    def broken() -> None:
        raise RuntimeError("a bug")

    app.router.add_api_route("/api/v1/test-bug", broken, methods=["GET"])
    return app


@pytest.mark.parametrize("backend", ["sqlite"])
def test_every_kind_of_error_keeps_the_connection(app_with_a_bug, world, live_server):
    token = world.token("manager")
    auth = {"Authorization": f"Bearer {token}"}
    admin = world.api("admin")
    code = admin.post("devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]})
    device = Api(world.client, None).post(
        "devices/enrol", json={"code": code.json()["code"], "name": "Till"}
    )
    till = Api(world.client, device.json()["token"])
    sale = sale_payload(
        branch_id=world.a.branch_ids[0], product_id=world.a.product_ids[0], receipt="R-1"
    )
    bad = Event.wrap(sale, device_id=device.json()["device_id"]).model_dump(mode="json")
    bad["payload"]["lines"][0]["quantity"] = "1.23456"  # more places than a quantity has
    pushed = till.post("sync/push", json={"events": [bad]})
    assert pushed.json()["results"][0]["status"] == "rejected", pushed.text
    letter = world.api("manager").get("sync/dead-letters").json()["items"][0]

    errors = [
        ("GET", "/api/v1/nowhere", {}, None, 404),
        ("GET", "/api/v1/auth/me", {}, None, 401),
        ("POST", "/api/v1/auth/login", {"content-type": "application/json"}, b"{", 400),
        ("POST", "/api/v1/stock/adjustments", auth, b'{"quantity": "x"}', 422),
        (
            "POST",
            f"/api/v1/sync/dead-letters/{letter['id']}/resolve",
            auth,
            b'{"retry": true}',
            422,
        ),
        ("POST", "/api/v1/auth/login", {}, b"x" * 2_000_000, 413),
        ("GET", "/api/v1/test-bug", {}, None, 500),
    ]
    with web.Client(base_url=live_server.url, timeout=30) as http:
        first = http.get("/api/v1/health")
        port = _local_port(first)
        for method, path, headers, content, status in errors:
            failed = http.request(method, path, headers=headers, content=content)
            assert failed.status_code == status, (path, failed.text)
            assert failed.headers["content-type"].startswith("application/problem+json")
            ok = http.get("/api/v1/auth/me", headers=auth)
            assert ok.status_code == 200, (path, ok.text)
            # Same connection: the error did not close it.
            assert _local_port(failed) == _local_port(ok) == port, path
