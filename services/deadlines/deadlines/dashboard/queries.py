"""Read-only SQL of the dashboard, each statement beside its typed function.

Every statement is served by an index of the deadlines schema or by the pre-aggregated
`compliance_*` tables, so a page costs the same with a month of data or with years of it:
alerts by `alerts_raised` / `alerts_agency_raised`, open overdue clocks by `clocks_open_due`,
an agency's backlog by `clocks_agency_open`, periods by the (dimension, day, key) keys.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class AlertFilter:
    """The alerts page's filters; `agency` is forced to the signed-in agency's own code."""

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


# Two statements rather than one with "$7 IS NULL OR agency = $7": a prepared statement's
# generic plan could not then choose the per-agency index.
LIST_ALERTS = """
SELECT id, appeal_id, hop, kind, severity, agency, locality, region, raised_at, data,
       acknowledged_at, acknowledged_by, acknowledge_comment
FROM alerts
WHERE ($1::text IS NULL OR locality = $1 OR region = $1)
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::text IS NULL OR severity = $3)
  AND ($4::text IS NULL OR ($4 = 'open') = (acknowledged_at IS NULL))
  AND raised_at >= $5
ORDER BY raised_at DESC, id LIMIT $6
"""
LIST_AGENCY_ALERTS = """
SELECT id, appeal_id, hop, kind, severity, agency, locality, region, raised_at, data,
       acknowledged_at, acknowledged_by, acknowledge_comment
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


async def list_alerts(
    conn: asyncpg.Connection,
    filters: AlertFilter,
    *,
    limit: int = 200,
    raised_since: datetime = EPOCH,
) -> list[asyncpg.Record]:
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
        return list(await conn.fetch(LIST_AGENCY_ALERTS, *args, filters.agency))
    return list(await conn.fetch(LIST_ALERTS, *args))


GET_ALERT = """
SELECT id, appeal_id, hop, kind, severity, agency, locality, region, raised_at, data,
       acknowledged_at, acknowledged_by, acknowledge_comment
FROM alerts WHERE id = $1
"""


async def get_alert(conn: asyncpg.Connection, alert_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_ALERT, alert_id)


APPEAL_ALERTS = """
SELECT id, appeal_id, hop, kind, severity, agency, locality, region, raised_at, data,
       acknowledged_at, acknowledged_by, acknowledge_comment
FROM alerts WHERE appeal_id = $1 ORDER BY raised_at, id
"""


async def appeal_alerts(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(APPEAL_ALERTS, appeal_id))


APPEAL_REDIRECTS = """
SELECT event_id, hop, from_agency, to_agency, partial, reason, redirected_at
FROM redirects WHERE appeal_id = $1 ORDER BY redirected_at, hop
"""


async def appeal_redirects(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(APPEAL_REDIRECTS, appeal_id))


APPEAL_ANSWERS = """
SELECT event_id, agency, answered_at FROM answers WHERE appeal_id = $1 ORDER BY answered_at
"""


async def appeal_answers(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(APPEAL_ANSWERS, appeal_id))


APPEAL_CLOCKS = "SELECT * FROM clocks WHERE appeal_id = $1 ORDER BY hop"


async def appeal_clocks(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every column, so the page shows what the clock records (routing details included)."""
    return list(await conn.fetch(APPEAL_CLOCKS, appeal_id))


# ------------------------------------------------------------------ compliance

# The service's definition of "open and overdue as of a moment" (deadlines.compliance.
# OPEN_OVERDUE), grouped by every dimension at once: one statement per period serves every
# table of the page instead of one per table. Both branches use a partial index.
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


async def overdue_groups(conn: asyncpg.Connection, as_of: datetime) -> list[asyncpg.Record]:
    """Clocks open and past due as of `as_of`, counted per (agency, level, region, locality,
    category); a dimension's counts are sums over these rows."""
    return list(await conn.fetch(OVERDUE_GROUPS, as_of))


# ------------------------------------------------------------------ backlog

AGENCY_BACKLOG = """
SELECT appeal_id, hop, registration_number, appeal_type, agency, category, locality, region,
       agency_received_at, due_at, extensions, breached_at
FROM clocks WHERE state = 'open' AND agency = $1
ORDER BY due_at, appeal_id LIMIT $2
"""


async def agency_backlog(
    conn: asyncpg.Connection, agency: str, limit: int = 200
) -> list[asyncpg.Record]:
    """The agency's open clocks, the earliest due first."""
    return list(await conn.fetch(AGENCY_BACKLOG, agency, limit))


OVERDUE_BACKLOG = """
SELECT appeal_id, hop, registration_number, appeal_type, agency, category, locality, region,
       agency_received_at, due_at, extensions, breached_at
FROM clocks WHERE state = 'open' AND due_at < $1
ORDER BY due_at, appeal_id LIMIT $2
"""


async def overdue_backlog(
    conn: asyncpg.Connection, now: datetime, limit: int = 200
) -> list[asyncpg.Record]:
    """Every agency's overdue open clocks, the longest overdue first."""
    return list(await conn.fetch(OVERDUE_BACKLOG, now, limit))


BACKLOG_COUNTS = """
SELECT agency, count(*)::bigint AS open, count(*) FILTER (WHERE due_at < $1)::bigint AS overdue
FROM clocks WHERE state = 'open' AND ($2::text IS NULL OR agency = $2)
GROUP BY agency
"""


async def backlog_counts(
    conn: asyncpg.Connection, now: datetime, agency: str | None = None
) -> list[asyncpg.Record]:
    """Per agency: open clocks and how many of them are past their due moment."""
    return list(await conn.fetch(BACKLOG_COUNTS, now, agency))
