"""ingest quarantine and columns wide enough for page text

Revision ID: 0002_ingest_quarantine
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ingest_quarantine"
down_revision = "0001"
branch_labels = None
depends_on = None

BigID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# (table, column, old length, new length, comment)
WIDENED = (
    ("accounts", "account_key", 200, 512, "the platform's own seller id"),
    ("accounts", "name", 200, 512, None),
    ("stores", "store_key", 200, 512, "the platform's own store id"),
    ("snapshots", "lang", 8, 35, "BCP 47 tag as declared, e.g. zh-Hans-CN"),
    ("snapshots", "price", 40, 200, "as shown on the page"),
    ("snapshots", "currency", 8, 32, "as shown on the page"),
    ("snapshots", "seller_name", 200, 512, None),
    ("snapshots", "location", 200, 512, None),
    ("snapshots", "posted_at", 40, 200, "as shown on the page"),
)


def _alter(old_new: int) -> None:
    by_table: dict[str, list] = {}
    for table, column, old, new, comment in WIDENED:
        by_table.setdefault(table, []).append((column, old, new, comment))
    for table, columns in by_table.items():
        with op.batch_alter_table(table) as batch:
            for column, old, new, comment in columns:
                length_from, length_to = (old, new) if old_new else (new, old)
                batch.alter_column(
                    column,
                    existing_type=sa.String(length_from),
                    type_=sa.String(length_to),
                    comment=comment if old_new or column.endswith("_key") else None,
                    existing_nullable=column not in ("account_key", "store_key"),
                )


def upgrade() -> None:
    _alter(1)
    op.create_table(
        "quarantine",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("crawl_run_id", BigID, nullable=False),
        sa.Column("platform_id", BigID, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("listing_key", sa.Text(), nullable=True),
        sa.Column(
            "kind",
            sa.String(length=24),
            nullable=False,
            comment="invalid_field | too_long | extraction | storage_error",
        ),
        sa.Column("field", sa.String(length=40), nullable=True, comment="the item field at fault, when one is"),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence_file", sa.Text(), nullable=True, comment="WARC file relative to the data dir"),
        sa.Column("evidence_record", sa.Text(), nullable=True, comment="WARC-Record-ID"),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True, comment="SHA-256 of the HTTP payload"),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"], ["crawl_runs.id"], name=op.f("fk_quarantine_crawl_run_id_crawl_runs"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_quarantine_platform_id_platforms"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
        sa.UniqueConstraint("crawl_run_id", "url", name=op.f("uq_quarantine_crawl_run_id_url")),
    )


def downgrade() -> None:
    op.drop_table("quarantine")
    _alter(0)
