"""drop snapshots.location: no platform shows a seller location, so nothing ever filled it

Revision ID: 0010_drop_location
Revises: 0009_offer_signals
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_drop_location"
down_revision = "0009_offer_signals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_column("location")


def downgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location", sa.String(length=512), nullable=True))
