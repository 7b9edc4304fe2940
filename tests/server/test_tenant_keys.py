"""Distribution-ready keys: every tenant's row carries its tenant, and logins still need none.

Users log in by username alone; a global directory (usernames) finds the tenant and holds
the server-wide uniqueness, users are unique per tenant, revocations and the failed logins
of known names are the tenant's rows, failures for names in no tenant are kept apart.
"""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from common.ids import new_id
from sync_server.audit import service as audit
from sync_server.db import transaction
from sync_server.integrity.ledger import verify_ledgers
from sync_server.migrations.runner import alembic_config, current_heads, expected_heads, upgrade
from sync_server.partitions import PARTITION_NAME
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


# --- Tenant-scoped keys ---------------------------------------------------------------------

GLOBAL_WITH_TENANT = {"usernames"}  # the directory: global, though each row names a tenant


def _tenant_tables(inspector) -> list[str]:
    return [
        t
        for t in inspector.get_table_names()
        if t not in GLOBAL_WITH_TENANT
        and not PARTITION_NAME.match(t)
        and "tenant_id" in {c["name"] for c in inspector.get_columns(t)}
    ]


def test_every_tenant_row_is_keyed_with_its_tenant_and_refers_within_it(engine):
    """The keys a database distributed by tenant_id needs, read back from the database."""
    inspector = inspect(engine)
    tables = _tenant_tables(inspector)
    assert len(tables) > 80
    partitioned: set[str] = set()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            partitioned = set(
                conn.execute(
                    text("SELECT partrelid::regclass::text FROM pg_partitioned_table")
                ).scalars()
            )
    unkeyed, loose = [], []
    for table in tables:
        pk = inspector.get_pk_constraint(table)["constrained_columns"]
        if engine.dialect.name == "postgresql":
            # A partitioned table's key is on each range (checked below), not the parent.
            if table not in partitioned and "tenant_id" not in pk:
                unkeyed.append(table)
        elif pk == ["id"]:
            # SQLite: id stays the rowid; the tenant key is a unique index beside it.
            unique = {tuple(i["column_names"]) for i in inspector.get_indexes(table) if i["unique"]}
            if ("id", "tenant_id") not in unique:
                unkeyed.append(table)
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] == "tenants":
                continue
            if fk["constrained_columns"][1:] != ["tenant_id"] or fk["referred_columns"] != [
                "id",
                "tenant_id",
            ]:
                loose.append((table, fk["name"], fk["constrained_columns"]))
    assert unkeyed == []
    assert loose == []
    # A distributed table enforces a unique key only if it holds tenant_id. Left: the
    # credentials found by their hash before the tenant is known (installers/README.md).
    tenantless = {
        (table, tuple(uq["column_names"]))
        for table in tables
        for uq in inspector.get_unique_constraints(table)
        if "tenant_id" not in uq["column_names"]
    }
    assert tenantless <= {
        ("api_keys", ("key_hash",)),
        ("devices", ("token_hash",)),
        ("device_enrolment_codes", ("code_hash",)),
        # SQLite only: on PostgreSQL it is one unique index per range (migration 0027).
        ("stock_movements", ("uuid",)),
    }
    if engine.dialect.name == "postgresql":
        # Each range of a partitioned table is keyed the same way.
        with engine.connect() as conn:
            ranges = conn.execute(
                text(
                    "SELECT c.relname, pg_get_constraintdef(k.oid) FROM pg_inherits i "
                    "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_constraint k "
                    "ON k.conrelid = c.oid AND k.contype = 'p'"
                )
            ).all()
        assert len(ranges) >= 9
        assert {definition for _, definition in ranges} == {"PRIMARY KEY (id, tenant_id)"}


def test_a_row_cannot_point_at_another_tenants_row_even_in_raw_sql(stock):
    """The composite foreign keys refuse what a bug in a query might write."""
    a, b = stock.tenant_id, stock.other_tenant_id
    mine, theirs = stock.product_ids[0], stock.other_product_id
    branch = stock.branch_ids[0]
    barcode = "INSERT INTO product_barcodes (tenant_id, product_id, code) VALUES (:t, :p, :c)"
    movement = (
        "INSERT INTO stock_movements (tenant_id, uuid, branch_id, product_id, code, quantity, "
        "reference_type, reference_id, actor, occurred_at, recorded_at) VALUES (:t, :u, :b, :p, "
        "'ADJ', 1, 'test', 'x', 'test', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"
    )
    for sql, params in (
        (barcode, {"t": a, "p": theirs, "c": "CROSS-1"}),
        (movement, {"t": a, "u": new_id(), "b": branch, "p": theirs}),
        # The branch is the other way round: tenant B's movement at tenant A's branch.
        (movement, {"t": b, "u": new_id(), "b": branch, "p": theirs}),
    ):
        with pytest.raises(IntegrityError), stock.tx() as session:
            session.execute(text(sql), params)
    # The same rows within one tenant are accepted (then rolled back: the ledger stays true).
    with stock.engine.connect() as conn, conn.begin() as tx:
        conn.execute(text(barcode), {"t": a, "p": mine, "c": "SAME-1"})
        conn.execute(text(movement), {"t": a, "u": new_id(), "b": branch, "p": mine})
        tx.rollback()


def _counts(world: World) -> dict[str, int]:
    tables = _tenant_tables(inspect(world.engine))
    return {t: _sql(world, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def test_upgrading_rekeys_in_place_keeps_every_row_and_stops_at_a_cross_tenant_one(
    world, engine, database_url
):
    """0027 -> 0028 on a database with rows: the same rows, composite keys, a true chain."""
    moved = world.api("admin").post(
        "stock/adjustments",
        json={
            "branch_id": world.a.branch_ids[0],
            "product_id": world.a.product_ids[0],
            "quantity": "5",
            "reason": "found",
        },
    )
    assert moved.status_code == 201, moved.text
    before = _counts(world)
    products = _sql(world, "SELECT * FROM products ORDER BY id")
    cfg = alembic_config(database_url)

    def downgrade() -> None:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0027_partitions")

    downgrade()
    fks = inspect(engine).get_foreign_keys("product_barcodes")
    assert [fk["constrained_columns"] for fk in fks if fk["referred_table"] == "products"] == [
        ["product_id"]
    ]
    upgrade(engine)
    test_every_tenant_row_is_keyed_with_its_tenant_and_refers_within_it(engine)
    assert _counts(world) == before
    assert _sql(world, "SELECT * FROM products ORDER BY id") == products
    with transaction(world.sessions()) as session:
        assert audit.verify(session, tenant_id=world.a.id).ok
        assert verify_ledgers(session, tenant_id=world.a.id) == []
    # A row an old bug made to point at another tenant's row stops the upgrade, which
    # changes nothing; once mended by hand, the upgrade goes through.
    downgrade()
    _sql(
        world,
        "INSERT INTO product_barcodes (tenant_id, product_id, code) VALUES (:t, :p, 'CROSS')",
        t=world.a.id,
        p=world.b.product_ids[0],
    )
    with pytest.raises(Exception) as refused:
        upgrade(engine)
    assert "foreign key" in str(refused.value).lower() or "another tenant" in str(refused.value)
    assert current_heads(engine) == ("0027_partitions",)
    _sql(world, "DELETE FROM product_barcodes WHERE code = 'CROSS'")
    upgrade(engine)
    assert current_heads(engine) == expected_heads()
