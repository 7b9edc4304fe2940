"""The operator's tenant API (off by default) and the username model, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from sync_server.main import create_app
from sync_server.operator_api import OperatorApiMisconfigured
from tests.asgi import TestClient

KEY = "operator-key-" + "x" * 32
NEW = {
    "name": "Shop C",
    "currency": "USD",
    "admin_username": "c-admin",
    "admin_password": "c-long-password",
    "branch_name": "C Main",
    "branch_code": "C1",
}


@pytest.fixture
def operator_client(world, settings, engine):
    """The same database as the world's, served by an app with the tenant API switched on."""
    app = create_app(
        settings.model_copy(update={"tenant_api": True, "operator_key": KEY}), engine=engine
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_the_tenant_api_is_absent_by_default(world, client):
    assert client.post("/api/v1/tenants", json=NEW).status_code == 404
    assert client.get("/api/v1/tenants", headers={"X-Operator-Key": KEY}).status_code == 404
    assert "/api/v1/tenants" not in client.get("/openapi.json").json()["paths"]


def test_switched_on_without_a_key_the_server_refuses_to_start(settings, engine):
    for key in (None, "short"):
        with pytest.raises(OperatorApiMisconfigured, match="STOCKPILOT_OPERATOR_KEY"):
            create_app(
                settings.model_copy(update={"tenant_api": True, "operator_key": key}),
                engine=engine,
            )


def test_only_the_operator_key_provisions(world, operator_client):
    admin_token = world.token("admin")
    for headers in (
        {},
        {"X-Operator-Key": KEY + "x"},
        {"Authorization": f"Bearer {admin_token}"},
        {"X-Operator-Key": admin_token},
    ):
        response = operator_client.post("/api/v1/tenants", json=NEW, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert operator_client.get("/api/v1/tenants").status_code == 401
    listed = operator_client.get("/api/v1/tenants", headers={"X-Operator-Key": KEY}).json()
    assert "Shop C" not in [t["name"] for t in listed]


def test_a_provisioned_business_works_at_once_and_alone(world, operator_client):
    response = operator_client.post("/api/v1/tenants", json=NEW, headers={"X-Operator-Key": KEY})
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["tenant"]["name"] == "Shop C" and made["tenant"]["currency"] == "USD"
    assert made["admin_username"] == "c-admin" and made["branch_id"]

    listed = operator_client.get("/api/v1/tenants", headers={"X-Operator-Key": KEY}).json()
    assert [t["name"] for t in listed] == ["Tenant A", "Tenant B", "Shop C"]

    login = operator_client.post(
        "/api/v1/auth/login", json={"username": "c-admin", "password": "c-long-password"}
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    branches = operator_client.get("/api/v1/branches", headers=auth).json()["items"]
    assert [(b["code"], b["name"]) for b in branches] == [("C1", "C Main")]
    assert operator_client.get("/api/v1/settings", headers=auth).json()["currency"] == "USD"
    products = operator_client.get("/api/v1/products", headers=auth).json()
    assert products["total"] == 0  # nothing of the other businesses


def test_bad_or_clashing_provisioning_is_refused_and_makes_nothing(world, operator_client):
    headers = {"X-Operator-Key": KEY}
    cases = [
        ({**NEW, "admin_username": "ab"}, 422),
        ({**NEW, "admin_password": "short"}, 422),
        ({**NEW, "currency": "rupees"}, 422),
        ({**NEW, "name": "Tenant A"}, 409),
        ({**NEW, "admin_username": "admin"}, 409),  # a user of Tenant A
    ]
    for body, status in cases:
        response = operator_client.post("/api/v1/tenants", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    clash = operator_client.post(
        "/api/v1/tenants", json={**NEW, "admin_username": "admin"}, headers=headers
    )
    assert clash.json()["detail"] == "The username 'admin' is not available; choose another."
    listed = operator_client.get("/api/v1/tenants", headers=headers).json()
    assert [t["name"] for t in listed] == ["Tenant A", "Tenant B"]


def test_a_username_in_use_anywhere_is_refused_with_the_same_words(world):
    """Usernames are unique on the server (sign-in names no business); the refusal is neutral."""
    body = {"username": "manager", "password": "long-password", "role": "cashier"}
    in_own = world.api("admin").post("users", json=body)
    in_other = world.api("b_admin").post("users", json=body)
    assert in_own.status_code == in_other.status_code == 409
    assert in_own.json()["detail"] == in_other.json()["detail"]
    assert in_other.json()["detail"] == ("The username 'manager' is not available; choose another.")
    assert "business" not in in_other.json()["detail"].lower()
