"""One typed function per SQL statement of the appeal registry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class NewAppeal:
    id: uuid.UUID
    source: str
    external_id: str
    fingerprint: str
    registered_at: datetime
    type: str
    language: str
    applicant_kind: str
    applicant_iin: str | None
    applicant_bin: str | None
    category: str | None
    locality: str | None
    addressee: str | None
    submission: dict[str, Any]
    channel: str
    due_at: datetime | None


# The appeal, its AppealReceived outbox row and its first timeline entry in ONE statement:
# atomic without BEGIN/COMMIT round trips, which on a busy 2-core machine cost more than the
# work itself. When (source, external_id) exists, nothing is written and nothing returned.
REGISTER_APPEAL = """
WITH new AS (
    INSERT INTO appeals (id, source, external_id, fingerprint, registration_number,
                         registered_at, type, language, applicant_kind, applicant_iin,
                         applicant_bin, category, locality, addressee, submission, channel,
                         due_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
    ON CONFLICT (source, external_id) DO NOTHING
    RETURNING id, registration_number, registered_at, status, due_at
), announced AS (
    INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
    SELECT $18, $19, new.id::text, $20, $21 FROM new
), recorded AS (
    INSERT INTO timeline (appeal_id, event_id, kind, type, at, data)
    SELECT new.id, $18::text, 'received', $20, $6, $22 FROM new
)
SELECT * FROM new
"""


async def register_appeal(
    conn: asyncpg.Connection,
    appeal: NewAppeal,
    registration_number: str,
    event: OutboxRow,
) -> asyncpg.Record | None:
    """The new appeal's row, or None when (source, external_id) is already registered."""
    return await conn.fetchrow(
        REGISTER_APPEAL,
        appeal.id,
        appeal.source,
        appeal.external_id,
        appeal.fingerprint,
        registration_number,
        appeal.registered_at,
        appeal.type,
        appeal.language,
        appeal.applicant_kind,
        appeal.applicant_iin,
        appeal.applicant_bin,
        appeal.category,
        appeal.locality,
        appeal.addressee,
        appeal.submission,
        appeal.channel,
        appeal.due_at,
        uuid.UUID(event.id),
        event.topic,
        event.type,
        event.payload,
        event.payload["data"],
    )


@dataclass(frozen=True)
class OutboxRow:
    id: str
    topic: str
    type: str
    payload: dict[str, Any]


NEXT_NUMBERS = "SELECT nextval('registration_seq') FROM generate_series(1, $1)"


async def next_registration_numbers(conn: asyncpg.Connection, count: int) -> list[int]:
    return [r[0] for r in await conn.fetch(NEXT_NUMBERS, count)]


FIND_BY_KEY = """
SELECT id, registration_number, registered_at, status, due_at, fingerprint, submission
FROM appeals WHERE source = $1 AND external_id = $2
"""


async def find_by_key(
    conn: asyncpg.Connection, source: str, external_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(FIND_BY_KEY, source, external_id)


GET_APPEAL = """
SELECT id, source, external_id, registration_number, registered_at, type, language, status,
       agency, hop, category, locality, due_at, overdue, answered_at, answer, submission, channel
FROM appeals WHERE id = $1
"""


async def get_appeal(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_APPEAL, appeal_id)


GET_APPEAL_FOR_UPDATE = GET_APPEAL + " FOR UPDATE"


async def lock_appeal(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_APPEAL_FOR_UPDATE, appeal_id)


TIMELINE = """
SELECT event_id, kind, type, at, data FROM timeline WHERE appeal_id = $1 ORDER BY at, event_id
"""


async def timeline(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(TIMELINE, appeal_id))


ADD_TIMELINE = """
INSERT INTO timeline (appeal_id, event_id, kind, type, at, data)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::jsonb[])
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class TimelineEntry:
    appeal_id: uuid.UUID
    event_id: str
    kind: str
    type: str
    at: datetime
    data: dict[str, Any]


async def add_timeline(conn: asyncpg.Connection, entries: list[TimelineEntry]) -> None:
    if not entries:
        return
    await conn.execute(
        ADD_TIMELINE,
        [e.appeal_id for e in entries],
        [e.event_id for e in entries],
        [e.kind for e in entries],
        [e.type for e in entries],
        [e.at for e in entries],
        [e.data for e in entries],
    )


SET_ASSIGNMENT = """
UPDATE appeals SET status = $2, agency = COALESCE($3, agency), hop = GREATEST(hop, $4),
                   updated_at = now()
WHERE id = $1 AND answered_at IS NULL AND hop <= $4
"""


async def set_assignment(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, status: str, agency: str | None, hop: int
) -> None:
    await conn.execute(SET_ASSIGNMENT, appeal_id, status, agency, hop)


SET_DUE = "UPDATE appeals SET due_at = $2, updated_at = now() WHERE id = $1"


async def set_due(conn: asyncpg.Connection, appeal_id: uuid.UUID, due_at: datetime) -> None:
    await conn.execute(SET_DUE, appeal_id, due_at)


SET_OVERDUE = "UPDATE appeals SET overdue = true, updated_at = now() WHERE id = $1"


async def set_overdue(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> None:
    await conn.execute(SET_OVERDUE, appeal_id)


RECORD_ANSWER = """
UPDATE appeals SET status = 'answered', answered_at = $2, answer = $3, updated_at = now()
WHERE id = $1 AND answered_at IS NULL
"""


async def record_answer(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, answered_at: datetime, answer: dict[str, Any]
) -> bool:
    return bool(await conn.execute(RECORD_ANSWER, appeal_id, answered_at, answer) == "UPDATE 1")


APPLICANT_APPEALS = """
SELECT id, registration_number, registered_at, type, status, agency, due_at, answered_at,
       submission->>'subject' AS subject, source
FROM appeals
WHERE applicant_iin = $1 AND ($2::text IS NULL OR source = $2)
ORDER BY registered_at DESC LIMIT $3
"""


async def applicant_appeals(
    conn: asyncpg.Connection, iin: str, source: str | None, limit: int
) -> list[asyncpg.Record]:
    return list(await conn.fetch(APPLICANT_APPEALS, iin, source, limit))


LIST_REQUESTS = """
SELECT id, registration_number, registered_at, type, status, agency, due_at, answered_at,
       category, submission, updated_at
FROM appeals
WHERE ($1::text[] IS NULL OR category = ANY($1))
  AND ($2::timestamptz IS NULL OR registered_at >= $2)
  AND ($3::timestamptz IS NULL OR registered_at <= $3)
  AND ($4::text IS NULL OR ($4 = 'closed') = (answered_at IS NOT NULL))
  AND ($5::uuid[] IS NULL OR id = ANY($5))
ORDER BY registered_at DESC LIMIT $6
"""


async def list_requests(
    conn: asyncpg.Connection,
    *,
    categories: list[str] | None,
    start: datetime | None,
    end: datetime | None,
    status: str | None,
    ids: list[uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_REQUESTS, categories, start, end, status, ids, limit))
