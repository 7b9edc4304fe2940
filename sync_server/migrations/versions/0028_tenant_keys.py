"""tenant-scoped keys: every tenant row keyed with its tenant, foreign keys within a tenant

Revision ID: 0028_tenant_keys
Revises: 0027_partitions

A distributed database keeps each tenant's rows together by tenant_id: every tenant row must
carry it, in its key, and a foreign key must stay within one tenant.

Auth:

* revoked_tokens gets tenant_id (a token names its tenant); its key becomes
  (tenant_id, jti). A revocation made before the upgrade does not say whose token it was,
  so it is kept for every tenant until it expires: no logged-out token comes back.
* usernames (new) is the directory a login reads before any tenant is known
  (username -> tenant, user); it now holds the server-wide uniqueness of usernames, and
  users are unique on (tenant_id, username). Filled from users.
* login_failures gets tenant_id (found through the directory); failures for names in no
  tenant move to unknown_login_failures (new, global), counted the same way.

Keys (every table with tenant_id but the usernames directory):

* PostgreSQL: tenant_id joins each primary key at its end: (id, tenant_id) for rows with an
  id (id first, so the key's index still serves a lookup by id), and on each range of the
  partitioned tables; the single-column foreign keys between tenant tables are made again
  as (x_id, tenant_id) -> (id, tenant_id), under the same names. Re-making a key rebuilds
  its index and checks every row: the upgrade takes about as long as reindexing the tables.
* SQLite: id stays the rowid primary key (SQLite numbers no other column), and
  (id, tenant_id) is a unique index beside it (tk_<table>); the foreign keys are rewritten
  in the stored schema (they do not change how rows are stored) and every row is checked.
  No table is copied.
* The document lines' unique keys gain tenant_id (stock_transfer_lines, stock_count_lines,
  stock_count_lots; on SQLite these unreferenced tables are rebuilt).
* notifications.rule_id was ON DELETE SET NULL; with tenant_id in the key that would null
  tenant_id too, so it has no action now and the service clears it before deleting a rule.

A row that already points at another tenant's row (only a bug could have written it) stops
the upgrade, which then changes nothing: mend the row and upgrade again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial

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


# --- Tenant-scoped keys -------------------------------------------------------------------

# Tables with a tenant_id that are global all the same: the directory is read before any
# tenant is known, and its key (the username) is what keeps usernames unique server-wide.
GLOBAL = ("usernames",)
# The one foreign key that set itself to NULL when its row went: with tenant_id in the key
# it would null tenant_id too (SQLite has no column list for SET NULL), so the service
# clears it before it deletes a rule.
SET_NULL = ("notifications", "rule_id")
_SQLITE_FK = re.compile(r"FOREIGN KEY\((\w+)\) REFERENCES (\w+) \(id\)( ON DELETE SET NULL)?")
# A key added with a column (ALTER TABLE ADD COLUMN) sits in the column's definition.
_SQLITE_INLINE_FK = re.compile(
    r"(\w+) (INTEGER|BIGINT) CONSTRAINT (\w+) REFERENCES (\w+) \(id\)"
    r"(?= *[,)]| ON DELETE| DEFAULT| NOT NULL)( ON DELETE (?:CASCADE|RESTRICT))?"
)
# The keys earlier migrations added with their columns: the downgrade puts them back in the
# column's definition, where those migrations' own downgrades (DROP COLUMN) expect them.
_ADDED_WITH_COLUMN = (
    ("products", "tax_class_id"),
    ("products", "template_id"),
    ("purchase_order_lines", "tax_class_id"),
)
_SQLITE_TENANT_FK = re.compile(
    r"FOREIGN KEY\((\w+), tenant_id\) REFERENCES (\w+) \(id, tenant_id\)"
)


def _pg_tenant_tables(bind: sa.Connection) -> dict[str, tuple[str, str, list[str]]]:
    """Return each tenant table (not a partition): its kind, primary key name and columns."""
    rows = bind.execute(
        sa.text(
            "SELECT c.relname, c.relkind, k.conname, "
            "array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i) "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.n ORDER BY u.i) "
            "FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace "
            "LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p' "
            "WHERE s.nspname = current_schema() AND c.relkind IN ('r', 'p') "
            "AND NOT c.relispartition AND EXISTS (SELECT 1 FROM pg_attribute t "
            "WHERE t.attrelid = c.oid AND t.attname = 'tenant_id' AND NOT t.attisdropped)"
        )
    ).all()
    return {
        name: (kind, pk or f"pk_{name}", list(columns or []))
        for name, kind, pk, columns in rows
        if name not in GLOBAL
    }


def _pg_partitions(bind: sa.Connection, table: str) -> list[tuple[str, str, list[str]]]:
    """Return a partitioned table's partitions: name, primary key name and columns."""
    rows = bind.execute(
        sa.text(
            "SELECT c.relname, k.conname, "
            "array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i) "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.n ORDER BY u.i) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p' "
            "WHERE i.inhparent = CAST(:t AS regclass) ORDER BY 1"
        ),
        {"t": table},
    ).all()
    return [(name, pk, list(columns)) for name, pk, columns in rows]


