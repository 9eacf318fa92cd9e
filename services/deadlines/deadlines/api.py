"""HTTP routes: clocks and extensions, alerts, the calendar overrides, compliance reports."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from appeals_contracts.events import ReceiptConfirmed
from appeals_contracts.submission import Code, Day, Line, Text
from appeals_law.calendar import ALMATY, CalendarOverride
from appeals_platform import backdating, outbox
from appeals_platform.auth import Principal, Role, require
from appeals_platform.openapi import refusals
from appeals_platform.problems import FieldProblem, Refused
from appeals_platform.runtime import Runtime
from deadlines import (
    alerts,
    compliance,
    db,
    extensions,
    handlers,
    hops,
    open_data,
    overrides,
    receipts,
)
from deadlines.clocks import Clock
from deadlines.config import Settings
from deadlines.context import Context, refresh_calendar
from deadlines.digests.sender import DigestSender
from deadlines.inboxes import Watcher
from deadlines.law import local_day
from deadlines.risk.scoring import Scorer
from deadlines.ticker import Ticker


@dataclass
class Service:
    """The parts of a running deadlines service the routes and tests reach."""

    runtime: Runtime
    settings: Settings
    ctx: Context
    clock: Clock
    tickers: list[Ticker] = field(default_factory=list)
    digests: list[DigestSender] = field(default_factory=list)
    watchers: list[Watcher] = field(default_factory=list)
    scorers: list[Scorer] = field(default_factory=list)

    @property
    def ticker(self) -> Ticker:
        assert self.tickers, "service not started"
        return self.tickers[0]


STAFF = (Role.MONITORING, Role.OPERATOR)


def _local(moment: datetime | None) -> str | None:
    return moment.astimezone(ALMATY).isoformat() if moment is not None else None


def _day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def clock_view(clock: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """One hop's clock; moments in Asia/Almaty time with their offset."""
    return {
        "hop": clock["hop"],
        "agency": clock["agency"],
        "agency_level": clock["agency_level"],
        "agency_parent": clock["agency_parent"],
        "appeal_type": clock["appeal_type"],
        "category": clock["category"],
        "locality": clock["locality"],
        "region": clock["region"],
        "state": clock["state"],
        "overdue": clock["state"] == "open" and now > clock["due_at"],
        "policy": clock["policy"],
        "received_at": _local(clock["received_at"]),
        "agency_received_at": _local(clock["agency_received_at"]),
        "confirmed_at": _local(clock["confirmed_at"]),
        "assigned_at": _local(clock["assigned_at"]),
        "registered_on": _day(clock["registered_on"]),
        "start_day": _day(clock["start_day"]),
        "term": {"days": clock["term_days"], "unit": clock["unit"]},
        "due_at": _local(clock["due_at"]),
        "original_due_at": _local(clock["original_due_at"]),
        "redirect_due_at": _local(clock["redirect_due_at"]),
        "rule_version": clock["rule_version"],
        "calendar_version": clock["calendar_version"],
        "extensions": clock["extensions"],
        "extended_at": _local(clock["extended_at"]),
        "extension_reason": clock["extension_reason"],
        "extension_notified_on": _day(clock["extension_notified_on"]),
        "closed_at": _local(clock["closed_at"]),
        "outcome": clock["outcome"],
        "working_days_late": clock["working_days_late"],
        "answer_working_days": clock["answer_working_days"],
        "redirected_at": _local(clock["redirected_at"]),
        "redirected_to": clock["redirected_to"],
        "redirect_partial": clock["redirect_partial"],
        "redirect_late": clock["redirect_late"],
        "warned_offset": clock["warned_offset"],
        "breached_at": _local(clock["breached_at"]),
        "reminders_sent": clock["reminders_sent"],
        "escalated_at": _local(clock["escalated_at"]),
        "next_action": clock["next_action"],
        "next_action_at": _local(clock["next_action_at"]),
    }


def appeal_view(clocks: list[Any], now: datetime) -> dict[str, Any]:
    return {
        "appeal_id": str(clocks[-1]["appeal_id"]),
        "registration_number": clocks[-1]["registration_number"],
        "current": clock_view(clocks[-1], now),
        "hops": [clock_view(c, now) for c in clocks],
    }


