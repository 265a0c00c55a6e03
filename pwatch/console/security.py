"""The console's security pieces: response headers, CSRF tokens, login rate limits, the secret.

Sessions are Starlette's signed cookies (itsdangerous, keyed by `console_secret`); each session
carries its own CSRF token, checked on every POST with a constant-time comparison.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections import defaultdict, deque

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request

from precursor_watch.errors import ConfigError

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
# The archived page is the marketplace's own HTML: nothing in it may run or load, and only the
# console's own case page may frame it.
ARCHIVE_CSP = "sandbox; default-src 'none'; frame-ancestors 'self'"
MIN_SECRET_LENGTH = 32


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        archived = response.headers.get("x-pwatch-archived") == "1"
        if archived:
            del response.headers["x-pwatch-archived"]
        response.headers["Content-Security-Policy"] = ARCHIVE_CSP if archived else PAGE_CSP
        response.headers["X-Frame-Options"] = "SAMEORIGIN" if archived else "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def session_secret(configured: str, host: str) -> str:
    """The key that signs session cookies: the configured one, or on loopback a random one per process."""
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise ConfigError(f"setting console_secret: must be at least {MIN_SECRET_LENGTH} characters")
        return configured
    if not is_loopback(host):
        raise ConfigError(
            f"pwatch console --host {host}: binding beyond loopback needs the console_secret setting "
            "(PWATCH_CONSOLE_SECRET, at least 32 random characters); there is no default"
        )
    return secrets.token_urlsafe(48)


def csrf_token(session: dict) -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(session: dict, sent: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and sent) and hmac.compare_digest(str(expected).encode(), str(sent).encode())


class LoginLimiter:
    """At most `limit` failed logins per user name and per client address within `window` seconds."""

    def __init__(self, limit: int = 5, window: float = 900.0):
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, name: str, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.limit for k in (f"user:{name}", f"addr:{client}"))

    def failed(self, name: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"user:{name}", f"addr:{client}"):
                self._recent(key, now).append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{name}", None)
