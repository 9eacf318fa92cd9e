"""Agency inboxes: per agency, how much of its assignment topic is unread, its oldest
unconfirmed assignment, when it last committed and whether it is stalled. The page reloads
itself (a `Refresh` header: no script), so it stays live on a monitoring screen."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from appeals_dashboard import respond, views
from appeals_dashboard.access import Viewer, viewer
from appeals_dashboard.i18n import text
from appeals_dashboard.state import Dashboard, dashboard
from deadlines import queries

REFRESH_SECONDS = 30

router = APIRouter()


@router.get("/inboxes", response_class=HTMLResponse)
async def inboxes_page(
    request: Request,
    who: Viewer = Depends(viewer),
    dash: Dashboard = Depends(dashboard),
) -> HTMLResponse:
    async with dash.runtime.pool.acquire() as conn:
        rows = await queries.inbox_states(conn, who.agency)
    content = views.inboxes_content(who.lang, dash.names, rows=rows, now=dash.clock.now())
    page = respond.page(request, who, "inboxes", text(who.lang, "inboxes.title"), content)
    page.headers["Refresh"] = str(REFRESH_SECONDS)
    return page
