"""offer signals of the page (price, add-to-cart or inquiry control, seller, schema.org Offer) on snapshots

Revision ID: 0009_offer_signals
Revises: 0008_console_users
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_offer_signals"
down_revision = "0008_console_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "offer_signals",
                sa.JSON(),
                nullable=True,
                comment="page evidence of an offer: price, add_to_cart, inquiry, seller, "
                "schema_offer (booleans); null = unknown",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_column("offer_signals")
