"""The SQL of breach risk: the hops a model learns from, the stored models, the open clocks'
risks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from deadlines.law import local_day
from deadlines.risk.features import Hop

HOPS = """
SELECT appeal_id::text AS appeal_id, hop, agency, category, received_day, original_due_at,
       due_day, extended_at, closed_day, state
FROM clocks
WHERE received_day >= $1
"""


def hop_of(r: asyncpg.Record) -> Hop:
    return Hop(
        appeal_id=str(r["appeal_id"]),
        hop=int(r["hop"]),
        agency=r["agency"],
        category=r["category"],
        received_day=r["received_day"],
        original_due_day=local_day(r["original_due_at"]),
        due_day=r["due_day"],
        extended_day=local_day(r["extended_at"]) if r["extended_at"] is not None else None,
        closed_day=r["closed_day"] if r["state"] != "open" else None,
        answered=r["state"] == "answered",
    )


async def hops_since(conn: asyncpg.Connection, first_day: date) -> list[asyncpg.Record]:
    """Every hop an agency received on or after `first_day`, open or closed, as rows: making
    `Hop`s of them (`hops_of`) is CPU work for the trainer's thread, not the event loop."""
    return list(await conn.fetch(HOPS, first_day))


def hops_of(rows: Sequence[asyncpg.Record]) -> list[Hop]:
    return [hop_of(r) for r in rows]


# How many hops' outcomes are known on `$1`, as the compliance aggregates count them (one row
# a day): hops closed (answered or redirected), and hops that went past their due day open
# (answered late since or not). Only compared between passes: while the pair stays the same, a
# history found too short stays so. Both only grow as outcomes become known: the overdue
# hops still open would not (a late answer takes one away the next day while a hop due the day
# before adds one, and the pair could stay the same). Counting the clocks themselves read every
# clock of the history, every minute while there is no model: 156-162 ms of PostgreSQL at
# 295,000 clocks (7 Dec 2026), growing with the history.
OUTCOMES = """
SELECT coalesce(sum(answered_on_time + answered_late + redirected), 0)::bigint AS closed,
       coalesce(sum(overdue_started) FILTER (WHERE day <= $1), 0)::bigint AS overdue
FROM compliance_daily
WHERE dimension = 'all'
"""


async def outcomes(conn: asyncpg.Connection, today: date) -> tuple[int, int]:
    found = await conn.fetchrow(OUTCOMES, today)
    assert found is not None  # an aggregate always has its row
    return int(found["closed"]), int(found["overdue"])


OPEN_CLOCKS = "SELECT * FROM clocks WHERE state = 'open'"


async def open_clocks(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await conn.fetch(OPEN_CLOCKS))


SAVE_MODEL = """
INSERT INTO risk_models (trained_at, rows, positives, model) VALUES ($1, $2, $3, $4)
RETURNING id
"""


async def save_model(
    conn: asyncpg.Connection, trained_at: datetime, rows: int, positives: int, doc: dict[str, Any]
) -> int:
    return int(await conn.fetchval(SAVE_MODEL, trained_at, rows, positives, doc))


LATEST_MODEL = "SELECT id, trained_at, model FROM risk_models ORDER BY id DESC LIMIT 1"


async def latest_model(conn: asyncpg.Connection) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(LATEST_MODEL)
    return row


LAST_TRAINED = "SELECT max(trained_at) FROM risk_models"


async def last_trained(conn: asyncpg.Connection) -> datetime | None:
    moment: datetime | None = await conn.fetchval(LAST_TRAINED)
    return moment


@dataclass(frozen=True)
class Risk:
    appeal_id: uuid.UUID
    hop: int
    agency: str
    risk: float
    working_days_left: int
    due_day: date


# A pass replaces every stored risk: the clocks it scored, and nothing else (closed and
# breached clocks drop out of the queue).
CLEAR_RISKS = "DELETE FROM clock_risks"
INSERT_RISKS = """
INSERT INTO clock_risks (appeal_id, hop, agency, risk, working_days_left, due_day, model_id,
                         scored_at)
SELECT a, h, ag, r, l, d, $7, $8
FROM unnest($1::uuid[], $2::int[], $3::text[], $4::float8[], $5::int[], $6::date[])
     AS t(a, h, ag, r, l, d)
"""


async def replace_risks(
    conn: asyncpg.Connection, risks: Sequence[Risk], model_id: int, scored_at: datetime
) -> None:
    await conn.execute(CLEAR_RISKS)
    await conn.execute(
        INSERT_RISKS,
        [r.appeal_id for r in risks],
        [r.hop for r in risks],
        [r.agency for r in risks],
        [r.risk for r in risks],
        [r.working_days_left for r in risks],
        [r.due_day for r in risks],
        model_id,
        scored_at,
    )
