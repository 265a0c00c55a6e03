"""evidence records: WARC file, record id and target URI next to every cited payload hash

Revision ID: 0003_evidence_records
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_evidence_records"
down_revision = "0002_ingest_quarantine"
branch_labels = None
depends_on = None

# (table, column, comment); every column is nullable, so existing rows stay valid as they are.
COLUMNS = (
    ("observations", "evidence_uri", "WARC-Target-URI of the cited record (the final URL of a live page)"),
    ("snapshots", "evidence_file", "WARC file of that page, relative to the data dir"),
    ("snapshots", "evidence_record", "WARC-Record-ID of that page"),
    ("snapshots", "evidence_uri", "WARC-Target-URI of that page"),
    ("events", "evidence_file", "WARC file of that page, relative to the data dir"),
    ("events", "evidence_record", "WARC-Record-ID of that page: tells identical bodies apart"),
    ("events", "evidence_uri", "WARC-Target-URI of that page"),
)


# An existing event that points at its observation gets that observation's record, but only
# while the observation still cites the same payload (a rerun of the date overwrites it in place).
BACKFILL_EVENTS = """
UPDATE events SET
  evidence_file = (SELECT o.evidence_file FROM observations o WHERE o.id = events.observation_id),
  evidence_record = (SELECT o.evidence_record FROM observations o WHERE o.id = events.observation_id)
WHERE observation_id IS NOT NULL AND evidence_sha256 IS NOT NULL AND evidence_record IS NULL
  AND evidence_sha256 = (SELECT o.evidence_sha256 FROM observations o WHERE o.id = events.observation_id)
"""


def upgrade() -> None:
    for table, column, comment in COLUMNS:
        op.add_column(table, sa.Column(column, sa.Text(), nullable=True, comment=comment))
    op.execute(BACKFILL_EVENTS)


def downgrade() -> None:
    for table, column, _comment in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
