"""What every page of the review console shares: its state, the signed-in user, rendering, redirects.

Server-rendered pages (Jinja2, autoescaped; every listing string passes `visible_controls` so
bidi overrides and control characters show as inert markers). Reads go through `storage` and
`reports.queries`; decisions go through the review code `pwatch review confirm|dismiss` uses.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from precursor_watch.console.security import LoginLimiter, csrf_ok, csrf_token
from precursor_watch.reports.safe import visible_controls
from precursor_watch.settings import Settings
from precursor_watch.storage.users import UserRow, get_user

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "pwatch_console"
SESSION_SECONDS = 12 * 3600
DECIDERS = ("analyst",)
ADMINS = ("admin",)


@dataclass
class ConsoleState:
    settings: Settings
    engine: Engine
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    write_lock: threading.Lock = field(default_factory=threading.Lock)  # one decision batch at a time
    choices: tuple[float, dict] | None = None  # (monotonic time, filter menu values), see `filter_menus`

    def filter_menus(self, session: Session, max_age: float = 60.0) -> dict:
        """The filter menus' values (platforms, languages), re-read at most once a minute: a scan
        of every snapshot is too slow to repeat on each queue page."""
        import time

        from precursor_watch.console.queue import filter_choices

        if self.choices is None or time.monotonic() - self.choices[0] > max_age:
            self.choices = (time.monotonic(), filter_choices(session))
        return self.choices[1]


class NeedLogin(Exception):
    """No valid session: pages redirect to the login page, actions answer 401."""


class Forbidden(Exception):
    """A valid session whose role may not do this, or a POST without its CSRF token."""


def _shown(value: Any) -> Any:
    return visible_controls(value) if isinstance(value, str) else value


def make_templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        finalize=_shown,
        undefined=jinja2.StrictUndefined,
    )
    return env


def state_of(request: Request) -> ConsoleState:
    return request.app.state.console


def current_user(request: Request) -> UserRow | None:
    user_id = request.session.get("user_id")
    if not isinstance(user_id, int):
        return None
    with Session(state_of(request).engine) as session:
        user = get_user(session, user_id)
    if user is None or user.disabled:  # disabling a user ends their sessions too
        request.session.clear()
        return None
    return user


def require_user(request: Request, roles: tuple[str, ...] | None = None) -> UserRow:
    user = current_user(request)
    if user is None:
        raise NeedLogin()
    if roles is not None and user.role not in roles:
        raise Forbidden(f"role {user.role} may not do this")
    return user


async def require_post(request: Request, roles: tuple[str, ...] | None = None) -> tuple[UserRow, Any]:
    """The user of a POST and its form, after the session, role and CSRF checks."""
    user = require_user(request, None)
    form = await request.form()
    if not csrf_ok(request.session, form_text(form, "csrf_token")):
        raise Forbidden("missing or wrong CSRF token")
    if roles is not None and user.role not in roles:
        raise Forbidden(f"role {user.role} may not do this")
    return user, form


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env: jinja2.Environment = request.app.state.templates
    user = context.pop("user", None) or current_user(request)
    flash = request.session.pop("flash", None)
    html = env.get_template(template).render(user=user, csrf=csrf_token(request.session), flash=flash, **context)
    return HTMLResponse(html, status_code=status)


def form_text(form: FormData, name: str) -> str | None:
    """A text field of a posted form; None when it is absent or a file was sent in its place."""
    value = form.get(name)
    return value if isinstance(value, str) else None


def safe_next(target: str | None, default: str = "/queue") -> str:
    """A local path to go back to after a POST (never another origin)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def with_param(target: str, **params: Any) -> str:
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params]
    query += [(k, str(v)) for k, v in params.items() if v is not None]
    return parts.path + (f"?{urlencode(query)}" if query else "")


def redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)
