"""One typed function per SQL statement of the deadlines service (compliance SQL excepted)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

import asyncpg

from appeals_law.calendar import CalendarOverride

# ------------------------------------------------------------------ calendar overrides

LIST_OVERRIDES = """
SELECT day, kind, decree, created_by, created_at FROM calendar_overrides
WHERE $1::int IS NULL OR extract(year FROM day) = $1 ORDER BY day
"""


async def list_overrides(conn: asyncpg.Connection, year: int | None = None) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_OVERRIDES, year))


async def all_overrides(conn: asyncpg.Connection) -> list[CalendarOverride]:
    return [
        CalendarOverride(day=r["day"], kind=r["kind"], decree=r["decree"])
        for r in await list_overrides(conn)
    ]


UPSERT_OVERRIDE = """
INSERT INTO calendar_overrides (day, kind, decree, created_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (day) DO UPDATE
    SET kind = excluded.kind, decree = excluded.decree, created_by = excluded.created_by,
        created_at = now()
RETURNING (xmax = 0) AS created
"""


async def upsert_override(
    conn: asyncpg.Connection, override: CalendarOverride, created_by: str
) -> bool:
    """True when the day had no override before."""
    return bool(
        await conn.fetchval(
            UPSERT_OVERRIDE, override.day, override.kind, override.decree, created_by
        )
    )


DELETE_OVERRIDE = "DELETE FROM calendar_overrides WHERE day = $1 RETURNING day"


async def delete_override(conn: asyncpg.Connection, day: date) -> bool:
    return await conn.fetchval(DELETE_OVERRIDE, day) is not None


BUMP_REVISION = "UPDATE calendar_revision SET revision = revision + 1 RETURNING revision"


async def bump_calendar_revision(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(BUMP_REVISION))


async def calendar_revision(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT revision FROM calendar_revision"))


# ------------------------------------------------------------------ clocks


@dataclass(frozen=True)
class NewClock:
    appeal_id: uuid.UUID
    hop: int
    registration_number: str
    appeal_type: str
    agency: str
    agency_level: str | None
    agency_parent: str | None
    category: str | None
    locality: str | None
    region: str | None
    policy: str
    received_at: datetime
    agency_received_at: datetime
    assigned_at: datetime
    received_day: date
    registered_on: date
    start_day: date
    term_days: int
    unit: str
    original_due_at: datetime
    due_at: datetime
    due_day: date
    redirect_due_at: datetime
    rule_version: str
    calendar_version: str
    next_action: str
    next_action_at: datetime
    # How routing chose this agency (method, confidence, explanation), for the appeal page.
    routing: dict[str, Any] | None = None


# The columns of INSERT_CLOCKS, in order (the fields of NewClock).
NEW_CLOCK_COLUMNS = tuple(f.name for f in fields(NewClock))

INSERT_CLOCKS = """
INSERT INTO clocks (appeal_id, hop, registration_number, appeal_type, agency, agency_level,
                    agency_parent, category, locality, region, policy, received_at,
                    agency_received_at, assigned_at, received_day, registered_on, start_day,
                    term_days, unit, original_due_at, due_at, due_day, redirect_due_at,
                    rule_version, calendar_version, next_action, next_action_at, routing)
SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                     $12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $15::date[],
                     $16::date[], $17::date[], $18::int[], $19::text[], $20::timestamptz[],
                     $21::timestamptz[], $22::date[], $23::timestamptz[], $24::text[],
                     $25::text[], $26::text[], $27::timestamptz[], $28::jsonb[])
ON CONFLICT (appeal_id, hop) DO NOTHING
RETURNING *
"""


async def insert_clocks(
    conn: asyncpg.Connection, clocks: Sequence[NewClock]
) -> list[asyncpg.Record]:
    """The new rows, in no particular order; a hop that already has a clock gets none.

    One statement for the whole batch: opening clocks one statement at a time is what held
    back the drain of a backlog (a round trip per clock, each waiting for a core)."""
    if not clocks:
        return []
    columns = [[getattr(c, name) for c in clocks] for name in NEW_CLOCK_COLUMNS]
    return list(await conn.fetch(INSERT_CLOCKS, *columns))


OUTCOMES = """
SELECT appeal_id FROM redirects WHERE appeal_id = ANY($1::uuid[])
UNION
SELECT appeal_id FROM answers WHERE appeal_id = ANY($1::uuid[])
"""


async def with_outcomes(
    conn: asyncpg.Connection, appeal_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """The appeals among these that have a redirect or an answer on record."""
    if not appeal_ids:
        return set()
    return {r["appeal_id"] for r in await conn.fetch(OUTCOMES, list(appeal_ids))}


LOCK_CLOCKS = "SELECT * FROM clocks WHERE appeal_id = $1 ORDER BY hop FOR UPDATE"


async def lock_clocks(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every hop of the appeal, locked for this transaction, in hop order."""
    return list(await conn.fetch(LOCK_CLOCKS, appeal_id))


