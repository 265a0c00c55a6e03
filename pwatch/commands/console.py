"""`pwatch users add|list|disable` (console accounts) and `pwatch console` (the review console)."""

from __future__ import annotations

import datetime as dt
import getpass
import sys

from precursor_watch.commands.reporting import _leaf_common, _session
from precursor_watch.errors import ConfigError, StateError
from precursor_watch.settings import Settings
from precursor_watch.storage.kinds import UserRole

ROLES = [role.value for role in UserRole]


def register(subparsers, common) -> None:
    leaf = _leaf_common()
    users = subparsers.add_parser(
        "users",
        parents=[common],
        help="console users and their roles",
        description="Add, list or disable users of the review console. Analysts decide, "
        "auditors read everything and decide nothing, admins manage users.",
    )
    actions = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[leaf], help="add a user; the password is read from stdin")
    add.add_argument("name", help="login name (letters, digits, '.', '_', '-'); also the reviewer name of decisions")
    add.add_argument("--role", required=True, choices=ROLES)
    add.set_defaults(handler=cmd_users_add)
    listing = actions.add_parser("list", parents=[leaf], help="users with role and status (never passwords)")
    listing.set_defaults(handler=cmd_users_list)
    disable = actions.add_parser("disable", parents=[leaf], help="stop a user from logging in (their decisions stay)")
    disable.add_argument("name")
    disable.set_defaults(handler=cmd_users_disable)

    console = subparsers.add_parser(
        "console",
        parents=[common],
        help="the analyst review console in the browser",
        description="Serve the review console (queue, case pages, decisions) over HTTP. "
        "Anything but loopback needs the console_secret setting.",
    )
    console.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    console.add_argument("--port", type=int, default=8471, help="TCP port (default 8471)")
    console.set_defaults(handler=cmd_console)


def _read_password() -> str:
    """One line from stdin (a pipe), or asked twice without echo on a terminal."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ConfigError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users_add(args, settings: Settings) -> int:
    from precursor_watch.console.passwords import hash_password, password_problem
    from precursor_watch.storage.errors import StorageError
    from precursor_watch.storage.users import add_user

    password = _read_password()
    problem = password_problem(password)
    if problem:
        raise ConfigError(problem)
    with _session(settings, write=True) as session:
        try:
            user = add_user(session, args.name, args.role, hash_password(password), dt.datetime.now(dt.UTC))
        except StorageError as exc:
            raise StateError(str(exc)) from None
    print(f"user {user.name} added as {user.role}")
    return 0


def cmd_users_list(args, settings: Settings) -> int:
    from precursor_watch.storage.users import list_users

    with _session(settings) as session:
        for user in list_users(session):
            state = "disabled" if user.disabled else "active"
            print(f"{user.name:<24} {user.role:<8} {state:<8} since {user.created_at:%Y-%m-%d}")
    return 0


def cmd_users_disable(args, settings: Settings) -> int:
    from precursor_watch.storage.errors import StorageError
    from precursor_watch.storage.users import set_disabled

    with _session(settings, write=True) as session:
        try:
            set_disabled(session, args.name)
        except StorageError as exc:
            raise StateError(str(exc)) from None
    print(f"user {args.name} disabled")
    return 0


def cmd_console(args, settings: Settings) -> int:
    from precursor_watch.console.server import serve

    return serve(settings, args.host, args.port)
