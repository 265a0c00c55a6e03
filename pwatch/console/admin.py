"""User management pages, for admins only."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from precursor_watch.console.passwords import hash_password, password_problem
from precursor_watch.console.web import ADMINS, redirect, render, require_post, require_user, state_of
from precursor_watch.storage.errors import StorageError
from precursor_watch.storage.users import ROLES, add_user, list_users, set_disabled


def register(app: FastAPI) -> None:
    app.add_api_route("/users", users_page, methods=["GET"])
    app.add_api_route("/users/add", users_add, methods=["POST"])
    app.add_api_route("/users/disable", users_disable, methods=["POST"])


def users_page(request: Request) -> Response:
    user = require_user(request, ADMINS)
    with Session(state_of(request).engine) as session:
        users = list_users(session)
    return render(request, "users.html", user=user, users=users, roles=ROLES)


async def users_add(request: Request) -> Response:
    _, form = await require_post(request, ADMINS)
    name, role, password = str(form.get("name") or ""), str(form.get("role") or ""), str(form.get("password") or "")
    problem = password_problem(password)
    if problem:
        request.session["flash"] = problem
        return redirect("/users")
    with state_of(request).write_lock, Session(state_of(request).engine) as session, session.begin():
        try:
            add_user(session, name, role, hash_password(password), dt.datetime.now(dt.UTC))
            request.session["flash"] = f"user {name} added as {role}"
        except StorageError as exc:
            request.session["flash"] = str(exc)
    return redirect("/users")


async def users_disable(request: Request) -> Response:
    admin, form = await require_post(request, ADMINS)
    name = str(form.get("name") or "")
    if name == admin.name:
        request.session["flash"] = "you cannot disable yourself"
        return redirect("/users")
    with state_of(request).write_lock, Session(state_of(request).engine) as session, session.begin():
        try:
            set_disabled(session, name)
            request.session["flash"] = f"user {name} disabled"
        except StorageError as exc:
            request.session["flash"] = str(exc)
    return redirect("/users")
