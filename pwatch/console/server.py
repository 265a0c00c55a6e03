"""`pwatch console`: check the bind address and the secret, then serve the app with uvicorn."""

from __future__ import annotations

import logging

from precursor_watch.database import require_database
from precursor_watch.settings import Settings

log = logging.getLogger("precursor_watch.console")


def build(settings: Settings, host: str = "127.0.0.1"):
    """The console application for `settings`, refusing a non-loopback host without a secret."""
    from precursor_watch.console.app import create_app
    from precursor_watch.console.security import session_secret
    from precursor_watch.storage.db import make_engine

    secret = session_secret(settings.console_secret, host)  # before anything else: a refusal is one line
    require_database(settings)
    return create_app(settings, make_engine(settings.db_url), secret)


def serve(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    app = build(settings, host)
    log.info("review console on http://%s:%d/", host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)
    return 0
