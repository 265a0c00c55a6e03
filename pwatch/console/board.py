"""The notices board: every takedown notice by state (pending, sent, acknowledged, removed,
overdue) and platform, read through `storage.notices` as of the database's logical date."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from precursor_watch.console.web import render, require_user, state_of, with_param
from precursor_watch.storage.notices import BOARD_STATES, BoardNotice, notice_board
from precursor_watch.storage.reviews import logical_day

PAGE_SIZE = 100


@dataclass(frozen=True)
class BoardCounts:
    platforms: list[str]
    cells: dict[tuple[str, str], int]  # (platform, state) -> notices
    totals: dict[str, int]  # state -> notices


def counts(notices: list[BoardNotice]) -> BoardCounts:
    cells: dict[tuple[str, str], int] = {}
    totals = dict.fromkeys(BOARD_STATES, 0)
    for n in notices:
        cells[(n.platform, n.state)] = cells.get((n.platform, n.state), 0) + 1
        totals[n.state] += 1
    return BoardCounts(sorted({n.platform for n in notices}), cells, totals)


def notices_page(request: Request) -> Response:
    user = require_user(request)
    q = request.query_params
    state = q.get("state", "") if q.get("state") in BOARD_STATES else ""
    platform = q.get("platform", "")
    try:
        page = max(1, int(q.get("page") or 1))
    except ValueError:
        page = 1
    console = state_of(request)
    with Session(console.engine) as session:
        day = logical_day(session)
        notices = notice_board(session, day, int(console.settings.notice_overdue_days)) if day else []
    board = counts(notices)
    shown = [n for n in notices if (not state or n.state == state) and (not platform or n.platform == platform)]
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    here = "/notices" + (f"?{request.url.query}" if request.url.query else "")
    return render(
        request,
        "notices.html",
        user=user,
        day=day,
        board=board,
        states=BOARD_STATES,
        state=state,
        platform=platform,
        overdue_days=int(console.settings.notice_overdue_days),
        notices=shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total=len(shown),
        page=page,
        pages=pages,
        prev_url=with_param(here, page=page - 1) if page > 1 else None,
        next_url=with_param(here, page=page + 1) if page < pages else None,
    )
