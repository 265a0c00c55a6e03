"""crawl_runs.discovery: how a crawl found its listings (search, full, sweep) and what search reached

Revision ID: 0013_discovery
Revises: 0012_evidence_offsets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_discovery"
down_revision = "0012_evidence_offsets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "discovery",
                sa.JSON(),
                nullable=True,
                comment="how the crawl found listings: {'mode': search|full|sweep, 'queries', 'capped', "
                "'search_keys' (sweep: listing keys search also reached)}; null = before discovery modes",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("discovery")
