"""Console users: who may log in to the review console and in which role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.storage.errors import StorageError
from precursor_watch.storage.kinds import UserRole
from precursor_watch.storage.models import User

ROLES = tuple(UserRole)
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: UserRole
    disabled: bool
    created_at: dt.datetime


def _row(user: User) -> UserRow:
    return UserRow(user.id, user.name, user.role, user.disabled, user.created_at)


def name_problem(name: str) -> str | None:
    if not name or len(name) > 64 or not set(name) <= NAME_CHARS:
        return f"user name must be 1-64 letters, digits, '.', '_' or '-', got {name!r}"
    return None


def add_user(session: Session, name: str, role: str, password_hash: str, at: dt.datetime) -> UserRow:
    problem = name_problem(name)
    if problem:
        raise StorageError(problem)
    if role not in ROLES:
        raise StorageError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise StorageError(f"user {name!r} already exists")
    user = User(name=name, role=UserRole(role), password_hash=password_hash, disabled=False, created_at=at)
    session.add(user)
    session.flush()
    return _row(user)


def list_users(session: Session) -> list[UserRow]:
    return [_row(u) for u in session.scalars(select(User).order_by(User.name))]


def find_user(session: Session, name: str) -> tuple[UserRow, str] | None:
    """The user and their stored password hash, or None."""
    user = session.scalar(select(User).where(User.name == name))
    return (_row(user), user.password_hash) if user else None


def get_user(session: Session, user_id: int) -> UserRow | None:
    user = session.get(User, user_id)
    return _row(user) if user else None


def set_disabled(session: Session, name: str, disabled: bool = True) -> UserRow:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise StorageError(f"no user named {name!r}")
    user.disabled = disabled
    session.flush()
    return _row(user)
