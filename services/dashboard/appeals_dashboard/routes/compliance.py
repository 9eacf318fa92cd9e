"""The compliance page (a period beside another, ranked worst first) and its CSV files."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from appeals_dashboard import report, respond, views
from appeals_dashboard.access import Viewer, viewer
from appeals_dashboard.exports import csv_filename, table_csv
from appeals_dashboard.i18n import text
from appeals_dashboard.state import PREFIX, Dashboard, dashboard
from deadlines.queries import local_day, period_containing

TABLES = ("district", "agency", "sector", "level", "locality")

router = APIRouter()


def choice_of(dash: Dashboard, period: str | None, compare: str | None) -> report.Choice | None:
    """The periods asked for; None for a label that is no month, quarter or year."""
    try:
        return report.choose(period, compare, local_day(dash.clock.now()))
    except ValueError:
        return None


async def tables_for(
    dash: Dashboard, who: Viewer, choice: report.Choice, wanted: tuple[str, ...]
) -> dict[str, report.Table]:
    figuring = report.Figuring(
        dash.runtime, dash.clock.now(), dash.ctx.reference, min_sample=dash.settings.min_sample
    )
    return await figuring.tables(wanted, choice, agency=who.agency)


@router.get("/compliance", response_class=HTMLResponse)
async def compliance_page(
    request: Request,
    period: str | None = None,
    compare: str | None = None,
    trend: str | None = None,
    who: Viewer = Depends(viewer),
    dash: Dashboard = Depends(dashboard),
) -> HTMLResponse:
    choice = choice_of(dash, period, compare)
    # An agency sees its own trend only, whatever the link asks for.
    scope = (
        report.Scope("agency", who.agency)
        if who.agency
        else report.parse_scope(trend, dash.ctx.reference)
    )
    if choice is None or scope is None:
        return respond.error(request, who, 400, "error.bad_request")
    today = local_day(dash.clock.now())
    wanted = ("agency",) if who.agency else ("all", *TABLES)
    tables, trend_figures = await asyncio.gather(
        tables_for(dash, who, choice, wanted),
        report.trend(
            dash.runtime, dash.ctx.reference, scope, today, min_sample=dash.settings.min_sample
        ),
    )
    totals = tables.pop(wanted[0]) if not who.agency else tables["agency"]
    query = urlencode({"period": choice.period.label, "compare": choice.compare})
    content = views.compliance_content(
        who.lang,
        dash.names,
        choice=choice,
        periods=report.recent_periods(today),
        total=totals,
        tables=tables,
        csv_urls={by: f"{PREFIX}/compliance/{by}.csv?{query}" for by in tables},
        agency_view=who.agency is not None,
        min_sample=dash.settings.min_sample,
        trend=trend_figures,
        trend_options=(
            []
            if who.agency
            else views.trend_options(who.lang, dash.names, report.districts(dash.ctx.reference))
        ),
        quick=views.quick_comparisons(who.lang, choice, period_containing(today, "quarter")),
    )
    return respond.page(request, who, "compliance", text(who.lang, "compliance.title"), content)


@router.get("/compliance/{by}.csv")
async def compliance_csv(
    request: Request,
    by: str,
    period: str | None = None,
    compare: str | None = None,
    who: Viewer = Depends(viewer),
    dash: Dashboard = Depends(dashboard),
) -> Response:
    choice = choice_of(dash, period, compare)
    if choice is None or by not in TABLES:
        return respond.error(request, who, 400 if choice is None else 404, "error.bad_request")
    if who.agency and by != "agency":
        return respond.error(request, who, 403, "error.forbidden")
    table = (await tables_for(dash, who, choice, (by,)))[by]
    body = table_csv(table, lambda key: dash.names.of(by, who.lang, key))
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{csv_filename(table)}"',
            "Cache-Control": "no-store",
        },
    )
