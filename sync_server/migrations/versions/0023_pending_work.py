"""partial indexes on unnumbered changes and unsealed audit entries, for the keeper

Revision ID: 0023_pending_work
Revises: 0022_report_rollups

The background keeper asks once a round which tenants have changes waiting for a number or
audit entries waiting for a seal; these indexes hold only those rows, so the question costs
the same with one tenant or thousands, and with a short feed or a long one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_pending_work"
down_revision: str | Sequence[str] | None = "0022_report_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("seq IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_change_feed_unnumbered",
        "change_feed",
        ["tenant_id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_audit_entries_unsealed",
        "audit_entries",
        ["tenant_id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_entries_unsealed", table_name="audit_entries")
    op.drop_index("ix_change_feed_unnumbered", table_name="change_feed")
