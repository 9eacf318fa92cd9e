"""The digest's figures, read from the open clocks, and the claim that sends each digest once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

# An agency's open clocks in one window: due between now and `horizon` (the end of the third
# working day ahead), or overdue (due before now). `total` counts them all; the rows are the
# first `limit`, most urgent first.
AGENCY_ITEMS = """
SELECT registration_number, appeal_type, hop, due_at, due_day, extensions,
       count(*) OVER () AS total
  FROM clocks
 WHERE state = 'open' AND agency = $1
   AND CASE WHEN $4 THEN due_at < $2 ELSE due_at >= $2 AND due_day <= $3 END
 ORDER BY due_at
 LIMIT $5
"""

# An agency's open assignments it has not confirmed receipt of (the same rule as the inbox
# watcher's, deadlines.inboxes), the longest waiting first.
UNCONFIRMED_ITEMS = """
SELECT registration_number, appeal_type, hop, agency_received_at, received_day,
       count(*) OVER () AS total
  FROM clocks
 WHERE state = 'open' AND agency = $1 AND confirmed_at IS NULL
 ORDER BY agency_received_at, registration_number
 LIMIT $2
"""

REGION_ROWS = """
SELECT agency,
       count(*)                                                  AS open,
       count(*) FILTER (WHERE due_at >= $1 AND due_day <= $2)    AS due_soon,
       count(*) FILTER (WHERE due_at < $1)                       AS overdue,
       count(*) FILTER (WHERE confirmed_at IS NULL)              AS unconfirmed
  FROM clocks
 WHERE state = 'open'
 GROUP BY agency
 ORDER BY overdue DESC, due_soon DESC, agency
"""


@dataclass(frozen=True)
class Item:
    registration_number: str
    appeal_type: str
    hop: int
    due_at: datetime
    due_day: date
    extended: bool


@dataclass(frozen=True)
class Window:
    """Some clocks of a window and how many there are in all."""

    items: list[Item]
    total: int


@dataclass(frozen=True)
class Unconfirmed:
    """An assignment its agency has not confirmed receipt of."""

    registration_number: str
    appeal_type: str
    hop: int
    received_at: datetime  # when the hop reached the agency
    received_day: date


@dataclass(frozen=True)
class AgencyRow:
    agency: str
    open: int
    due_soon: int
    overdue: int
    unconfirmed: int


async def agency_window(
    conn: asyncpg.Connection,
    agency: str,
    now: datetime,
    horizon: date,
    *,
    overdue: bool,
    limit: int,
) -> Window:
    rows = await conn.fetch(AGENCY_ITEMS, agency, now, horizon, overdue, limit)
    items = [
        Item(
            registration_number=r["registration_number"],
            appeal_type=r["appeal_type"],
            hop=r["hop"],
            due_at=r["due_at"],
            due_day=r["due_day"],
            extended=r["extensions"] > 0,
        )
        for r in rows
    ]
    return Window(items, rows[0]["total"] if rows else 0)


async def unconfirmed(
    conn: asyncpg.Connection, agency: str, *, limit: int
) -> tuple[list[Unconfirmed], int]:
    """The agency's first `limit` unconfirmed assignments, oldest first, and how many in all."""
    rows = await conn.fetch(UNCONFIRMED_ITEMS, agency, limit)
    items = [
        Unconfirmed(
            registration_number=r["registration_number"],
            appeal_type=r["appeal_type"],
            hop=r["hop"],
            received_at=r["agency_received_at"],
            received_day=r["received_day"],
        )
        for r in rows
    ]
    return items, rows[0]["total"] if rows else 0


async def region_rows(conn: asyncpg.Connection, now: datetime, horizon: date) -> list[AgencyRow]:
    return [
        AgencyRow(r["agency"], r["open"], r["due_soon"], r["overdue"], r["unconfirmed"])
        for r in await conn.fetch(REGION_ROWS, now, horizon)
    ]


# A new row is claimed; an existing one only when it is still unsent and its lease has run
# out (its sender died, or its last attempt failed and the retry time has come).
CLAIM = """
INSERT INTO digests (recipient, day, scope, language, message_id, claimed_by, claimed_until)
VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
ON CONFLICT (recipient, day) DO UPDATE
   SET claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until,
       attempts = digests.attempts + 1
 WHERE digests.state = 'sending' AND digests.claimed_until < now()
RETURNING attempts
"""


async def claim(
    conn: asyncpg.Connection,
    *,
    recipient: str,
    day: date,
    scope: str,
    language: str,
    message_id: str,
    sender: str,
    lease_seconds: float,
) -> int | None:
    """The attempt number if this sender now holds the digest, None if it is sent or held."""
    attempts: int | None = await conn.fetchval(
        CLAIM, recipient, day, scope, language, message_id, sender, lease_seconds
    )
    return attempts


async def mark_sent(conn: asyncpg.Connection, recipient: str, day: date, sender: str) -> bool:
    status = await conn.execute(
        "UPDATE digests SET state = 'sent', sent_at = now(), last_error = NULL"
        " WHERE recipient = $1 AND day = $2 AND claimed_by = $3 AND state = 'sending'",
        recipient,
        day,
        sender,
    )
    return bool(status == "UPDATE 1")


async def mark_failed(
    conn: asyncpg.Connection,
    recipient: str,
    day: date,
    sender: str,
    error: str,
    retry_seconds: float,
) -> None:
    """Keep the claim until the retry time, so the next attempt waits for it."""
    await conn.execute(
        "UPDATE digests SET last_error = $4, claimed_until = now() + make_interval(secs => $5)"
        " WHERE recipient = $1 AND day = $2 AND claimed_by = $3 AND state = 'sending'",
        recipient,
        day,
        sender,
        error[:500],
        retry_seconds,
    )


async def sent_on(conn: asyncpg.Connection, day: date) -> list[asyncpg.Record]:
    """The digests of a day: scope, language, state, attempts, when sent (no addresses)."""
    return list(
        await conn.fetch(
            "SELECT scope, language, state, attempts, sent_at, last_error FROM digests"
            " WHERE day = $1 ORDER BY scope, language",
            day,
        )
    )