def hops_view(table: hops.HopTable) -> dict[str, Any]:
    """The hop table; moments in Asia/Almaty time with their offset."""
    return {
        "appeal_id": str(table.appeal_id),
        "registration_number": table.registration_number,
        "received_at": _local(table.received_at),
        "until": _local(table.until),
        "working_days": table.working_days,
        "hops": [
            {
                "hop": h.hop,
                "agency": h.agency,
                "state": h.state,
                "received_at": _local(h.received_at),
                "confirmed_at": _local(h.confirmed_at),
                "redirected_at": _local(h.redirected_at),
                "redirected_to": h.redirected_to,
                "redirect_partial": h.redirect_partial,
                "reason": h.reason,
                "answered_at": _local(h.answered_at),
                "until": _local(h.until),
                "working_days": h.working_days,
            }
            for h in table.hops
        ],
    }


def may_see(principal: Principal, clocks: list[Any]) -> bool:
    if principal.role in STAFF:
        return True
    current = {clocks[-1]["agency"]} | {c["agency"] for c in clocks if c["state"] == "open"}
    return principal.role is Role.AGENCY and principal.agency in current


def clocks_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["clocks"])
    ctx, runtime = service.ctx, service.runtime

    @router.get("/appeals/{appeal_id}/clock", responses=refusals(404))
    async def get_clock(
        appeal_id: uuid.UUID,
        principal: Principal = Depends(require(Role.AGENCY, *STAFF)),
    ) -> dict[str, Any]:
        """The legal clock of every hop of the appeal; `current` is the latest hop."""
        async with runtime.pool.acquire() as conn:
            clocks = await db.get_clocks(conn, appeal_id)
        if not clocks or not may_see(principal, clocks):
            # The same answer for "absent" and "not yours": ids are not an oracle.
            raise Refused(404, "no clock for this appeal")
        return appeal_view(clocks, service.clock.now())

    @router.get("/appeals/{appeal_id}/hops", responses=refusals(404))
    async def get_hops(
        appeal_id: uuid.UUID,
        principal: Principal = Depends(require(Role.AGENCY, *STAFF)),
    ) -> dict[str, Any]:
        """Time at each hop: the agency, when it received the appeal and confirmed receipt,
        how the hop ended (redirected, with the reason code, or answered) and when, and the
        working days spent there; `working_days` is the appeal's, from its receipt to the end
        of its last hop (now while open). Along hops handed on by full redirects the hops'
        working days add up to it (definitions: `deadlines.hops`). Seen by whoever may see
        the appeal's clock."""
        async with runtime.pool.acquire() as conn:
            await refresh_calendar(conn, ctx.law)
            rows = await hops.hop_rows(conn, appeal_id)
        if not rows or not may_see(principal, rows):
            raise Refused(404, "no clock for this appeal")
        table = hops.time_at_hops(rows, ctx.law.calendar, service.clock.now())
        assert table is not None
        return hops_view(table)

    @router.post("/appeals/{appeal_id}/extend", responses=refusals(404, 409))
    async def extend(
        appeal_id: uuid.UUID,
        request: extensions.ExtensionRequest,
        http: Request,
        principal: Principal = Depends(require(Role.AGENCY)),
    ) -> JSONResponse:
        """Extend the term (АППК art. 76(2)); publishes DeadlineExtended, or 422 with the rules
        the extension breaks: the cap of two months from day 1, one extension, a new date
        after the current one, the applicant notified within 3 working days."""
        assert principal.agency is not None
        now = backdating.occurred_at(
            http, principal, enabled=runtime.settings.demo_history, now=service.clock.now()
        )
        async with runtime.pool.acquire() as conn, conn.transaction():
            message = await extensions.request_extension(
                conn, appeal_id, principal.agency, request, now, ctx
            )
        runtime.relay.wake()
        async with runtime.pool.acquire() as conn:
            clocks = await db.get_clocks(conn, appeal_id)
        body = appeal_view(clocks, now)
        body["event_id"] = message.id
        return JSONResponse(body)

    @router.post(
        "/appeals/{appeal_id}/receipt",
        status_code=201,
        responses=refusals(404, 409),
        response_model=ReceiptConfirmed,
    )
    async def confirm_receipt(
        appeal_id: uuid.UUID,
        principal: Principal = Depends(require(Role.AGENCY)),
        hop: Annotated[
            int | None,
            Query(
                ge=1,
                description="the hop of the assignment acted on (AppealAssigned.hop): a hop "
                "not followed here yet is asked to retry (404 with Retry-After), not refused",
            ),
        ] = None,
    ) -> ReceiptConfirmed:
        """The assigned agency confirms it took the appeal into work (its open hop, once);
        publishes ReceiptConfirmed, which the appeal's timeline shows. The same as the
        agency's `kz.appeals.agency.receipt-confirmed.v1` command on Kafka."""
        assert principal.agency is not None
        async with runtime.pool.acquire() as conn, conn.transaction():
            confirmed = await receipts.confirm(
                conn, appeal_id, principal.agency, service.clock.now(), ctx, hop
            )
        runtime.relay.wake()
        return confirmed

    return router


