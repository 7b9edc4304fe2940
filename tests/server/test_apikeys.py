"""API keys of online stores: shown once, stored hashed, scoped, revocable, per tenant."""

from __future__ import annotations

import hashlib
import time
from unittest.mock import patch

from sqlalchemy import select, update

from sync_server.apikeys import service as apikeys
from sync_server.apikeys.models import ApiKey
from sync_server.audit.models import AuditEntry
from sync_server.cli import main as cli_main
from sync_server.db import make_sessionmaker, transaction, utcnow


def _create(api, scopes, **extra):
    response = api.post("api-keys", json={"name": "web shop", "scopes": scopes, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_key_is_shown_once_stored_hashed_scoped_and_revocable(world, api, client, engine):
    created = _create(api, ["orders:write", "catalog:read"])
    key = created["key"]
    assert key.startswith("spk_") and len(key) > 40
    assert created["scopes"] == ["catalog:read", "orders:write"]
    listed = api.get("api-keys").json()["items"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and listed[0]["prefix"] == key[:12]
    with transaction(make_sessionmaker(engine), readonly=True) as session:
        row = session.get(ApiKey, created["id"])
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in str(row.__dict__)
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "api_key")
        ).all()
        assert actions == ["api_key.created"]

    catalog_key = _create(api, ["catalog:read"])["key"]
    orders_key = _create(api, ["orders:read"])["key"]
    assert (
        client.get(
            "/api/v1/products", headers={"Authorization": f"Bearer {catalog_key}"}
        ).status_code
        == 200
    )
    assert client.get("/api/v1/products", headers={"X-API-Key": catalog_key}).status_code == 200
    # orders:read does not open the catalog; no scope opens staff administration.
    denied = client.get("/api/v1/products", headers={"X-API-Key": orders_key})
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/api-keys", headers={"X-API-Key": catalog_key}).status_code == 403
    assert client.get("/api/v1/users", headers={"X-API-Key": catalog_key}).status_code == 403

    created = _create(api, ["catalog:read"])
    headers = {"X-API-Key": created["key"]}
    assert client.get("/api/v1/products", headers=headers).status_code == 200
    revoked = api.post(f"api-keys/{created['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = client.get("/api/v1/products", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    again = api.post(f"api-keys/{created['id']}/revoke")
    assert again.status_code == 409
    forged = client.get("/api/v1/products", headers={"X-API-Key": "spk_" + "x" * 43})
    assert forged.status_code == 401 and "not recognised" in forged.json()["detail"]


def test_only_admins_manage_keys_in_their_tenant_and_bad_requests_change_nothing(world, api):
    bad_scope = api.post("api-keys", json={"name": "x", "scopes": ["orders:delete"]})
    assert bad_scope.status_code == 422 and "unknown scope" in bad_scope.json()["detail"]
    no_scope = api.post("api-keys", json={"name": "x", "scopes": []})
    assert no_scope.status_code == 422
    stranger_branch = api.post(
        "api-keys",
        json={"name": "x", "scopes": ["orders:write"], "branch_ids": [world.b.branch_ids[0]]},
    )
    assert stranger_branch.status_code == 422
    assert api.get("api-keys").json()["total"] == 0

    assert (
        world.api("manager")
        .post("api-keys", json={"name": "x", "scopes": ["catalog:read"]})
        .status_code
        == 403
    )
    created = _create(api, ["catalog:read"])
    other = world.api("b_admin")
    assert other.post(f"api-keys/{created['id']}/revoke").status_code == 404
    assert other.get("api-keys").json()["items"] == []


def test_cli_creates_a_working_key_and_revokes_it(world, client, settings, monkeypatch, capsys):
    monkeypatch.setenv("STOCKPILOT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("STOCKPILOT_DATA_DIR", str(settings.data_dir))
    # The test world holds two businesses: the CLI must be told which one.
    tenant = ["--tenant", "Tenant A"]
    assert cli_main(["api-key", "create", "--scopes", "orders:write,catalog:read", *tenant]) == 0
    out = capsys.readouterr().out
    key = next(word for word in out.split() if word.startswith("spk_"))
    key_id = int(out.split("API key ")[1].split()[0])
    assert client.get("/api/v1/products", headers={"X-API-Key": key}).status_code == 200
    assert cli_main(["api-key", "create", "--scopes", "orders:fly", *tenant]) == 2
    assert "orders:fly" in capsys.readouterr().err
    assert cli_main(["api-key", "revoke", str(key_id), *tenant]) == 0
    assert client.get("/api/v1/products", headers={"X-API-Key": key}).status_code == 401


def test_a_key_revoked_by_another_process_stops_within_the_cache_span(api, client, engine):
    """Each process keeps a good key's principal for KEY_CACHE_SECONDS; a revocation it did
    not make itself (another worker, another server: here a plain UPDATE) takes effect once
    that span has passed."""
    created = _create(api, ["catalog:read"])
    headers = {"X-API-Key": created["key"]}
    assert client.get("/api/v1/products", headers=headers).status_code == 200
    with engine.begin() as conn:
        conn.execute(update(ApiKey).where(ApiKey.id == created["id"]).values(revoked_at=utcnow()))
    # Within the span this process still knows the key as good (no read was made for it).
    assert client.get("/api/v1/products", headers=headers).status_code == 200
    later = time.monotonic() + apikeys.KEY_CACHE_SECONDS + 0.01
    with patch.object(apikeys.time, "monotonic", return_value=later):
        refused = client.get("/api/v1/products", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