CONFIRM_RECEIPT = """
UPDATE clocks SET confirmed_at = $3
WHERE appeal_id = $1 AND hop = $2 AND confirmed_at IS NULL
RETURNING *
"""


async def confirm_receipt(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, hop: int, confirmed_at: datetime
) -> asyncpg.Record | None:
    """Record the hop's confirmation; None when it was confirmed before (the first one holds)."""
    row: asyncpg.Record | None = await conn.fetchrow(CONFIRM_RECEIPT, appeal_id, hop, confirmed_at)
    return row


GET_CLOCKS = "SELECT * FROM clocks WHERE appeal_id = $1 ORDER BY hop"


async def get_clocks(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(GET_CLOCKS, appeal_id))


@dataclass(frozen=True)
class AnswerClose:
    """The values an answer writes on the clock it closes (handlers.answer_close's)."""

    appeal_id: uuid.UUID
    hop: int
    closed_at: datetime
    closed_day: date
    outcome: str
    working_days_late: int
    answer_working_days: int


# By the clock's appeal and hop: the caller chose an open clock from rows it holds locked.
# Each (appeal, hop) appears at most once in a batch.
CLOSE_ANSWERED = """
UPDATE clocks AS c SET state = 'answered', closed_at = u.closed_at, closed_day = u.closed_day,
                       outcome = u.outcome, working_days_late = u.working_days_late,
                       answer_working_days = u.answer_working_days,
                       next_action = NULL, next_action_at = NULL
FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::date[], $5::text[], $6::int[],
            $7::int[])
     AS u(appeal_id, hop, closed_at, closed_day, outcome, working_days_late, answer_working_days)
WHERE c.appeal_id = u.appeal_id AND c.hop = u.hop
RETURNING c.*
"""


async def close_answered(
    conn: asyncpg.Connection, closes: Sequence[AnswerClose]
) -> list[asyncpg.Record]:
    """The closed rows, in no particular order: a run of answers closes its clocks in one
    statement (one answer, a list of one)."""
    if not closes:
        return []
    columns = [[getattr(c, f.name) for c in closes] for f in fields(AnswerClose)]
    return list(await conn.fetch(CLOSE_ANSWERED, *columns))


RECORD_REDIRECT = """
UPDATE clocks SET redirected_at = $3, redirected_day = $4, redirected_to = $5,
                  redirect_partial = $6, redirect_late = $7,
                  state = CASE WHEN $8 THEN 'redirected' ELSE state END,
                  redirect_working_days = CASE WHEN $8 THEN $9 ELSE redirect_working_days END,
                  closed_at = CASE WHEN $8 THEN $3 ELSE closed_at END,
                  closed_day = CASE WHEN $8 THEN $4 ELSE closed_day END,
                  next_action = CASE WHEN $8 THEN NULL ELSE next_action END,
                  next_action_at = CASE WHEN $8 THEN NULL ELSE next_action_at END
WHERE appeal_id = $1 AND hop = $2
RETURNING *
"""


async def record_redirect(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    hop: int,
    *,
    redirected_at: datetime,
    redirected_day: date,
    redirected_to: str | None,
    partial: bool,
    late: bool,
    close: bool,
    working_days: int,
) -> asyncpg.Record:
    """`working_days`: the days the hop held the appeal, kept when the redirect closes it."""
    row = await conn.fetchrow(
        RECORD_REDIRECT,
        appeal_id,
        hop,
        redirected_at,
        redirected_day,
        redirected_to,
        partial,
        late,
        close,
        working_days,
    )
    assert row is not None
    return row


@dataclass(frozen=True)
class TimerUpdate:
    row: tuple[int, int]  # the claimed row's ctid: locked by this transaction, so stable
    warned_offset: int | None
    breached_at: datetime | None
    reminders_sent: int
    escalated_at: datetime | None
    next_action: str | None
    next_action_at: datetime | None