class Acknowledgement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[Text, Field(max_length=2000)] | None = None


def alert_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "appeal_id": str(row["appeal_id"]),
        "hop": row["hop"],
        "kind": row["kind"],
        "severity": row["severity"],
        "agency": row["agency"],
        "locality": row["locality"],
        "region": row["region"],
        "raised_at": _local(row["raised_at"]),
        "data": row["data"],
        "acknowledged_at": _local(row["acknowledged_at"]),
        "acknowledged_by": row["acknowledged_by"],
        "acknowledge_comment": row["acknowledge_comment"],
    }


def alerts_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["alerts"])
    runtime = service.runtime

    @router.get("/alerts")
    async def list_alerts(
        kind: alerts.Kind | None = None,
        agency: Code | None = None,
        appeal_id: uuid.UUID | None = None,
        unacknowledged: bool = False,
        limit: int = Query(100, ge=1, le=1000),
        principal: Principal = Depends(require(Role.AGENCY, *STAFF)),
    ) -> dict[str, Any]:
        """Alerts, newest first; an agency sees its own."""
        if principal.role is Role.AGENCY:
            agency = principal.agency
        async with runtime.pool.acquire() as conn:
            rows = await db.list_alerts(
                conn,
                agency=agency,
                kind=kind,
                unacknowledged=unacknowledged,
                appeal_id=appeal_id,
                limit=limit,
            )
        return {"alerts": [alert_view(r) for r in rows]}

    @router.post("/alerts/{alert_id}/acknowledge", responses=refusals(404, 409))
    async def acknowledge(
        alert_id: uuid.UUID,
        body: Acknowledgement | None = None,
        principal: Principal = Depends(require(*STAFF)),
    ) -> dict[str, Any]:
        """Mark an alert as seen; publishes AlertAcknowledged on the alerts topic."""
        now = service.clock.now()
        comment = body.comment if body else None
        async with runtime.pool.acquire() as conn, conn.transaction():
            done = await handlers.acknowledge(
                conn, alert_id, principal.subject, comment, now, service.ctx
            )
            if done is None:
                existing = await db.get_alert(conn, alert_id)
            else:
                await outbox.add(conn, [done[1]])
        if done is None:
            if existing is None:
                raise Refused(404, "no such alert")
            raise Refused(409, "the alert was already acknowledged")
        runtime.relay.wake()
        return done[0].model_dump(mode="json")

    return router


class OverrideBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: Day
    kind: Literal["day_off", "working_day"]
    decree: Line = Field(description="e.g. ПП РК от … № …")


def override_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "day": row["day"].isoformat(),
        "weekday": row["day"].strftime("%a"),
        "kind": row["kind"],
        "decree": row["decree"],
        "created_by": row["created_by"],
        "created_at": row["created_at"].isoformat(),
    }