def _pg_fks(bind: sa.Connection, tables: Iterable[str], *, width: int) -> list[tuple[str, ...]]:
    """Return the foreign keys of `width` columns between tenant tables (not to tenants)."""
    names = sorted(tables)
    rows = bind.execute(
        sa.text(
            "SELECT k.conname, f.relname, a.attname, t.relname, k.confdeltype "
            "FROM pg_constraint k JOIN pg_class f ON f.oid = k.conrelid "
            "JOIN pg_class t ON t.oid = k.confrelid "
            "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
            "WHERE k.contype = 'f' AND k.conparentid = 0 AND cardinality(k.conkey) = :w "
            "AND f.relname = ANY(:names) AND t.relname = ANY(:names) ORDER BY 2, 1"
        ),
        {"w": width, "names": names},
    ).all()
    return [tuple(row) for row in rows]


def _pg_set_pk(table: str, name: str, columns: list[str]) -> None:
    op.execute(
        f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
        f"ADD CONSTRAINT {name} PRIMARY KEY ({', '.join(columns)})"
    )


def _pg_rekey(bind: sa.Connection, *, up: bool) -> None:
    """Move tenant_id into (up) or out of (down) every tenant table's primary key."""
    for table, (kind, pk, columns) in sorted(_pg_tenant_tables(bind).items()):
        # Each range of a partitioned table has its own key (migration 0027_partitions).
        keys = _pg_partitions(bind, table) if kind == "p" else [(table, pk, columns)]
        for owner, name, cols in keys:
            if up and "tenant_id" not in cols:
                _pg_set_pk(owner, name, [*cols, "tenant_id"])
            elif not up and len(cols) > 1 and cols[-1] == "tenant_id":
                _pg_set_pk(owner, name, cols[:-1])


def _pg_upgrade_keys() -> None:
    bind = op.get_bind()
    tables = _pg_tenant_tables(bind)
    fks = _pg_fks(bind, tables, width=1)
    for name, table, *_ in fks:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    _pg_rekey(bind, up=True)
    for name, table, column, target, deletes in fks:
        action = " ON DELETE CASCADE" if deletes == "c" else ""
        action = " ON DELETE RESTRICT" if deletes == "r" else action
        # Adding the key checks every row: one pointing at another tenant's row stops the
        # upgrade here (it is a bug to mend by hand, not to carry into the new schema).
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}, tenant_id) "
            f"REFERENCES {target} (id, tenant_id){action}"
        )


def _pg_downgrade_keys() -> None:
    bind = op.get_bind()
    tables = _pg_tenant_tables(bind)
    fks = _pg_fks(bind, tables, width=2)
    for name, table, *_ in fks:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    _pg_rekey(bind, up=False)
    for name, table, column, target, deletes in fks:
        action = " ON DELETE CASCADE" if deletes == "c" else ""
        action = " ON DELETE RESTRICT" if deletes == "r" else action
        action = " ON DELETE SET NULL" if (table, column) == SET_NULL else action
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) "
            f"REFERENCES {target} (id){action}"
        )


def _sqlite_tables(bind: sa.Connection) -> dict[str, tuple[str, list[str], list[str]]]:
    """Return every table's CREATE statement, columns and primary key columns."""
    out = {}
    for name, sql in bind.execute(
        sa.text(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name <> 'alembic_version'"
        )
    ):
        info = bind.execute(sa.text(f'PRAGMA table_info("{name}")')).all()
        pk = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
        out[name] = (sql, [row[1] for row in info], pk)
    return out


