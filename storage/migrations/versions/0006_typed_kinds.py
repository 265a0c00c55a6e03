"""typed kinds: CHECK constraints on every column that holds a closed set of values

Revision ID: 0006_typed_kinds
Revises: 0005_notice_limits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_typed_kinds"
down_revision = "0005_notice_limits"
branch_labels = None
depends_on = None

_GONE_REASONS = ("not_found", "gone", "soft_removed", "redirected", "account_closed", "store_closed", "platform_closed")

# Frozen copies of the enums in storage/kinds.py as of this revision, by table and column: a
# migration must not import the models, whose sets move on. A later member is added by a later
# migration with its own copy; tests/storage/test_kinds.py checks the newest copy equals the enum.
ALLOWED: dict[str, dict[str, tuple[str, ...]]] = {
    "listings": {
        "presence": ("active", "removed"),
        "review": ("none", "flagged", "confirmed", "dismissed", "reported"),
    },
    "observations": {
        "kind": ("seen", "gone"),
        "gone_reason": _GONE_REASONS,
    },
    "reviews": {
        "decision": ("confirmed", "dismissed"),
    },
    "notices": {
        "status": ("pending", "sent", "failed"),
    },
    "relist_links": {
        "method": ("text", "contact", "account_substances"),
    },
    "events": {
        "kind": (
            "first_seen",
            "changed",
            "flagged",
            "confirmed",
            "dismissed",
            "reported",
            "removal_observed",
            "reappeared",
            "relisted_as",
            "account_closed",
            "store_closed",
            "platform_closed",
        ),
        "cause": _GONE_REASONS + ("absent",),
    },
    "quarantine": {
        "kind": ("invalid_field", "too_long", "extraction", "storage_error"),
    },
}


def constraint_name(table: str, column: str) -> str:
    """The name the models' naming convention gives the column's CHECK (ck_<table>_<column>)."""
    return f"ck_{table}_{column}"


def upgrade() -> None:
    # One batch per table: on SQLite each is a copy of the table with the constraints added.
    for table, columns in ALLOWED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, allowed in columns.items():
                batch_op.create_check_constraint(op.f(constraint_name(table, column)), sa.column(column).in_(allowed))


def downgrade() -> None:
    for table, columns in reversed(ALLOWED.items()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_constraint(op.f(constraint_name(table, column)), type_="check")
