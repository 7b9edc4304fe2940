"""audit log: keyed chain (HMAC), record MACs for unsealed entries, signed heads

Revision ID: 0016_audit_keys
Revises: 0015_token_version

The key lives outside the database, so this migration cannot sign anything: it records
where each existing chain ends (keyed_from_seq) and which unsealed entries were written
before the key (legacy_max_id). Entries up to there keep verifying as plain SHA-256
links; the server signs each head the first time it starts with its audit key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_audit_keys"
down_revision: str | Sequence[str] | None = "0015_token_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("nonce", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("record_mac", sa.String(length=64), nullable=True))
    # A separate batch: SQLite's table copy cannot add a column and constrain it at once.
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_audit_entries_tenant_id_record_mac"), ["tenant_id", "record_mac"]
        )
    with op.batch_alter_table("audit_heads", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("keyed_from_seq", sa.BigInteger(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("legacy_max_id", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("head_mac", sa.String(length=64), nullable=True))
    # Everything already in a chain, and every entry already written, predates the key.
    op.execute(
        "UPDATE audit_heads SET keyed_from_seq = last_seq + 1, legacy_max_id = COALESCE("
        "(SELECT MAX(e.id) FROM audit_entries e WHERE e.tenant_id = audit_heads.tenant_id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_heads", schema=None) as batch_op:
        batch_op.drop_column("head_mac")
        batch_op.drop_column("key_id")
        batch_op.drop_column("legacy_max_id")
        batch_op.drop_column("keyed_from_seq")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_audit_entries_tenant_id_record_mac"), type_="unique"
        )
        batch_op.drop_column("record_mac")
        batch_op.drop_column("nonce")
        batch_op.drop_column("key_id")
