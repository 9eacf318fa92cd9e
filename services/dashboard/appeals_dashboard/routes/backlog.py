"""The backlog: open clocks per agency, and the overdue ones (or one agency's)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from appeals_dashboard import respond, views
from appeals_dashboard.access import Viewer, empty, viewer
from appeals_dashboard.i18n import text
from appeals_dashboard.state import Dashboard, dashboard
from deadlines import queries

ROW_LIMIT = 200

router = APIRouter()


@router.get("/backlog", response_class=HTMLResponse)
async def backlog_page(
    request: Request,
    agency: str | None = None,
    who: Viewer = Depends(viewer),
    dash: Dashboard = Depends(dashboard),
) -> HTMLResponse:
    chosen = who.agency or empty(agency)
    now = dash.clock.now()
    async with dash.runtime.pool.acquire() as conn:
        counts = await queries.backlog_counts(conn, now, who.agency)
        expected = None
        if chosen:
            rows = await queries.agency_backlog(conn, chosen, ROW_LIMIT)
            expected = await queries.expected_breaches(conn, chosen, now)
        else:
            rows = await queries.overdue_backlog(conn, now, ROW_LIMIT)
    content = views.backlog_content(
        who.lang,
        dash.names,
        counts=counts,
        rows=rows,
        chosen=chosen,
        choose_agency=who.monitoring,
        now=now,
        expected=expected,
    )
    return respond.page(request, who, "backlog", text(who.lang, "backlog.title"), content)
