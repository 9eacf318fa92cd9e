"""What the dashboard's templates show, prepared in Python: alerts as the page shows them, the
compliance metrics, an appeal's timeline; and the calls that render each page's template.

The markup itself is in `templates/` (Jinja2, autoescaped: see `render.py`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from appeals_dashboard import i18n
from appeals_dashboard.charts import Bar, TrendColumn, paired_bars, trend_bars
from appeals_dashboard.i18n import Lang, text
from appeals_dashboard.names import Names, Option
from appeals_dashboard.render import fragment, render
from appeals_dashboard.report import PREVIOUS, YEAR_EARLIER, Choice, Table, Trend
from appeals_platform.auth import Principal, Role
from deadlines.queries import (
    AlertFilter,
    AlertRecord,
    AnswerRecord,
    BacklogClock,
    BacklogCount,
    ClockRecord,
    ExpectedBreaches,
    Figures,
    HopTime,
    InboxRecord,
    Period,
    RedirectRecord,
    RiskClock,
)

KINDS = ("warning", "breached", "overdue_reminder", "escalated", "redirect_overdue", "at_risk")
SEVERITIES = ("info", "warning", "violation", "critical")
STATUSES = ("open", "acknowledged")


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class AlertView:
    """An alert as the page shows it, from an `alerts` row or a live event alike."""

    id: str
    appeal_id: str
    hop: int
    kind: str
    severity: str
    agency: str
    locality: str | None
    region: str | None
    raised_at: datetime
    registration_number: str
    due_at: datetime | None
    working_days_late: int
    working_days_left: int | None
    escalated_to: str | None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledge_comment: str | None = None

    @classmethod
    def from_record(cls, row: AlertRecord) -> AlertView:
        data: Mapping[str, Any] = row.data or {}
        return cls(
            id=str(row.id),
            appeal_id=str(row.appeal_id),
            hop=int(row.hop),
            kind=row.kind,
            severity=row.severity,
            agency=row.agency,
            locality=row.locality,
            region=row.region,
            raised_at=row.raised_at,
            registration_number=str(data.get("registration_number", "")),
            due_at=_moment(data.get("due_at")),
            working_days_late=int(data.get("working_days_late") or 0),
            working_days_left=data.get("working_days_left"),
            escalated_to=data.get("escalated_to"),
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
            acknowledge_comment=row.acknowledge_comment,
        )

    @classmethod
    def from_event(cls, item: Mapping[str, Any]) -> AlertView:
        """From a feed item (a DeadlineAlert payload with the event id)."""
        raised = _moment(item["raised_at"])
        assert raised is not None
        return cls(
            id=str(item["id"]),
            appeal_id=str(item["appeal_id"]),
            hop=int(item["hop"]),
            kind=item["kind"],
            severity=item["severity"],
            agency=item["agency"],
            locality=item.get("locality"),
            region=item.get("region"),
            raised_at=raised,
            registration_number=str(item.get("registration_number", "")),
            due_at=_moment(item.get("due_at")),
            working_days_late=int(item.get("working_days_late") or 0),
            working_days_left=item.get("working_days_left"),
            escalated_to=item.get("escalated_to"),
        )

    def fields(self) -> dict[str, object]:
        """What AlertFilter.matches reads."""
        return {
            "agency": self.agency,
            "locality": self.locality,
            "region": self.region,
            "kind": self.kind,
            "severity": self.severity,
            "acknowledged_at": self.acknowledged_at,
        }


ALERT_COLUMNS = (
    ("col.raised", ""),
    ("col.kind", ""),
    ("col.severity", ""),
    ("col.appeal", ""),
    ("col.agency", ""),
    ("col.locality", ""),
    ("col.due", ""),
    ("col.days_late", "num"),
    ("col.acknowledgement", ""),
)

# ------------------------------------------------------------------ layout


def who(principal: Principal, names: Names, lang: Lang) -> str:
    if principal.role is Role.AGENCY:
        return f"{names.agency(lang, principal.agency)} ({principal.subject})"
    return f"{principal.role.value}: {principal.subject}"


def page(
    *,
    lang: Lang,
    page_name: str,
    title: str,
    content: Markup,
    here: str,
    principal: Principal | None,
    names: Names,
    demo: bool = False,
) -> Markup:
    """The whole document: header with sections, language switch and account, then content;
    `demo` puts the demo-data banner on it (a stack that takes the simulated history)."""
    return render(
        "layout.html",
        lang=lang,
        page=page_name,
        title=title,
        content=content,
        here=here,
        who=who(principal, names, lang) if principal is not None else None,
        monitoring=principal is not None and principal.role is Role.MONITORING,
        demo=demo,
    )


def error_content(lang: Lang, heading_key: str, detail: str = "") -> Markup:
    return render("error.html", heading=text(lang, heading_key), detail=detail)


def signin_content(lang: Lang, next_url: str, problem: str | None) -> Markup:
    return render("signin.html", lang=lang, next=next_url, problem=problem)


# ------------------------------------------------------------------ alerts


def ack_cell(alert: AlertView, lang: Lang, can_acknowledge: bool) -> Markup:
    """The contents of the acknowledgement cell: who and when, or the form."""
    return fragment("_alerts.html", "ack_cell", alert, lang, can_acknowledge)


def alert_row(alert: AlertView, lang: Lang, names: Names, can_acknowledge: bool) -> Markup:
    return fragment("_alerts.html", "alert_row", alert, lang, names, can_acknowledge)


def alerts_content(
    lang: Lang,
    names: Names,
    *,
    alerts: Sequence[AlertView],
    chosen: AlertFilter,
    choose_agency: bool,
    can_acknowledge: bool,
    stream: str,
    limit: int,
) -> Markup:
    return render(
        "alerts.html",
        lang=lang,
        names=names,
        alerts=alerts,
        chosen=chosen,
        choose_agency=choose_agency,
        can_acknowledge=can_acknowledge,
        kinds=[Option(k, text(lang, f"kind.{k}")) for k in KINDS],
        severities=[Option(s, text(lang, f"severity.{s}")) for s in SEVERITIES],
        statuses=[Option(s, text(lang, f"status.{s}")) for s in STATUSES],
        columns=ALERT_COLUMNS,
        stream=stream,
        limit=limit,
    )


# ------------------------------------------------------------------ compliance


def _share(lang: Lang, figures: Figures) -> str:
    return i18n.percent(lang, figures.on_time_share)


def _median(lang: Lang, figures: Figures) -> str:
    m = figures.median_working_days
    if m is None:
        return "—"
    return i18n.integer(lang, int(m)) if m == int(m) else i18n.decimal(lang, m, 1)


@dataclass(frozen=True)
class Metric:
    """A column of the compliance tables: its message key and how it shows one Figures."""

    key: str
    show: Callable[[Lang, Figures], str]

    @property
    def name(self) -> str:
        return self.key.removeprefix("m.")


METRICS = (
    Metric("m.received", lambda lang, f: i18n.integer(lang, f.received)),
    Metric("m.answered", lambda lang, f: i18n.integer(lang, f.answered_on_time + f.answered_late)),
    Metric("m.on_time_share", _share),
    Metric("m.open_overdue", lambda lang, f: i18n.integer(lang, f.open_overdue)),
    Metric("m.answered_late", lambda lang, f: i18n.integer(lang, f.answered_late)),
    Metric("m.redirected_late", lambda lang, f: i18n.integer(lang, f.late_redirects)),
    Metric("m.median_days", _median),
)

# The agency table adds the working days lost to redirects (issue 13 item 4): by the agency
# that redirected, and brought to the agency it sent the appeal to. Only the grouping by
# agency counts the days received (the service's definition, deadlines.compliance).
AGENCY_METRICS = (
    *METRICS,
    Metric("m.redirect_days_lost", lambda lang, f: i18n.integer(lang, f.redirect_days_lost)),
    Metric(
        "m.redirect_days_received", lambda lang, f: i18n.integer(lang, f.redirect_days_received)
    ),
)


def share_chart(lang: Lang, names: Names, table: Table, title: str) -> Markup:
    bars = [
        Bar(
            label=names.of(table.by, lang, row.key),
            current=row.current.on_time_share,
            previous=row.previous.on_time_share,
            current_text=_share(lang, row.current),
            previous_text=_share(lang, row.previous),
        )
        for row in table.rows
        if row.current.on_time_share is not None or row.previous.on_time_share is not None
    ]
    return paired_bars(
        bars,
        title=title,
        current_name=i18n.period_text(lang, table.choice.period.label),
        previous_name=i18n.period_text(lang, table.choice.previous.label),
    )


def trend_chart(lang: Lang, trend: Trend) -> Markup:
    columns = [
        TrendColumn(
            label=f"{m.period.first.month:02d}",
            year=str(m.period.first.year) if index == 0 or m.period.first.month == 1 else "",
            title=i18n.period_text(lang, m.period.label),
            share=m.figures.on_time_share,
            share_text=_share(lang, m.figures),
            late=m.figures.answered_late,
            late_text=i18n.integer(lang, m.figures.answered_late),
        )
        for index, m in enumerate(trend.months)
    ]
    return trend_bars(
        columns,
        title=text(lang, "trend.title", n=len(columns)),
        share_name=text(lang, "chart.on_time"),
        late_name=text(lang, "m.answered_late"),
    )


def trend_name(lang: Lang, names: Names, trend: Trend) -> str:
    if trend.scope.by == "all":
        return names.locality(lang, names.reference.home_region.code)
    return names.of(trend.scope.by, lang, trend.scope.key)


def trend_options(lang: Lang, names: Names, districts: Sequence[str]) -> list[Option]:
    """The region, its districts and cities, then every agency: whose trend to show."""
    region = Option("all", names.locality(lang, names.reference.home_region.code))
    places = sorted(
        (Option(f"district:{code}", names.locality(lang, code), 1) for code in districts),
        key=lambda o: o.label,
    )
    agencies = [Option(f"agency:{o.value}", o.label) for o in names.agency_options(lang)]
    return [region, *places, *agencies]


@dataclass(frozen=True)
class QuickLink:
    """A comparison one click away: its query string and what it compares."""

    query: str
    label: str


def quick_comparisons(lang: Lang, choice: Choice, today_quarter: Period) -> list[QuickLink]:
    """The comparisons heads ask for most, as links: the chosen period against the whole
    previous year (the seed's "Q1 2022 against all of 2021"), against the same period a year
    earlier and against the preceding one; this quarter against the same quarter last year."""
    period = choice.period
    wanted = [(period.label, YEAR_EARLIER), (period.label, PREVIOUS)]
    if len(period.label) > 4:  # a month or quarter; for a year this is the year earlier
        wanted.insert(0, (period.label, f"{period.first.year - 1:04d}"))
    wanted.append((today_quarter.label, YEAR_EARLIER))
    links: list[QuickLink] = []
    for label, compare in wanted:
        if compare == YEAR_EARLIER:
            against = text(lang, "compare.last_year")
        elif compare == PREVIOUS:
            against = text(lang, "compare.preceding")
        else:
            against = i18n.period_text(lang, compare)
        query = f"period={label}&compare={compare}"
        if all(link.query != query for link in links):
            links.append(QuickLink(query, f"{i18n.period_text(lang, label)} / {against}"))
    return links


def compliance_content(
    lang: Lang,
    names: Names,
    *,
    choice: Choice,
    periods: Sequence[Period],
    total: Table,
    tables: Mapping[str, Table],
    csv_urls: Mapping[str, str],
    agency_view: bool,
    min_sample: int,
    trend: Trend,
    trend_options: Sequence[Option],
    quick: Sequence[QuickLink],
) -> Markup:
    """The period chooser with the quick comparisons, the totals, the on-time chart by
    district (when shown), the ranked tables and the month-by-month trend."""
    offered = list(periods)
    for extra in (choice.period, choice.previous):
        if all(p.label != extra.label for p in offered):
            offered.insert(0, extra)
    chart = None
    if "district" in tables:
        chart = share_chart(lang, names, tables["district"], text(lang, "chart.on_time"))
    return render(
        "compliance.html",
        lang=lang,
        names=names,
        choice=choice,
        periods=offered,
        custom=choice.compare if choice.compare not in (YEAR_EARLIER, PREVIOUS) else "",
        total=total,
        tables=tables,
        csv_urls=csv_urls,
        chart=chart,
        metrics=METRICS,
        agency_metrics=AGENCY_METRICS,
        agency_view=agency_view,
        min_sample=min_sample,
        trend=trend,
        trend_name=trend_name(lang, names, trend),
        trend_chart=trend_chart(lang, trend),
        trend_options=trend_options,
        quick=quick,
    )


# ------------------------------------------------------------------ appeal


@dataclass(frozen=True)
class Moment:
    """One line of an appeal's timeline; `kind` says which details it shows."""

    at: datetime
    what: str
    kind: str
    css: str = ""
    detail: str | None = None
    routing: Mapping[str, Any] | None = None  # assigned: routing's explanation
    due: datetime | None = None  # extended: the new due moment
    alert: AlertView | None = None  # acknowledged: the acknowledged alert


def routing_details(lang: Lang, recorded: Mapping[str, Any] | None) -> Markup:
    """The routing explanation recorded with a clock (`ClockRecord.routing`), if any."""
    return fragment("_appeal.html", "routing_details", lang, recorded)


def _agency_move(lang: Lang, names: Names, r: RedirectRecord) -> str:
    move = f"{names.agency(lang, r.from_agency)} → {names.agency(lang, r.to_agency)}"
    if r.partial:
        move += f" ({text(lang, 'routing.partial')})"
    return move


def timeline(
    lang: Lang,
    names: Names,
    *,
    clocks: Sequence[ClockRecord],
    alerts: Sequence[AlertView],
    redirects: Sequence[RedirectRecord],
    answers: Sequence[AnswerRecord],
) -> list[Moment]:
    """Receipt, assignments, extensions, redirects, alerts and their acknowledgements, and
    answers, in time order."""
    moments = [Moment(clocks[0].received_at, text(lang, "event.received"), "received")]
    for c in clocks:
        assigned = f"{text(lang, 'event.assigned')}: {names.agency(lang, c.agency)}"
        moments.append(Moment(c.assigned_at, assigned, "assigned", "assigned", routing=c.routing))
        if c.extended_at is not None:
            moments.append(
                Moment(
                    c.extended_at,
                    text(lang, "event.extended"),
                    "extended",
                    "extended",
                    detail=c.extension_reason,
                    due=c.due_at,
                )
            )
    for r in redirects:
        moments.append(
            Moment(
                r.redirected_at,
                f"{text(lang, 'event.redirected')}: {_agency_move(lang, names, r)}",
                "redirected",
                "redirected",
                detail=f"{text(lang, 'routing.reason')}: {r.reason}",
            )
        )
    for a in alerts:
        detail = f"{text(lang, f'severity.{a.severity}')}; {names.agency(lang, a.agency)}"
        if a.working_days_late:
            detail += f"; {text(lang, 'col.days_late')}: {a.working_days_late}"
        if a.escalated_to:
            detail += f"; {text(lang, 'escalated_to')} {names.agency(lang, a.escalated_to)}"
        css = f"sev-{a.severity} alert-{a.kind}"
        moments.append(Moment(a.raised_at, text(lang, f"event.{a.kind}"), "alert", css, detail))
        if a.acknowledged_at is not None:
            moments.append(
                Moment(
                    a.acknowledged_at,
                    text(lang, "event.acknowledged"),
                    "acknowledged",
                    "acknowledged",
                    alert=a,
                )
            )
    outcome_of = {c.agency: c.outcome for c in clocks if c.state == "answered"}
    for answer in answers:
        outcome = outcome_of.get(answer.agency)
        detail = names.agency(lang, answer.agency)
        if outcome:
            detail += f" · {text(lang, f'outcome.{outcome}')}"
        moments.append(
            Moment(answer.answered_at, text(lang, "event.answered"), "answered", "answered", detail)
        )
    return sorted(moments, key=lambda m: m.at)


def appeal_content(
    lang: Lang,
    names: Names,
    *,
    clocks: Sequence[ClockRecord],
    alerts: Sequence[AlertView],
    redirects: Sequence[RedirectRecord],
    answers: Sequence[AnswerRecord],
    hops: Sequence[HopTime],
    total: int | None,
    now: datetime,
) -> Markup:
    moments = timeline(
        lang, names, clocks=clocks, alerts=alerts, redirects=redirects, answers=answers
    )
    return render(
        "appeal.html",
        lang=lang,
        names=names,
        clocks=clocks,
        hops=hops,
        total=total,
        moments=moments,
        now=now,
    )


# ------------------------------------------------------------------ backlog


def backlog_content(
    lang: Lang,
    names: Names,
    *,
    counts: Sequence[BacklogCount],
    rows: Sequence[BacklogClock],
    chosen: str | None,
    choose_agency: bool,
    now: datetime,
    expected: ExpectedBreaches | None = None,
) -> Markup:
    """Open and overdue clocks per agency (the most overdue first), then the clocks; for one
    agency, its expected breaches this month."""
    ordered = sorted(counts, key=lambda r: (-r.overdue, -r.open, r.agency))
    return render(
        "backlog.html",
        lang=lang,
        names=names,
        counts=[r for r in ordered if chosen is None or r.agency == chosen],
        rows=rows,
        chosen=chosen,
        choose_agency=choose_agency,
        now=now,
        expected=expected,
    )


# ------------------------------------------------------------------ breach risk


def at_risk_content(
    lang: Lang,
    names: Names,
    *,
    rows: Sequence[RiskClock],
    chosen: str | None,
    choose_agency: bool,
    expected: ExpectedBreaches | None,
) -> Markup:
    """The open appeals by breach risk (riskiest first); an agency's expected breaches."""
    return render(
        "at_risk.html",
        lang=lang,
        names=names,
        rows=rows,
        chosen=chosen,
        choose_agency=choose_agency,
        expected=expected,
    )


# ------------------------------------------------------------------ inboxes


def inboxes_content(
    lang: Lang, names: Names, *, rows: Sequence[InboxRecord], now: datetime
) -> Markup:
    """Every agency's inbox, stalled first."""
    return render("inboxes.html", lang=lang, names=names, rows=rows, now=now)


# ------------------------------------------------------------------ routing what-if


def what_if_content(
    lang: Lang,
    names: Names,
    *,
    proposal: Any,
    report: Mapping[str, Any] | None,
    problem: str | None,
) -> Markup:
    """The what-if form (`proposal`: its dates and document, never the token), a problem
    with it or with routing's answer, and routing's report when there is one."""
    return render(
        "what_if.html",
        lang=lang,
        names=names,
        proposal=proposal,
        report=report,
        problem=problem,
        triage="(triage)",
    )
