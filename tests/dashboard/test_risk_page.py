"""The dashboard's "At risk" queue and an agency's expected breaches this month (issue 14
item 2), from the breach-risk model the service trained on a small history of real assigned
and answered appeals (Kafka and PostgreSQL): the riskiest appeal first, region-wide and per
agency; an agency sees its own."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appeals_platform.auth import Role
from deadlines.clocks import SettableClock
from tests.conftest import Stack, TokenFactory, Topics
from tests.dashboard.conftest import start_site
from tests.dashboard.test_http import client
from tests.deadlines_service.conftest import Deadlines
from tests.deadlines_service.risk_history import (
    LATE,
    PUNCTUAL,
    TODAY,
    open_appeal,
    seed_and_train,
)

pytestmark = pytest.mark.infra

ROW = re.compile(
    r'<tr data-appeal="([^"]+)" data-hop="\d+" data-agency="([^"]+)" data-risk="([^"]+)"'
)
EXPECTED = re.compile(r'id="expected-breaches" data-expected="([^"]+)" data-breached="(\d+)"')


@pytest.fixture
async def site(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> AsyncIterator[Deadlines]:
    """The dashboard without the scheduled risk pass or the ticker: the test scores itself."""
    async with start_site(
        stack,
        database,
        key_dir,
        token,
        topics,
        SettableClock(TODAY),
        ticker_enabled=False,
        risk_enabled=False,
    ) as running:
        yield running


async def test_the_at_risk_queue_lists_the_riskiest_appeal_first(site: Deadlines) -> None:
    await seed_and_train(site)
    punctual = await open_appeal(site, PUNCTUAL, days_ago=6)
    late = await open_appeal(site, LATE)
    # Due this month (May 2022) and still open: part of LATE's expected breaches.
    due_soon = await open_appeal(site, LATE, days_ago=20)
    # Due earlier this month and still open: breached already.
    breached = await open_appeal(site, LATE, days_ago=40)
    days = await site.rows(
        "SELECT appeal_id::text AS a, due_day FROM clocks WHERE appeal_id = ANY($1::uuid[])",
        [uuid.UUID(a) for a in (due_soon, breached)],
    )
    due = {r["a"]: r["due_day"] for r in days}
    assert due[due_soon].month == 5 and due[due_soon] >= TODAY.date()
    assert due[breached].month == 5 and due[breached] < TODAY.date()
    await site.service.scorers[0].score()

    async with client(site) as monitoring:
        region = await monitoring.get("/dashboard/at-risk")
        agency_page = await monitoring.get("/dashboard/at-risk", params={"agency": PUNCTUAL})
        backlog = await monitoring.get("/dashboard/backlog", params={"agency": LATE})
    assert region.status_code == 200, region.text
    rows = ROW.findall(region.text)
    # The breached clock is not in the queue: its breach alerts speak for it.
    assert {a for a, _, _ in rows} == {late, due_soon, punctual}
    risks = [float(r) for _, _, r in rows]
    assert risks == sorted(risks, reverse=True)
    assert rows[-1][:2] == (punctual, PUNCTUAL)
    assert [a for a, _, _ in ROW.findall(agency_page.text)] == [punctual]

    # LATE's expected breaches this month: the breached one plus the risk of the one due.
    assert backlog.status_code == 200, backlog.text
    stored = await site.rows(
        "SELECT risk FROM clock_risks WHERE appeal_id = $1", uuid.UUID(due_soon)
    )
    expected, breached_count = EXPECTED.search(backlog.text).groups()  # type: ignore[union-attr]
    assert int(breached_count) == 1
    assert float(expected) == pytest.approx(1 + stored[0]["risk"], abs=0.01)

    async with client(site, Role.AGENCY, agency=LATE) as agency:
        own = await agency.get("/dashboard/at-risk", params={"agency": PUNCTUAL})
    assert own.status_code == 200
    assert {a for a, _, _ in ROW.findall(own.text)} == {late, due_soon}
    assert EXPECTED.search(own.text) is not None
