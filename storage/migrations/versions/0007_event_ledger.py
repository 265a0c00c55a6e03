"""event ledger: the Merkle log's leaves and its signed tree heads

Revision ID: 0007_event_ledger
Revises: 0005_notice_limits

Existing events get no leaves here: the first sealing after the upgrade (the end of the next daily
run) logs every event without a leaf in id order, and its head records the log from then on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_event_ledger"
down_revision = "0006_typed_kinds"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_leaves",
        sa.Column(
            "leaf_index", BIG_ID, autoincrement=False, nullable=False, comment="0-based position in append order"
        ),
        sa.Column("event_id", BIG_ID, nullable=False, comment="events.id of the logged event"),
        sa.Column(
            "leaf_hash", sa.String(length=64), nullable=False, comment="RFC 9162 leaf hash: SHA-256(0x00 || leaf_data)"
        ),
        sa.Column("leaf_data", sa.Text(), nullable=False, comment="the event's canonical encoding when it was logged"),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_ledger_leaves")),
        sa.UniqueConstraint("event_id", name=op.f("uq_ledger_leaves_event_id")),
    )
    op.create_table(
        "ledger_heads",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("head_date", sa.Date(), nullable=False, comment="logical date of the run that sealed the log"),
        sa.Column("tree_size", BIG_ID, nullable=False, comment="leaves covered"),
        sa.Column(
            "root_hash",
            sa.String(length=64),
            nullable=False,
            comment="Merkle tree hash of the first tree_size leaves, hex",
        ),
        sa.Column("key_id", sa.String(length=64), nullable=False, comment="SHA-256 of the raw Ed25519 public key, hex"),
        sa.Column(
            "signature", sa.String(length=128), nullable=False, comment="Ed25519 signature of the head's statement, hex"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_heads")),
        sa.UniqueConstraint("head_date", "tree_size", name=op.f("uq_ledger_heads_head_date_tree_size")),
    )


def downgrade() -> None:
    op.drop_table("ledger_heads")
    op.drop_table("ledger_leaves")
