"""Distribution-ready keys: every tenant's row carries its tenant, and logins still need none.

Users log in by username alone; a global directory (usernames) finds the tenant and holds
the server-wide uniqueness, users are unique per tenant, revocations and the failed logins
of known names are the tenant's rows, failures for names in no tenant are kept apart.
API keys, till credentials and enrolment codes name no tenant either: another global
directory (credential_directory) maps their hashes to the tenant, and each is then read by
(tenant_id, hash), the unique key of its tenant table.
"""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from common.ids import new_id
from sync_server.apikeys.models import ApiKey
from sync_server.apikeys.service import forget_resolved_keys, hash_key
from sync_server.audit import service as audit
from sync_server.db import transaction
from sync_server.integrity.ledger import verify_ledgers
from sync_server.migrations.runner import alembic_config, current_heads, expected_heads, upgrade
from sync_server.partitions import PARTITION_NAME
from tests.factories import PASSWORD, Api, World


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

# The directories: global, though each row names a tenant.
GLOBAL_WITH_TENANT = {"usernames", "credential_directory"}


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
    # A distributed table enforces a unique key only if it holds tenant_id. The credentials
    # found by their hash hold it too: the credential directory names the tenant first.
    tenantless = {
        (table, tuple(uq["column_names"]))
        for table in tables
        for uq in inspector.get_unique_constraints(table)
        if "tenant_id" not in uq["column_names"]
    }
    assert tenantless <= {
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


# --- Credentials presented with no tenant named ----------------------------------------------

# (kind in the directory, table, hash column)
CREDENTIALS = (
    ("api_key", "api_keys", "key_hash"),
    ("device", "devices", "token_hash"),
    ("enrolment_code", "device_enrolment_codes", "code_hash"),
)


def _code(world: World, admin: str) -> str:
    tenant = world.b if admin.startswith("b_") else world.a
    made = world.api(admin).post(
        "devices/enrolment-codes", json={"branch_id": tenant.branch_ids[0]}
    )
    assert made.status_code == 201, made.text
    return made.json()["code"]


def _enrol(world: World, code: str):
    return Api(world.client, None).post("devices/enrol", json={"code": code, "name": "Till"})


def _issue(world: World, admin: str) -> dict[str, str]:
    """Issue an API key, a till credential and an unused enrolment code in admin's business."""
    key = world.api(admin).post("api-keys", json={"name": "web", "scopes": ["catalog:read"]})
    assert key.status_code == 201, key.text
    till = _enrol(world, _code(world, admin))
    assert till.status_code == 201, till.text
    return {"key": key.json()["key"], "token": till.json()["token"], "code": _code(world, admin)}


def _key_says(world: World, key: str):
    return world.client.get("/api/v1/products", headers={"X-API-Key": key})


def _till_says(world: World, token: str):
    return Api(world.client, token).get("sync/pull", params={"limit": 1})


def _directory_matches_the_tables(world: World) -> None:
    for kind, table, column in CREDENTIALS:
        rows = set(_sql(world, f"SELECT {column}, tenant_id FROM {table}"))
        assert {tenant for _, tenant in rows} == {world.a.id, world.b.id}, table
        entries = _sql(
            world, "SELECT digest, tenant_id FROM credential_directory WHERE kind = :k", k=kind
        )
        assert set(entries) == rows, table


def _credential_keys(engine) -> dict[str, list[list[str]]]:
    inspector = inspect(engine)
    return {
        table: sorted(
            uq["column_names"]
            for uq in inspector.get_unique_constraints(table)
            if column in uq["column_names"]
        )
        for _, table, column in CREDENTIALS
    }


def test_every_credential_is_in_the_directory_and_keyed_with_its_tenant(world, engine):
    for admin in ("admin", "b_admin"):
        _issue(world, admin)
    _directory_matches_the_tables(world)
    # Read back from the database: the tenant tables' keys hold tenant_id, the directory's
    # key is the hash (per kind), which keeps hashes unique across the server.
    assert _credential_keys(engine) == {
        "api_keys": [["tenant_id", "key_hash"]],
        "devices": [["tenant_id", "token_hash"]],
        "device_enrolment_codes": [["tenant_id", "code_hash"]],
    }
    assert inspect(engine).get_pk_constraint("credential_directory")["constrained_columns"] == [
        "kind",
        "digest",
    ]
    (taken,) = _sql(world, "SELECT key_hash FROM api_keys WHERE tenant_id = :t", t=world.a.id)[0]
    with pytest.raises(IntegrityError), transaction(world.sessions()) as session:
        session.execute(
            text(
                "INSERT INTO credential_directory (kind, digest, tenant_id) "
                "VALUES ('api_key', :d, :t)"
            ),
            {"d": taken, "t": world.b.id},
        )
    # A key issued in another business with a hash already in use is refused in the same
    # flush, by the directory (the table alone would take it: its key is per tenant).
    with pytest.raises(IntegrityError), transaction(world.sessions()) as session:
        session.add(
            ApiKey(
                tenant_id=world.b.id,
                name="copy",
                prefix="spk_copy",
                key_hash=taken,
                scopes=[],
                branch_ids=[],
            )
        )
        session.flush()
    assert _sql(world, "SELECT count(*) FROM api_keys WHERE key_hash = :d", d=taken) == [(1,)]


def test_a_credential_is_read_within_the_business_the_directory_names(world):
    """A directory entry naming another business opens nothing, and says no more than an
    unknown credential does."""
    mine, theirs = _issue(world, "admin"), _issue(world, "b_admin")
    listed = _key_says(world, theirs["key"])
    assert listed.status_code == 200
    assert not {p["id"] for p in listed.json()["items"]} & set(world.a.product_ids)
    unknown_key = _key_says(world, "spk_" + "x" * 43)
    unknown_till = _till_says(world, "spd_" + "x" * 43)
    unknown_code = _enrol(world, "ABCDE-FGHJK")
    assert unknown_key.status_code == unknown_till.status_code == unknown_code.status_code == 401
    # Point the other business's entries at this one (as a bug or a tampered row might).
    for digest in (hash_key(theirs["key"]), hash_key(theirs["token"])):
        _sql(
            world,
            "UPDATE credential_directory SET tenant_id = :t WHERE digest = :d",
            t=world.a.id,
            d=digest,
        )
    _sql(
        world,
        "UPDATE credential_directory SET tenant_id = :t "
        "WHERE kind = 'enrolment_code' AND digest = :d",
        t=world.a.id,
        d=hash_key(theirs["code"].replace("-", "")),
    )
    # The key's caller, resolved above, is kept 2 s by this process (KEY_CACHE_SECONDS);
    # what is tested here is the directory read, so the next request must make it.
    forget_resolved_keys()
    for refused, unknown in (
        (_key_says(world, theirs["key"]), unknown_key),
        (_till_says(world, theirs["token"]), unknown_till),
        (_enrol(world, theirs["code"]), unknown_code),
    ):
        assert refused.status_code == 401
        assert refused.json() == unknown.json()
    # This business's own credentials are untouched.
    assert _key_says(world, mine["key"]).status_code == 200
    assert _till_says(world, mine["token"]).status_code == 200
    assert _enrol(world, mine["code"]).status_code == 201


def test_upgrading_keeps_issued_keys_tills_and_codes_working(world, engine, database_url):
    """0028 -> 0029 on a database with credentials: each one issued before still works."""
    issued = {admin: _issue(world, admin) for admin in ("admin", "b_admin")}
    revoked = world.api("admin").post("api-keys", json={"name": "old", "scopes": ["catalog:read"]})
    assert world.api("admin").post(f"api-keys/{revoked.json()['id']}/revoke").status_code == 200
    cfg = alembic_config(database_url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0028_tenant_keys")
    assert "credential_directory" not in inspect(engine).get_table_names()
    assert _credential_keys(engine) == {
        "api_keys": [["key_hash"]],
        "devices": [["token_hash"]],
        "device_enrolment_codes": [["code_hash"]],
    }
    # A till enrolled by the previous release, which knew no directory.
    old_token = "spd_" + new_id().replace("-", "")
    _sql(
        world,
        "INSERT INTO devices (id, tenant_id, branch_id, name, token_hash, receipt_prefix, "
        "created_at) VALUES (:id, :t, :b, 'Old till', :h, 'OLD-T01', '2026-01-01 00:00:00+00')",
        id=new_id(),
        t=world.b.id,
        b=world.b.branch_ids[0],
        h=hash_key(old_token),
    )
    upgrade(engine)
    assert current_heads(engine) == expected_heads()
    _directory_matches_the_tables(world)
    assert _credential_keys(engine) == {
        "api_keys": [["tenant_id", "key_hash"]],
        "devices": [["tenant_id", "token_hash"]],
        "device_enrolment_codes": [["tenant_id", "code_hash"]],
    }
    for admin, credentials in issued.items():
        assert _key_says(world, credentials["key"]).status_code == 200, admin
        assert _till_says(world, credentials["token"]).status_code == 200, admin
        assert _enrol(world, credentials["code"]).status_code == 201, admin
    assert _till_says(world, old_token).status_code == 200
    refused = _key_says(world, revoked.json()["key"])
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    # Credentials issued after the upgrade enter the directory as before.
    _issue(world, "b_admin")
    _directory_matches_the_tables(world)
