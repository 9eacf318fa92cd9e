"""A small history for the breach-risk tests, through the deadlines service on the real Kafka
and PostgreSQL: two chronically late agencies and a punctual one, each with appeals received
from February to April 2022 and answered (late, or within a few days) before the test's day."""

from __future__ import annotations

import uuid
from datetime import timedelta

from deadlines.risk.scoring import Trained
from tests.deadlines_service.conftest import Deadlines, local

LATE, PUNCTUAL, ALSO_LATE = "KRG-ENERGY-HOUSING", "KRG-KARAGANDA-AKIMAT", "KRG-HEALTH"
PER_AGENCY = 10
# The day the tests stand on: every appeal of the history is answered by then.
TODAY = local(2022, 5, 26, 9)


async def seed_and_train(deadlines: Deadlines) -> Trained:
    """The history's appeals assigned and answered, then a model trained on it."""
    appeals: list[str] = []
    for n in range(PER_AGENCY):
        received = local(2022, 2, 1, 10) + timedelta(days=5 * n)
        for agency, days in ((LATE, 32), (PUNCTUAL, 3), (ALSO_LATE, 30)):
            appeal = await deadlines.assign(received, agency=agency)
            # 30 calendar days: past a 15-working-day term; 3 days: well within it.
            await deadlines.answer(appeal, received + timedelta(days=days), agency=agency)
            appeals.append(appeal)
    await deadlines.wait_until(
        "SELECT 1 FROM clocks WHERE appeal_id = ANY($1::uuid[]) AND state = 'answered' "
        "HAVING count(*) = $2",
        [uuid.UUID(a) for a in appeals],
        len(appeals),
    )
    deadlines.clock.set(TODAY)
    trained = await deadlines.service.scorers[0].train()
    assert trained is not None
    return trained


async def open_appeal(deadlines: Deadlines, agency: str, days_ago: int = 3) -> str:
    """An appeal the agency received `days_ago` calendar days before TODAY, still open."""
    appeal = await deadlines.assign(TODAY - timedelta(days=days_ago), agency=agency)
    await deadlines.wait_for_clock(appeal)
    return appeal
