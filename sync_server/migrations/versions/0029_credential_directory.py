"""credential directory: API keys, till credentials and enrolment codes keyed with their tenant

Revision ID: 0029_credential_directory
Revises: 0028_tenant_keys

A distributed database enforces a unique key only if it holds the distribution column,
tenant_id. Three credentials are presented with no tenant named and were found by a hash
unique across the server: api_keys.key_hash, devices.token_hash and
device_enrolment_codes.code_hash. As with usernames (0028):

* credential_directory (new, global) maps (kind, hash) -> tenant; its key holds the
  server-wide uniqueness of the hashes. Filled from the three tables, so every key, till
  credential and enrolment code issued before the upgrade works unchanged after it (the
  credentials themselves are not touched: nothing the tills or the stores hold changes).
* the three tables' unique keys become (tenant_id, hash), the key a credential is read by
  once the directory named its tenant.

On SQLite a unique key is part of its table, so the three tables are rebuilt (small tables);
the foreign key from orders to api_keys is taken out of the schema while api_keys is
rebuilt and every row is checked against it when it is back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "0029_credential_directory"
down_revision: str | Sequence[str] | None = "0028_tenant_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# (kind in the directory, table, hash column)
CREDENTIALS = (
    ("api_key", "api_keys", "key_hash"),
    ("device", "devices", "token_hash"),
    ("enrolment_code", "device_enrolment_codes", "code_hash"),
)


def _sqlite_rewrite(bind: sa.Connection, changed: dict[str, str]) -> None:
    """Replace tables' CREATE statements in place (foreign keys only; see 0028_tenant_keys)."""
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
        shown = ", ".join(f"{t} row {r} -> {p}" for t, r, p, _ in broken[:10])
        raise RuntimeError(f"rows refer to another tenant's rows or to none: {shown}")


@contextmanager
def _children_detached(target: str) -> Iterator[None]:
    """Take the foreign keys that point at `target` out of SQLite's schema while it is rebuilt.

    Batch mode rebuilds a table by copying it and dropping the old one, which foreign keys
    (on in the server's connections) would refuse; the keys come back unchanged after the
    rebuild, and every row is checked against them (as in 0028_tenant_keys).
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


def _rekey(table: str, column: str, *, up: bool) -> None:
    """Swap a hash's unique key between (column) and (tenant_id, column)."""
    old, new = [column], ["tenant_id", column]
    if not up:
        old, new = new, old
    with _children_detached(table), op.batch_alter_table(table) as batch:
        batch.drop_constraint(f"uq_{table}_{'_'.join(old)}", type_="unique")
        batch.create_unique_constraint(f"uq_{table}_{'_'.join(new)}", new)


def upgrade() -> None:
    op.create_table(
        "credential_directory",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_credential_directory_tenant_id_tenants",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("kind", "digest", name="pk_credential_directory"),
    )
    op.create_index("ix_credential_directory_tenant_id", "credential_directory", ["tenant_id"])
    for kind, table, column in CREDENTIALS:
        # Every credential issued so far keeps working: the directory names its tenant.
        op.execute(
            f"INSERT INTO credential_directory (kind, digest, tenant_id) "
            f"SELECT '{kind}', {column}, tenant_id FROM {table}"
        )
        _rekey(table, column, up=True)


def downgrade() -> None:
    for _, table, column in CREDENTIALS:
        # The directory kept the hashes unique across the server: the global key fits them.
        _rekey(table, column, up=False)
    op.drop_index("ix_credential_directory_tenant_id", table_name="credential_directory")
    op.drop_table("credential_directory")
