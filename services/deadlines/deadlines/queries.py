"""What other packages may read of the deadlines service: typed read functions, each beside
its SQL, returning records rather than rows.

This module and `deadlines.commands` are the service's public face to the monitoring
dashboard (`appeals_dashboard`), which never names a table: the schema can change behind
these functions. Every statement is served by an index of the deadlines schema or by the
pre-aggregated `compliance_*` tables, so a page costs the same with a month of data or with
years of it: alerts by `alerts_raised` / `alerts_agency_raised`, overdue clocks by
`clocks_open_due_cover` and `clocks_closed_late_cover` (from the indexes alone), an agency's
backlog by `clocks_agency_open`, periods by the (dimension, day, key) keys.

The hop table of an appeal (time at each hop) is `deadlines.hops`'s, re-exported here. The
compliance vocabulary (periods, tallies, figures) is re-exported from
`deadlines.compliance`, so a reader of compliance needs no other module.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from appeals_platform.auth import Principal, Role
from deadlines.compliance import (
    ANSWER_DAYS,
    DAILY,
    FIGURES,
    Figures,
    Period,
    Tally,
    month,
    parse_period,
    period_containing,
    quarter,
    sector_of,
    year,
)
from deadlines.hops import HopTable, HopTime, hop_table
from deadlines.inboxes import UNCONFIRMED_COUNTED
from deadlines.law import local_day, start_of

__all__ = [
    "FIGURES",
    "AlertFilter",
    "AlertRecord",
    "AnswerRecord",
    "AppealHistory",
    "BacklogClock",
    "BacklogCount",
    "ClockRecord",
    "ExpectedBreaches",
    "Figures",
    "HopTable",
    "HopTime",
    "InboxRecord",
    "OverdueGroup",
    "Period",
    "RedirectRecord",
    "RiskClock",
    "Session",
    "Tally",
    "agency_backlog",
    "alert",
    "alerts",
    "appeal_history",
    "at_risk",
    "backlog_counts",
    "expected_breaches",
    "find_session",
    "hop_table",
    "inbox_states",
    "local_day",
    "month",
    "monthly_tallies",
    "overdue_backlog",
    "overdue_groups",
    "parse_period",
    "period_containing",
    "period_tallies",
    "quarter",
    "sector_of",
    "session_digest",
    "start_of",
    "year",
]

# ------------------------------------------------------------------ alerts


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts to list; `agency` confines the list to one agency's own."""

    agency: str | None = None
    locality: str | None = None
    kind: str | None = None
    severity: str | None = None
    status: str | None = None  # "open" (not acknowledged), "acknowledged" or None (all)

    def matches(self, alert: dict[str, object]) -> bool:
        """The same test for a live alert as the SQL below applies to stored ones."""
        if self.agency and alert.get("agency") != self.agency:
            return False
        if self.locality and self.locality not in (alert.get("locality"), alert.get("region")):
            return False
        if self.kind and alert.get("kind") != self.kind:
            return False
        if self.severity and alert.get("severity") != self.severity:
            return False
        acknowledged = alert.get("acknowledged_at") is not None
        return not (
            (self.status == "open" and acknowledged)
            or (self.status == "acknowledged" and not acknowledged)
        )


@dataclass(frozen=True)
class AlertRecord:
    """An alert as stored: its columns, and `data`, the DeadlineAlert payload it was raised
    with."""

    id: uuid.UUID
    appeal_id: uuid.UUID
    hop: int
    kind: str
    severity: str
    agency: str
    locality: str | None
    region: str | None
    raised_at: datetime
    data: dict[str, Any]
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledge_comment: str | None = None


ALERT_COLUMNS = """id, appeal_id, hop, kind, severity, agency, locality, region, raised_at, data,
       acknowledged_at, acknowledged_by, acknowledge_comment"""