# By ctid, with `= ANY` so the rows are fetched by a TID scan whatever the table's size (a
# join on the key lets the planner hash the whole table when much of it is due at once).
UPDATE_TIMERS = """
UPDATE clocks c SET warned_offset = u.warned_offset, breached_at = u.breached_at,
                    reminders_sent = u.reminders_sent, escalated_at = u.escalated_at,
                    next_action = u.next_action, next_action_at = u.next_action_at
FROM unnest($1::tid[], $2::int[], $3::timestamptz[], $4::int[], $5::timestamptz[],
            $6::text[], $7::timestamptz[])
     AS u(row_id, warned_offset, breached_at, reminders_sent, escalated_at, next_action,
          next_action_at)
WHERE c.ctid = ANY($1::tid[]) AND c.ctid = u.row_id
"""


async def update_timers(conn: asyncpg.Connection, updates: Sequence[TimerUpdate]) -> None:
    """One statement for the whole batch."""
    if not updates:
        return
    # Plain attribute access: dataclasses.astuple deep-copies every value, which cost more
    # than the statement itself at 1,000 rows.
    await conn.execute(
        UPDATE_TIMERS,
        [u.row for u in updates],
        [u.warned_offset for u in updates],
        [u.breached_at for u in updates],
        [u.reminders_sent for u in updates],
        [u.escalated_at for u in updates],
        [u.next_action for u in updates],
        [u.next_action_at for u in updates],
    )


CLAIM_DUE = """
SELECT ctid, appeal_id, hop, registration_number, appeal_type, agency, agency_level, agency_parent,
       category, locality, region, start_day, due_at, extensions, warned_offset, breached_at,
       reminders_sent, escalated_at
FROM clocks
WHERE state = 'open' AND next_action_at <= $1
ORDER BY next_action_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Open clocks whose next action is due, locked; rows another ticker holds are skipped."""
    return list(await conn.fetch(CLAIM_DUE, now, limit))


EXTEND_CLOCK = """
UPDATE clocks SET due_at = $3, due_day = $4, extensions = $5, extended_at = $6,
                  extension_reason = $7, extension_notified_on = $8, warned_offset = NULL
WHERE appeal_id = $1 AND hop = $2
RETURNING *
"""


async def extend_clock(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    hop: int,
    *,
    due_at: datetime,
    due_day: date,
    extensions: int,
    extended_at: datetime,
    reason: str,
    notified_on: date | None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        EXTEND_CLOCK,
        appeal_id,
        hop,
        due_at,
        due_day,
        extensions,
        extended_at,
        reason,
        notified_on,
    )
    assert row is not None
    return row


SET_OUTCOME = """
UPDATE clocks SET outcome = $3, working_days_late = $4 WHERE appeal_id = $1 AND hop = $2
"""


async def set_outcome(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, hop: int, outcome: str, late: int
) -> None:
    await conn.execute(SET_OUTCOME, appeal_id, hop, outcome, late)


RECOMPUTE_CANDIDATES = """
SELECT * FROM clocks
WHERE state = 'open' AND extensions = 0 AND breached_at IS NULL AND due_day >= $1
ORDER BY appeal_id, hop
FOR UPDATE
"""


async def lock_recompute_candidates(
    conn: asyncpg.Connection, from_day: date
) -> list[asyncpg.Record]:
    """Open clocks a calendar change on or after `from_day` may move (never extended or
    breached ones: an agency chose the first date, and a breach is not taken back)."""
    return list(await conn.fetch(RECOMPUTE_CANDIDATES, from_day))


UPDATE_DUE = """
UPDATE clocks c SET start_day = u.start_day, registered_on = u.registered_on,
                    original_due_at = u.due_at, due_at = u.due_at, due_day = u.due_day,
                    redirect_due_at = u.redirect_due_at, calendar_version = u.calendar_version,
                    next_action = u.next_action, next_action_at = u.next_action_at
FROM unnest($1::uuid[], $2::int[], $3::date[], $4::date[], $5::timestamptz[], $6::date[],
            $7::timestamptz[], $8::text[], $9::text[], $10::timestamptz[])
     AS u(appeal_id, hop, start_day, registered_on, due_at, due_day, redirect_due_at,
          calendar_version, next_action, next_action_at)
WHERE c.appeal_id = u.appeal_id AND c.hop = u.hop
"""


@dataclass(frozen=True)
class DueUpdate:
    appeal_id: uuid.UUID
    hop: int
    start_day: date
    registered_on: date
    due_at: datetime
    due_day: date
    redirect_due_at: datetime
    calendar_version: str
    next_action: str
    next_action_at: datetime


