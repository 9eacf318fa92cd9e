"""One typed function per SQL statement of the appeal registry."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from appeals_platform import outbox


@dataclass(frozen=True)
class NewAppeal:
    id: uuid.UUID
    source: str
    external_id: str
    fingerprint: str
    registration_number: str
    registered_at: datetime
    type: str
    language: str
    applicant_kind: str
    applicant_iin: str | None
    applicant_bin: str | None
    category: str | None
    locality: str | None
    addressee: str | None
    channel: str
    due_at: datetime | None
    event_id: uuid.UUID
    received: dict[str, Any]  # the AppealReceived payload, as JSON data


# A group of appeals, their first timeline entries and their events in ONE statement, so one
# round trip and one commit (one WAL flush) for the group, atomic without a transaction of its
# own. The stored submission is taken out of the AppealReceived payload. A key that exists, or
# came earlier in the same group, is skipped by ON CONFLICT and not returned, and its events
# are not written: only the appeals returned get theirs.
REGISTER_APPEALS = (
    """
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
                         $16::timestamptz[], $17::uuid[], $18::jsonb[])
        WITH ORDINALITY AS i(id, source, external_id, fingerprint, registration_number,
                             registered_at, type, language, applicant_kind, applicant_iin,
                             applicant_bin, category, locality, addressee, channel, due_at,
                             event_id, received, position)
), new AS (
    INSERT INTO appeals (id, source, external_id, fingerprint, registration_number,
                         registered_at, type, language, applicant_kind, applicant_iin,
                         applicant_bin, category, locality, addressee, submission, channel,
                         due_at, public)
    SELECT id, source, external_id, fingerprint, registration_number, registered_at, type,
           language, applicant_kind, applicant_iin, applicant_bin, category, locality,
           addressee, received -> 'submission', channel, due_at,
           -- The submission leaves `public` out when it is false.
           COALESCE((received -> 'submission' ->> 'public')::boolean, false)
    FROM input ORDER BY position
    ON CONFLICT (source, external_id) DO NOTHING
    RETURNING id, registration_number, registered_at, status, due_at
), recorded AS (
    -- The submission stays in the appeal row; the entry says who registered it and when.
    INSERT INTO timeline (appeal_id, event_id, kind, type, at, data)
    SELECT new.id, input.event_id::text, 'received', $19, new.registered_at,
           input.received - 'submission'
    FROM new JOIN input USING (id)
), events AS ("""
    + outbox.insert_part(20, keys_in="new")
    + """)
SELECT * FROM new
"""
)


async def register_appeals(
    conn: asyncpg.Connection,
    appeals: Sequence[NewAppeal],
    event_type: str,
    events: Sequence[outbox.Event],
) -> list[asyncpg.Record]:
    """The rows of the appeals created, with `events` of those appeals (keyed by their id) in
    the outbox; those whose (source, external_id) exists are absent, and so are their events."""
    # One array per field, in the order of the dataclass: the order of unnest's columns.
    columns = [[getattr(appeal, f.name) for appeal in appeals] for f in fields(NewAppeal)]
    return list(await conn.fetch(REGISTER_APPEALS, *columns, event_type, *outbox.columns(events)))


NEXT_NUMBERS = "SELECT nextval('registration_seq') FROM generate_series(1, $1)"


async def next_registration_numbers(conn: asyncpg.Connection, count: int) -> list[int]:
    return [r[0] for r in await conn.fetch(NEXT_NUMBERS, count)]


FIND_BY_KEYS = """
SELECT a.source, a.external_id, a.id, a.registration_number, a.registered_at, a.status,
       a.due_at, a.fingerprint, a.submission
