"""console users; queue index on listings.review

Revision ID: 0008_console_users
Revises: 0007_event_ledger
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from precursor_watch.storage.types import UTCDateTime

revision = "0008_console_users"
down_revision = "0007_event_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column(
            "name", sa.String(length=200), nullable=False, comment="login name, also the reviewer name of decisions"
        ),
        sa.Column("role", sa.String(length=16), nullable=False, comment="analyst | auditor | admin"),
        sa.Column(
            "password_hash", sa.Text(), nullable=False, comment="scrypt$n$r$p$salt$hash (hex); never the password"
        ),
        sa.Column(
            "disabled", sa.Boolean(), server_default=sa.false(), nullable=False, comment="a disabled user cannot log in"
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.create_index("ix_listings_review", ["review", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index("ix_listings_review")
    op.drop_table("users")
