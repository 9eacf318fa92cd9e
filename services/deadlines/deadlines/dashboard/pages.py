"""The dashboard's routes under /dashboard: sign-in, live alerts, compliance, appeals, backlog.

Authentication is the platform's token, pasted once into a form and checked once: it opens a
server-side session (deadlines.dashboard.sessions) and the browser gets only the session's
random id, in an HttpOnly, SameSite=Strict cookie (Secure over https) scoped to /dashboard.
The token is never stored or sent back, so the cookie is no bearer token anywhere. A session
ends at sign-out, after `DEADLINES_DASHBOARD_SESSION_HOURS`, when its token expires, or when
that token is revoked or its key retired. `monitoring` sees everything; `agency` sees its
own agency only: its alerts, its row of the compliance tables, its hops of an appeal.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from appeals_platform import outbox
from appeals_platform.auth import AuthError, Principal, Role, TokenVerifier, VerifiedToken
from appeals_platform.runtime import Runtime
from deadlines import handlers
from deadlines.clocks import Clock, SystemClock
from deadlines.config import Settings
from deadlines.context import Context, new_context
from deadlines.dashboard import i18n, queries, report, sessions, views
from deadlines.dashboard.exports import csv_filename, table_csv
from deadlines.dashboard.feed import AlertFeed, Subscription
from deadlines.dashboard.i18n import Lang, text
from deadlines.dashboard.markup import Html, element, join
from deadlines.dashboard.names import Names
from deadlines.dashboard.queries import AlertFilter
from deadlines.dashboard.views import AlertView
from deadlines.law import local_day

log = logging.getLogger(__name__)

PREFIX = "/dashboard"
SESSION_COOKIE = "dashboard_session"
LANG_COOKIE = "dashboard_lang"
ALERT_LIMIT = 200
HEARTBEAT_SECONDS = 15.0
# A stream ends after this long and the browser reconnects with Last-Event-ID (catching up
# from the table), so a shutting-down server never waits long for open pages.
STREAM_LIFETIME_SECONDS = 120.0
CATCH_UP_OVERLAP = timedelta(minutes=5)
COMMENT_LIMIT = 2000
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
TABLES = ("district", "agency", "sector", "level", "locality")
VIEWER_ROLES = (Role.MONITORING, Role.AGENCY)


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    lang: Lang

    @property
    def agency(self) -> str | None:
        """The agency this viewer is confined to; None for monitoring staff."""
        return self.principal.agency if self.principal.role is Role.AGENCY else None

    @property
    def monitoring(self) -> bool:
        return self.principal.role is Role.MONITORING


def request_lang(request: Request) -> Lang:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in i18n.LANGUAGES:
        return i18n.language(chosen)
    return i18n.from_accept_language(request.headers.get("accept-language"))


def safe_next(value: str | None) -> str:
    """Only a path inside the dashboard: never an open redirect to another site."""
    if not value:
        return f"{PREFIX}/alerts"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX) or "\\" in value:
        return f"{PREFIX}/alerts"
    return value


def here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def signed_in(request: Request) -> Principal | None:
    """The session's viewer, while its token is neither revoked nor signed by a retired key."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    runtime: Runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        session = await sessions.find_session(conn, session_id, datetime.now(UTC))
    if session is None:
        return None
    verifier: TokenVerifier = request.app.state.verifier
    if verifier.is_revoked(session.jti) or session.kid not in verifier.key_ids:
        return None
    return session.principal if session.principal.role in VIEWER_ROLES else None


async def viewer(request: Request) -> Viewer:
    """A FastAPI dependency: the signed-in viewer, or a redirect to the sign-in form."""
    principal = await signed_in(request)
    if principal is None:
        target = f"{PREFIX}/sign-in?" + urlencode({"next": here(request)})
        raise HTTPException(303, "sign in first", headers={"Location": target})
    return Viewer(principal, request_lang(request))


