"""evidence offsets: where each archived WARC response record starts in its file and how long it
is, and the compact range (frontier) of each signed head

Revision ID: 0012_evidence_offsets
Revises: 0011_user_role_enum

Existing rows stay valid as they are: a cited record without an offset row is found by scanning
its file (as before), and a head without a frontier makes the next sealing read the leaf hashes
once to rebuild it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_evidence_offsets"
down_revision = "0011_user_role_enum"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "warc_records",
        sa.Column("warc_file", sa.Text(), nullable=False, comment="WARC file relative to the data dir"),
        sa.Column("record_id", sa.Text(), nullable=False, comment="WARC-Record-ID of the response record"),
        sa.Column("record_offset", BIG_ID, nullable=False, comment="byte offset of its gzip member in the file"),
        sa.Column("record_length", BIG_ID, nullable=False, comment="byte length of its gzip member"),
        sa.PrimaryKeyConstraint("warc_file", "record_id", name=op.f("pk_warc_records")),
    )
    with op.batch_alter_table("ledger_heads") as batch:
        batch.add_column(
            sa.Column(
                "frontier",
                sa.Text(),
                nullable=True,
                comment="hex of the roots of the perfect subtrees of the tree at this size, largest first",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_heads") as batch:
        batch.drop_column("frontier")
    op.drop_table("warc_records")
