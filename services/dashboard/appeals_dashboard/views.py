"""HTML fragments of the dashboard's pages, in the viewer's language; every value escaped."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from appeals_dashboard import i18n
from appeals_dashboard.charts import Bar, paired_bars
from appeals_dashboard.i18n import Lang, text
from appeals_dashboard.markup import Html, element, join, render
from appeals_dashboard.names import Names, Option
from appeals_dashboard.report import PREVIOUS, YEAR_EARLIER, Choice, Table
from appeals_platform.auth import Principal, Role
from deadlines.queries import (
    AlertRecord,
    AnswerRecord,
    BacklogClock,
    BacklogCount,
    ClockRecord,
    Figures,
    Period,
    RedirectRecord,
)

KINDS = ("warning", "breached", "overdue_reminder", "escalated", "redirect_overdue")
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


# ------------------------------------------------------------------ layout


def _time(lang: Lang, moment: datetime | None, *, short: bool = True) -> Html:
    if moment is None:
        return Html("—")
    return element(
        "time", i18n.moment_text(lang, moment, short=short), datetime=i18n.iso_local(moment)
    )


def who(principal: Principal, names: Names, lang: Lang) -> str:
    if principal.role is Role.AGENCY:
        return f"{names.agency(lang, principal.agency)} ({principal.subject})"
    return f"{principal.role.value}: {principal.subject}"


def page(
    *,
    lang: Lang,
    page_name: str,
    title: str,
    content: Html,
    here: str,
    principal: Principal | None,
    names: Names,
) -> Html:
    """The whole document: header with sections, language switch and account, then content."""
    sections: list[Html] = []
    if principal is not None:
        for name, href in (
            ("alerts", "/dashboard/alerts"),
            ("compliance", "/dashboard/compliance"),
            ("backlog", "/dashboard/backlog"),
        ):
            sections.append(
                element(
                    "a",
                    text(lang, f"nav.{name}"),
                    href=href,
                    aria_current="page" if page_name == name else None,
                )
            )
    languages = join(
        element(
            "a",
            i18n.LANGUAGE_NAMES[code],
            href="/dashboard/language/" + code + "?" + urlencode({"next": here}),
            hreflang=code,
            lang=code,
            aria_current="true" if code == lang else None,
            data_lang=code,
        )
        for code in i18n.LANGUAGES
    )
    account = Html("")
    if principal is not None:
        account = element(
            "div",
            join(
                [
                    element("span", who(principal, names, lang), class_="who"),
                    element(
                        "form",
                        element("button", text(lang, "nav.sign_out"), type="submit"),
                        method="post",
                        action="/dashboard/sign-out",
                    ),
                ]
            ),
            class_="account",
        )
    return render(
        "layout.html",
        {
            "lang": lang,
            "title": title,
            "app_title": text(lang, "app.title"),
            "page": page_name,
            "nav": join(sections),
            "languages": languages,
            "account": account,
            "content": content,
            "footer": text(lang, "footer.zone"),
        },
    )


def error_content(lang: Lang, heading_key: str, detail: str = "") -> Html:
    return render("error.html", {"heading": text(lang, heading_key), "detail": detail})


def signin_content(lang: Lang, next_url: str, problem: str | None) -> Html:
    return render(
        "signin.html",
        {
            "heading": text(lang, "signin.title"),
            "help": text(lang, "signin.help"),
            "problem": element("p", problem, class_="problem", role="alert")
            if problem
            else Html(""),
            "next": next_url,
            "token_label": text(lang, "signin.token"),
            "submit": text(lang, "signin.submit"),
        },
    )


# ------------------------------------------------------------------ alerts


def _select(
    name: str, label: str, options: Sequence[Option], chosen: str | None, any_label: str
) -> Html:
    items = [element("option", any_label, value="")]
    items += [
        element(
            "option",
            "\u2003" * option.depth + option.label,
            value=option.value,
            selected=option.value == chosen,
        )
        for option in options
    ]
    return element("label", join([label, element("select", join(items), name=name)]))


def alert_filters(
    lang: Lang,
    names: Names,
    *,
    agency: str | None,
    locality: str | None,
    kind: str | None,
    severity: str | None,
    status: str | None,
    choose_agency: bool,
) -> Html:
    any_label = text(lang, "filter.any")
    parts: list[Html] = []
    if choose_agency:
        parts.append(
            _select(
                "agency", text(lang, "filter.agency"), names.agency_options(lang), agency, any_label
            )
        )
    parts += [
        _select(
            "locality",
            text(lang, "filter.locality"),
            names.locality_options(lang),
            locality,
            any_label,
        ),
        _select(
            "kind",
            text(lang, "filter.kind"),
            [Option(k, text(lang, f"kind.{k}")) for k in KINDS],
            kind,
            any_label,
        ),
        _select(
            "severity",
            text(lang, "filter.severity"),
            [Option(s, text(lang, f"severity.{s}")) for s in SEVERITIES],
            severity,
            any_label,
        ),
        _select(
            "status",
            text(lang, "filter.status"),
            [Option(s, text(lang, f"status.{s}")) for s in STATUSES],
            status,
            any_label,
        ),
    ]
    return join(parts)


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


def alert_head(lang: Lang) -> Html:
    return join(
        element("th", text(lang, key), class_=css or None, scope="col")
        for key, css in ALERT_COLUMNS
    )


def ack_cell(alert: AlertView, lang: Lang, can_acknowledge: bool) -> Html:
    """The contents of the acknowledgement cell: who and when, or the form."""
    if alert.acknowledged_at is not None:
        parts: list[object] = [
            text(lang, "ack.by"),
            " ",
            element("b", alert.acknowledged_by or ""),
            ", ",
            _time(lang, alert.acknowledged_at),
        ]
        if alert.acknowledge_comment:
            parts += [": ", element("q", alert.acknowledge_comment)]
        return element("span", join(parts), class_="acknowledged")
    if not can_acknowledge:
        return Html("—")
    return element(
        "form",
        join(
            [
                element(
                    "input",
                    name="comment",
                    maxlength=2000,
                    placeholder=text(lang, "ack.comment"),
                    aria_label=text(lang, "ack.comment"),
                ),
                element("button", text(lang, "ack.submit"), type="submit"),
            ]
        ),
        method="post",
        action=f"/dashboard/alerts/{alert.id}/acknowledge",
        class_="ack-form",
    )


def alert_row(alert: AlertView, lang: Lang, names: Names, can_acknowledge: bool) -> Html:
    kind = text(lang, f"kind.{alert.kind}")
    if alert.kind == "escalated" and alert.escalated_to:
        kind += f" ({text(lang, 'escalated_to')} {names.agency(lang, alert.escalated_to)})"
    elif alert.kind == "warning" and alert.working_days_left is not None:
        kind += f" ({alert.working_days_left} {text(lang, 'days_left')})"
    appeal = element(
        "a",
        alert.registration_number or alert.appeal_id,
        href=f"/dashboard/appeals/{alert.appeal_id}",
        class_="appeal-link",
    )
    cells = [
        element("td", _time(lang, alert.raised_at)),
        element("td", kind, class_="kind"),
        element(
            "td",
            element("span", text(lang, f"severity.{alert.severity}"), class_="badge"),
            class_="severity",
        ),
        element("td", appeal),
        element("td", names.agency(lang, alert.agency), class_="agency"),
        element("td", names.locality(lang, alert.locality), class_="locality"),
        element("td", _time(lang, alert.due_at)),
        element("td", i18n.integer(lang, alert.working_days_late), class_="num"),
        element("td", ack_cell(alert, lang, can_acknowledge), class_="ack"),
    ]
    css = f"alert sev-{alert.severity} kind-{alert.kind}"
    if alert.acknowledged_at is not None:
        css += " acknowledged"
    return element(
        "tr",
        join(cells),
        id=f"alert-{alert.id}",
        class_=css,
        data_agency=alert.agency,
        data_kind=alert.kind,
        data_appeal=alert.appeal_id,
    )


def alerts_content(
    lang: Lang,
    *,
    filters: Html,
    rows: Sequence[Html],
    stream: str,
    limit: int,
) -> Html:
    return render(
        "alerts.html",
        {
            "heading": text(lang, "alerts.title"),
            "live": text(lang, "alerts.live"),
            "offline": text(lang, "alerts.offline"),
            "filters": filters,
            "apply": text(lang, "filter.apply"),
            "reset": text(lang, "filter.reset"),
            "shown": f"{text(lang, 'alerts.shown')} {i18n.integer(lang, limit)}",
            "stream": stream,
            "head": alert_head(lang),
            "rows": join(rows),
            "empty_hidden": Html(" hidden") if rows else Html(""),
            "none": text(lang, "alerts.none"),
        },
    )


# ------------------------------------------------------------------ compliance


def _share(lang: Lang, figures: Figures) -> str:
    return i18n.percent(lang, figures.on_time_share)


def _median(lang: Lang, figures: Figures) -> str:
    m = figures.median_working_days
    if m is None:
        return "—"
    return i18n.integer(lang, int(m)) if m == int(m) else i18n.decimal(lang, m, 1)


# (message key, how to show one Figures value)
METRICS: tuple[tuple[str, Any], ...] = (
    ("m.received", lambda lang, f: i18n.integer(lang, f.received)),
    ("m.answered", lambda lang, f: i18n.integer(lang, f.answered_on_time + f.answered_late)),
    ("m.on_time_share", _share),
    ("m.open_overdue", lambda lang, f: i18n.integer(lang, f.open_overdue)),
    ("m.answered_late", lambda lang, f: i18n.integer(lang, f.answered_late)),
    ("m.redirected_late", lambda lang, f: i18n.integer(lang, f.late_redirects)),
    ("m.median_days", _median),
)


def _pair(lang: Lang, show: Any, current: Figures, previous: Figures) -> Html:
    return join([show(lang, current), element("small", show(lang, previous), class_="prev")])


def totals_block(lang: Lang, table: Table) -> Html:
    """The figures of a one-row table (the region total, or an agency's own row)."""
    total = table.rows[0] if table.rows else None
    previous_name = i18n.period_text(lang, table.choice.previous.label)
    items = [
        element(
            "div",
            join(
                [
                    element("dt", text(lang, key)),
                    element(
                        "dd",
                        join(
                            [
                                show(lang, total.current) if total else "—",
                                element(
                                    "small",
                                    f"{previous_name}: "
                                    f"{show(lang, total.previous) if total else '—'}",
                                ),
                            ]
                        ),
                        data_metric=key.removeprefix("m."),
                    ),
                ]
            ),
        )
        for key, show in METRICS
    ]
    as_of = f"{text(lang, 'm.as_of')} {i18n.moment_text(lang, table.as_of)}"
    return join([element("p", as_of, class_="note"), element("dl", join(items))])


def compliance_table(
    lang: Lang, names: Names, table: Table, *, heading: str, csv_url: str, table_id: str
) -> Html:
    current_name = i18n.period_text(lang, table.choice.period.label)
    previous_name = i18n.period_text(lang, table.choice.previous.label)
    head = join(
        [
            element("th", "#", class_="num", scope="col"),
            element("th", text(lang, "m.name"), scope="col"),
            *(element("th", text(lang, key), class_="num", scope="col") for key, _show in METRICS),
        ]
    )
    rows: list[Html] = []
    for rank, row in enumerate(table.rows, start=1):
        name: list[object] = [names.of(table.by, lang, row.key)]
        if row.current.small_sample:
            name.append(
                element(
                    "span",
                    text(lang, "m.small_sample"),
                    class_="flag",
                    title=text(lang, "m.small_sample_help", n=table.min_sample),
                )
            )
        cells = [
            element("td", i18n.integer(lang, rank), class_="num"),
            element("td", join(name), class_="name"),
            *(
                element("td", _pair(lang, show, row.current, row.previous), class_="num")
                for _key, show in METRICS
            ),
        ]
        rows.append(
            element(
                "tr",
                join(cells),
                data_key=row.key,
                class_="small-sample" if row.current.small_sample else None,
            )
        )
    caption = f"{current_name} / {previous_name}"
    return element(
        "section",
        join(
            [
                element(
                    "div",
                    join(
                        [
                            element("h2", heading),
                            element(
                                "a",
                                text(lang, "table.csv"),
                                href=csv_url,
                                class_="csv",
                                download=True,
                                data_table=table.by,
                            ),
                        ]
                    ),
                    class_="table-head",
                ),
                element(
                    "table",
                    join(
                        [
                            element("caption", caption, class_="note"),
                            element("thead", element("tr", head)),
                            element("tbody", join(rows)),
                        ]
                    ),
                    class_="grid compliance",
                    id=table_id,
                ),
            ]
        ),
        class_="compliance-table",
    )


def share_chart(lang: Lang, names: Names, table: Table, title: str) -> Html:
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


# ------------------------------------------------------------------ appeal


@dataclass(frozen=True)
class Moment:
    """One line of an appeal's timeline."""

    at: datetime
    what: str
    details: Html
    css: str = ""


def facts(pairs: Sequence[tuple[str, object]]) -> Html:
    return join(
        element("div", join([element("dt", label), element("dd", value)])) for label, value in pairs
    )


def timeline(lang: Lang, moments: Sequence[Moment]) -> Html:
    ordered = sorted(moments, key=lambda m: m.at)
    return join(
        element(
            "li",
            join(
                [
                    _time(lang, m.at, short=False),
                    element("span", m.what, class_="what"),
                    element("div", m.details, class_="details") if m.details else Html(""),
                ]
            ),
            class_=m.css or None,
        )
        for m in ordered
    )


def clock_table(lang: Lang, names: Names, clocks: Sequence[ClockRecord]) -> Html:
    keys = (
        "appeal.hop",
        "col.agency",
        "appeal.state",
        "appeal.received",
        "appeal.start_day",
        "appeal.term",
        "appeal.due",
        "appeal.redirect_due",
        "appeal.extensions",
        "appeal.outcome",
        "appeal.rules",
    )
    head = join(element("th", text(lang, k), scope="col") for k in keys)
    rows = []
    for c in clocks:
        unit = text(lang, f"unit.{c.unit}") if c.unit in ("working", "calendar") else c.unit
        due: list[object] = [_time(lang, c.due_at)]
        if c.due_at != c.original_due_at:
            due += [
                element("small", f"{text(lang, 'appeal.original_due')}: ", class_="prev"),
                _time(lang, c.original_due_at),
            ]
        outcome = text(lang, f"outcome.{c.outcome}") if c.outcome else "—"
        if c.working_days_late:
            outcome += f" (+{c.working_days_late})"
        cells = [
            i18n.integer(lang, c.hop),
            names.agency(lang, c.agency),
            text(lang, f"state.{c.state}"),
            _time(lang, c.agency_received_at),
            i18n.day_text(lang, c.start_day),
            f"{c.term_days} {unit}",
            join(due),
            _time(lang, c.redirect_due_at),
            i18n.integer(lang, c.extensions),
            outcome,
            f"{c.rule_version} / {c.calendar_version}",
        ]
        rows.append(
            element(
                "tr",
                join(element("td", cell) for cell in cells),
                data_hop=c.hop,
                data_state=c.state,
            )
        )
    return element(
        "table",
        join([element("thead", element("tr", head)), element("tbody", join(rows))]),
        class_="grid clocks",
    )


def routing_details(lang: Lang, recorded: Mapping[str, Any] | None) -> Html:
    """The routing explanation recorded with a clock (`ClockRecord.routing`), if any."""
    if not isinstance(recorded, Mapping) or not recorded:
        return element("span", text(lang, "routing.unknown"), class_="note")
    items: list[Html] = []
    if recorded.get("method"):
        items.append(element("li", f"{text(lang, 'routing.method')}: {recorded['method']}"))
    confidence = recorded.get("confidence")
    if isinstance(confidence, int | float):
        items.append(
            element(
                "li", f"{text(lang, 'routing.confidence')}: {i18n.percent(lang, confidence, 0)}"
            )
        )
    explanation = recorded.get("explanation")
    if isinstance(explanation, Mapping):
        for name in ("locality", "category"):
            part = explanation.get(name)
            if isinstance(part, Mapping) and part:
                described = ", ".join(f"{k}: {v}" for k, v in part.items() if v not in (None, ""))
                items.append(element("li", f"{name}: {described}"))
        for note in explanation.get("notes") or ():
            items.append(element("li", str(note)))
    return element("ul", join(items)) if items else Html("")


def appeal_link(appeal_id: uuid.UUID | str) -> str:
    return f"/dashboard/appeals/{appeal_id}"


def _period_options(lang: Lang, periods: Sequence[Period], chosen: str) -> Html:
    return join(
        element(
            "option", i18n.period_text(lang, p.label), value=p.label, selected=p.label == chosen
        )
        for p in periods
    )


def compliance_content(
    lang: Lang,
    *,
    choice: Choice,
    periods: Sequence[Period],
    totals: Html,
    totals_heading: str,
    sections: Html,
    min_sample: int,
) -> Html:
    offered = list(periods)
    for extra in (choice.period, choice.previous):
        if all(p.label != extra.label for p in offered):
            offered.insert(0, extra)
    period_select = element(
        "select", _period_options(lang, offered, choice.period.label), name="period"
    )
    modes = [
        element(
            "option",
            text(lang, "compare.last_year"),
            value=YEAR_EARLIER,
            selected=choice.compare == YEAR_EARLIER,
        ),
        element(
            "option",
            text(lang, "compare.preceding"),
            value=PREVIOUS,
            selected=choice.compare == PREVIOUS,
        ),
    ]
    custom = choice.compare if choice.compare not in (YEAR_EARLIER, PREVIOUS) else ""
    compare_select = element(
        "select", join([*modes, _period_options(lang, offered, custom)]), name="compare"
    )
    return render(
        "compliance.html",
        {
            "heading": f"{text(lang, 'compliance.title')}: "
            f"{i18n.period_text(lang, choice.period.label)} / "
            f"{i18n.period_text(lang, choice.previous.label)}",
            "period_label": text(lang, "compliance.choose"),
            "period_select": period_select,
            "compare_label": text(lang, "compliance.compare"),
            "compare_select": compare_select,
            "apply": text(lang, "filter.apply"),
            "definition": text(lang, "m.definition"),
            "ranked": text(lang, "compliance.ranked"),
            "small_help": text(lang, "m.small_sample_help", n=min_sample) + ".",
            "totals_heading": totals_heading,
            "totals": totals,
            "sections": sections,
        },
    )


def _agency_move(lang: Lang, names: Names, r: RedirectRecord) -> str:
    move = f"{names.agency(lang, r.from_agency)} → {names.agency(lang, r.to_agency)}"
    if r.partial:
        move += f" ({text(lang, 'routing.partial')})"
    return move


def appeal_content(
    lang: Lang,
    names: Names,
    *,
    clocks: Sequence[ClockRecord],
    alerts: Sequence[AlertView],
    redirects: Sequence[RedirectRecord],
    answers: Sequence[AnswerRecord],
    now: datetime,
) -> Html:
    first, current = clocks[0], clocks[-1]
    overdue = current.state == "open" and now > current.due_at
    state = text(lang, f"state.{current.state}")
    if overdue:
        state += f" · {text(lang, 'kind.breached').lower()}"
    fact_list: list[tuple[str, object]] = [
        (text(lang, "col.appeal"), first.registration_number),
        (text(lang, "appeal.type"), names.appeal_type(lang, first.appeal_type)),
        (text(lang, "appeal.category"), names.category(lang, first.category)),
        (text(lang, "col.locality"), names.locality(lang, first.locality)),
        (text(lang, "col.agency"), names.agency(lang, current.agency)),
        (text(lang, "appeal.state"), state),
        (text(lang, "appeal.due"), _time(lang, current.due_at)),
    ]
    moments: list[Moment] = [
        Moment(
            first.received_at,
            text(lang, "event.received"),
            Html(""),
        )
    ]
    for c in clocks:
        details = [routing_details(lang, c.routing)]
        moments.append(
            Moment(
                c.assigned_at,
                f"{text(lang, 'event.assigned')}: {names.agency(lang, c.agency)}",
                join(details),
                "assigned",
            )
        )
        if c.extended_at is not None:
            moments.append(
                Moment(
                    c.extended_at,
                    text(lang, "event.extended"),
                    join(
                        [
                            f"{text(lang, 'appeal.due')}: ",
                            _time(lang, c.due_at),
                            f". {text(lang, 'routing.reason')}: {c.extension_reason or '—'}",
                        ]
                    ),
                    "extended",
                )
            )
    for r in redirects:
        moments.append(
            Moment(
                r.redirected_at,
                f"{text(lang, 'event.redirected')}: {_agency_move(lang, names, r)}",
                element("span", f"{text(lang, 'routing.reason')}: {r.reason}"),
                "redirected",
            )
        )
    for a in alerts:
        detail = f"{text(lang, f'severity.{a.severity}')}; {names.agency(lang, a.agency)}"
        if a.working_days_late:
            detail += f"; {text(lang, 'col.days_late')}: {a.working_days_late}"
        if a.escalated_to:
            detail += f"; {text(lang, 'escalated_to')} {names.agency(lang, a.escalated_to)}"
        moments.append(
            Moment(
                a.raised_at,
                text(lang, f"event.{a.kind}"),
                element("span", detail),
                f"sev-{a.severity} alert-{a.kind}",
            )
        )
        if a.acknowledged_at is not None:
            moments.append(
                Moment(
                    a.acknowledged_at,
                    text(lang, "event.acknowledged"),
                    ack_cell(a, lang, False),
                    "acknowledged",
                )
            )
    outcome_of = {c.agency: c.outcome for c in clocks if c.state == "answered"}
    for answer in answers:
        outcome = outcome_of.get(answer.agency)
        detail = names.agency(lang, answer.agency)
        if outcome:
            detail += f" · {text(lang, f'outcome.{outcome}')}"
        moments.append(
            Moment(
                answer.answered_at,
                text(lang, "event.answered"),
                element("span", detail),
                "answered",
            )
        )
    return render(
        "appeal.html",
        {
            "heading": f"{text(lang, 'appeal.title')} {first.registration_number}",
            "facts": facts(fact_list),
            "clock_heading": text(lang, "appeal.clock"),
            "clocks": clock_table(lang, names, clocks),
            "timeline_heading": text(lang, "appeal.timeline"),
            "timeline": timeline(lang, moments),
        },
    )


def backlog_content(
    lang: Lang,
    names: Names,
    *,
    counts: Sequence[BacklogCount],
    rows: Sequence[BacklogClock],
    chosen: str | None,
    choose_agency: bool,
    now: datetime,
) -> Html:
    chooser = Html("")
    if choose_agency:
        chooser = element(
            "form",
            join(
                [
                    _select(
                        "agency",
                        text(lang, "filter.agency"),
                        names.agency_options(lang),
                        chosen,
                        text(lang, "filter.any"),
                    ),
                    element("button", text(lang, "filter.apply"), type="submit"),
                ]
            ),
            method="get",
            action="/dashboard/backlog",
            class_="filters",
            data_autosubmit="true",
        )
    ordered = sorted(counts, key=lambda r: (-r.overdue, -r.open, r.agency))
    summary_rows = [
        element(
            "tr",
            join(
                [
                    element(
                        "td",
                        element(
                            "a",
                            names.agency(lang, r.agency),
                            href="/dashboard/backlog?" + urlencode({"agency": r.agency}),
                        )
                        if choose_agency
                        else names.agency(lang, r.agency),
                    ),
                    element("td", i18n.integer(lang, r.open), class_="num"),
                    element("td", i18n.integer(lang, r.overdue), class_="num"),
                ]
            ),
            data_agency=r.agency,
        )
        for r in ordered
        if chosen is None or r.agency == chosen
    ]
    summary = element(
        "table",
        join(
            [
                element(
                    "thead",
                    element(
                        "tr",
                        join(
                            [
                                element("th", text(lang, "col.agency")),
                                element("th", text(lang, "backlog.open"), class_="num"),
                                element("th", text(lang, "backlog.overdue"), class_="num"),
                            ]
                        ),
                    ),
                ),
                element("tbody", join(summary_rows)),
            ]
        ),
        class_="grid backlog-summary",
        id="backlog-summary",
    )
    body_rows = []
    for r in rows:
        late = now > r.due_at
        status = (
            f"{text(lang, 'backlog.overdue_by')} {i18n.integer(lang, (now - r.due_at).days)} "
            f"{text(lang, 'backlog.days')}"
            if late
            else text(lang, "state.open")
        )
        body_rows.append(
            element(
                "tr",
                join(
                    [
                        element(
                            "td",
                            element("a", r.registration_number, href=appeal_link(r.appeal_id)),
                        ),
                        element("td", names.appeal_type(lang, r.appeal_type)),
                        element("td", names.agency(lang, r.agency), class_="agency"),
                        element("td", names.locality(lang, r.locality)),
                        element("td", _time(lang, r.agency_received_at)),
                        element("td", _time(lang, r.due_at)),
                        element("td", status),
                    ]
                ),
                class_="overdue" if late else None,
                data_agency=r.agency,
            )
        )
    head = join(
        element("th", text(lang, key))
        for key in (
            "col.appeal",
            "appeal.type",
            "col.agency",
            "col.locality",
            "appeal.received",
            "col.due",
            "appeal.state",
        )
    )
    table = element(
        "table",
        join([element("thead", element("tr", head)), element("tbody", join(body_rows))]),
        class_="grid backlog",
        id="backlog",
    )
    return render(
        "backlog.html",
        {
            "heading": text(lang, "backlog.title"),
            "chooser": chooser,
            "summary": summary,
            "table": table,
        },
    )
