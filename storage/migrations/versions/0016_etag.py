"""listings.etag, listings.last_modified: the validators of a listing's last live 200 answer, sent
back as `If-None-Match` / kept beside `If-Modified-Since` on conditional revisits

Revision ID: 0016_etag
Revises: 0015_check_comparisons
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_etag"
down_revision = "0015_check_comparisons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "etag",
                sa.Text(),
                nullable=True,
                comment="ETag of the last live 200 answer, as sent; null = none sent (or not seen since)",
            )
        )
        batch_op.add_column(
            sa.Column(
                "last_modified",
                sa.String(length=64),
                nullable=True,
                comment="Last-Modified of the last live 200 answer, as sent",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("last_modified")
        batch_op.drop_column("etag")
