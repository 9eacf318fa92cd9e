"""One typed function per SQL statement of the routing service (schema `routing`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from appeals_platform import outbox, sql

# ----------------------------------------------------------------------------- reference data

ACTIVE_REFERENCE_VERSION = "SELECT version FROM reference_versions WHERE active"


async def active_reference_version(conn: asyncpg.Connection) -> str | None:
    """The active version only: cheap enough to poll every few seconds."""
    version = await conn.fetchval(ACTIVE_REFERENCE_VERSION)
    return str(version) if version is not None else None


ACTIVE_REFERENCE = """
SELECT version, document, created_at, created_by, activated_at
FROM reference_versions WHERE active
"""


async def active_reference(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow(ACTIVE_REFERENCE)


REFERENCE_VERSION = """
SELECT version, document, created_at, created_by, active, activated_at
FROM reference_versions WHERE version = $1
"""


async def reference_version(conn: asyncpg.Connection, version: str) -> asyncpg.Record | None:
    return await conn.fetchrow(REFERENCE_VERSION, version)


SEED_REFERENCE = """
INSERT INTO reference_versions (version, document, created_by, active)
SELECT $1, $2, $3, true
WHERE NOT EXISTS (SELECT 1 FROM reference_versions)
ON CONFLICT DO NOTHING
RETURNING version
"""


async def seed_reference(
    conn: asyncpg.Connection, version: str, document: dict[str, Any], created_by: str
) -> bool:
    """Store the first version, active; False when any version is already there."""
    return await conn.fetchval(SEED_REFERENCE, version, document, created_by) is not None


LOCK_ACTIVE_REFERENCE = "SELECT version FROM reference_versions WHERE active FOR UPDATE"


async def lock_active_reference(conn: asyncpg.Connection) -> str | None:
    """The active version, locked, so two concurrent changes apply one after the other."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('routing:reference'))")
    version = await conn.fetchval(LOCK_ACTIVE_REFERENCE)
    return str(version) if version is not None else None


DEACTIVATE_REFERENCE = "UPDATE reference_versions SET active = false WHERE active"

ACTIVATE_REFERENCE = """
INSERT INTO reference_versions (version, document, created_by, active, created_at, activated_at)
VALUES ($1, $2, $3, true, $4, $4)
ON CONFLICT (version) DO UPDATE SET active = true, activated_at = EXCLUDED.activated_at
"""


async def activate_reference(
    conn: asyncpg.Connection,
    version: str,
    document: dict[str, Any],
    created_by: str,
    at: datetime,
) -> None:
    """Make `version` the only active one; an earlier version comes back as it was stored."""
    await conn.execute(DEACTIVATE_REFERENCE)
    await conn.execute(ACTIVATE_REFERENCE, version, document, created_by, at)


REFERENCE_HISTORY = """
SELECT version, created_at, created_by, active, activated_at
FROM reference_versions ORDER BY activated_at DESC LIMIT $1
"""


async def reference_history(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(REFERENCE_HISTORY, limit))


# ----------------------------------------------------------------------------- appeals


@dataclass(frozen=True)
class NewAppeal:
    appeal_id: uuid.UUID
    registration_number: str
    registered_at: datetime
    appeal_type: str
    received: dict[str, Any] | orjson.Fragment  # the AppealReceived payload (JSON, or dumped)


INSERT_APPEALS = """
INSERT INTO appeals (appeal_id, registration_number, registered_at, appeal_type, received,
                     last_hop)
SELECT a, n, r, t, d, 1
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::json[]) AS x(a, n, r, t, d)
ON CONFLICT (appeal_id) DO NOTHING
RETURNING appeal_id AS id
"""


def _appeal_columns(appeals: Sequence[NewAppeal]) -> list[list[Any]]:
    return [
        [a.appeal_id for a in appeals],
        [a.registration_number for a in appeals],
        [a.registered_at for a in appeals],
        [a.appeal_type for a in appeals],
        [a.received for a in appeals],
    ]


