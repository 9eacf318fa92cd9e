"""The inbox: the same event delivered twice changes state once."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from appeals_platform import inbox
from appeals_platform.pool import connect

pytestmark = pytest.mark.infra


async def apply_once(conn: asyncpg.Connection, event_id: str, amount: int) -> None:
    """A consumer's effect: add to a counter, guarded by the inbox in the same transaction."""
    async with conn.transaction():
        if event_id in await inbox.first_seen(conn, "test-consumer", [event_id]):
            await conn.execute("UPDATE counter SET total = total + $1", amount)


async def test_same_event_delivered_twice_changes_state_once(database: str) -> None:
    conn = await connect(database, "intake")
    try:
        await conn.execute("CREATE TABLE counter (total int NOT NULL)")
        await conn.execute("INSERT INTO counter VALUES (0)")
        event = str(uuid.uuid4())
        await apply_once(conn, event, 5)
        await apply_once(conn, event, 5)
        await apply_once(conn, str(uuid.uuid4()), 1)
        assert await conn.fetchval("SELECT total FROM counter") == 6
    finally:
        await conn.close()


async def test_effect_rolled_back_leaves_the_event_unprocessed(database: str) -> None:
    conn = await connect(database, "intake")
    event = str(uuid.uuid4())
    try:

        async def failing_effect() -> None:
            async with conn.transaction():
                await inbox.first_seen(conn, "test-consumer", [event])
                raise RuntimeError("the effect failed")

        with pytest.raises(RuntimeError):
            await failing_effect()
        async with conn.transaction():
            assert await inbox.first_seen(conn, "test-consumer", [event]) == {event}
    finally:
        await conn.close()


async def test_batch_with_duplicates_returns_only_new_ids(database: str) -> None:
    conn = await connect(database, "intake")
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    try:
        assert await inbox.first_seen(conn, "x", [a, b]) == {a, b}
        assert await inbox.first_seen(conn, "x", [a, b, c, c]) == {c}
        assert await inbox.first_seen(conn, "another-consumer", [a]) == {a}
    finally:
        await conn.close()
