"""quarantine kind layout_drift: a whole listing page whose required fields (per its platform
file) came out empty is kept as a quarantined sighting of this kind

Revision ID: 0014_platform_files
Revises: 0013_discovery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_platform_files"
down_revision = "0013_discovery"
branch_labels = None
depends_on = None

# Frozen copy of storage.kinds.QuarantineKind as of this revision (see 0006_typed_kinds).
ALLOWED: dict[str, dict[str, tuple[str, ...]]] = {
    "quarantine": {
        "kind": ("invalid_field", "too_long", "extraction", "storage_error", "layout_drift"),
    },
}
_BEFORE = ("invalid_field", "too_long", "extraction", "storage_error")


def _replace(allowed: tuple[str, ...]) -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_quarantine_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_quarantine_kind"), sa.column("kind").in_(allowed))
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=24), existing_nullable=False, comment=" | ".join(allowed)
        )


def upgrade() -> None:
    _replace(ALLOWED["quarantine"]["kind"])


def downgrade() -> None:
    # Drifted sightings become extraction failures, the nearest kind the older schema knows.
    op.execute("UPDATE quarantine SET kind = 'extraction' WHERE kind = 'layout_drift'")
    _replace(_BEFORE)