async def update_due(conn: asyncpg.Connection, updates: Sequence[DueUpdate]) -> None:
    if not updates:
        return
    await conn.execute(
        UPDATE_DUE,
        [u.appeal_id for u in updates],
        [u.hop for u in updates],
        [u.start_day for u in updates],
        [u.registered_on for u in updates],
        [u.due_at for u in updates],
        [u.due_day for u in updates],
        [u.redirect_due_at for u in updates],
        [u.calendar_version for u in updates],
        [u.next_action for u in updates],
        [u.next_action_at for u in updates],
    )


# ------------------------------------------------------------------ answers and redirects

INSERT_ANSWERS = """
INSERT INTO answers (event_id, appeal_id, agency, answered_at)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::timestamptz[])
ON CONFLICT DO NOTHING
"""


async def insert_answers(
    conn: asyncpg.Connection, answers: Sequence[tuple[str, uuid.UUID, str, datetime]]
) -> None:
    """(event id, appeal, agency, answered at) rows in one statement; an event id already on
    record is left alone (a redelivered answer)."""
    if not answers:
        return
    await conn.execute(INSERT_ANSWERS, *(list(column) for column in zip(*answers, strict=True)))


LOCK_CLOCKS_OF = """
SELECT * FROM clocks WHERE appeal_id = ANY($1::uuid[]) ORDER BY appeal_id, hop FOR UPDATE
"""


async def lock_clocks_of(
    conn: asyncpg.Connection, appeal_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    """Every hop of these appeals, locked for this transaction, in (appeal, hop) order: one
    stable lock order for every batch."""
    if not appeal_ids:
        return []
    return list(await conn.fetch(LOCK_CLOCKS_OF, list(appeal_ids)))


EARLIEST_ANSWER = """
SELECT answered_at FROM answers
WHERE appeal_id = $1 AND agency = $2 AND answered_at >= $3
ORDER BY answered_at LIMIT 1
"""


async def earliest_answer(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, agency: str, since: datetime
) -> datetime | None:
    """An answer the agency gave after it received the appeal, seen before its clock opened."""
    value = await conn.fetchval(EARLIEST_ANSWER, appeal_id, agency, since)
    return value if isinstance(value, datetime) else None


FIRST_ANSWER = "SELECT min(answered_at) FROM answers WHERE appeal_id = $1"


async def first_answer(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> datetime | None:
    """When the appeal was answered (by any agency), if it was."""
    value = await conn.fetchval(FIRST_ANSWER, appeal_id)
    return value if isinstance(value, datetime) else None


INSERT_REDIRECT = """
INSERT INTO redirects (event_id, appeal_id, hop, from_agency, to_agency, partial, reason,
                       redirected_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT DO NOTHING
"""


async def insert_redirect(
    conn: asyncpg.Connection,
    event_id: str,
    appeal_id: uuid.UUID,
    hop: int,
    from_agency: str,
    to_agency: str | None,
    partial: bool,
    reason: str,
    redirected_at: datetime,
) -> None:
    await conn.execute(
        INSERT_REDIRECT,
        event_id,
        appeal_id,
        hop,
        from_agency,
        to_agency,
        partial,
        reason,
        redirected_at,
    )


EARLIEST_REDIRECT = """
SELECT hop, to_agency, partial, redirected_at FROM redirects
WHERE appeal_id = $1 AND from_agency = $2 AND (hop = $3 OR redirected_at >= $4)
ORDER BY (hop = $3) DESC, redirected_at LIMIT 1
"""


async def earliest_redirect(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, agency: str, hop: int, since: datetime
) -> asyncpg.Record | None:
    """A redirect of this hop seen before its clock opened (routing's topics interleave)."""
    return await conn.fetchrow(EARLIEST_REDIRECT, appeal_id, agency, hop, since)


# ------------------------------------------------------------------ alerts

LIST_ALERTS = """
SELECT id, appeal_id, hop, kind, severity, agency, locality, region, raised_at, data,
       acknowledged_at, acknowledged_by, acknowledge_comment
FROM alerts
WHERE ($1::text IS NULL OR agency = $1)
  AND ($2::text IS NULL OR kind = $2)
  AND (NOT $3 OR acknowledged_at IS NULL)
  AND ($4::uuid IS NULL OR appeal_id = $4)
ORDER BY raised_at DESC, id
LIMIT $5
"""


async def list_alerts(
    conn: asyncpg.Connection,
    *,
    agency: str | None = None,
    kind: str | None = None,
    unacknowledged: bool = False,
    appeal_id: uuid.UUID | None = None,
    limit: int = 100,
) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_ALERTS, agency, kind, unacknowledged, appeal_id, limit))


