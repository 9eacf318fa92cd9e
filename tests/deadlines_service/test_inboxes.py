"""Forgotten inboxes (issue 13 item 3) on the real broker and PostgreSQL: an agency whose
consumer group leaves its assignment topic unread for more than the allowed working time, or
leaves an assignment unconfirmed too long, raises inbox-stalled once on deadlines.alerts, and
inbox-recovered once it catches up. Lag is read from Kafka: the agency's own group, with the
agency's own credentials, consumes and commits; deadlines only describes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from appeals_contracts import event_types, topics
from appeals_law.calendar import WorkingCalendar
from appeals_platform.auth import Role
from deadlines.clocks import SettableClock
from deadlines.inboxes import (
    UNCONFIRMED,
    UNCONFIRMED_COUNTED,
    Hours,
    Inbox,
    Watcher,
    working_seconds,
)
from tests.conftest import Stack, TokenFactory, Topics
from tests.deadlines_service.conftest import Deadlines, local, start_deadlines
from tests.kafka_probe import EventProbe

pytestmark = pytest.mark.infra

AGENCY = "KRG-YOUTH"  # no other test routes to it: its topic holds only this test's records


async def judged(watcher: Watcher) -> list[Inbox]:
    """A round's changes for this test's agency (other tests leave other agencies' topics
    unread, and the moved clock stalls those too)."""
    return [row for row in await watcher.round() if row.agency == AGENCY]


def test_only_working_hours_of_working_days_count_towards_a_stall() -> None:
    calendar, hours = WorkingCalendar(), Hours()
    friday = local(2022, 5, 27, 17, 50)
    assert working_seconds(friday, local(2022, 5, 28, 12), calendar, hours) == 40 * 60
    assert working_seconds(friday, local(2022, 5, 30, 9, 20), calendar, hours) == 60 * 60
    assert working_seconds(local(2022, 5, 30, 10), friday, calendar, hours) == 0
    # 7-10 May 2022: a weekend, Victory Day and the day off moved from Defender's Day.
    holidays = (local(2022, 5, 7), local(2022, 5, 10, 18, 30))
    assert working_seconds(*holidays, calendar, hours) == 0


@pytest.fixture
async def deadlines(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> AsyncIterator[Deadlines]:
    """The service with its watch loop off: the test runs each round itself."""
    clock = SettableClock(local(2022, 5, 26, 10))  # a Thursday
    async with start_deadlines(
        stack, database, key_dir, token, topics, clock, inbox_watch_enabled=False
    ) as service:
        yield service


class AgencyReader:
    """The agency's own case system: a consumer group of its prefix, its credentials."""

    def __init__(self, stack: Stack) -> None:
        self.consumer = AIOKafkaConsumer(
            stack.topic(topics.agency_topic(AGENCY)),
            **stack.options(f"agency-{AGENCY.lower()}"),
            group_id=f"{topics.agency_group_prefix(AGENCY)}inbox-test-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )

    async def catch_up(self) -> None:
        """Read to the end of the topic and commit."""
        end = await self.consumer.end_offsets(list(self.consumer.assignment()))
        for tp, offset in end.items():
            while await self.consumer.position(tp) < offset:
                await self.consumer.getmany(tp, timeout_ms=500)
        await self.consumer.commit()


@pytest.fixture
async def reader(stack: Stack) -> AsyncIterator[AgencyReader]:
    agency = AgencyReader(stack)
    await agency.consumer.start()
    while not agency.consumer.assignment():
        await agency.consumer.getmany(timeout_ms=200)
    try:
        yield agency
    finally:
        await agency.consumer.stop()


async def inbox_events(probe: EventProbe) -> list[dict[str, Any]]:
    """The agency's inbox events on the alerts topic, once the recovery has come and a repeat
    would have been relayed too."""
    await probe.wait_for_subject(AGENCY, event_types.INBOX_RECOVERED)
    await probe.collect(len(probe.seen) + 1, timeout=2)
    return [e for e in probe.seen if e.get("subject") == AGENCY]


async def test_an_unread_inbox_stalls_once_and_recovers_once(
    deadlines: Deadlines,
    stack: Stack,
    reader: AgencyReader,
    probe: Callable[[str], EventProbe],
) -> None:
    watcher = deadlines.service.watchers[0]
    await reader.catch_up()
    routing = stack.producer()
    await routing.start()
    try:
        await routing.send_and_wait(topics.agency_topic(AGENCY), b"{}", key=b"an appeal")
    finally:
        await routing.stop()

    async with probe(deadlines.topics.alerts) as alerts:
        assert await judged(watcher) == []  # unread since now: not stalled yet
        deadlines.clock.set(local(2022, 5, 26, 10, 29))
        assert await judged(watcher) == []
        deadlines.clock.set(local(2022, 5, 26, 10, 31))
        stalled = await judged(watcher)
        assert [(r.agency, r.state, r.reasons, r.lag) for r in stalled] == [
            (AGENCY, "stalled", ("lag",), 1)
        ]
        deadlines.clock.set(local(2022, 5, 26, 11))
        assert await judged(watcher) == []  # still stalled: nothing new to say

        await reader.catch_up()
        recovered = await judged(watcher)
        assert [(r.state, r.lag) for r in recovered] == [("ok", 0)]
        events = await inbox_events(alerts)

    assert [e["type"] for e in events] == [
        event_types.INBOX_STALLED,
        event_types.INBOX_RECOVERED,
    ]
    first = events[0]["data"]
    assert isinstance(first, dict)
    assert first["agency"] == AGENCY and first["parent_agency"] == "KRG-AKIMAT"
    assert first["reasons"] == ["lag"] and first["lag"] == 1
    rows = await deadlines.rows(
        "SELECT state, lag, last_commit_at FROM inboxes WHERE agency = $1", AGENCY
    )
    assert rows[0]["state"] == "ok" and rows[0]["lag"] == 0
    assert rows[0]["last_commit_at"] == local(2022, 5, 26, 11)


async def test_an_unconfirmed_assignment_stalls_until_the_agency_confirms_it(
    deadlines: Deadlines,
    reader: AgencyReader,
    probe: Callable[[str], EventProbe],
) -> None:
    watcher = deadlines.service.watchers[0]
    await reader.catch_up()  # the topic is read: only the confirmation is missing
    appeal = await deadlines.assign(local(2022, 5, 26, 9), agency=AGENCY)
    await deadlines.wait_for(appeal)

    async with probe(deadlines.topics.alerts) as alerts:
        deadlines.clock.set(local(2022, 5, 27, 8, 59))  # less than a working day
        assert await judged(watcher) == []
        # Friday 09:01, then the weekend: still stalled on Monday, with one event only.
        deadlines.clock.set(local(2022, 5, 27, 9, 1))
        stalled = await judged(watcher)
        assert [(r.state, r.reasons, r.unconfirmed) for r in stalled] == [
            ("stalled", ("unconfirmed",), 1)
        ]
        deadlines.clock.set(local(2022, 5, 30, 10))
        assert await judged(watcher) == []

        confirmed = await deadlines.client.post(
            f"/v1/appeals/{appeal}/receipt",
            headers=deadlines.auth(Role.AGENCY, agency=AGENCY),
        )
        assert confirmed.status_code in (200, 201), confirmed.text
        assert [r.state for r in await judged(watcher)] == ["ok"]
        events = await inbox_events(alerts)

    assert [e["type"] for e in events] == [
        event_types.INBOX_STALLED,
        event_types.INBOX_RECOVERED,
    ]
    data = events[0]["data"]
    assert isinstance(data, dict) and data["unconfirmed"] == 1
    assert data["oldest_unconfirmed_at"] is not None


async def test_the_unconfirmed_count_stops_at_its_bound_and_keeps_the_oldest(
    deadlines: Deadlines,
) -> None:
    """An agency that never confirms must not make the watcher's work grow without end: each
    round counts up to UNCONFIRMED_COUNTED of its assignments ("this many or more"), and the
    oldest, which the stall rule needs, is still the oldest of them all."""
    first = await deadlines.assign(local(2022, 5, 25, 9), agency=AGENCY)
    second = await deadlines.assign(local(2022, 5, 26, 9), agency=AGENCY)
    for appeal in (first, second):
        await deadlines.wait_for_clock(appeal)
    conn = await asyncpg.connect(deadlines.dsn, server_settings={"search_path": "deadlines"})
    try:
        counted = {
            bound: [tuple(r) for r in await conn.fetch(UNCONFIRMED, [AGENCY, "KRG-AKIMAT"], bound)]
            for bound in (1, UNCONFIRMED_COUNTED)
        }
    finally:
        await conn.close()
    oldest = local(2022, 5, 25, 9)  # when the first hop reached the agency
    assert counted == {1: [(AGENCY, 1, oldest)], UNCONFIRMED_COUNTED: [(AGENCY, 2, oldest)]}


async def test_the_unconfirmed_count_reads_its_own_index_only(deadlines: Deadlines) -> None:
    """The watcher's count every minute (migration 0013): without its index it scanned the
    whole table, 1.8 s at a million open unconfirmed clocks."""
    conn = await asyncpg.connect(deadlines.dsn, server_settings={"search_path": "deadlines"})
    try:
        async with conn.transaction():
            # On the test's small table any plan is cheap: allow only those that read no
            # clock row (without the index, none exists and the scan of the table remains).
            for plan_kind in ("seqscan", "bitmapscan", "indexscan"):
                await conn.execute(f"SET LOCAL enable_{plan_kind} = off")
            plan = "\n".join(
                r[0]
                for r in await conn.fetch("EXPLAIN " + UNCONFIRMED, [AGENCY, "KRG-AKIMAT"], 1000)
            )
    finally:
        await conn.close()
    assert "Index Only Scan using clocks_unconfirmed" in plan, plan
