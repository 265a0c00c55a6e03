"""detection failures

Revision ID: 0004_detection_failures
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_detection_failures"
down_revision = "0003_evidence_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detection_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("snapshot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("failed_on", sa.Date(), nullable=False, comment="logical date of the detect run"),
        sa.Column("reason", sa.Text(), nullable=False, comment="the exception, as text"),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["snapshots.id"],
            name=op.f("fk_detection_failures_snapshot_id_snapshots"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_failures")),
        sa.UniqueConstraint(
            "snapshot_id",
            "model_version",
            "failed_on",
            name=op.f("uq_detection_failures_snapshot_id_model_version_failed_on"),
        ),
    )


def downgrade() -> None:
    op.drop_table("detection_failures")