ACKNOWLEDGE = """
UPDATE alerts SET acknowledged_at = $2, acknowledged_by = $3, acknowledge_comment = $4
WHERE id = $1 AND acknowledged_at IS NULL
RETURNING id, appeal_id, kind
"""


async def acknowledge_alert(
    conn: asyncpg.Connection,
    alert_id: uuid.UUID,
    acknowledged_at: datetime,
    acknowledged_by: str,
    comment: str | None,
) -> asyncpg.Record | None:
    """The alert, or None when it does not exist or was acknowledged already."""
    return await conn.fetchrow(ACKNOWLEDGE, alert_id, acknowledged_at, acknowledged_by, comment)


GET_ALERT = "SELECT id, acknowledged_at FROM alerts WHERE id = $1"


async def get_alert(conn: asyncpg.Connection, alert_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_ALERT, alert_id)


RECORD_ALERT_STATE = """
UPDATE clocks SET
    warned_offset = CASE WHEN $3 = 'warning' AND extensions = $7
                         THEN least(coalesce(warned_offset, $4), $4) ELSE warned_offset END,
    breached_at = CASE WHEN $3 = 'breached' THEN coalesce(breached_at, $5) ELSE breached_at END,
    reminders_sent = CASE WHEN $3 = 'overdue_reminder' THEN greatest(reminders_sent, $6)
                          ELSE reminders_sent END,
    escalated_at = CASE WHEN $3 = 'escalated' THEN coalesce(escalated_at, $5)
                        ELSE escalated_at END
WHERE appeal_id = $1 AND hop = $2
RETURNING *
"""


async def record_alert_state(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    hop: int,
    kind: str,
    offset: int | None,
    raised_at: datetime,
    reminder: int | None,
    extensions: int,
) -> asyncpg.Record | None:
    """Replay: what a raised alert says about its clock's timer (a warning of an earlier,
    since extended term says nothing)."""
    return await conn.fetchrow(
        RECORD_ALERT_STATE, appeal_id, hop, kind, offset, raised_at, reminder or 0, extensions
    )


SET_NEXT_ACTION = """
UPDATE clocks SET next_action = $3, next_action_at = $4 WHERE appeal_id = $1 AND hop = $2
"""


async def set_next_action(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    hop: int,
    action: str | None,
    at: datetime | None,
) -> None:
    await conn.execute(SET_NEXT_ACTION, appeal_id, hop, action, at)


# ------------------------------------------------------------------ rebuild


async def wipe_projection(conn: asyncpg.Connection, consumers: Sequence[str]) -> None:
    """Empty everything a rebuild reconstructs (calendar overrides are configuration: kept).
    The clocks' breach risks go too (the next scoring pass scores the rebuilt clocks); the
    trained models stay."""
    # ACCESS EXCLUSIVE until commit: consumers and tickers wait for the rebuilt state.
    await conn.execute(
        "LOCK TABLE clocks, answers, redirects, alerts, compliance_daily, "
        "compliance_answer_days, clock_risks IN ACCESS EXCLUSIVE MODE"
    )
    await conn.execute(
        "TRUNCATE clocks, answers, redirects, alerts, compliance_daily, compliance_answer_days, "
        "clock_risks"
    )
    await conn.execute("DELETE FROM inbox WHERE consumer = ANY($1::text[])", list(consumers))


# ------------------------------------------------------------------ compliance aggregates

DEFER_COMPLIANCE = "SET LOCAL deadlines.defer_compliance = 'on'"
FLUSH_COMPLIANCE = "SELECT compliance_flush()"
UNDEFER_COMPLIANCE = "SET LOCAL deadlines.defer_compliance = 'off'"


@contextlib.asynccontextmanager
async def compliance_deferred(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Inside the caller's transaction: changes of `clocks` are folded into the compliance
    aggregates once, on leaving, instead of once per statement (migration 0007). A batch of
    events or a rebuild writes many statements; each fold costs a few milliseconds."""
    await conn.execute(DEFER_COMPLIANCE)
    yield
    await conn.execute(FLUSH_COMPLIANCE)
    await conn.execute(UNDEFER_COMPLIANCE)