def calendar_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/v1/calendar", tags=["calendar"])
    ctx, runtime = service.ctx, service.runtime

    @router.get("")
    async def get_calendar(
        year: int | None = Query(None, ge=2000, le=2100),
        _: Principal = Depends(require(*STAFF)),
    ) -> dict[str, Any]:
        """The calendar in force: its version, the overrides, and the year's days off."""
        year = year or local_day(service.clock.now()).year
        async with runtime.pool.acquire() as conn:
            await refresh_calendar(conn, ctx.law)
            rows = await db.list_overrides(conn, year)
        calendar = ctx.law.calendar
        day, days_off, working_weekend = date(year, 1, 1), [], []
        while day.year == year:
            working = calendar.is_working_day(day)
            if not working:
                days_off.append(day.isoformat())
            elif day.weekday() >= 5:
                working_weekend.append(day.isoformat())
            day = date.fromordinal(day.toordinal() + 1)
        return {
            "version": calendar.version,
            "revision": ctx.law.revision,
            "time_zone": "Asia/Almaty",
            "year": year,
            "overrides": [override_view(r) for r in rows],
            "days_off": days_off,
            "working_weekend_days": working_weekend,
        }

    @router.post(
        "/overrides",
        status_code=201,
        responses={200: {"description": "The day's override was replaced"}},
    )
    async def add_override(
        body: OverrideBody, principal: Principal = Depends(require(*STAFF))
    ) -> JSONResponse:
        """Add (or replace) a decree's day off or working day; open clocks move with it."""
        override = CalendarOverride(day=body.day, kind=body.kind, decree=body.decree)
        async with runtime.pool.acquire() as conn, conn.transaction():
            created, moved, law = await overrides.add_override(
                conn, ctx, override, principal.subject
            )
        ctx.law.follow(law)
        return JSONResponse(
            {
                **body.model_dump(mode="json"),
                "created": created,
                "calendar_version": law.calendar.version,
                "clocks_moved": moved,
            },
            status_code=201 if created else 200,
        )

    @router.delete("/overrides/{day}", responses=refusals(404))
    async def remove_override(day: Day, _: Principal = Depends(require(*STAFF))) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn, conn.transaction():
            existed, moved, law = await overrides.remove_override(conn, ctx, day)
        if not existed:
            raise Refused(404, "no such override", f"no override for {day.isoformat()}")
        ctx.law.follow(law)
        return {
            "day": day.isoformat(),
            "removed": True,
            "calendar_version": law.calendar.version,
            "clocks_moved": moved,
        }

    return router


CSV = {"text/csv": {"schema": {"type": "string"}}}
PERIOD_HELP = "a month (2022-03), a quarter (2022Q1) or a year (2022)"
# The shapes compliance.parse_period reads, years 1900-2099 (a year the calendar knows).
PERIOD_PATTERN = r"^\s*(19|20)[0-9]{2}(-(0[1-9]|1[0-2])|[Qq][1-4])?\s*$"


