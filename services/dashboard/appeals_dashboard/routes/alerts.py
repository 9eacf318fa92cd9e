"""The live alerts page: the latest alerts, their stream (server-sent events) and
acknowledgements."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from appeals_dashboard import respond, views
from appeals_dashboard.access import Viewer, empty, same_origin, signed_in, stream_viewer, viewer
from appeals_dashboard.feed import Subscription
from appeals_dashboard.i18n import text
from appeals_dashboard.state import PREFIX, Dashboard, dashboard, verifier
from appeals_dashboard.views import AlertView
from appeals_platform.availability import http_unavailable
from deadlines import commands, queries
from deadlines.queries import AlertFilter

log = logging.getLogger(__name__)

ALERT_LIMIT = 200
HEARTBEAT_SECONDS = 15.0
# A stream ends after this long and the browser reconnects with Last-Event-ID (catching up
# from the table), so a shutting-down server never waits long for open pages.
STREAM_LIFETIME_SECONDS = 120.0
CATCH_UP_OVERLAP = timedelta(minutes=5)
COMMENT_LIMIT = 2000

router = APIRouter()


def alert_filter(
    who: Viewer,
    agency: str | None,
    locality: str | None,
    kind: str | None,
    severity: str | None,
    status: str | None,
) -> AlertFilter:
    """The filters as asked, except that an agency sees its own alerts only."""
    return AlertFilter(
        agency=who.agency or empty(agency),
        locality=empty(locality),
        kind=empty(kind),
        severity=empty(severity),
        status=empty(status) if empty(status) in views.STATUSES else None,
    )


def clean_comment(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t").strip()
    return cleaned[:COMMENT_LIMIT] or None


def sse(event: str, data: Mapping[str, Any], event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append("data: " + orjson.dumps(data).decode())
    return "\n".join(lines) + "\n\n"


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(
    request: Request,
    agency: str | None = None,
    locality: str | None = None,
    kind: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    who: Viewer = Depends(viewer),
    dash: Dashboard = Depends(dashboard),
) -> HTMLResponse:
    chosen = alert_filter(who, agency, locality, kind, severity, status)
    async with dash.runtime.pool.acquire() as conn:
        found = await queries.alerts(conn, chosen, limit=ALERT_LIMIT)
    shown = [AlertView.from_record(r) for r in found]
    query = {
        k: v
        for k, v in (
            ("agency", None if who.agency else chosen.agency),
            ("locality", chosen.locality),
            ("kind", chosen.kind),
            ("severity", chosen.severity),
            ("status", chosen.status),
            ("since", shown[0].id if shown else None),
        )
        if v
    }
    content = views.alerts_content(
        who.lang,
        dash.names,
        alerts=shown,
        chosen=chosen,
        choose_agency=who.monitoring,
        can_acknowledge=who.monitoring,
        stream=f"{PREFIX}/alerts/stream?{urlencode(query)}",
        limit=ALERT_LIMIT,
    )
    return respond.page(request, who, "alerts", text(who.lang, "alerts.title"), content)


@router.get("/alerts/stream")
async def alerts_stream(
    request: Request,
    agency: str | None = None,
    locality: str | None = None,
    kind: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    since: uuid.UUID | None = None,
    who: Viewer = Depends(stream_viewer),
    dash: Dashboard = Depends(dashboard),
) -> StreamingResponse:
    """Server-sent events: `alert` (a new row), `acknowledged` (a row's new ack cell),
    `reload` (the page fell behind). Catches up from `Last-Event-ID` or `since`."""
    chosen = alert_filter(who, agency, locality, kind, severity, status)
    last_seen = request.headers.get("last-event-id") or (str(since) if since else None)

    async def events() -> AsyncIterator[str]:
        async with dash.feed.subscribe() as subscription:
            yield "retry: 2000\n\n"
            try:
                for chunk in await catch_up(dash, chosen, last_seen, who):
                    yield chunk
                async for chunk in follow(dash, subscription, chosen, who, request):
                    yield chunk
            except Exception as exc:
                # PostgreSQL went away under an open stream: end it as streams end, not
                # cut off mid-answer; the page reconnects and hears 503 until it is back.
                if not http_unavailable(exc):
                    raise
                log.warning("alert stream ended: PostgreSQL is not available")

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def alert_event(dash: Dashboard, alert: AlertView, who: Viewer) -> str:
    row = views.alert_row(alert, who.lang, dash.names, who.monitoring)
    return sse("alert", {"id": alert.id, "html": row}, event_id=alert.id)


async def catch_up(
    dash: Dashboard, chosen: AlertFilter, last_seen: str | None, who: Viewer
) -> list[str]:
    """Alerts raised since the last one the page has (the browser drops repeats)."""
    try:
        last_id = uuid.UUID(last_seen) if last_seen else None
    except ValueError:
        last_id = None
    if last_id is None:
        return []
    async with dash.runtime.pool.acquire() as conn:
        last = await queries.alert(conn, last_id)
        if last is None:
            return []
        # Concurrent tickers may commit a slightly earlier alert after a later one.
        found = await queries.alerts(
            conn, chosen, limit=ALERT_LIMIT, raised_since=last.raised_at - CATCH_UP_OVERLAP
        )
    return [
        alert_event(dash, AlertView.from_record(r), who) for r in reversed(found) if r.id != last_id
    ]


async def follow(
    dash: Dashboard,
    subscription: Subscription,
    chosen: AlertFilter,
    who: Viewer,
    request: Request,
) -> AsyncIterator[str]:
    """What the feed brings while the stream is open, for this viewer and these filters."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + STREAM_LIFETIME_SECONDS
    # An open stream looks at its session as often as the service looks at revocations:
    # signing out, a revoked token or a retired key ends it too, not only new requests.
    every = min(HEARTBEAT_SECONDS, verifier(request).refresh_seconds)
    check_at = loop.time() + every
    while loop.time() < ends:
        if loop.time() >= check_at:
            if await signed_in(request) is None:
                yield sse("reload", {})
                return
            check_at = loop.time() + every
        item = await subscription.next(every)
        if item is None:
            yield ": keep-alive\n\n"
            continue
        event = item.get("event")
        if event == "closed":
            return
        if event == "overflow":
            yield sse("reload", {})
            return
        if event == "alert":
            alert = AlertView.from_event(item)
            if chosen.matches(alert.fields()):
                yield alert_event(dash, alert, who)
        elif event == "acknowledged":
            chunk = await acknowledgement_event(dash, item, who)
            if chunk:
                yield chunk


async def acknowledgement_event(
    dash: Dashboard, item: Mapping[str, Any], who: Viewer
) -> str | None:
    """The acknowledged row's new cell, for a viewer who may see that alert."""
    try:
        alert_id = uuid.UUID(str(item["alert_id"]))
    except (KeyError, ValueError):
        return None
    async with dash.runtime.pool.acquire() as conn:
        found = await queries.alert(conn, alert_id)
    if found is None or found.acknowledged_at is None:
        return None
    if who.agency is not None and found.agency != who.agency:
        return None
    cell = views.ack_cell(AlertView.from_record(found), who.lang, who.monitoring)
    return sse("acknowledged", {"alert_id": str(alert_id), "html": cell})


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(
    request: Request,
    alert_id: uuid.UUID,
    who: Viewer = Depends(viewer),
    dash: Dashboard = Depends(dashboard),
) -> Response:
    """Acknowledge with a comment: the row is updated and AlertAcknowledged goes out on
    the alerts topic through the outbox, so every open page shows it."""
    wants_json = "application/json" in request.headers.get("accept", "")
    if not who.monitoring or not same_origin(request):
        if wants_json:
            return JSONResponse({"title": text(who.lang, "error.forbidden")}, 403)
        return respond.error(request, who, 403, "error.forbidden")
    form = await request.form()
    comment = clean_comment(form.get("comment"))
    async with dash.runtime.pool.acquire() as conn:
        result = await commands.acknowledge_alert(
            conn, alert_id, who.principal.subject, comment, dash.clock.now(), dash.ctx
        )
    if result.alert is None:
        if wants_json:
            return JSONResponse({"title": text(who.lang, "error.not_found")}, 404)
        return respond.error(request, who, 404, "error.not_found")
    if result.done:
        dash.runtime.relay.wake()
    if not wants_json:
        return RedirectResponse(f"{PREFIX}/alerts", status_code=303)
    cell = views.ack_cell(AlertView.from_record(result.alert), who.lang, who.monitoring)
    body = {"alert_id": str(alert_id), "html": cell, "acknowledged": result.done}
    if not result.done:
        body["title"] = text(who.lang, "ack.conflict")
    return JSONResponse(body, status_code=200 if result.done else 409)
