"""Forward-only migrations: applied once, under a lock, recorded per schema."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from appeals_platform.migrations import migrate
from tests.conftest import Stack

pytestmark = pytest.mark.infra


async def test_migrations_apply_once_even_when_started_concurrently(stack: Stack) -> None:
    name = f"m_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(stack.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conns = [await asyncpg.connect(stack.dsn(name)) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(migrate(c, "intake", ["intake.migrations"]) for c in conns)
        )
        applied = [r for r in results if r]
        assert len(applied) == 1  # one instance applied everything, the others found it done
        assert "appeals_platform.ddl/0001_outbox_inbox.sql" in applied[0]
        assert await migrate(conns[0], "intake", ["intake.migrations"]) == []
        versions = await conns[0].fetch("SELECT version FROM intake.schema_migrations")
        assert len(versions) == len(applied[0])
    finally:
        for c in conns:
            await c.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_schema_name_that_is_not_a_plain_identifier_is_refused(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        with pytest.raises(ValueError, match="schema"):
            await migrate(conn, 'x"; DROP TABLE y; --', [])
    finally:
        await conn.close()
