"""auth: tenant-scoped revocations and failed logins, a global directory of usernames

Revision ID: 0028_tenant_keys
Revises: 0027_partitions

A distributed database keeps each tenant's rows together by tenant_id, so every row that
belongs to a tenant must carry it:

* revoked_tokens gets tenant_id (a token names its tenant); its key becomes
  (tenant_id, jti). A revocation made before the upgrade does not say whose token it was,
  so it is kept for every tenant until it expires: no logged-out token comes back.
* usernames (new) is the directory a login reads before any tenant is known
  (username -> tenant, user); it now holds the server-wide uniqueness of usernames, and
  users are unique on (tenant_id, username). Filled from users.
* login_failures gets tenant_id (found through the directory); failures for names in no
  tenant move to unknown_login_failures (new, global), counted the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "0028_tenant_keys"
down_revision: str | Sequence[str] | None = "0027_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="RESTRICT"
    )


def _failures_table(name: str, *, tenant: bool) -> None:
    columns: list[sa.Column[object] | sa.Constraint] = [
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
    ]
    if tenant:
        columns += [sa.Column("tenant_id", ID, nullable=False), _tenant_fk(name)]
    op.create_table(name, *columns)
    op.create_index(f"ix_{name}_username_at", name, ["username", "at"])
    if tenant:
        op.create_index(f"ix_{name}_tenant_id", name, ["tenant_id"])


def _sqlite_rewrite(bind: sa.Connection, changed: dict[str, str]) -> None:
    """Replace tables' CREATE statements in place (foreign keys only: no data changes).

    SQLite cannot alter a foreign key. A foreign key does not change how rows are stored,
    so the documented way is to edit the schema text under writable_schema, bump the
    schema version and check every row (https://www.sqlite.org/lang_altertable.html,
    "making other kinds of table schema changes").
    """
    if not changed:
        return
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    for table, sql in changed.items():
        bind.execute(
            sa.text("UPDATE sqlite_schema SET sql = :sql WHERE type = 'table' AND name = :t"),
            {"sql": sql, "t": table},
        )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    broken = bind.execute(sa.text("PRAGMA foreign_key_check")).all()
    if broken:
        # A row pointing at another tenant's row (or at nothing): a bug to mend by hand.
        shown = ", ".join(f"{t} row {r} -> {p}" for t, r, p, _ in broken[:10])
        raise RuntimeError(f"rows refer to another tenant's rows or to none: {shown}")


@contextmanager
def _children_detached(target: str) -> Iterator[None]:
    """Take the foreign keys that point at `target` out of SQLite's schema while it is rebuilt.

    Batch mode rebuilds a table by copying it and dropping the old one; with foreign keys
    on (the server's connections turn them on, and a transaction cannot turn them off),
    that drop deletes the rows of ON DELETE CASCADE children (a user's branches) and is
    refused for the others. The keys come back unchanged after the rebuild, and every row
    is checked against them.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    clause = re.compile(
        rf",\s*CONSTRAINT \w+ FOREIGN KEY\([^)]*\) REFERENCES {target} \([^)]*\)"
        r"( ON DELETE (CASCADE|RESTRICT|SET NULL))?"
    )
    saved: dict[str, str] = {}
    stripped: dict[str, str] = {}
    for name, sql in bind.execute(
        sa.text("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name <> :t"),
        {"t": target},
    ):
        new = clause.sub("", sql or "")
        if new != (sql or ""):
            saved[name], stripped[name] = sql, new
    _sqlite_rewrite(bind, stripped)
    yield
    _sqlite_rewrite(bind, saved)


def _set_aside(table: str) -> str:
    """Rename a table (and its primary key, whose name PostgreSQL keeps schema-wide)."""
    old = f"{table}_old"
    op.rename_table(table, old)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{table} TO pk_{old}")
    return old


def _auth_upgrade() -> None:
    op.create_table(
        "usernames",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        _tenant_fk("usernames"),
        sa.PrimaryKeyConstraint("username", name="pk_usernames"),
    )
    op.create_index("ix_usernames_tenant_id", "usernames", ["tenant_id"])
    op.execute(
        "INSERT INTO usernames (username, tenant_id, user_id) "
        "SELECT username, tenant_id, id FROM users"
    )
    with _children_detached("users"), op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_username", type_="unique")
        batch.create_unique_constraint("uq_users_tenant_id_username", ["tenant_id", "username"])

    _set_aside("revoked_tokens")
    op.drop_index("ix_revoked_tokens_expires_at", table_name="revoked_tokens_old")
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        _tenant_fk("revoked_tokens"),
        sa.PrimaryKeyConstraint("tenant_id", "jti", name="pk_revoked_tokens"),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])
    op.create_index("ix_revoked_tokens_tenant_id", "revoked_tokens", ["tenant_id"])
    # Whose token an old revocation was is not recorded: it holds for every tenant.
    op.execute(
        "INSERT INTO revoked_tokens (tenant_id, jti, expires_at) "
        "SELECT t.id, r.jti, r.expires_at FROM revoked_tokens_old r CROSS JOIN tenants t"
    )
    op.drop_table("revoked_tokens_old")

    _set_aside("login_failures")
    op.drop_index("ix_login_failures_username_at", table_name="login_failures_old")
    _failures_table("login_failures", tenant=True)
    _failures_table("unknown_login_failures", tenant=False)
    op.execute(
        "INSERT INTO login_failures (id, tenant_id, username, client, at) "
        "SELECT f.id, u.tenant_id, f.username, f.client, f.at "
        "FROM login_failures_old f JOIN usernames u ON u.username = f.username"
    )
    op.execute(
        "INSERT INTO unknown_login_failures (username, client, at) "
        "SELECT f.username, f.client, f.at FROM login_failures_old f "
        "WHERE NOT EXISTS (SELECT 1 FROM usernames u WHERE u.username = f.username) "
        "ORDER BY f.id"
    )
    op.drop_table("login_failures_old")
    if op.get_bind().dialect.name == "postgresql":
        # The copied ids were given explicitly: the new table's sequence starts past them.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('login_failures', 'id'), "
            "(SELECT coalesce(max(id), 0) + 1 FROM login_failures), false)"
        )