async def stream_viewer(request: Request) -> Viewer:
    """As `viewer`, but a stream answers 401: EventSource cannot follow a sign-in form."""
    principal = await signed_in(request)
    if principal is None:
        raise HTTPException(401, "sign in first")
    return Viewer(principal, request_lang(request))


def same_origin(request: Request) -> bool:
    """A form post must come from the dashboard's own pages (the cookie is SameSite=Strict
    too; this also refuses a post whose Origin is another site)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "")


def _empty(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _clean_comment(value: object) -> str | None:
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


def dashboard_router(
    runtime: Runtime,
    settings: Settings,
    feed: AlertFeed,
    *,
    clock: Clock | None = None,
    ctx: Context | None = None,
) -> APIRouter:
    """The dashboard. `feed` is what the `deadlines.alerts` subscriber publishes to; `clock`
    and `ctx` are the service's own (a test moves the clock; the reference data and the
    alerts topic come from the context)."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    clock = clock or SystemClock()
    context = ctx or new_context(settings)
    names = Names(context.reference)
    static_dir = files("deadlines.dashboard").joinpath("static")

    def html(
        request: Request,
        who: Viewer | None,
        page_name: str,
        title: str,
        content: Html,
        status: int = 200,
    ) -> HTMLResponse:
        lang = who.lang if who else request_lang(request)
        document = views.page(
            lang=lang,
            page_name=page_name,
            title=title,
            content=content,
            here=here(request),
            principal=who.principal if who else None,
            names=names,
        )
        return HTMLResponse(
            document,
            status_code=status,
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'self'; style-src 'self'; "
                "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin",
            },
        )

    def error(request: Request, who: Viewer, status: int, key: str) -> HTMLResponse:
        content = views.error_content(who.lang, key)
        return html(request, who, "error", text(who.lang, key), content, status)

    # ------------------------------------------------------------ session

    @router.get("")
    async def home() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/alerts", status_code=303)

    @router.get("/sign-in", response_class=HTMLResponse)
    async def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:
        lang = request_lang(request)
        content = views.signin_content(lang, safe_next(next), None)
        return html(request, None, "sign-in", text(lang, "signin.title"), content)

    @router.post("/sign-in", response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        lang = request_lang(request)
        form = await request.form()
        token = str(form.get("token") or "").strip()
        next_url = safe_next(str(form.get("next") or ""))
        verifier: TokenVerifier = request.app.state.verifier
        problem: str | None = None
        status = 401
        verified: VerifiedToken | None = None
        try:
            verified = verifier.verify_claims(token)
        except AuthError as exc:
            problem = f"{text(lang, 'signin.refused')}: {exc}"
        else:
            if verified.principal.role not in VIEWER_ROLES:
                problem, status = text(lang, "signin.role"), 403
        if verified is None or problem is not None or not same_origin(request):
            content = views.signin_content(lang, next_url, problem or text(lang, "signin.refused"))
            return html(request, None, "sign-in", text(lang, "signin.title"), content, status)
        now = datetime.now(UTC)
        async with runtime.pool.acquire() as conn:
            session_id, ends = await sessions.open_session(
                conn, verified, now, timedelta(hours=settings.dashboard_session_hours)
            )
        log.info("dashboard session opened", extra={"count": 1})
        response = RedirectResponse(next_url, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=max(1, int((ends - now).total_seconds())),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=PREFIX,
        )
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> RedirectResponse:
        """Ends the session on the server too: the old cookie opens nothing afterwards."""
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            async with runtime.pool.acquire() as conn:
                await sessions.close_session(conn, session_id)
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.get("/language/{code}")
    async def choose_language(code: str, next: str | None = None) -> RedirectResponse:
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(
            LANG_COOKIE,
            i18n.language(code),
            max_age=365 * 24 * 3600,
            samesite="lax",
            path=PREFIX,
        )
        return response

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        suffix = name[name.rfind(".") :] if "." in name else ""
        resource = static_dir.joinpath(name)
        if suffix not in STATIC_TYPES or "/" in name or not resource.is_file():
            raise HTTPException(404, "no such file")
        return Response(
            resource.read_bytes(),
            media_type=STATIC_TYPES[suffix],
            headers={"Cache-Control": "public, max-age=300"},
        )

    # ------------------------------------------------------------ alerts

    def alert_filter(
        who: Viewer,
        agency: str | None,
        locality: str | None,
        kind: str | None,
        severity: str | None,
        status: str | None,
    ) -> AlertFilter:
        return AlertFilter(
            agency=who.agency or _empty(agency),
            locality=_empty(locality),
            kind=_empty(kind),
            severity=_empty(severity),
            status=_empty(status) if _empty(status) in views.STATUSES else None,
        )

    @router.get("/alerts", response_class=HTMLResponse)
    async def alerts_page(
        request: Request,
        agency: str | None = None,
        locality: str | None = None,
        kind: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        who: Viewer = Depends(viewer),
    ) -> HTMLResponse:
        chosen = alert_filter(who, agency, locality, kind, severity, status)
        async with runtime.pool.acquire() as conn:
            rows = await queries.list_alerts(conn, chosen, limit=ALERT_LIMIT)
        shown = [AlertView.from_row(r) for r in rows]
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
        filters = views.alert_filters(
            who.lang,
            names,
            agency=chosen.agency,
            locality=chosen.locality,
            kind=chosen.kind,
            severity=chosen.severity,
            status=chosen.status,
            choose_agency=who.monitoring,
        )
        content = views.alerts_content(
            who.lang,
            filters=filters,
            rows=[views.alert_row(a, who.lang, names, who.monitoring) for a in shown],
            stream=f"{PREFIX}/alerts/stream?{urlencode(query)}",
            limit=ALERT_LIMIT,
        )
        return html(request, who, "alerts", text(who.lang, "alerts.title"), content)

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
    ) -> StreamingResponse:
        """Server-sent events: `alert` (a new row), `acknowledged` (a row's new ack cell),
        `reload` (the page fell behind). Catches up from `Last-Event-ID` or `since`."""
        chosen = alert_filter(who, agency, locality, kind, severity, status)
        last_seen = request.headers.get("last-event-id") or (str(since) if since else None)

        async def events() -> AsyncIterator[str]:
            async with feed.subscribe() as subscription:
                yield "retry: 2000\n\n"
                for chunk in await catch_up(chosen, last_seen, who):
                    yield chunk
                async for chunk in follow(subscription, chosen, who, request):
                    yield chunk

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def alert_event(alert: AlertView, who: Viewer) -> str:
        row = views.alert_row(alert, who.lang, names, who.monitoring)
        return sse("alert", {"id": alert.id, "html": row}, event_id=alert.id)

    async def catch_up(chosen: AlertFilter, last_seen: str | None, who: Viewer) -> list[str]:
        """Alerts raised since the last one the page has (the browser drops repeats)."""
        try:
            last_id = uuid.UUID(last_seen) if last_seen else None
        except ValueError:
            last_id = None
        if last_id is None:
            return []
        async with runtime.pool.acquire() as conn:
            last = await queries.get_alert(conn, last_id)
            if last is None:
                return []
            # Concurrent tickers may commit a slightly earlier alert after a later one.
            rows = await queries.list_alerts(
                conn, chosen, limit=ALERT_LIMIT, raised_since=last["raised_at"] - CATCH_UP_OVERLAP
            )
        return [
            alert_event(AlertView.from_row(r), who) for r in reversed(rows) if r["id"] != last_id
        ]

    async def follow(
        subscription: Subscription, chosen: AlertFilter, who: Viewer, request: Request
    ) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_LIFETIME_SECONDS
        # An open stream looks at its session as often as the service looks at revocations:
        # signing out, a revoked token or a retired key ends it too, not only new requests.
        verifier: TokenVerifier = request.app.state.verifier
        every = min(HEARTBEAT_SECONDS, verifier.refresh_seconds)
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
                    yield alert_event(alert, who)
            elif event == "acknowledged":
                chunk = await acknowledgement_event(item, who)
                if chunk:
                    yield chunk

    async def acknowledgement_event(item: Mapping[str, Any], who: Viewer) -> str | None:
        try:
            alert_id = uuid.UUID(str(item["alert_id"]))
        except (KeyError, ValueError):
            return None
        async with runtime.pool.acquire() as conn:
            row = await queries.get_alert(conn, alert_id)
        if row is None or row["acknowledged_at"] is None:
            return None
        if who.agency is not None and row["agency"] != who.agency:
            return None
        cell = views.ack_cell(AlertView.from_row(row), who.lang, who.monitoring)
        return sse("acknowledged", {"alert_id": str(alert_id), "html": cell})

    @router.post("/alerts/{alert_id}/acknowledge")
    async def acknowledge(
        request: Request, alert_id: uuid.UUID, who: Viewer = Depends(viewer)
    ) -> Response:
        """Acknowledge with a comment: the row is updated and AlertAcknowledged goes out on
        the alerts topic through the outbox, so every open page shows it."""
        wants_json = "application/json" in request.headers.get("accept", "")
        if not who.monitoring or not same_origin(request):
            if wants_json:
                return JSONResponse({"title": text(who.lang, "error.forbidden")}, 403)
            return error(request, who, 403, "error.forbidden")
        form = await request.form()
        comment = _clean_comment(form.get("comment"))
        now = clock.now()
        async with runtime.pool.acquire() as conn, conn.transaction():
            done = await handlers.acknowledge(
                conn, alert_id, who.principal.subject, comment, now, context
            )
            if done is not None:
                await outbox.add(conn, [done[1]])
            row = await queries.get_alert(conn, alert_id)
        if row is None:
            if wants_json:
                return JSONResponse({"title": text(who.lang, "error.not_found")}, 404)
            return error(request, who, 404, "error.not_found")
        if done is not None:
            runtime.relay.wake()
        if not wants_json:
            return RedirectResponse(f"{PREFIX}/alerts", status_code=303)
        cell = views.ack_cell(AlertView.from_row(row), who.lang, who.monitoring)
        body = {"alert_id": str(alert_id), "html": cell, "acknowledged": done is not None}
        if done is None:
            body["title"] = text(who.lang, "ack.conflict")
        return JSONResponse(body, status_code=200 if done is not None else 409)

    # ------------------------------------------------------------ compliance

    def choice_of(period: str | None, compare: str | None) -> report.Choice | None:
        try:
            return report.choose(period, compare, local_day(clock.now()))
        except ValueError:
            return None

    async def tables_for(
        who: Viewer, choice: report.Choice, wanted: tuple[str, ...]
    ) -> dict[str, report.Table]:
        figuring = report.Figuring(
            runtime.pool, clock.now(), context.reference, min_sample=settings.min_sample
        )
        return await figuring.tables(wanted, choice, agency=who.agency)

    @router.get("/compliance", response_class=HTMLResponse)
    async def compliance_page(
        request: Request,
        period: str | None = None,
        compare: str | None = None,
        who: Viewer = Depends(viewer),
    ) -> HTMLResponse:
        choice = choice_of(period, compare)
        if choice is None:
            return error(request, who, 400, "error.bad_request")
        wanted = ("agency",) if who.agency else ("all", *TABLES)
        tables = await tables_for(who, choice, wanted)
        totals = tables.pop(wanted[0]) if not who.agency else tables["agency"]
        lang = who.lang
        query = {"period": choice.period.label, "compare": choice.compare}
        sections: list[Html] = []
        if "district" in tables:
            sections.append(
                element(
                    "section",
                    join(
                        [
                            element("h2", text(lang, "chart.on_time")),
                            views.share_chart(
                                lang, names, tables["district"], text(lang, "chart.on_time")
                            ),
                        ]
                    ),
                    id="chart",
                )
            )
        for by, table in tables.items():
            sections.append(
                views.compliance_table(
                    lang,
                    names,
                    table,
                    heading=text(lang, f"table.{by}"),
                    csv_url=f"{PREFIX}/compliance/{by}.csv?{urlencode(query)}",
                    table_id=f"table-{by}",
                )
            )
        content = views.compliance_content(
            lang,
            choice=choice,
            periods=report.recent_periods(local_day(clock.now())),
            totals=views.totals_block(lang, totals),
            totals_heading=text(
                lang, "compliance.totals_agency" if who.agency else "compliance.totals"
            ),
            sections=join(sections),
            min_sample=settings.min_sample,
        )
        return html(request, who, "compliance", text(lang, "compliance.title"), content)

    @router.get("/compliance/{by}.csv")
    async def compliance_csv(
        request: Request,
        by: str,
        period: str | None = None,
        compare: str | None = None,
        who: Viewer = Depends(viewer),
    ) -> Response:
        choice = choice_of(period, compare)
        if choice is None or by not in TABLES:
            return error(request, who, 400 if choice is None else 404, "error.bad_request")
        if who.agency and by != "agency":
            return error(request, who, 403, "error.forbidden")
        table = (await tables_for(who, choice, (by,)))[by]
        body = table_csv(table, lambda key: names.of(by, who.lang, key))
        return Response(
            body.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{csv_filename(table)}"',
                "Cache-Control": "no-store",
            },
        )

    # ------------------------------------------------------------ appeal

    @router.get("/appeals/{appeal_id}", response_class=HTMLResponse)
    async def appeal_page(
        request: Request, appeal_id: uuid.UUID, who: Viewer = Depends(viewer)
    ) -> HTMLResponse:
        async with runtime.pool.acquire() as conn:
            clocks = await queries.appeal_clocks(conn, appeal_id)
            alerts = await queries.appeal_alerts(conn, appeal_id)
            redirects = await queries.appeal_redirects(conn, appeal_id)
            answers = await queries.appeal_answers(conn, appeal_id)
        own_hops = {c["hop"] for c in clocks if who.agency is None or c["agency"] == who.agency}
        if not own_hops:
            # The same answer for "absent" and "not yours": ids are no oracle.
            return error(request, who, 404, "appeal.none")
        content = views.appeal_content(
            who.lang,
            names,
            clocks=[c for c in clocks if c["hop"] in own_hops],
            alerts=[AlertView.from_row(a) for a in alerts if a["hop"] in own_hops],
            redirects=[r for r in redirects if r["hop"] in own_hops],
            answers=[a for a in answers if who.agency is None or a["agency"] == who.agency],
            now=clock.now(),
        )
        title = f"{text(who.lang, 'appeal.title')} {clocks[0]['registration_number']}"
        return html(request, who, "appeal", title, content)

    # ------------------------------------------------------------ backlog

    @router.get("/backlog", response_class=HTMLResponse)
    async def backlog_page(
        request: Request, agency: str | None = None, who: Viewer = Depends(viewer)
    ) -> HTMLResponse:
        chosen = who.agency or _empty(agency)
        now = clock.now()
        async with runtime.pool.acquire() as conn:
            counts = await queries.backlog_counts(conn, now, who.agency)
            if chosen:
                rows = await queries.agency_backlog(conn, chosen, ALERT_LIMIT)
            else:
                rows = await queries.overdue_backlog(conn, now, ALERT_LIMIT)
        content = views.backlog_content(
            who.lang,
            names,
            counts=counts,
            rows=rows,
            chosen=chosen,
            choose_agency=who.monitoring,
            now=now,
        )
        return html(request, who, "backlog", text(who.lang, "backlog.title"), content)

    return router
