"""The compliance aggregates fold a batch's changes of `clocks` once (migration 0007): inside
`db.compliance_deferred` the changes wait in `compliance_changes`; leaving it folds them in;
without it every statement folds its own at once. Nothing is left behind either way."""

from __future__ import annotations

import asyncpg
import pytest

from deadlines import db
from tests.deadlines_service.conftest import Deadlines, local

pytestmark = pytest.mark.infra

COPY = """
INSERT INTO clocks (appeal_id, hop, registration_number, appeal_type, agency, agency_level,
    agency_parent, category, locality, region, policy, received_at, agency_received_at,
    assigned_at, received_day, registered_on, start_day, term_days, unit, original_due_at,
    due_at, due_day, redirect_due_at, rule_version, calendar_version)
SELECT appeal_id, $2, registration_number, appeal_type, agency, agency_level, agency_parent,
    category, locality, region, policy, received_at, agency_received_at, assigned_at,
    received_day, registered_on, start_day, term_days, unit, original_due_at, due_at, due_day,
    redirect_due_at, rule_version, calendar_version
FROM clocks WHERE appeal_id = $1 AND hop = 1
"""
RECEIVED = "SELECT coalesce(sum(received), 0) FROM compliance_daily WHERE dimension = 'all'"
PENDING = "SELECT count(*) FROM compliance_changes"


async def test_a_deferred_batch_folds_its_changes_once_on_leaving(deadlines: Deadlines) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 10))
    await deadlines.wait_for(appeal)
    conn = await asyncpg.connect(deadlines.dsn, server_settings={"search_path": "deadlines"})
    try:
        assert await conn.fetchval(RECEIVED) == 1
        async with conn.transaction():
            async with db.compliance_deferred(conn):
                await conn.execute(COPY, appeal, 2)
                await conn.execute(COPY, appeal, 3)
                # Waiting, not yet in the aggregates.
                assert await conn.fetchval(PENDING) == 2
                assert await conn.fetchval(RECEIVED) == 1
            assert await conn.fetchval(PENDING) == 0
            assert await conn.fetchval(RECEIVED) == 3
            # Outside the block, a statement folds its own change at once again.
            await conn.execute(COPY, appeal, 4)
            assert await conn.fetchval(PENDING) == 0
            assert await conn.fetchval(RECEIVED) == 4
        # Committed: another connection sees the aggregates and nothing pending.
        assert (await deadlines.rows(PENDING))[0][0] == 0
        assert (await deadlines.rows(RECEIVED))[0][0] == 4
    finally:
        await conn.close()


SCANS = "SELECT pg_stat_get_xact_numscans('compliance_changes'::regclass)"


async def test_the_fold_reads_its_queue_once(deadlines: Deadlines) -> None:
    """compliance_changes is a queue whose pages hold every row deleted since autovacuum last
    came, so each read of it costs the whole table: the fold reads it once (migration 0012),
    for both aggregates and the delete."""
    appeal = await deadlines.assign(local(2022, 5, 26, 10))
    await deadlines.wait_for(appeal)
    conn = await asyncpg.connect(deadlines.dsn, server_settings={"search_path": "deadlines"})
    try:
        async with conn.transaction():
            await conn.execute(db.DEFER_COMPLIANCE)
            await conn.execute(COPY, appeal, 2)
            before = await conn.fetchval(SCANS)
            await conn.execute(db.FLUSH_COMPLIANCE)
            assert await conn.fetchval(SCANS) - before == 1
            assert await conn.fetchval(PENDING) == 0
            assert await conn.fetchval(RECEIVED) == 2
    finally:
        await conn.close()
