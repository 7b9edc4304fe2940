"""Login, tokens, logout, throttling and user administration."""

from __future__ import annotations

import jwt

from tests.asgi import TestClient
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


def _login_from(app, address: str, username: str, password: str):
    """Log in from a given client address (a second TestClient is a second machine)."""
    with TestClient(app, raise_server_exceptions=False, client=(address, 40000)) as other:
        return other.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_nobody_can_lock_the_admin_out_from_another_address(world, app):
    import time

    from sync_server.auth.service import slowdown

    app.state.settings = app.state.settings.model_copy(update={"login_slowdown_max_seconds": 0.3})
    # An attacker fails ten times against the admin from one address...
    codes = [_login_from(app, "203.0.113.7", "admin", "guess").status_code for _ in range(10)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    # ...and is locked out of that account even with the right password,
    assert _login_from(app, "203.0.113.7", "admin", PASSWORD).status_code == 429
    # while the admin, from their own address, still gets in (slowed, not locked).
    started = time.monotonic()
    victim = _login_from(app, "198.51.100.2", "admin", PASSWORD)
    assert victim.status_code == 200, victim.text
    assert time.monotonic() - started >= slowdown(0, max_delay_s=0.3)
    # The admin's success forgives only their own address: the attacker stays locked.
    assert _login_from(app, "203.0.113.7", "admin", PASSWORD).status_code == 429


def test_failures_spread_over_addresses_slow_but_do_not_lock(world, app):
    app.state.settings = app.state.settings.model_copy(update={"login_slowdown_max_seconds": 0.05})
    for i in range(12):
        wrong = _login_from(app, f"192.0.2.{i}", "manager", "guess")
        assert wrong.status_code == 401
    assert _login_from(app, "192.0.2.200", "manager", PASSWORD).status_code == 200


def test_password_reset_by_an_admin_revokes_the_users_tokens(world, client):
    admin = world.api("admin")
    victim = world.api("cashier")
    other = world.api("viewer")
    assert victim.get("auth/me").status_code == 200
    user_id = victim.get("auth/me").json()["id"]
    reset = admin.patch(f"users/{user_id}", json={"password": "a-brand-new-password"})
    assert reset.status_code == 200, reset.text
    refused = victim.get("auth/me")
    assert refused.status_code == 401 and "log in again" in refused.json()["detail"]
    # Other users keep their sessions; the user logs in again with the new password.
    assert other.get("auth/me").status_code == 200
    again = client.post(
        "/api/v1/auth/login", json={"username": "cashier", "password": "a-brand-new-password"}
    )
    assert again.status_code == 200
    token = again.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


def test_reactivating_a_user_does_not_revive_old_tokens(world, client):
    admin = world.api("admin")
    victim = world.api("viewer")
    user_id = victim.get("auth/me").json()["id"]
    assert admin.patch(f"users/{user_id}", json={"active": False}).status_code == 200
    assert admin.patch(f"users/{user_id}", json={"active": True}).status_code == 200
    assert victim.get("auth/me").status_code == 401
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "viewer", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_token_responses_are_not_stored_and_every_answer_has_security_headers(world, client):
    login = client.post("/api/v1/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert login.headers["cache-control"] == "no-store"
    api = world.api("admin")
    key = api.post("api-keys", json={"name": "shop", "scopes": ["catalog:read"]})
    assert key.status_code == 201, key.text
    assert key.headers["cache-control"] == "no-store"
    answers = [
        login,
        key,
        api.get("products"),
        client.get("/api/v1/products"),  # 401
        api.get("nowhere"),  # 404
        api.post("products", json={}),  # 422
        client.get("/docs"),
        client.get("/openapi.json"),
    ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.request.url
        assert answer.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "server" not in answer.headers
