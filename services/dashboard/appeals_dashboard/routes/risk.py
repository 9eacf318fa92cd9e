"""At risk: the open appeals most likely to breach (deadlines.risk's latest scoring pass),
riskiest first, then the fewest working days left; region-wide or one agency's (an agency
sees its own)."""

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


@router.get("/at-risk", response_class=HTMLResponse)
async def at_risk_page(
    request: Request,
    agency: str | None = None,
    who: Viewer = Depends(viewer),
    dash: Dashboard = Depends(dashboard),
) -> HTMLResponse:
    chosen = who.agency or empty(agency)
    now = dash.clock.now()
    async with dash.runtime.pool.acquire() as conn:
        rows = await queries.at_risk(conn, chosen, ROW_LIMIT)
        expected = await queries.expected_breaches(conn, chosen, now) if chosen else None
    content = views.at_risk_content(
        who.lang,
        dash.names,
        rows=rows,
        chosen=chosen,
        choose_agency=who.monitoring,
        expected=expected,
    )
    return respond.page(request, who, "at-risk", text(who.lang, "risk.title"), content)