LOCK_APPEAL = """
SELECT appeal_id, registration_number, registered_at, appeal_type, received, last_hop, redirects,
       answered_at, answered_by
FROM appeals WHERE appeal_id = $1 FOR UPDATE
"""


async def lock_appeal(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(LOCK_APPEAL, appeal_id)


GET_APPEAL = """
SELECT appeal_id, registration_number, registered_at, appeal_type, received, last_hop, redirects,
       answered_at, answered_by
FROM appeals WHERE appeal_id = $1
"""


async def get_appeal(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_APPEAL, appeal_id)


NEXT_HOP = """
UPDATE appeals SET last_hop = last_hop + 1, redirects = redirects + $2, updated_at = $3
WHERE appeal_id = $1
RETURNING last_hop, redirects
"""


async def next_hop(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, *, redirect: bool, at: datetime
) -> tuple[int, int]:
    """Reserve the appeal's next hop number; (hop, redirects so far, this one included)."""
    row = await conn.fetchrow(NEXT_HOP, appeal_id, int(redirect), at)
    assert row is not None, "next_hop is called on a locked, existing appeal"
    return int(row["last_hop"]), int(row["redirects"])


# ----------------------------------------------------------------------------- assignments


@dataclass(frozen=True)
class Assignment:
    """One hop: an agency must consider the appeal (or a part of it, when `partial`)."""

    appeal_id: uuid.UUID
    hop: int
    agency: str
    category: str | None
    locality: str | None
    method: str
    confidence: float | None
    explanation: dict[str, Any]
    reference_version: str
    classifier_version: str | None
    received_at: datetime
    assigned_at: datetime
    assigned_by: str | None = None
    partial: bool = False
    # The explanation already written as JSON, when the caller has it: the column and both
    # AssignmentAssigned events then take these bytes instead of dumping the dict each.
    explanation_json: orjson.Fragment | None = None


INSERT_ASSIGNMENTS = """
INSERT INTO assignments (appeal_id, hop, agency, category, locality, method, confidence,
                         explanation, reference_version, classifier_version, received_at,
                         assigned_at, assigned_by, partial)
SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::real[], $8::json[], $9::text[], $10::text[], $11::timestamptz[],
                     $12::timestamptz[], $13::text[], $14::boolean[]) AS x(appeal_id)
"""


def _assignment_columns(rows: Sequence[Assignment]) -> list[list[Any]]:
    return [
        [r.appeal_id for r in rows],
        [r.hop for r in rows],
        [r.agency for r in rows],
        [r.category for r in rows],
        [r.locality for r in rows],
        [r.method for r in rows],
        [r.confidence for r in rows],
        [r.explanation if r.explanation_json is None else r.explanation_json for r in rows],
        [r.reference_version for r in rows],
        [r.classifier_version for r in rows],
        [r.received_at for r in rows],
        [r.assigned_at for r in rows],
        [r.assigned_by for r in rows],
        [r.partial for r in rows],
    ]


async def insert_assignments(conn: asyncpg.Connection, rows: Sequence[Assignment]) -> None:
    if not rows:
        return
    await conn.execute(INSERT_ASSIGNMENTS, *_assignment_columns(rows))


RECORD_ANSWERS = """
UPDATE appeals a SET answered_at = x.at, answered_by = x.agency, updated_at = now()
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS x(id, agency, at)
WHERE a.appeal_id = x.id AND a.answered_at IS NULL
"""


async def record_answers(
    conn: asyncpg.Connection, answers: Sequence[tuple[uuid.UUID, str, datetime]]
) -> None:
    """Mark appeals answered (appeal id, agency, answered at); the first answer stays."""
    if answers:
        await conn.execute(
            RECORD_ANSWERS,
            [a[0] for a in answers],
            [a[1] for a in answers],
            [a[2] for a in answers],
        )


ACTIVE_HOPS_OF = """
SELECT hop FROM assignments WHERE appeal_id = $1 AND agency = $2 AND active ORDER BY hop
"""


async def active_hops_of(conn: asyncpg.Connection, appeal_id: uuid.UUID, agency: str) -> list[int]:
    """The hops this agency currently holds on the appeal (normally one)."""
    return [int(r["hop"]) for r in await conn.fetch(ACTIVE_HOPS_OF, appeal_id, agency)]


END_ASSIGNMENTS = """
UPDATE assignments SET active = false, ended_at = $3
WHERE appeal_id = $1 AND hop = ANY($2::int[]) AND active
"""


async def end_assignments(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, hops: Sequence[int], at: datetime
) -> None:
    await conn.execute(END_ASSIGNMENTS, appeal_id, list(hops), at)


ASSIGNMENTS_OF = """
SELECT hop, agency, category, locality, method, confidence, explanation, reference_version,
       classifier_version, received_at, assigned_at, assigned_by, partial, active, ended_at
FROM assignments WHERE appeal_id = $1 ORDER BY hop
"""


async def assignments_of(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(ASSIGNMENTS_OF, appeal_id))


# ----------------------------------------------------------------------------- triage


@dataclass(frozen=True)
class Triage:
    """An appeal waiting for an operator; the operator's assignment takes hop `hop`."""

    appeal_id: uuid.UUID
    hop: int
    reason: str
    best_guess: str | None
    category: str | None
    locality: str | None
    confidence: float | None
    explanation: dict[str, Any]
    reference_version: str
    received_at: datetime
    triaged_at: datetime


INSERT_TRIAGE = """
INSERT INTO triage (appeal_id, hop, reason, best_guess, category, locality, confidence,
                    explanation, reference_version, received_at, triaged_at)
SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::real[], $8::json[], $9::text[], $10::timestamptz[],
                     $11::timestamptz[]) AS x(appeal_id)
"""


def _triage_columns(rows: Sequence[Triage]) -> list[list[Any]]:
    return [
        [r.appeal_id for r in rows],
        [r.hop for r in rows],
        [r.reason for r in rows],
        [r.best_guess for r in rows],
        [r.category for r in rows],
        [r.locality for r in rows],
        [r.confidence for r in rows],
        [r.explanation for r in rows],
        [r.reference_version for r in rows],
        [r.received_at for r in rows],
        [r.triaged_at for r in rows],
    ]


async def insert_triage(conn: asyncpg.Connection, rows: Sequence[Triage]) -> None:
    if not rows:
        return
    await conn.execute(INSERT_TRIAGE, *_triage_columns(rows))


# Hop 1 of a chunk of appeals in ONE statement: the appeals not stored before, their
# assignments or triage entries and their events, each kept only for an appeal this statement
# inserts (an appeal already there, redelivered or brought by another event, is left as it
# is). Atomic in autocommit: the consumer opens no transaction around it, two round trips
# less (BEGIN, COMMIT) and four statements fewer per chunk, each waiting for a core.
_NEW = "\nWHERE x.appeal_id IN (SELECT id FROM new)"
RECORD_FIRST_HOPS = (
    "WITH new AS (\n"
    + INSERT_APPEALS.strip()
    + "\n), assigned AS (\n"
    + sql.numbered(INSERT_ASSIGNMENTS.strip(), 6)
    + _NEW
    + "\n), triaged AS (\n"
    + sql.numbered(INSERT_TRIAGE.strip(), 20)
    + _NEW
    + "\n), events AS ("
    + outbox.insert_part(31, keys_in="new")
    + ")\nSELECT id FROM new"
)


async def record_first_hops(
    conn: asyncpg.Connection,
    appeals: Sequence[NewAppeal],
    assignments: Sequence[Assignment],
    triaged: Sequence[Triage],
    events: Sequence[outbox.Event],
) -> set[uuid.UUID]:
    """Store the appeals not stored before, with their hop 1 and events; their ids."""
    if not appeals:
        return set()
    rows = await conn.fetch(
        RECORD_FIRST_HOPS,
        *_appeal_columns(appeals),
        *_assignment_columns(assignments),
        *_triage_columns(triaged),
        *outbox.columns(events),
    )
    return {r["id"] for r in rows}


OPEN_TRIAGE_OF = """
SELECT hop, reason, best_guess, category, locality, confidence, explanation, reference_version,
       received_at, triaged_at
FROM triage WHERE appeal_id = $1 AND resolved_at IS NULL
ORDER BY hop LIMIT 1
"""


async def open_triage_of(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(OPEN_TRIAGE_OF, appeal_id)


RESOLVE_TRIAGE = """
UPDATE triage SET resolved_at = $3, resolved_by = $4
WHERE appeal_id = $1 AND hop = $2 AND resolved_at IS NULL
"""


async def resolve_triage(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, hop: int, at: datetime, by: str
) -> None:
    await conn.execute(RESOLVE_TRIAGE, appeal_id, hop, at, by)


TRIAGE_QUEUE = """
SELECT t.appeal_id, t.hop, t.reason, t.best_guess, t.category, t.locality, t.confidence,
       t.explanation, t.reference_version, t.received_at, t.triaged_at,
       a.registration_number, a.registered_at, a.appeal_type,
       a.received->'submission'->>'subject' AS subject
FROM triage t JOIN appeals a USING (appeal_id)
WHERE t.resolved_at IS NULL
ORDER BY t.triaged_at, t.appeal_id
LIMIT $1
"""


async def triage_queue(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Open triage items, oldest first (the partial index `triage_open` serves it)."""
    return list(await conn.fetch(TRIAGE_QUEUE, limit))


TRIAGE_OF = """
SELECT hop, reason, best_guess, category, locality, confidence, explanation, reference_version,
       received_at, triaged_at, resolved_at, resolved_by
FROM triage WHERE appeal_id = $1 ORDER BY hop
"""


async def triage_of(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(TRIAGE_OF, appeal_id))


# ----------------------------------------------------------------------------- redirects


@dataclass(frozen=True)
class Redirect:
    appeal_id: uuid.UUID
    from_hop: int
    to_hop: int
    from_agency: str
    target: str | None
    reason: str
    partial: bool
    comment: str | None
    outcome: str
    redirected_at: datetime
    redirected_by: str


INSERT_REDIRECT = """
INSERT INTO redirects (appeal_id, from_hop, to_hop, from_agency, target, reason, partial,
                       comment, outcome, redirected_at, redirected_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""


async def insert_redirect(conn: asyncpg.Connection, r: Redirect) -> None:
    await conn.execute(
        INSERT_REDIRECT,
        r.appeal_id,
        r.from_hop,
        r.to_hop,
        r.from_agency,
        r.target,
        r.reason,
        r.partial,
        r.comment,
        r.outcome,
        r.redirected_at,
        r.redirected_by,
    )


REDIRECTS_OF = """
SELECT from_hop, to_hop, from_agency, target, reason, partial, comment, outcome, redirected_at,
       redirected_by
FROM redirects WHERE appeal_id = $1 ORDER BY to_hop
"""


async def redirects_of(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(REDIRECTS_OF, appeal_id))


# ----------------------------------------------------------------------------- examples


@dataclass(frozen=True)
class LabelledExample:
    appeal_id: uuid.UUID
    text: str
    category: str
    origin: str  # "manual" (operator) or "redirect"
    agency: str | None


ADD_EXAMPLES = """
INSERT INTO labelled_examples (appeal_id, text, category, origin, agency)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
"""


async def add_examples(conn: asyncpg.Connection, examples: Sequence[LabelledExample]) -> None:
    if not examples:
        return
    await conn.execute(
        ADD_EXAMPLES,
        [e.appeal_id for e in examples],
        [e.text for e in examples],
        [e.category for e in examples],
        [e.origin for e in examples],
        [e.agency for e in examples],
    )


LABELLED_EXAMPLES = """
SELECT appeal_id, text, category, origin, agency, created_at FROM labelled_examples ORDER BY id
"""


async def labelled_examples(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await conn.fetch(LABELLED_EXAMPLES))