# Two statements rather than one with "$7 IS NULL OR agency = $7": a prepared statement's
# generic plan could not then choose the per-agency index.
LIST_ALERTS = f"""
SELECT {ALERT_COLUMNS}
FROM alerts
WHERE ($1::text IS NULL OR locality = $1 OR region = $1)
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::text IS NULL OR severity = $3)
  AND ($4::text IS NULL OR ($4 = 'open') = (acknowledged_at IS NULL))
  AND raised_at >= $5
ORDER BY raised_at DESC, id LIMIT $6
"""
LIST_AGENCY_ALERTS = f"""
SELECT {ALERT_COLUMNS}
FROM alerts
WHERE agency = $7
  AND ($1::text IS NULL OR locality = $1 OR region = $1)
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::text IS NULL OR severity = $3)
  AND ($4::text IS NULL OR ($4 = 'open') = (acknowledged_at IS NULL))
  AND raised_at >= $5
ORDER BY raised_at DESC, id LIMIT $6
"""

EPOCH = datetime.fromisoformat("2000-01-01T00:00:00+00:00")


async def alerts(
    conn: asyncpg.Connection,
    filters: AlertFilter,
    *,
    limit: int = 200,
    raised_since: datetime = EPOCH,
) -> list[AlertRecord]:
    """The newest alerts that pass the filters, newest first."""
    args = (
        filters.locality,
        filters.kind,
        filters.severity,
        filters.status,
        raised_since,
        limit,
    )
    if filters.agency:
        rows = await conn.fetch(LIST_AGENCY_ALERTS, *args, filters.agency)
    else:
        rows = await conn.fetch(LIST_ALERTS, *args)
    return [AlertRecord(**r) for r in rows]


GET_ALERT = f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"


async def alert(conn: asyncpg.Connection, alert_id: uuid.UUID) -> AlertRecord | None:
    row = await conn.fetchrow(GET_ALERT, alert_id)
    return None if row is None else AlertRecord(**row)


# ------------------------------------------------------------------ one appeal


@dataclass(frozen=True)
class ClockRecord:
    """One hop's legal clock, as the appeal page shows it."""

    appeal_id: uuid.UUID
    hop: int
    registration_number: str
    appeal_type: str
    agency: str
    category: str | None
    locality: str | None
    received_at: datetime
    agency_received_at: datetime
    assigned_at: datetime
    start_day: date
    term_days: int
    unit: str
    original_due_at: datetime
    due_at: datetime
    redirect_due_at: datetime
    rule_version: str
    calendar_version: str
    extensions: int
    extended_at: datetime | None
    extension_reason: str | None
    state: str
    outcome: str | None
    working_days_late: int | None
    routing: dict[str, Any] | None  # routing's method, confidence and explanation


@dataclass(frozen=True)
class RedirectRecord:
    event_id: str
    hop: int
    from_agency: str
    to_agency: str | None
    partial: bool
    reason: str
    redirected_at: datetime


@dataclass(frozen=True)
class AnswerRecord:
    event_id: str
    agency: str
    answered_at: datetime


@dataclass(frozen=True)
class AppealHistory:
    """Everything the service knows of one appeal, each list in time order."""

    clocks: list[ClockRecord]
    alerts: list[AlertRecord]
    redirects: list[RedirectRecord]
    answers: list[AnswerRecord]


APPEAL_CLOCKS = """
SELECT appeal_id, hop, registration_number, appeal_type, agency, category, locality,
       received_at, agency_received_at, assigned_at, start_day, term_days, unit,
       original_due_at, due_at, redirect_due_at, rule_version, calendar_version, extensions,
       extended_at, extension_reason, state, outcome, working_days_late, routing
FROM clocks WHERE appeal_id = $1 ORDER BY hop
"""
APPEAL_ALERTS = f"SELECT {ALERT_COLUMNS} FROM alerts WHERE appeal_id = $1 ORDER BY raised_at, id"
APPEAL_REDIRECTS = """
SELECT event_id, hop, from_agency, to_agency, partial, reason, redirected_at
FROM redirects WHERE appeal_id = $1 ORDER BY redirected_at, hop
"""
APPEAL_ANSWERS = """
SELECT event_id, agency, answered_at FROM answers WHERE appeal_id = $1 ORDER BY answered_at
"""


