"""Distribution-ready keys: every tenant's row carries its tenant, and logins still need none.

Users log in by username alone; a global directory (usernames) finds the tenant and holds
the server-wide uniqueness, users are unique per tenant, revocations and the failed logins
of known names are the tenant's rows, failures for names in no tenant are kept apart.
"""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from sync_server.db import transaction
from sync_server.migrations.runner import alembic_config, upgrade
from tests.factories import PASSWORD, World


def _sql(world: World, sql: str, **params: object) -> list[tuple]:
    with transaction(world.sessions()) as session:
        result = session.execute(text(sql), params)
        return [tuple(row) for row in result] if result.returns_rows else []


def test_every_user_is_in_the_directory_with_its_tenant(world):
    users = set(_sql(world, "SELECT username, tenant_id, id FROM users"))
    directory = set(_sql(world, "SELECT username, tenant_id, user_id FROM usernames"))
    assert users == directory
    assert {tenant for _, tenant, _ in users} == {world.a.id, world.b.id}
    # A user made through the API joins the directory in the same transaction.
    made = world.api("admin").post(
        "users", json={"username": "newbie", "password": "long-enough-pw", "role": "viewer"}
    )
    assert made.status_code == 201, made.text
    assert _sql(world, "SELECT tenant_id, user_id FROM usernames WHERE username = 'newbie'") == [
        (world.a.id, made.json()["id"])
    ]


def test_a_username_stays_unique_across_the_server_and_login_needs_no_tenant(world):
    # Another business cannot take a name in use (the same answer as in one business).
    taken = world.api("b_admin").post(
        "users", json={"username": "manager", "password": "long-enough-pw", "role": "viewer"}
    )
    assert taken.status_code == 409
    assert "not available" in taken.json()["detail"]
    # The database itself refuses it: the directory's key is the username.
    with pytest.raises(IntegrityError), transaction(world.sessions()) as session:
        session.execute(
            text("INSERT INTO usernames (username, tenant_id, user_id) VALUES ('manager', :t, 1)"),
            {"t": world.b.id},
        )
    # Login by username alone finds each tenant's user.
    for name in ("manager", "b_admin"):
        response = world.client.post(
            "/api/v1/auth/login", json={"username": name, "password": PASSWORD}
        )
        assert response.status_code == 200
        token = response.json()["access_token"]
        me = world.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["username"] == name
    assert _sql(world, "SELECT tenant_id FROM users WHERE username = 'b_admin'") == [(world.b.id,)]


def test_users_are_unique_per_tenant_in_the_database(world):
    with pytest.raises(IntegrityError), transaction(world.sessions()) as session:
        session.execute(
            text(
                "INSERT INTO users (tenant_id, username, full_name, password_hash, role, "
                "active, token_version, created_at, updated_at) VALUES (:t, 'manager', '', "
                "'!', 'viewer', true, 0, '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"
            ),
            {"t": world.a.id},
        )


def test_a_revocation_is_the_tokens_tenants_row(world):
    api = world.api("b_admin")
    assert api.post("auth/logout").status_code == 204
    assert api.get("auth/me").status_code == 401
    assert _sql(world, "SELECT tenant_id FROM revoked_tokens") == [(world.b.id,)]


def test_failed_logins_go_with_the_tenant_and_unknown_names_lock_out_the_same(world):
    client = world.client
    for name in ("cashier", "nobody-here"):
        for _ in range(5):
            bad = client.post("/api/v1/auth/login", json={"username": name, "password": "bad"})
            assert bad.status_code == 401
        # The sixth try is refused before the password is looked at, known name or not.
        locked = client.post("/api/v1/auth/login", json={"username": name, "password": "x"})
        assert locked.status_code == 429
        assert locked.json()["detail"].startswith(f"Too many failed logins for '{name}'")
    assert _sql(
        world, "SELECT username, tenant_id, count(*) FROM login_failures GROUP BY 1, 2"
    ) == [("cashier", world.a.id, 5)]
    assert _sql(world, "SELECT username, count(*) FROM unknown_login_failures GROUP BY 1") == [
        ("nobody-here", 5)
    ]


def test_upgrading_keeps_revocations_failures_and_usernames(world, engine, database_url):
    """A database of the previous schema upgrades in place: nothing a session relied on goes."""
    api = world.api("viewer")
    assert api.post("auth/logout").status_code == 204
    for name in ("cashier", "nobody-here"):
        world.client.post("/api/v1/auth/login", json={"username": name, "password": "bad"})
    links = _sql(world, "SELECT * FROM user_branches ORDER BY user_id, branch_id")
    assert links
    cfg = alembic_config(database_url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0027_partitions")
    # users is rebuilt on SQLite: its children (a user's branches) must not go with it.
    assert _sql(world, "SELECT * FROM user_branches ORDER BY user_id, branch_id") == links
    assert _sql(world, "SELECT count(*) FROM revoked_tokens") == [(1,)]
    assert sorted(_sql(world, "SELECT username FROM login_failures")) == [
        ("cashier",),
        ("nobody-here",),
    ]
    upgrade(engine)
    # An old revocation does not say whose token it was: it holds in every tenant.
    assert sorted(_sql(world, "SELECT tenant_id FROM revoked_tokens")) == sorted(
        (t,) for t in (world.a.id, world.b.id)
    )
    assert api.get("auth/me").status_code == 401
    assert _sql(world, "SELECT username, tenant_id FROM login_failures") == [
        ("cashier", world.a.id)
    ]
    assert _sql(world, "SELECT username FROM unknown_login_failures") == [("nobody-here",)]
    users = set(_sql(world, "SELECT username, tenant_id, id FROM users"))
    assert users == set(_sql(world, "SELECT username, tenant_id, user_id FROM usernames"))
    assert _sql(world, "SELECT * FROM user_branches ORDER BY user_id, branch_id") == links
    # Logins and new failures go on (the failures' ids continue after the copied ones).
    assert (
        world.client.post(
            "/api/v1/auth/login", json={"username": "b_admin", "password": PASSWORD}
        ).status_code
        == 200
    )
    world.client.post("/api/v1/auth/login", json={"username": "cashier", "password": "bad"})
    assert _sql(world, "SELECT count(*) FROM login_failures") == [(2,)]
