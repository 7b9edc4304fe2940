"""users.token_version: a password reset or a deactivation revokes every token of the user

Revision ID: 0015_token_version
Revises: 0014_feed_sequencer

An access token carries the version its user had when it was issued; raising the version
refuses every earlier token at once. Tokens issued before this column existed carry none,
which counts as version 0, so they stay valid until they expire or the user is reset.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_token_version"
down_revision: str | Sequence[str] | None = "0014_feed_sequencer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_version")
