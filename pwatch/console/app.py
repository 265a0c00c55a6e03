"""The review console: a FastAPI application over the tracking database.

Server-rendered pages (Jinja2, autoescaped; every listing string passes `visible_controls` so
bidi overrides and control characters show as inert markers). Reads go through `storage` and
`reports.queries`; decisions go through the review code `pwatch review confirm|dismiss` uses.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware

from precursor_watch.console import routes
from precursor_watch.console.security import SecurityHeaders
from precursor_watch.console.web import (
    HERE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    ConsoleState,
    Forbidden,
    NeedLogin,
    make_templates,
    redirect,
    with_param,
)
from precursor_watch.settings import Settings


def create_app(settings: Settings, engine: Engine, secret: str) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = ConsoleState(settings, engine)
    app.state.templates = make_templates()
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=False,
    )
    app.add_middleware(SecurityHeaders)  # added last = outermost: covers every response, errors included
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(NeedLogin)
    async def _need_login(request: Request, _exc: NeedLogin) -> Response:
        if request.method == "GET":
            return redirect(with_param("/login", next=request.url.path))
        return Response("login required\n", status_code=401, media_type="text/plain")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return Response(f"forbidden: {exc}\n", status_code=403, media_type="text/plain")

    routes.register(app)
    return app
