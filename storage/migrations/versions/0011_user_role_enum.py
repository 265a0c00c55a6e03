"""typed user role: a CHECK constraint on users.role (analyst | auditor | admin)

Revision ID: 0011_user_role_enum
Revises: 0010_drop_location
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_user_role_enum"
down_revision = "0010_drop_location"
branch_labels = None
depends_on = None

# Frozen copy of storage.kinds.UserRole as of this revision (see 0006_typed_kinds for why).
ALLOWED: dict[str, dict[str, tuple[str, ...]]] = {
    "users": {"role": ("analyst", "auditor", "admin")},
}


def _refuse_unknown_roles(allowed: tuple[str, ...]) -> None:
    """Stop, naming the users, before a stored role outside the set breaks the constraint halfway."""
    users = sa.table("users", sa.column("name"), sa.column("role"))
    bad = op.get_bind().execute(sa.select(users.c.name, users.c.role).where(users.c.role.not_in(allowed))).all()
    if bad:
        shown = ", ".join(f"{name!r} has role {role!r}" for name, role in bad[:10])
        raise RuntimeError(f"users.role: {len(bad)} user(s) with a role outside {', '.join(allowed)}: {shown}")


def upgrade() -> None:
    allowed = ALLOWED["users"]["role"]
    _refuse_unknown_roles(allowed)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_users_role"), sa.column("role").in_(allowed))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
