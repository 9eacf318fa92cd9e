"""An appeal's update after registration stays on its page (HOT): no new index entries."""

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
# The first appeal of each page of the table.
FIRST_OF_EACH_PAGE = """
SELECT DISTINCT ON ((ctid::text::point)[0]) id::text
FROM appeals ORDER BY (ctid::text::point)[0], ctid
"""


async def test_an_assignment_updates_the_appeal_in_place(intake: Intake) -> None:
    """Migration 0003 keeps 30 % of each page of `appeals` free: the update that follows a
    registration fits on the row's page, where with pages filled to the brim it moved the row
    and wrote an entry in each of the table's eight indexes.

    One appeal per page is updated: each finds its page as the inserts left it. (A second
    update on a page needs the first one's old version pruned, which waits for every snapshot
    that may still see it, the service's own included: not something a test can count on.)
    """
    submissions = dev_submissions()
    for i in range(24):
        await intake.post(fresh(submissions[i % len(submissions)]))
    conn = await connect(intake.dsn, "intake")
    updated = hot = 0
    try:
        firsts = [r["id"] for r in await conn.fetch(FIRST_OF_EACH_PAGE)]
        for appeal_id in firsts:
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
    assert len(firsts) >= 3 and updated == len(firsts)
    assert hot == updated