def _auth_downgrade() -> None:
    _set_aside("login_failures")
    op.drop_index("ix_login_failures_username_at", table_name="login_failures_old")
    op.drop_index("ix_login_failures_tenant_id", table_name="login_failures_old")
    op.create_table(
        "login_failures",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_username_at", "login_failures", ["username", "at"])
    for source in ("login_failures_old", "unknown_login_failures"):
        op.execute(
            f"INSERT INTO login_failures (username, client, at) "
            f"SELECT username, client, at FROM {source} ORDER BY at"
        )
    op.drop_table("login_failures_old")
    op.drop_index("ix_unknown_login_failures_username_at", table_name="unknown_login_failures")
    op.drop_table("unknown_login_failures")

    _set_aside("revoked_tokens")
    op.drop_index("ix_revoked_tokens_expires_at", table_name="revoked_tokens_old")
    op.drop_index("ix_revoked_tokens_tenant_id", table_name="revoked_tokens_old")
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_revoked_tokens"),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])
    op.execute(
        "INSERT INTO revoked_tokens (jti, expires_at) "
        "SELECT jti, max(expires_at) FROM revoked_tokens_old GROUP BY jti"
    )
    op.drop_table("revoked_tokens_old")

    with _children_detached("users"), op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_tenant_id_username", type_="unique")
        batch.create_unique_constraint("uq_users_username", ["username"])
    op.drop_index("ix_usernames_tenant_id", table_name="usernames")
    op.drop_table("usernames")


def upgrade() -> None:
    _auth_upgrade()


def downgrade() -> None:
    _auth_downgrade()