FROM unnest($1::text[], $2::text[]) AS k(source, external_id)
JOIN appeals a ON a.source = k.source AND a.external_id = k.external_id
"""


async def find_by_keys(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
) -> list[asyncpg.Record]:
    """The registered appeals of these (source, external_id) keys."""
    if not keys:
        return []
    return list(await conn.fetch(FIND_BY_KEYS, [k[0] for k in keys], [k[1] for k in keys]))


KNOWN_APPEALS = """
SELECT id, source, external_id, registration_number FROM appeals WHERE id = ANY($1::uuid[])
"""


async def known_appeals(
    conn: asyncpg.Connection, ids: list[uuid.UUID]
) -> dict[uuid.UUID, asyncpg.Record]:
    """The appeals of these ids this registry holds: id, source, external_id, number."""
    if not ids:
        return {}
    return {r["id"]: r for r in await conn.fetch(KNOWN_APPEALS, ids)}


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


# The agency is whoever holds the hop now: a redirect or triage leaves nobody (NULL), so the
# agency that redirected the appeal away can no longer answer it (issue 15).
SET_ASSIGNMENTS = """
UPDATE appeals AS a SET status = u.status, agency = u.agency, hop = GREATEST(a.hop, u.hop),
                        updated_at = now()
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) AS u(id, status, agency, hop)
WHERE a.id = u.id AND a.answered_at IS NULL AND a.hop <= u.hop
"""


@dataclass(frozen=True)
class Assignment:
    """Where routing's latest step left an appeal: assigned to an agency, redirected, triaged."""

    status: str
    agency: str | None
    hop: int


async def set_assignments(
    conn: asyncpg.Connection, assignments: Mapping[uuid.UUID, Assignment]
) -> None:
    """One statement for a batch; a step of a hop older than the appeal's changes nothing."""
    if not assignments:
        return
    steps = list(assignments.values())
    await conn.execute(
        SET_ASSIGNMENTS,
        list(assignments),
        [s.status for s in steps],
        [s.agency for s in steps],
        [s.hop for s in steps],
    )


SET_DUES = """
UPDATE appeals AS a SET due_at = u.due_at, updated_at = now()
FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, due_at)
WHERE a.id = u.id
"""


async def set_dues(conn: asyncpg.Connection, dues: Mapping[uuid.UUID, datetime]) -> None:
    if dues:
        await conn.execute(SET_DUES, list(dues), list(dues.values()))


SET_OVERDUE = "UPDATE appeals SET overdue = true, updated_at = now() WHERE id = ANY($1::uuid[])"


async def set_overdue(conn: asyncpg.Connection, appeal_ids: Collection[uuid.UUID]) -> None:
    if appeal_ids:
        await conn.execute(SET_OVERDUE, list(appeal_ids))


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
SELECT id, source, registration_number, registered_at, type, status, agency, due_at,
       answered_at, category, submission, updated_at, public
FROM appeals
WHERE ($1::text[] IS NULL OR category = ANY($1))
  AND ($2::timestamptz IS NULL OR registered_at >= $2)
  AND ($3::timestamptz IS NULL OR registered_at <= $3)
  AND ($4::text IS NULL OR ($4 = 'closed') = (answered_at IS NOT NULL))
  AND ($5::uuid[] IS NULL OR id = ANY($5))
  AND (public OR $7 OR source = $8 OR agency = $9)
ORDER BY registered_at DESC LIMIT $6
"""


@dataclass(frozen=True)
class Visibility:
    """Beside the public appeals, which others a reader may list: every one (`everything`),
    an integration's own (`source`), or an agency's (`agency`); anonymous: none."""

    everything: bool = False
    source: str | None = None
    agency: str | None = None


async def list_requests(
    conn: asyncpg.Connection,
    *,
    categories: list[str] | None,
    start: datetime | None,
    end: datetime | None,
    status: str | None,
    ids: list[uuid.UUID] | None,
    limit: int,
    visible: Visibility,
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            LIST_REQUESTS,
            categories,
            start,
            end,
            status,
            ids,
            limit,
            visible.everything,
            visible.source,
            visible.agency,
        )
    )
