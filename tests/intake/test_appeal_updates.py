"""An appeal's updates after registration stay on its page (HOT): no new index entries."""

from __future__ import annotations

from appeals_platform.pool import connect
from intake import handlers
from tests.intake.conftest import Intake, dev_submissions, fresh
from tests.intake.test_appeals_api import assigned_event
from tests.intake.test_timeline import foreign

COUNTS = """
SELECT pg_stat_get_xact_tuples_updated('appeals'::regclass) AS updated,
       pg_stat_get_xact_tuples_hot_updated('appeals'::regclass) AS hot
"""


async def test_an_assignment_updates_the_appeal_in_place(intake: Intake) -> None:
    """Migration 0003 keeps room on each page of `appeals`: with pages filled by the inserts,
    most updates moved the row and wrote an entry in each of the table's eight indexes."""
    submissions = dev_submissions()
    appeals = [
        (await intake.post(fresh(submissions[i % len(submissions)]))).json()["appeal_id"]
        for i in range(24)
    ]
    conn = await connect(intake.dsn, "intake")
    updated = hot = 0
    try:
        for appeal_id in appeals:
            async with conn.transaction():
                # Read inside the transaction: the session's counts are flushed between them.
                before = await conn.fetchrow(COUNTS)
                await handlers.apply_foreign_events(
                    conn, [foreign(assigned_event(appeal_id, "KRG-POLICE"))]
                )
                after = await conn.fetchrow(COUNTS)
            updated += after["updated"] - before["updated"]
            hot += after["hot"] - before["hot"]
    finally:
        await conn.close()
    assert updated >= len(appeals)
    # Nearly all: a row's previous version can be removed to make room only once no snapshot
    # still sees it, and the service's own transactions run beside the test. Pages filled to
    # the brim gave 5 of 24.
    assert hot >= 0.75 * updated
