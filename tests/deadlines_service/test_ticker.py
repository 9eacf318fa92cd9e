"""The ticker against real PostgreSQL and Kafka: warnings, one breach, reminders, escalation,
and two tickers racing over the same clocks."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from appeals_contracts import event_types
from appeals_contracts.envelope import event_id
from appeals_contracts.events import DeadlineAlert
from appeals_platform.auth import Role
from appeals_platform.pool import create_pool
from deadlines import cli
from deadlines.ticker import Ticker
from tests.deadlines_service.conftest import Deadlines, local
from tests.kafka_probe import EventProbe

pytestmark = pytest.mark.infra


async def test_ticker_warns_breaches_once_reminds_and_escalates_to_the_parent_body(
    deadlines: Deadlines, probe: Callable[[str], EventProbe]
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 17, 17))  # due Wed 15 June 2022
    await deadlines.wait_for(appeal)
    async with probe(deadlines.topics.alerts) as alerts:
        assert (await deadlines.tick(local(2022, 6, 9, 23))).alerts == 0
        assert (await deadlines.tick(local(2022, 6, 10, 0, 0, 1))).alerts == 1
        assert (await deadlines.tick(local(2022, 6, 14, 9))).alerts == 1
        assert (await deadlines.tick(local(2022, 6, 15, 23, 59, 59))).alerts == 0
        assert (await deadlines.tick(local(2022, 6, 16, 0, 0, 1))).alerts == 1
        assert (await deadlines.tick(local(2022, 6, 16, 9))).alerts == 0
        assert (await deadlines.tick(local(2022, 6, 22, 8))).alerts == 1  # 5 working days late
        # 10 working days late: the second reminder and the escalation.
        assert (await deadlines.tick(local(2022, 6, 29, 8))).alerts == 2
        events = await alerts.collect(6, timeout=20)
    assert [e["type"] for e in events] == [
        event_types.DEADLINE_WARNING,
        event_types.DEADLINE_WARNING,
        event_types.DEADLINE_BREACHED,
        event_types.OVERDUE_REMINDER,
        event_types.OVERDUE_REMINDER,
        event_types.DEADLINE_ESCALATED,
    ]
    payloads = [DeadlineAlert.model_validate(e["data"]) for e in events]
    assert [p.working_days_left for p in payloads[:2]] == [3, 1]
    assert [p.severity for p in payloads[:2]] == ["info", "warning"]
    breach, first, second, escalation = payloads[2:]
    assert events[2]["id"] == event_id(appeal, "breached", 1)
    assert events[2]["_key"] == appeal and events[2]["subject"] == appeal
    assert (breach.registration_number, breach.agency, breach.region, breach.locality) == (
        f"KRG-TEST-{appeal[:8]}",
        "KRG-ENERGY-HOUSING",
        "KRG",
        "KRG-KARAGANDA",
    )
    assert (breach.appeal_type, breach.category) == ("statement", "HOUSING-HEATING")
    assert breach.due_at == local(2022, 6, 15, 23, 59, 59)
    assert (first.reminder, first.working_days_late) == (1, 5)
    assert (second.reminder, second.working_days_late) == (2, 10)
    assert (escalation.escalated_to, escalation.severity) == ("KRG-AKIMAT", "critical")
    stored = await deadlines.rows("SELECT kind FROM alerts ORDER BY raised_at, kind")
    assert [r["kind"] for r in stored] == [
        "warning",
        "warning",
        "breached",
        "overdue_reminder",
        "escalated",
        "overdue_reminder",
    ]
    clock = (await deadlines.clock_of(appeal))["current"]
    assert clock["overdue"] and clock["breached_at"] is not None
    assert (clock["reminders_sent"], clock["next_action"]) == (2, "overdue_reminder")


async def test_a_territorial_body_without_a_parent_is_reminded_but_not_escalated(
    deadlines: Deadlines,
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 9), agency="KRG-POLICE")
    await deadlines.wait_for(appeal)
    await deadlines.tick(local(2022, 6, 16, 1))
    await deadlines.tick(local(2022, 7, 20, 1))
    kinds = await deadlines.rows("SELECT kind FROM alerts WHERE appeal_id = $1::uuid", appeal)
    assert sorted(r["kind"] for r in kinds) == ["breached", "overdue_reminder"]


async def test_two_tickers_running_at_once_raise_each_breach_exactly_once(
    deadlines: Deadlines, probe: Callable[[str], EventProbe]
) -> None:
    appeals = [str(uuid.uuid4()) for _ in range(240)]
    for appeal in appeals:
        await deadlines.assign(local(2022, 5, 26, 9), appeal_id=appeal)
    for _ in range(200):
        if (await deadlines.rows("SELECT count(*) AS n FROM clocks"))[0]["n"] == len(appeals):
            break
        await asyncio.sleep(0.05)
    service = deadlines.service
    deadlines.clock.set(local(2022, 6, 16, 0, 0, 1))
    pool = await create_pool(deadlines.dsn, "deadlines", min_size=2, max_size=4)
    try:
        tickers = [
            Ticker(service.runtime.pool, service.ctx, deadlines.clock, batch_size=16),
            Ticker(pool, service.ctx, deadlines.clock, batch_size=16),
        ]
        async with probe(deadlines.topics.alerts) as alerts:
            results = await asyncio.gather(*(t.drain() for t in tickers), tickers[0].drain())
            events = await alerts.collect(len(appeals), timeout=30)
            await asyncio.sleep(1)  # anything extra would arrive now
            events = await alerts.collect(len(appeals) + 1, timeout=1)
    finally:
        await pool.close()
    assert sum(r.alerts for r in results) == len(appeals)
    assert all(r.clocks > 0 for r in results[:2]), "both tickers took a share"
    per_appeal = Counter(e["subject"] for e in events if e["type"] == event_types.DEADLINE_BREACHED)
    assert set(per_appeal) == set(appeals) and set(per_appeal.values()) == {1}
    stored = await deadlines.rows(
        "SELECT appeal_id, count(*) AS n FROM alerts WHERE kind = 'breached' GROUP BY 1"
    )
    assert len(stored) == len(appeals) and {r["n"] for r in stored} == {1}


async def test_an_alert_is_acknowledged_once_and_the_acknowledgement_is_published(
    deadlines: Deadlines, probe: Callable[[str], EventProbe]
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 9))
    await deadlines.wait_for(appeal)
    await deadlines.tick(local(2022, 6, 16, 1))
    listing = await deadlines.client.get(
        "/v1/alerts", params={"appeal_id": appeal}, headers=deadlines.auth()
    )
    (alert,) = listing.json()["alerts"]
    assert alert["kind"] == "breached" and alert["acknowledged_at"] is None
    url = f"/v1/alerts/{alert['id']}/acknowledge"
    async with probe(deadlines.topics.alerts) as topic:
        response = await deadlines.client.post(
            url, json={"comment": "звонили в управление"}, headers=deadlines.auth()
        )
        assert response.status_code == 200, response.text
        event = await topic.wait_for_subject(appeal, event_types.ALERT_ACKNOWLEDGED)
    assert event["data"]["alert_id"] == alert["id"]
    again = await deadlines.client.post(url, json={}, headers=deadlines.auth())
    assert again.status_code == 409
    # Agencies list their own alerts but do not acknowledge them.
    agency = deadlines.auth(Role.AGENCY, agency="KRG-ENERGY-HOUSING")
    assert (await deadlines.client.post(url, json={}, headers=agency)).status_code == 403
    mine = await deadlines.client.get("/v1/alerts", headers=agency)
    assert [a["id"] for a in mine.json()["alerts"]] == [alert["id"]]
    other = deadlines.auth(Role.AGENCY, agency="KRG-POLICE")
    assert (await deadlines.client.get("/v1/alerts", headers=other)).json()["alerts"] == []
    unacknowledged = await deadlines.client.get(
        "/v1/alerts", params={"unacknowledged": "true"}, headers=deadlines.auth()
    )
    assert unacknowledged.json()["alerts"] == []


async def test_the_tick_command_raises_what_is_due_by_the_system_clock(
    deadlines: Deadlines, capsys: pytest.CaptureFixture[str]
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 9))
    await deadlines.wait_for(appeal)
    assert await cli.run(["tick"], deadlines.service.settings) == 0
    assert "1 clocks due, 3 alerts raised" in capsys.readouterr().out
    kinds = await deadlines.rows("SELECT kind FROM alerts ORDER BY kind")
    assert [r["kind"] for r in kinds] == ["breached", "escalated", "overdue_reminder"]
