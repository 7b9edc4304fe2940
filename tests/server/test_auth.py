"""Login, tokens, logout, throttling and user administration."""

from __future__ import annotations

import jwt

from tests.factories import PASSWORD


def test_login_returns_a_bearer_token_that_opens_me(world, client):
    response = client.post("/api/v1/auth/login", json={"username": "manager", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "manager"
    assert "purchasing.approve" in me.json()["permissions"]
    assert "users.write" not in me.json()["permissions"]


def test_wrong_password_is_a_problem_document(world, client):
    response = client.post("/api/v1/auth/login", json={"username": "manager", "password": "nope"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "Wrong username or password."


def test_repeated_failures_lock_the_login_even_with_the_right_password(world, client):
    for _ in range(5):
        client.post("/api/v1/auth/login", json={"username": "cashier", "password": "bad"})
    response = client.post("/api/v1/auth/login", json={"username": "cashier", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_logout_revokes_the_token(world, client):
    api = world.api("viewer")
    assert api.get("auth/me").status_code == 200
    assert api.post("auth/logout").status_code == 204
    response = api.get("auth/me")
    assert response.status_code == 401
    assert "logged out" in response.json()["detail"]


def test_expired_and_forged_tokens_are_refused(world, client, settings):
    import time

    now = int(time.time())
    claims = {
        "sub": str(world.a.users["admin"]),
        "tid": world.a.id,
        "jti": "x",
        "iss": "stockpilot",
        "typ": "access",
        "iat": now - 3600,
        "exp": now - 60,
    }
    expired = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    forged = jwt.encode(
        {**claims, "exp": now + 600}, "not-the-secret-key-but-long-enough!!", algorithm="HS256"
    )
    for token, detail in (
        (expired, "expired"),
        (forged, "not valid"),
        ("garbage.token.here", "not valid"),
        ("opaque", "not recognised"),
    ):
        response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert detail in response.json()["detail"]
    assert client.get("/api/v1/auth/me").status_code == 401


def test_admin_creates_user_and_deactivation_locks_them_out(world, client):
    admin = world.api("admin")
    created = admin.post(
        "users",
        json={
            "username": "newbie",
            "password": "long-enough-pw",
            "role": "cashier",
            "pin": "4321",
            "branch_ids": [world.a.branch_ids[1]],
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["branch_ids"] == [world.a.branch_ids[1]] and user["active"] is True
    token = client.post(
        "/api/v1/auth/login", json={"username": "newbie", "password": "long-enough-pw"}
    ).json()
    assert admin.patch(f"users/{user['id']}", json={"active": False}).status_code == 200
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 401
    refused = client.post(
        "/api/v1/auth/login", json={"username": "newbie", "password": "long-enough-pw"}
    )
    assert refused.status_code == 401


def test_duplicate_username_and_foreign_branch_are_refused(world):
    admin = world.api("admin")
    dup = admin.post(
        "users", json={"username": "manager", "password": "long-enough-pw", "role": "viewer"}
    )
    assert dup.status_code == 409
    foreign = admin.post(
        "users",
        json={
            "username": "spy",
            "password": "long-enough-pw",
            "role": "viewer",
            "branch_ids": [world.b.branch_ids[0]],
        },
    )
    assert foreign.status_code == 422
    assert "Unknown branch" in foreign.json()["detail"]
    assert admin.get("users", params={"q": "spy"}).json()["total"] == 0


def test_the_last_admin_cannot_be_demoted_and_nobody_demotes_themselves(world):
    admin = world.api("admin")
    me = admin.patch(f"users/{world.a.users['admin']}", json={"role": "viewer"})
    assert me.status_code == 403
    roles = admin.get(f"users/{world.a.users['admin']}").json()["role"]
    assert roles == "admin"


def test_user_changes_are_audited(world):
    admin = world.api("admin")
    admin.patch(f"users/{world.a.users['cashier']}", json={"full_name": "Cash Ier"})
    entries = admin.get(
        "audit", params={"entity_type": "user", "entity_id": str(world.a.users["cashier"])}
    ).json()
    actions = [e["action"] for e in entries["items"]]
    assert "user.updated" in actions
    updated = next(e for e in entries["items"] if e["action"] == "user.updated")
    assert updated["before"]["full_name"] == "" and updated["after"]["full_name"] == "Cash Ier"