def compliance_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["compliance"])
    runtime = service.runtime

    async def build(
        period: str | None, by: compliance.Dimension, min_sample: int | None
    ) -> compliance.Report:
        now = service.clock.now()
        try:
            chosen = (
                compliance.parse_period(period)
                if period
                else compliance.period_containing(local_day(now), "quarter")
            )
        except ValueError as exc:
            raise Refused(
                422,
                "invalid period",
                problems=[FieldProblem(field="query.period", message=str(exc))],
            ) from exc
        async with runtime.pool.acquire() as conn:
            return await compliance.report(
                conn,
                chosen,
                by,
                now,
                service.ctx.reference,
                min_sample or service.settings.min_sample,
            )

    def csv_response(report: compliance.Report) -> Response:
        name = f"compliance-{report.by}-{report.period.label}.csv"
        return Response(
            compliance.as_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    @router.get(
        "/compliance",
        response_model=None,
        responses={200: {"content": {"application/json": {}, **CSV}}},
    )
    async def get_compliance(
        period: str | None = Query(None, description=PERIOD_HELP, pattern=PERIOD_PATTERN),
        by: compliance.Dimension = Query("agency", description="the grouping"),
        format: Literal["json", "csv"] = "json",
        min_sample: int | None = Query(None, ge=1),
        _: Principal = Depends(require(*STAFF)),
    ) -> dict[str, Any] | Response:
        """Answered on time / late, open and overdue, late redirects, on-time share and median
        working days per group, beside the previous comparable period."""
        report = await build(period, by, min_sample)
        if format == "csv":
            return csv_response(report)
        return compliance.as_json(report)

    @router.get("/compliance.csv", response_class=Response, responses={200: {"content": CSV}})
    async def get_compliance_csv(
        period: str | None = Query(None, description=PERIOD_HELP, pattern=PERIOD_PATTERN),
        by: compliance.Dimension = Query("agency", description="the grouping"),
        min_sample: int | None = Query(None, ge=1),
        _: Principal = Depends(require(*STAFF)),
    ) -> Response:
        return csv_response(await build(period, by, min_sample))

    return router


OPEN_DATA_CACHE = "public, max-age=300"
MONTH_HELP = "a month, YYYY-MM (Asia/Almaty)"


OpenDataBy = Annotated[
    open_data.Grouping,
    Query(description="agency: one row per body; district: per city or district"),
]
FromMonth = Annotated[
    str | None,
    Query(
        alias="from",
        pattern=open_data.MONTH_PATTERN,
        description=f"first month, {MONTH_HELP}; default 11 months before `to`",
    ),
]
ToMonth = Annotated[
    str | None,
    Query(
        alias="to",
        pattern=open_data.MONTH_PATTERN,
        description=f"last month, {MONTH_HELP}; default the current month",
    ),
]


def open_data_router(service: Service) -> APIRouter:
    """The public feed: no token, nothing about any one person (see docs/open-data.md)."""
    router = APIRouter(prefix="/open-data/v1", tags=["open data"])
    runtime = service.runtime

    async def build(by: open_data.Grouping, first: str | None, last: str | None) -> open_data.Feed:
        now = service.clock.now()
        today = local_day(now)
        chosen_last = (
            open_data.parse_month(last) if last else compliance.month(today.year, today.month)
        )
        chosen_first = open_data.parse_month(first) if first else open_data.year_ending(chosen_last)
        try:
            open_data.months_between(chosen_first, chosen_last)
        except ValueError as exc:
            raise Refused(
                422,
                "invalid months",
                problems=[FieldProblem(field="query.from", message=str(exc))],
            ) from exc
        async with runtime.pool.acquire() as conn:
            return await open_data.feed(
                conn, by, chosen_first, chosen_last, service.ctx.reference, now
            )

    @router.get("")
    async def index() -> dict[str, Any]:
        """What is published, where its schema and policy are, and the published appeals."""
        return {
            "datasets": {
                "monthly": {
                    "json": "/open-data/v1/monthly.json",
                    "csv": "/open-data/v1/monthly.csv",
                    "schema": "/open-data/v1/monthly.schema.json",
                    "by": ["agency", "district"],
                }
            },
            "appeals": service.settings.open311_url,
            "policy": "docs/open-data.md",
            "suppression": open_data.SUPPRESSION.model_dump(),
        }

    @router.get("/monthly.json", response_model=open_data.Feed)
    async def monthly_json(
        by: OpenDataBy = "agency", first: FromMonth = None, last: ToMonth = None
    ) -> JSONResponse:
        """Monthly figures per agency or district: received, answered, on time, late,
        redirected, extended, median working days; small counts withheld (null)."""
        feed = await build(by, first, last)
        return JSONResponse(
            feed.model_dump(mode="json"), headers={"cache-control": OPEN_DATA_CACHE}
        )

    @router.get("/monthly.csv", response_class=Response, responses={200: {"content": CSV}})
    async def monthly_csv(
        by: OpenDataBy = "agency", first: FromMonth = None, last: ToMonth = None
    ) -> Response:
        """The JSON feed's rows as CSV; a withheld figure is an empty cell."""
        feed = await build(by, first, last)
        name = f"appeals-monthly-{by}-{feed.first_month}-{feed.last_month}.csv"
        return Response(
            open_data.as_csv(feed),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                "cache-control": OPEN_DATA_CACHE,
            },
        )

    @router.get("/monthly.schema.json")
    async def monthly_schema() -> dict[str, Any]:
        """The JSON Schema of monthly.json (docs/open-data/monthly.schema.json)."""
        return open_data.schema()

    return router
