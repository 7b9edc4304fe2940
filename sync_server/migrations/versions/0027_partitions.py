"""storage: range-partition the large tables on PostgreSQL; the feed's retention floor

Revision ID: 0027_partitions
Revises: 0026_product_last_day

On PostgreSQL, sale_lines, stock_movements and change_feed become tables partitioned by
RANGE (id) (see sync_server/partitions.py): each is rebuilt in place — a partitioned copy
with the same columns, defaults and sequence, its rows moved, the names swapped, and its
primary key, foreign keys and indexes made again from the old table's own definitions.
Ranges cover the ids already used plus two empty ones ahead, and a DEFAULT partition
catches an id past the last range. The upgrade rewrites those tables, under their locks:
on a large database it takes as long as copying them.

Each range (and the default) has its own primary key on id, and the partitioned table none:
ranges never overlap, so an id is still unique in the whole table, and pg_restore --clean
(PostgreSQL 15) cannot drop a partition's primary key inherited from its parent's, so a
backup of a parent with a primary key could not be restored over a live database. Nothing
refers to these tables by foreign key (the upgrade refuses if something does).

A unique key of a partitioned table must hold the partition column (id), so the change
feed's UNIQUE (tenant_id, seq) and the movements' UNIQUE (uuid) become one unique index per
range: the sequencer, which hands out seq under the feed head's lock, keeps seq unique
across ranges, and a movement's uuid is a fresh UUID made by the server for the ORM to
match RETURNING rows. audit_entries is not partitioned: its UNIQUE (tenant_id, seq) and
(tenant_id, record_mac) are part of the chain's tamper evidence, and per-range uniqueness
would weaken them.

feed_floors (both engines) records, per tenant, the highest seq that retention dropped: a
till whose cursor is below it is sent back to a full snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_partitions"
down_revision: str | Sequence[str] | None = "0026_product_last_day"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLES = ("change_feed", "sale_lines", "stock_movements")
WIDTH = 10_000_000
AHEAD = 2
# Unique keys without id: on PostgreSQL one unique index per range (suffix, columns).
PER_RANGE = {
    "uq_change_feed_tenant_id_seq": ("change_feed", "tenant_seq", "tenant_id, seq"),
    "uq_stock_movements_uuid": ("stock_movements", "uuid", "uuid"),
}


def _definitions(bind: sa.Connection, table: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Return the table's constraints (name, type, definition) and its other indexes."""
    constraints = [
        (name, kind, definition)
        for name, kind, definition in bind.execute(
            sa.text(
                "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u', 'f', 'c') "
                "ORDER BY contype = 'p' DESC, conname"
            ),
            {"t": table},
        )
    ]
    indexes = list(
        bind.execute(
            sa.text(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid = CAST(:t AS regclass) AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid "
                "AND c.conrelid = i.indrelid) ORDER BY 1"
            ),
            {"t": table},
        ).scalars()
    )
    referenced = bind.scalar(
        sa.text("SELECT count(*) FROM pg_constraint WHERE confrelid = CAST(:t AS regclass)"),
        {"t": table},
    )
    if referenced:
        # Nothing points at these tables today; a foreign key added later must be made
        # again by hand here (it would have to name id, which it may).
        raise RuntimeError(f"{table} is referenced by a foreign key; rebuild it by hand")
    return constraints, indexes


def _rebuild(table: str, *, partitioned: bool) -> None:
    bind = op.get_bind()
    constraints, indexes = _definitions(bind, table)
    sequence = bind.scalar(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
    top = bind.scalar(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}"))
    last = bind.scalar(sa.text(f"SELECT last_value FROM {sequence}"))
    new = f"{table}__new"
    op.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    tail = " PARTITION BY RANGE (id)" if partitioned else ""
    op.execute(f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS INCLUDING STORAGE){tail}")
    ranges: list[tuple[str, int]] = []
    if partitioned:
        newest = max(int(top), int(last or 0))
        low = 0
        while low <= newest + AHEAD * WIDTH:
            name = f"{table}_from_{low}"
            op.execute(
                f"CREATE TABLE {name} PARTITION OF {new} FOR VALUES FROM ({low}) TO ({low + WIDTH})"
            )
            ranges.append((name, low))
            low += WIDTH
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {new} DEFAULT")
        ranges.append((f"{table}_default", -1))
    op.execute(f"INSERT INTO {new} SELECT * FROM {table}")
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {new}.id")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {new} RENAME TO {table}")
    for name, kind, definition in constraints:
        if partitioned and (name in PER_RANGE or kind == "p"):
            continue  # per range, below
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    if partitioned:
        for name, _low in ranges:
            op.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_pkey PRIMARY KEY (id)")
    else:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id)")
    for definition in indexes:
        op.execute(definition)
    for unique, (owner, suffix, columns) in PER_RANGE.items():
        if owner != table:
            continue
        if partitioned:
            for name, _low in ranges:
                op.execute(f"CREATE UNIQUE INDEX {name}_{suffix} ON {name} ({columns})")
        else:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {unique} UNIQUE ({columns})")


def upgrade() -> None:
    op.create_table(
        "feed_floors",
        sa.Column("id", ID, nullable=False),
        sa.Column("dropped_through", sa.BigInteger(), nullable=False),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_feed_floors_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_floors")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_feed_floors_tenant_id")),
    )
    op.create_index(op.f("ix_feed_floors_tenant_id"), "feed_floors", ["tenant_id"])
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        _rebuild(table, partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            _rebuild(table, partitioned=False)
    op.drop_index(op.f("ix_feed_floors_tenant_id"), table_name="feed_floors")
    op.drop_table("feed_floors")
