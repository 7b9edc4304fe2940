"""change feed and audit log: numbered and chained after commit (nullable seq and links)

Revision ID: 0014_feed_sequencer
Revises: 0013_notification_attachments

Writers on PostgreSQL append changes and audit entries with no number; the sequencer and
the sealer fill them in later. Rows already numbered and chained keep their values, so an
existing chain still verifies.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_feed_sequencer"
down_revision: str | Sequence[str] | None = "0013_notification_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("change_feed", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=True)
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=True)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    # Number and chain everything first (stockpilot-server audit verify does): NOT NULL
    # cannot be restored over rows that wait for the sequencer or the sealer.
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
    with op.batch_alter_table("change_feed", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