async def appeal_history(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> AppealHistory:
    """The appeal's clocks (one per hop), alerts, redirects and answers; empty lists for an
    appeal the service has not seen."""
    return AppealHistory(
        clocks=[ClockRecord(**r) for r in await conn.fetch(APPEAL_CLOCKS, appeal_id)],
        alerts=[AlertRecord(**r) for r in await conn.fetch(APPEAL_ALERTS, appeal_id)],
        redirects=[RedirectRecord(**r) for r in await conn.fetch(APPEAL_REDIRECTS, appeal_id)],
        answers=[AnswerRecord(**r) for r in await conn.fetch(APPEAL_ANSWERS, appeal_id)],
    )


# ------------------------------------------------------------------ compliance


async def period_tallies(
    conn: asyncpg.Connection, dimension: str, period: Period
) -> dict[str, Tally]:
    """A stored dimension's (all, agency, level, region, locality, category) tally per key
    over one period, from the daily aggregates, without the open-and-overdue count (see
    `overdue_groups`). The statements are the ones `/v1/compliance` reports with."""
    tallies: dict[str, Tally] = {}
    span = (dimension, period.first, period.first, period.last)
    for r in await conn.fetch(DAILY, *span):
        t = tallies.setdefault(r["key"], Tally())
        t.received += r["received"]
        t.on_time += r["on_time"]
        t.late += r["late"]
        t.redirected_late += r["redirected_late"]
        t.redirect_days_lost += r["redirect_days_lost"]
        t.redirect_days_received += r["redirect_days_received"]
    for r in await conn.fetch(ANSWER_DAYS, *span):
        tallies.setdefault(r["key"], Tally()).answer_days[r["working_days"]] += r["answers"]
    return tallies


# Month by month for some keys of a stored dimension (a district is its localities): the
# answers of each month, and the change in open-and-overdue hops bucketed so that a month's
# running sum is the count "as of the start of the next month", as `/v1/compliance` takes it
# (OPEN_OVERDUE counts the days up to and including the first day after the period).
MONTHLY = """
SELECT 'answers' AS part, date_trunc('month', day)::date AS month,
       sum(received)::int AS received, sum(answered_on_time)::int AS on_time,
       sum(answered_late)::int AS late, sum(redirected_late)::int AS redirected_late,
       0 AS overdue_change
FROM compliance_daily
WHERE dimension = $1 AND key = ANY($2::text[]) AND day BETWEEN $3 AND $4
GROUP BY month
UNION ALL
SELECT 'overdue', date_trunc('month', day - 1)::date,
       0, 0, 0, 0, sum(overdue_started - overdue_ended)::int
FROM compliance_daily
WHERE dimension = $1 AND key = ANY($2::text[]) AND day <= $4
GROUP BY 2
"""


async def monthly_tallies(
    conn: asyncpg.Connection,
    dimension: str,
    keys: list[str],
    first: date,
    today: date,
) -> list[tuple[Period, Tally]]:
    """Every month from the one holding `first` to the one holding `today`, oldest first,
    with the keys' tallies summed: received and answered in the month, and open and overdue
    at its end (as of today for the running month), by the definitions of `/v1/compliance`.
    No answer-day histogram (a month's median is not part of a trend)."""
    months: list[Period] = [month(first.year, first.month)]
    while months[-1].last < today:
        following = months[-1].last + timedelta(days=1)
        months.append(month(following.year, following.month))
    tallies = {m.first: Tally() for m in months}
    overdue_changes: dict[date, int] = {}
    for r in await conn.fetch(MONTHLY, dimension, keys, months[0].first, today):
        if r["part"] == "overdue":
            overdue_changes[r["month"]] = r["overdue_change"]
        elif (t := tallies.get(r["month"])) is not None:
            t.received, t.on_time, t.late = r["received"], r["on_time"], r["late"]
            t.redirected_late = r["redirected_late"]
    running = 0
    changes = sorted(overdue_changes.items())
    for m in months:
        while changes and changes[0][0] <= m.first:
            running += changes.pop(0)[1]
        tallies[m.first].open_overdue = running
    return [(m, tallies[m.first]) for m in months]


@dataclass(frozen=True)
class OverdueGroup:
    """How many clocks were open and past due at a moment, for one combination of keys
    ('' where a clock has none)."""

    agency: str
    level: str
    region: str
    locality: str
    category: str
    n: int


# The service's definition of "open and overdue as of a moment" (deadlines.compliance.
# OPEN_OVERDUE), grouped by every dimension at once: one statement per period serves every
# table of a page instead of one per table. Both branches use a partial index.
OVERDUE_GROUPS = """
SELECT coalesce(agency, '') AS agency, coalesce(agency_level, '') AS level,
       coalesce(region, '') AS region, coalesce(locality, '') AS locality,
       coalesce(category, '') AS category, count(*)::int AS n
FROM (
    SELECT agency, agency_level, region, locality, category
    FROM clocks
    WHERE state = 'open' AND due_at < $1 AND agency_received_at < $1
    UNION ALL
    SELECT agency, agency_level, region, locality, category
    FROM clocks
    WHERE state <> 'open' AND closed_at > due_at
      AND closed_at >= $1 AND due_at < $1 AND agency_received_at < $1
) overdue
GROUP BY 1, 2, 3, 4, 5
"""


async def overdue_groups(conn: asyncpg.Connection, as_of: datetime) -> list[OverdueGroup]:
    """Clocks open and past due as of `as_of`, counted per (agency, level, region, locality,
    category); a dimension's counts are sums over these groups."""
    return [OverdueGroup(**r) for r in await conn.fetch(OVERDUE_GROUPS, as_of)]


# ------------------------------------------------------------------ backlog


@dataclass(frozen=True)
class BacklogClock:
    """An open clock on an agency's desk."""

    appeal_id: uuid.UUID
    hop: int
    registration_number: str
    appeal_type: str
    agency: str
    category: str | None
    locality: str | None
    region: str | None
    agency_received_at: datetime
    due_at: datetime
    extensions: int
    breached_at: datetime | None


@dataclass(frozen=True)
class BacklogCount:
    agency: str
    open: int
    overdue: int


BACKLOG_COLUMNS = """appeal_id, hop, registration_number, appeal_type, agency, category,
       locality, region, agency_received_at, due_at, extensions, breached_at"""

AGENCY_BACKLOG = f"""
SELECT {BACKLOG_COLUMNS}
FROM clocks WHERE state = 'open' AND agency = $1
ORDER BY due_at, appeal_id LIMIT $2
"""


async def agency_backlog(
    conn: asyncpg.Connection, agency: str, limit: int = 200
) -> list[BacklogClock]:
    """The agency's open clocks, the earliest due first."""
    return [BacklogClock(**r) for r in await conn.fetch(AGENCY_BACKLOG, agency, limit)]


OVERDUE_BACKLOG = f"""
SELECT {BACKLOG_COLUMNS}
FROM clocks WHERE state = 'open' AND due_at < $1
ORDER BY due_at, appeal_id LIMIT $2
"""


async def overdue_backlog(
    conn: asyncpg.Connection, now: datetime, limit: int = 200
) -> list[BacklogClock]:
    """Every agency's overdue open clocks, the longest overdue first."""
    return [BacklogClock(**r) for r in await conn.fetch(OVERDUE_BACKLOG, now, limit)]


BACKLOG_COUNTS = """
SELECT agency, count(*)::int AS open, count(*) FILTER (WHERE due_at < $1)::int AS overdue
FROM clocks WHERE state = 'open' AND ($2::text IS NULL OR agency = $2)
GROUP BY agency
"""


async def backlog_counts(
    conn: asyncpg.Connection, now: datetime, agency: str | None = None
) -> list[BacklogCount]:
    """Per agency: open clocks and how many of them are past their due moment."""
    return [BacklogCount(**r) for r in await conn.fetch(BACKLOG_COUNTS, now, agency)]


# ------------------------------------------------------------------ breach risk


@dataclass(frozen=True)
class RiskClock:
    """An open clock not past due, with the breach risk of the latest scoring pass."""

    appeal_id: uuid.UUID
    hop: int
    registration_number: str
    appeal_type: str
    agency: str
    category: str | None
    locality: str | None
    due_at: datetime
    working_days_left: int
    risk: float
    scored_at: datetime


# The "At risk" queue: riskiest first, then the fewest working days left (clock_risks_queue,
# clock_risks_agency); joined to the open clock it describes.
AT_RISK = """
SELECT r.appeal_id, r.hop, c.registration_number, c.appeal_type, r.agency, c.category,
       c.locality, c.due_at, r.working_days_left, r.risk, r.scored_at
FROM clock_risks r
JOIN clocks c ON c.appeal_id = r.appeal_id AND c.hop = r.hop AND c.state = 'open'
WHERE $1::text IS NULL OR r.agency = $1
ORDER BY r.risk DESC, r.working_days_left, r.appeal_id
LIMIT $2
"""


async def at_risk(
    conn: asyncpg.Connection, agency: str | None = None, limit: int = 200
) -> list[RiskClock]:
    """Open clocks by breach risk, highest first, then by working days left (one agency's, or
    region-wide)."""
    return [RiskClock(**r) for r in await conn.fetch(AT_RISK, agency, limit)]


@dataclass(frozen=True)
class ExpectedBreaches:
    """An agency's breaches of a month: the hops due that month that breached already, plus
    the sum of the risks of its open hops due later that month."""

    breached: int
    predicted: float
    open_due: int  # the open hops due later that month (their risks make up `predicted`)

    @property
    def expected(self) -> float:
        return self.breached + self.predicted


EXPECTED_BREACHES = """
SELECT
  (SELECT count(*)::int FROM clocks
   WHERE agency = $1 AND due_day BETWEEN $2 AND $3
     AND ((state = 'open' AND due_at < $4) OR (state <> 'open' AND closed_day > due_day)))
    AS breached,
  (SELECT coalesce(sum(risk), 0)::float8 FROM clock_risks
   WHERE agency = $1 AND due_day BETWEEN $2 AND $3) AS predicted,
  (SELECT count(*)::int FROM clock_risks
   WHERE agency = $1 AND due_day BETWEEN $2 AND $3) AS open_due
"""


async def expected_breaches(
    conn: asyncpg.Connection, agency: str, now: datetime
) -> ExpectedBreaches:
    """The agency's expected breaches in the month of `now` (Almaty)."""
    first = local_day(now).replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    row = await conn.fetchrow(EXPECTED_BREACHES, agency, first, last, now)
    return ExpectedBreaches(**dict(row))


# ------------------------------------------------------------------ dashboard sessions


# ------------------------------------------------------------------ inboxes


@dataclass(frozen=True)
class InboxRecord:
    """What the inbox watcher (deadlines.inboxes) last saw of one agency."""

    agency: str
    state: str  # "ok" or "stalled"
    reasons: list[str]  # "lag", "unconfirmed"
    lag: int
    lagging_since: datetime | None
    last_commit_at: datetime | None
    oldest_unconfirmed_at: datetime | None
    unconfirmed: int
    changed_at: datetime | None
    checked_at: datetime

    @property
    def unconfirmed_bounded(self) -> bool:
        """The watcher stopped counting at its bound: this many unconfirmed, or more."""
        return self.unconfirmed >= UNCONFIRMED_COUNTED


INBOX_STATES = """
SELECT agency, state, reasons, lag, lagging_since, last_commit_at, oldest_unconfirmed_at,
       unconfirmed, changed_at, checked_at
FROM inboxes
WHERE $1::text IS NULL OR agency = $1
ORDER BY state = 'stalled' DESC, lag DESC, oldest_unconfirmed_at NULLS LAST, agency
"""


async def inbox_states(conn: asyncpg.Connection, agency: str | None = None) -> list[InboxRecord]:
    """Every agency's inbox, stalled first (or one agency's)."""
    return [InboxRecord(**dict(r)) for r in await conn.fetch(INBOX_STATES, agency)]


def session_digest(session_id: str) -> bytes:
    """What the table keeps of a session's id: its SHA-256, so reading the table gives
    nobody a cookie."""
    return hashlib.sha256(session_id.encode()).digest()


@dataclass(frozen=True)
class Session:
    """A dashboard sign-in: who, and the token it was opened with (its id, key and expiry),
    so revoking the token or retiring its key ends the session."""

    principal: Principal
    jti: str
    kid: str
    expires_at: datetime


FIND_SESSION = """
SELECT subject, role, agency, token_jti, token_kid, expires_at
FROM dashboard_sessions WHERE id_hash = $1 AND expires_at > $2
"""


async def find_session(conn: asyncpg.Connection, session_id: str, now: datetime) -> Session | None:
    """The session with this cookie id, unless it has ended."""
    row = await conn.fetchrow(FIND_SESSION, session_digest(session_id), now)
    if row is None:
        return None
    principal = Principal(subject=row["subject"], role=Role(row["role"]), agency=row["agency"])
    return Session(principal, row["token_jti"], row["token_kid"], row["expires_at"])
