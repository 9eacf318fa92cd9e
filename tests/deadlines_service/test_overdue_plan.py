"""The open-and-overdue count of every compliance report is read from two covering indexes
(migration 0011): at millions of clocks, fetching each clock's row was most of a report."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from deadlines import queries
from tests.deadlines_service.conftest import Deadlines

pytestmark = pytest.mark.infra


async def test_the_overdue_count_needs_no_clock_rows(deadlines: Deadlines) -> None:
    conn = await asyncpg.connect(deadlines.dsn, server_settings={"search_path": "deadlines"})
    try:
        async with conn.transaction():
            # On the test's small table the planner would rather scan it: ask for the plan it
            # takes once the table is large, where a scan is the expensive choice.
            await conn.execute("SET LOCAL enable_seqscan = off")
            await conn.execute("SET LOCAL enable_bitmapscan = off")
            plan = "\n".join(
                r[0]
                for r in await conn.fetch(
                    "EXPLAIN " + queries.OVERDUE_GROUPS, datetime(2026, 10, 1, tzinfo=UTC)
                )
            )
    finally:
        await conn.close()
    assert "Index Only Scan using clocks_open_due_cover" in plan, plan
    assert "Index Only Scan using clocks_closed_late_cover" in plan, plan