def _sqlite_upgrade_keys() -> None:
    bind = op.get_bind()
    tables = _sqlite_tables(bind)
    tenant = {n for n, (_, cols, _) in tables.items() if "tenant_id" in cols} - set(GLOBAL)
    keyed = {n for n in tenant if tables[n][2] == ["id"]}
    for table in sorted(keyed):
        # id stays the rowid (SQLite numbers nothing else); the tenant key sits beside it.
        op.execute(f"CREATE UNIQUE INDEX tk_{table} ON {table} (id, tenant_id)")

    def composite(table: str, match: re.Match[str]) -> str:
        column, target, set_null = match.groups()
        if target not in keyed:
            return match.group(0)
        if set_null and (table, column) != SET_NULL:
            raise RuntimeError(f"{table}.{column}: ON DELETE SET NULL is not expected here")
        return f"FOREIGN KEY({column}, tenant_id) REFERENCES {target} (id, tenant_id)"

    def table_level(sql: str) -> str:
        """Move column-level foreign keys to the table's constraints (they may then grow)."""
        moved: list[str] = []

        def strip(match: re.Match[str]) -> str:
            column, kind, name, target, deletes = match.groups()
            moved.append(
                f"CONSTRAINT {name} FOREIGN KEY({column}) REFERENCES {target} (id){deletes or ''}"
            )
            return f"{column} {kind}"

        sql = _SQLITE_INLINE_FK.sub(strip, sql)
        if not moved:
            return sql
        head, _, tail = sql.rstrip().rpartition(")")
        return f"{head.rstrip()}, \n\t{', '.join(moved)}\n){tail}"

    changed = {}
    for table in sorted(tenant):
        sql = tables[table][0]
        new = _SQLITE_FK.sub(partial(composite, table), table_level(sql))
        if new != sql:
            changed[table] = new
    _sqlite_rewrite(bind, changed)


def _sqlite_downgrade_keys() -> None:
    bind = op.get_bind()
    tables = _sqlite_tables(bind)

    def single(table: str, match: re.Match[str]) -> str:
        column, target = match.groups()
        tail = " ON DELETE SET NULL" if (table, column) == SET_NULL else ""
        return f"FOREIGN KEY({column}) REFERENCES {target} (id){tail}"

    def inline(table: str, sql: str) -> str:
        for owner, column in _ADDED_WITH_COLUMN:
            if owner != table:
                continue
            key = re.search(
                rf",\s*CONSTRAINT (\w+) FOREIGN KEY\({column}\) REFERENCES (\w+) \(id\)", sql
            )
            if key is None:
                continue
            sql = sql[: key.start()] + sql[key.end() :]
            sql = re.sub(
                rf"\b{column} (INTEGER|BIGINT)\b",
                rf"{column} \1 CONSTRAINT {key.group(1)} REFERENCES {key.group(2)} (id)",
                sql,
                count=1,
            )
        return sql

    changed = {}
    for table, (sql, _, _) in sorted(tables.items()):
        new = inline(table, _SQLITE_TENANT_FK.sub(partial(single, table), sql))
        if new != sql:
            changed[table] = new
    _sqlite_rewrite(bind, changed)
    for (name,) in bind.execute(
        sa.text(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE 'tk\\_%' ESCAPE '\\'"
        )
    ).all():
        op.execute(f"DROP INDEX {name}")


# Unique keys of document lines, which a distributed table needs to hold tenant_id.
LINE_KEYS = (
    ("stock_transfer_lines", ("transfer_id", "product_id")),
    ("stock_count_lines", ("count_id", "product_id")),
    ("stock_count_lots", ("count_id", "lot_id")),
)


def _line_keys(*, up: bool) -> None:
    """Add tenant_id to (or take it out of) the document lines' unique keys.

    Nothing refers to these tables, so SQLite's batch rebuild of them drops no other rows.
    """
    for table, columns in LINE_KEYS:
        old, new = list(columns), [*columns, "tenant_id"]
        if not up:
            old, new = new, old
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_{'_'.join(old)}", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_{'_'.join(new)}", new)


def upgrade() -> None:
    _auth_upgrade()
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade_keys()
    else:
        _sqlite_upgrade_keys()
    _line_keys(up=True)


def downgrade() -> None:
    _line_keys(up=False)
    if op.get_bind().dialect.name == "postgresql":
        _pg_downgrade_keys()
    else:
        _sqlite_downgrade_keys()
    _auth_downgrade()
