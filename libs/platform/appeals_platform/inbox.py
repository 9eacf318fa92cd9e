"""Inbox of processed event ids: the consumer's half of exactly-once effects.

Call `first_seen` inside the transaction that applies the effect; only the returned ids are
new. A redelivered event (after a crash before the offset commit, or a relay re-publish)
finds its id already there and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

FIRST_SEEN_SQL = """
INSERT INTO inbox (consumer, event_id)
SELECT $1, unnest($2::text[])
ON CONFLICT DO NOTHING
RETURNING event_id
"""


async def first_seen(conn: asyncpg.Connection, consumer: str, event_ids: Sequence[str]) -> set[str]:
    if not event_ids:
        return set()
    rows = await conn.fetch(FIRST_SEEN_SQL, consumer, list(dict.fromkeys(event_ids)))
    return {r["event_id"] for r in rows}
