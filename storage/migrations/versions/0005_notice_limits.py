"""notice delivery status and failure reason; automated review decisions

Revision ID: 0005_notice_limits
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_notice_limits"
down_revision = "0004_detection_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.String(length=16),
                server_default="pending",
                nullable=False,
                comment="pending | sent | failed (failed ones are re-sent on a later run)",
            )
        )
        batch_op.add_column(
            sa.Column("failure", sa.Text(), nullable=True, comment="why the last delivery attempt failed, in one line")
        )
    op.execute("UPDATE notices SET status = 'sent' WHERE ticket IS NOT NULL")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "automated",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
                comment="decided by a policy (demo auto-confirm), not by a person",
            )
        )
    # decisions the demo auto-confirm policy recorded before this column existed
    op.execute(
        "UPDATE reviews SET automated = true WHERE reviewer = 'auto-confirm' AND note = 'demo auto-confirm policy'"
    )


def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_column("automated")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("failure")
        batch_op.drop_column("status")
