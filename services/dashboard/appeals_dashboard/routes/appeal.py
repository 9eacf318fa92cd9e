"""One appeal: its facts, its clocks per hop, the time at each hop and its timeline."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from appeals_dashboard import respond, views
from appeals_dashboard.access import Viewer, viewer
from appeals_dashboard.i18n import text
from appeals_dashboard.state import Dashboard, dashboard
from appeals_dashboard.views import AlertView
from deadlines import queries

router = APIRouter()


@router.get("/appeals/{appeal_id}", response_class=HTMLResponse)
async def appeal_page(
    request: Request,
    appeal_id: uuid.UUID,
    who: Viewer = Depends(viewer),
    dash: Dashboard = Depends(dashboard),
) -> HTMLResponse:
    async with dash.runtime.pool.acquire() as conn:
        history = await queries.appeal_history(conn, appeal_id)
        table = await queries.hop_table(conn, appeal_id, dash.ctx.law.calendar, dash.clock.now())
    own_hops = {c.hop for c in history.clocks if who.agency is None or c.agency == who.agency}
    if not own_hops:
        # The same answer for "absent" and "not yours": ids are no oracle.
        return respond.error(request, who, 404, "appeal.none")
    clocks = [c for c in history.clocks if c.hop in own_hops]
    content = views.appeal_content(
        who.lang,
        dash.names,
        clocks=clocks,
        alerts=[AlertView.from_record(a) for a in history.alerts if a.hop in own_hops],
        redirects=[r for r in history.redirects if r.hop in own_hops],
        answers=[a for a in history.answers if who.agency is None or a.agency == who.agency],
        hops=[h for h in table.hops if h.hop in own_hops] if table else [],
        # The appeal's total only beside all of its hops (an agency sees its own).
        total=table.working_days if table and who.agency is None else None,
        now=dash.clock.now(),
    )
    title = f"{text(who.lang, 'appeal.title')} {history.clocks[0].registration_number}"
    return respond.page(request, who, "appeal", title, content)
