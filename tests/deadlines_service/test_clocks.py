"""Clocks opened by assignments, stopped by answers, closed by redirects: real Kafka and
PostgreSQL, every due date checked by hand on the Kazakhstan calendar."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from appeals_contracts import event_types
from appeals_contracts.events import AppealAssigned
from appeals_platform.auth import Role
from deadlines import handlers
from deadlines.clocks import SettableClock
from tests.conftest import Stack, TokenFactory
from tests.deadlines_service.conftest import Deadlines, Topics, local, start_deadlines
from tests.kafka_probe import EventProbe

pytestmark = pytest.mark.infra


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_assignment_opens_a_clock_due_on_the_eotinish_example_date(
    deadlines: Deadlines,
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 17, 17))
    view = await deadlines.wait_for(appeal)
    clock = view["current"]
    assert moment(clock["due_at"]) == local(2022, 6, 15, 23, 59, 59)
    assert clock["due_at"].endswith("+06:00")
    assert (clock["registered_on"], clock["start_day"]) == ("2022-05-26", "2022-05-26")
    assert clock["rule_version"] == "kz-appk-eotinish-2021.1"
    assert clock["calendar_version"].startswith("holidays-")
    assert clock["term"] == {"days": 15, "unit": "working"}
    assert clock["state"] == "open" and clock["next_action"] == "warning"
    assert (clock["agency_level"], clock["agency_parent"]) == ("region_department", "KRG-AKIMAT")
    assert (clock["locality"], clock["region"]) == ("KRG-KARAGANDA", "KRG")
    assert moment(clock["redirect_due_at"]) == local(2022, 5, 30, 23, 59, 59)


async def test_appeal_received_at_1830_counts_from_the_next_working_day(
    deadlines: Deadlines,
) -> None:
    before = await deadlines.assign(local(2022, 5, 26, 18, 29))
    after = await deadlines.assign(local(2022, 5, 26, 18, 30))
    assert (await deadlines.wait_for(before))["current"]["start_day"] == "2022-05-26"
    clock = (await deadlines.wait_for(after))["current"]
    assert clock["start_day"] == "2022-05-27"
    assert moment(clock["due_at"]) == local(2022, 6, 16, 23, 59, 59)


async def test_appeal_received_on_the_moved_day_off_counts_from_the_working_sunday(
    deadlines: Deadlines,
) -> None:
    # Fri 2025-01-03 was a day off moved to Sun 2025-01-05; 7 January is Orthodox Christmas.
    appeal = await deadlines.assign(local(2025, 1, 3, 10))
    clock = (await deadlines.wait_for(appeal))["current"]
    assert (clock["registered_on"], clock["start_day"]) == ("2025-01-05", "2025-01-05")
    assert moment(clock["due_at"]) == local(2025, 1, 24, 23, 59, 59)


async def test_appeal_received_on_the_working_saturday_of_july_2023_counts_that_day(
    deadlines: Deadlines,
) -> None:
    # Sat 1 July 2023 was worked for Fri 7 July; Thu 6 July is Capital Day.
    appeal = await deadlines.assign(local(2023, 7, 1, 10))
    clock = (await deadlines.wait_for(appeal))["current"]
    assert (clock["registered_on"], clock["start_day"]) == ("2023-07-01", "2023-07-01")
    assert moment(clock["due_at"]) == local(2023, 7, 24, 23, 59, 59)


async def test_a_term_spanning_nauryz_ends_after_the_holidays(deadlines: Deadlines) -> None:
    # 21-22 March 2024 Nauryz, 25 March the observed day off for Saturday 23 March.
    appeal = await deadlines.assign(local(2024, 3, 12, 10))
    clock = (await deadlines.wait_for(appeal))["current"]
    assert moment(clock["due_at"]) == local(2024, 4, 4, 23, 59, 59)


async def test_a_term_across_the_2024_time_zone_change_ends_at_utc_plus_5(
    deadlines: Deadlines,
) -> None:
    appeal = await deadlines.assign(moment("2024-02-20T10:00:00+06:00"))
    clock = (await deadlines.wait_for(appeal))["current"]
    assert clock["received_at"] == "2024-02-20T10:00:00+06:00"
    assert clock["due_at"] == "2024-03-12T23:59:59+05:00"
    assert moment(clock["due_at"]) == moment("2024-03-12T18:59:59+00:00")


async def test_answer_before_the_due_date_stops_the_clock_on_time(deadlines: Deadlines) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 9))
    await deadlines.wait_for(appeal)
    await deadlines.answer(appeal, local(2022, 6, 1, 15))
    clock = (await deadlines.wait_for(appeal, lambda v: v["current"]["state"] != "open"))["current"]
    assert (clock["state"], clock["outcome"], clock["working_days_late"]) == (
        "answered",
        "on_time",
        0,
    )
    # 26, 27, 30, 31 May and 1 June: answered on working day 5 of the term.
    assert clock["answer_working_days"] == 5
    assert clock["next_action"] is None
    result = await deadlines.tick(local(2022, 7, 1))
    assert result.alerts == 0


async def test_answer_after_the_due_date_is_recorded_late(deadlines: Deadlines) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 9))
    await deadlines.wait_for(appeal)
    await deadlines.answer(appeal, local(2022, 6, 17, 11))
    clock = (await deadlines.wait_for(appeal, lambda v: v["current"]["state"] != "open"))["current"]
    assert (clock["outcome"], clock["working_days_late"]) == ("late", 2)


async def test_an_answer_seen_before_its_assignment_closes_the_clock_when_it_opens(
    deadlines: Deadlines,
) -> None:
    appeal = "5d0c1b9e-8f7a-4e6d-b5c4-a3b2c1d0e9f8"
    await deadlines.answer(appeal, local(2022, 6, 3, 12))
    for _ in range(50):
        if await deadlines.rows("SELECT 1 FROM answers WHERE appeal_id = $1::uuid", appeal):
            break
        await deadlines.tick()
    await deadlines.assign(local(2022, 5, 26, 9), appeal_id=appeal)
    clock = (await deadlines.wait_for(appeal))["current"]
    assert (clock["state"], clock["outcome"]) == ("answered", "on_time")


async def test_a_clock_is_shown_to_staff_and_the_assigned_agency_only(
    deadlines: Deadlines,
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 9))
    await deadlines.wait_for(appeal)
    url = f"/v1/appeals/{appeal}/clock"
    own = deadlines.auth(Role.AGENCY, agency="KRG-ENERGY-HOUSING")
    other = deadlines.auth(Role.AGENCY, agency="KRG-POLICE")
    assert (await deadlines.client.get(url, headers=own)).status_code == 200
    assert (await deadlines.client.get(url, headers=other)).status_code == 404
    operator = deadlines.auth(Role.OPERATOR)
    assert (await deadlines.client.get(url, headers=operator)).status_code == 200
    integration = deadlines.auth(Role.INTEGRATION, source="egov-portal")
    assert (await deadlines.client.get(url, headers=integration)).status_code == 403
    assert (await deadlines.client.get(url)).status_code == 401
    missing = "/v1/appeals/00000000-0000-4000-8000-000000000000/clock"
    assert (await deadlines.client.get(missing, headers=deadlines.auth())).status_code == 404


async def test_an_unknown_appeal_type_or_a_malformed_event_goes_to_the_dead_letter_topic(
    deadlines: Deadlines, probe: Callable[[str], EventProbe]
) -> None:
    async with probe(f"{deadlines.topics.assigned}.dlq") as dead:
        appeal = await deadlines.assign(local(2022, 5, 26, 9), appeal_type="telegram")
        letter = await dead.wait_for(lambda e: e["subject"] == appeal)
        assert "telegram" in letter["data"]["error"]
        await deadlines.producer.send_and_wait(deadlines.topics.assigned, b"{not json", key=b"x")
        await dead.wait_for(lambda e: e["data"]["key"] == "x")
        healthy = await deadlines.assign(local(2022, 5, 26, 9))
        await deadlines.wait_for(healthy)
    assert await deadlines.rows("SELECT 1 FROM clocks WHERE appeal_id = $1::uuid", appeal) == []


async def test_redirect_within_three_working_days_closes_the_hop_and_restarts_the_term(
    deadlines: Deadlines,
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 9))
    await deadlines.wait_for(appeal)
    await deadlines.redirect(appeal, local(2022, 5, 30, 16))
    await deadlines.wait_for(appeal, lambda v: v["current"]["state"] == "redirected")
    await deadlines.assign(
        local(2022, 5, 26, 9),
        appeal_id=appeal,
        hop=2,
        agency="KRG-KARAGANDA-AKIMAT",
        assigned_at=local(2022, 5, 30, 16, 5),
    )
    view = await deadlines.wait_for(appeal, lambda v: len(v["hops"]) == 2)
    first, second = view["hops"]
    assert (first["state"], first["redirect_late"], first["redirected_to"]) == (
        "redirected",
        False,
        "KRG-KARAGANDA-AKIMAT",
    )
    assert second["agency"] == "KRG-KARAGANDA-AKIMAT" and second["state"] == "open"
    # Restart: day 1 is the new agency's receipt, Mon 30 May; 15 working days end Fri 17 June.
    assert (second["policy"], second["start_day"]) == ("restart", "2022-05-30")
    assert moment(second["due_at"]) == local(2022, 6, 17, 23, 59, 59)
    assert view["current"]["hop"] == 2
    alerts = await deadlines.rows("SELECT kind FROM alerts WHERE appeal_id = $1::uuid", appeal)
    assert alerts == []


async def test_redirect_after_three_working_days_raises_redirect_overdue_and_is_recorded(
    deadlines: Deadlines, probe: Callable[[str], EventProbe]
) -> None:
    async with probe(deadlines.topics.alerts) as alerts:
        appeal = await deadlines.assign(local(2022, 5, 26, 9))
        await deadlines.wait_for(appeal)
        # Window: 26, 27, 30 May (ends 30 May 23:59:59); redirected Tue 31 May.
        await deadlines.redirect(appeal, local(2022, 5, 31, 10))
        event = await alerts.wait_for_subject(appeal, event_types.REDIRECT_OVERDUE)
    data = event["data"]
    assert (data["kind"], data["agency"], data["working_days_late"]) == (
        "redirect_overdue",
        "KRG-ENERGY-HOUSING",
        1,
    )
    assert (data["registration_number"], data["region"], data["locality"]) == (
        f"KRG-TEST-{appeal[:8]}",
        "KRG",
        "KRG-KARAGANDA",
    )
    assert moment(data["due_at"]) == local(2022, 5, 30, 23, 59, 59)
    clock = (await deadlines.clock_of(appeal))["current"]
    assert (clock["state"], clock["redirect_late"]) == ("redirected", True)
    stored = await deadlines.rows("SELECT kind, severity FROM alerts")
    assert [(r["kind"], r["severity"]) for r in stored] == [("redirect_overdue", "violation")]


async def test_a_partial_redirect_keeps_the_hop_open(deadlines: Deadlines) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 9))
    await deadlines.wait_for(appeal)
    await deadlines.redirect(appeal, local(2022, 5, 27, 10), partial=True)
    clock = (await deadlines.wait_for(appeal, lambda v: v["current"]["redirected_at"] is not None))[
        "current"
    ]
    assert (clock["state"], clock["redirect_partial"], clock["redirect_late"]) == (
        "open",
        True,
        False,
    )


async def test_continue_policy_keeps_the_original_due_date_after_a_redirect(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> None:
    clock = SettableClock(local(2022, 5, 26, 9))
    async with start_deadlines(
        stack, database, key_dir, token, topics, clock, redirect_policy="continue"
    ) as service:
        appeal = await service.assign(local(2022, 5, 26, 9))
        await service.wait_for(appeal)
        await service.redirect(appeal, local(2022, 5, 27, 12))
        await service.assign(
            local(2022, 5, 26, 9),
            appeal_id=appeal,
            hop=2,
            agency="KRG-KARAGANDA-AKIMAT",
            assigned_at=local(2022, 5, 27, 12, 1),
        )
        view = await service.wait_for(appeal, lambda v: len(v["hops"]) == 2)
    second = view["hops"][1]
    assert second["policy"] == "continue"
    assert moment(second["due_at"]) == local(2022, 6, 15, 23, 59, 59)
    # The redirect window of the new agency still runs from its own receipt.
    assert moment(second["redirect_due_at"]) == local(2022, 5, 31, 23, 59, 59)


async def test_a_redirect_seen_before_its_assignment_closes_the_hop_when_it_opens(
    deadlines: Deadlines,
) -> None:
    appeal = "7c6b5a49-3827-4165-9e0d-c1b2a3f4e5d6"
    await deadlines.redirect(appeal, local(2022, 6, 2, 10))
    for _ in range(50):
        if await deadlines.rows("SELECT 1 FROM redirects WHERE appeal_id = $1::uuid", appeal):
            break
        await deadlines.tick()
    await deadlines.assign(local(2022, 5, 26, 9), appeal_id=appeal)
    clock = (await deadlines.wait_for(appeal))["current"]
    assert (clock["state"], clock["redirect_late"]) == ("redirected", True)
    kinds = await deadlines.rows("SELECT kind FROM alerts WHERE appeal_id = $1::uuid", appeal)
    assert [r["kind"] for r in kinds] == ["redirect_overdue"]


async def test_a_batch_of_assignments_opens_every_clock_in_one_go_and_settles_the_early_ones(
    deadlines: Deadlines,
) -> None:
    """A backlog arrives as batches of assignments: their clocks open in one statement
    (handlers.open_clocks). An answer or redirect stored before still closes its clock, a
    hop repeated inside the batch opens one clock, and a hop that has a clock keeps it."""
    answered, redirected, existing = (str(uuid.uuid4()) for _ in range(3))
    plain = [str(uuid.uuid4()) for _ in range(20)]
    await deadlines.answer(answered, local(2022, 6, 3, 12))
    await deadlines.redirect(redirected, local(2022, 6, 2, 10))
    await deadlines.assign(local(2022, 5, 26, 9), appeal_id=existing, agency="KRG-KARAGANDA-AKIMAT")
    await deadlines.wait_until("SELECT 1 FROM answers WHERE appeal_id = $1::uuid", answered)
    await deadlines.wait_until("SELECT 1 FROM redirects WHERE appeal_id = $1::uuid", redirected)
    await deadlines.wait_for_clock(existing)

    def assigned(appeal_id: str, agency: str = "KRG-ENERGY-HOUSING") -> AppealAssigned:
        received_at = local(2022, 5, 26, 9)
        return AppealAssigned(
            appeal_id=appeal_id,
            registration_number=f"KRG-TEST-{appeal_id[:8]}",
            hop=1,
            agency=agency,
            category="HOUSING-HEATING",
            locality="KRG-KARAGANDA",
            method="rule",
            assigned_at=received_at + timedelta(seconds=2),
            received_at=received_at,
            appeal_type="statement",
        )

    batch = [assigned(a) for a in (*plain[:10], answered, redirected, existing)]
    batch += [assigned(plain[0], "KRG-KARAGANDA-AKIMAT"), *(assigned(a) for a in plain[10:])]
    service = deadlines.service
    async with service.runtime.pool.acquire() as conn, conn.transaction():
        raised = await handlers.open_clocks(conn, batch, service.ctx)

    rows = await deadlines.rows(
        "SELECT appeal_id::text, agency, state, outcome, redirect_late FROM clocks"
        " WHERE appeal_id = ANY($1::uuid[])",
        [*plain, answered, redirected, existing],
    )
    clocks = {r["appeal_id"]: r for r in rows}
    assert len(rows) == len(plain) + 3
    assert {clocks[a]["state"] for a in plain} == {"open"}
    assert clocks[plain[0]]["agency"] == "KRG-ENERGY-HOUSING"  # the first of the repeat
    assert (clocks[answered]["state"], clocks[answered]["outcome"]) == ("answered", "on_time")
    assert (clocks[redirected]["state"], clocks[redirected]["redirect_late"]) == (
        "redirected",
        True,
    )
    assert clocks[existing]["agency"] == "KRG-KARAGANDA-AKIMAT"  # opened before, kept
    assert [a.kind for a in raised] == ["redirect_overdue"]
