"""movement uuid keyed with its tenant: stock_movements unique on (tenant_id, uuid)

Revision ID: 0030_movement_uuid_key
Revises: 0029_credential_directory

A distributed database enforces a unique key only if it holds the distribution column,
tenant_id. The stock movements' uuid was the last unique key without it: it becomes
(tenant_id, uuid), like the uuid of every other document (sales, returns, shifts,
layaways). Nothing reads a movement by its uuid alone: the ORM matches the rows of one
insert by it (fresh uuids, distinct within the statement), and the audit trail names a
movement by it within its tenant.

* PostgreSQL: stock_movements is partitioned by id (0027_partitions), so the key is one
  unique index per range and on the default partition, as before; each range's (uuid) index
  is replaced by a (tenant_id, uuid) one, named <range>_tenant_uuid (the name
  sync_server/partitions.py gives the ranges it adds later). Building an index reads its
  range under a SHARE lock: writes to the movements wait while the upgrade runs.
* SQLite: a unique key is part of its table, so stock_movements is rebuilt (a copy of the
  table; nothing refers to it by foreign key).

The downgrade puts (uuid) back and refuses, changing nothing, while two businesses hold the
same uuid (the upgraded schema allows it; the old one cannot hold it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_movement_uuid_key"
down_revision: str | Sequence[str] | None = "0029_credential_directory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "stock_movements"
OLD = ("uuid", ["uuid"])  # (per-range index suffix, columns)
NEW = ("tenant_uuid", ["tenant_id", "uuid"])


def _pg_unique_indexes(bind: sa.Connection) -> list[tuple[str, str, list[str]]]:
    """Return (partition, index, columns) of every unique non-key index on the ranges."""
    rows = bind.execute(
        sa.text(
            "SELECT c.relname, x.relname, "
            "array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY u(n, k) "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.n ORDER BY u.k) "
            "FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
            "JOIN pg_index i ON i.indrelid = c.oid JOIN pg_class x ON x.oid = i.indexrelid "
            "WHERE h.inhparent = CAST(:t AS regclass) AND i.indisunique "
            "AND NOT i.indisprimary ORDER BY 1, 2"
        ),
        {"t": TABLE},
    ).all()
    return [(part, index, list(columns)) for part, index, columns in rows]


def _pg_swap(*, up: bool) -> None:
    """Replace each range's unique uuid index by the other kind."""
    (_, old_cols), (suffix, new_cols) = (OLD, NEW) if up else (NEW, OLD)
    bind = op.get_bind()
    ranges = sorted(
        bind.execute(
            sa.text(
                "SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
                "WHERE h.inhparent = CAST(:t AS regclass)"
            ),
            {"t": TABLE},
        ).scalars()
    )
    if not ranges:
        # Not partitioned (a database that never ran 0027 on PostgreSQL does not exist,
        # but the plain table's constraint is swapped all the same).
        old_name = f"uq_{TABLE}_{'_'.join(old_cols)}"
        new_name = f"uq_{TABLE}_{'_'.join(new_cols)}"
        op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {old_name}")
        op.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {new_name} UNIQUE ({', '.join(new_cols)})")
        return
    for _part, index, columns in _pg_unique_indexes(bind):
        if columns == old_cols:
            op.execute(f"DROP INDEX {index}")
    for part in ranges:
        op.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {part}_{suffix} ON {part} ({', '.join(new_cols)})"
        )


def _refuse_shared_uuids() -> None:
    """Stop the downgrade while two businesses hold one uuid (the old key cannot hold it)."""
    shared = (
        op.get_bind()
        .execute(
            sa.text(
                f"SELECT uuid FROM {TABLE} GROUP BY uuid HAVING count(*) > 1 ORDER BY uuid LIMIT 5"
            )
        )
        .scalars()
        .all()
    )
    if shared:
        raise RuntimeError(
            f"stock movements share a uuid ({', '.join(shared)}), as businesses may since "
            "this revision; the previous schema cannot hold them: mend them and downgrade again"
        )


def _sqlite_swap(*, up: bool) -> None:
    (_, old_cols), (_, new_cols) = (OLD, NEW) if up else (NEW, OLD)
    # Nothing refers to stock_movements by foreign key: the rebuild drops no other rows.
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(f"uq_{TABLE}_{'_'.join(old_cols)}", type_="unique")
        batch.create_unique_constraint(f"uq_{TABLE}_{'_'.join(new_cols)}", new_cols)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_swap(up=True)
    else:
        _sqlite_swap(up=True)


def downgrade() -> None:
    _refuse_shared_uuids()
    if op.get_bind().dialect.name == "postgresql":
        _pg_swap(up=False)
    else:
        _sqlite_swap(up=False)
