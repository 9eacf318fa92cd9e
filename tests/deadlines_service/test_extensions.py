"""POST /v1/appeals/{id}/extend: the АППК art. 76(2) cap, one extension, the notice rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from appeals_contracts import event_types
from appeals_contracts.envelope import event_id
from appeals_platform.auth import Role
from tests.deadlines_service.conftest import Deadlines, local
from tests.kafka_probe import EventProbe

pytestmark = pytest.mark.infra

AGENCY = "KRG-ENERGY-HOUSING"


async def extend(
    deadlines: Deadlines, appeal: str, agency: str = AGENCY, **body: Any
) -> httpx.Response:
    return await deadlines.client.post(
        f"/v1/appeals/{appeal}/extend",
        json={"reason": "нужен выезд на место и запрос в ТОО", **body},
        headers=deadlines.auth(Role.AGENCY, agency=agency),
    )


@pytest.fixture
async def appeal(deadlines: Deadlines) -> str:
    """The eOtinish example: day 1 Thu 26 May 2022, due Wed 15 June 2022."""
    appeal = await deadlines.assign(local(2022, 5, 26, 17, 17))
    await deadlines.wait_for(appeal)
    deadlines.clock.set(local(2022, 6, 10, 11))
    return appeal


async def test_lawful_extension_moves_the_due_date_and_publishes_deadline_extended(
    deadlines: Deadlines, appeal: str, probe: Callable[[str], EventProbe]
) -> None:
    await deadlines.tick(local(2022, 6, 10, 11))  # the 3-day warning of the old term
    async with probe(deadlines.topics.deadline_events) as events:
        response = await extend(
            deadlines, appeal, new_due_date="2022-07-15", notified_on="2022-06-10"
        )
        assert response.status_code == 200, response.text
        event = await events.wait_for_subject(appeal, event_types.DEADLINE_EXTENDED)
    clock = response.json()["current"]
    assert datetime.fromisoformat(clock["due_at"]) == local(2022, 7, 15, 23, 59, 59)
    assert datetime.fromisoformat(clock["original_due_at"]) == local(2022, 6, 15, 23, 59, 59)
    assert (clock["extensions"], clock["extension_notified_on"]) == (1, "2022-06-10")
    # The warnings start over for the new term: three working days before 15 July.
    assert (clock["warned_offset"], clock["next_action"]) == (None, "warning")
    assert datetime.fromisoformat(clock["next_action_at"]) == local(2022, 7, 12)
    assert event["id"] == event_id(appeal, "extended-1", 1) == response.json()["event_id"]
    data = event["data"]
    assert (data["agency"], data["hop"], data["extension"], data["notified_on"]) == (
        AGENCY,
        1,
        1,
        "2022-06-10",
    )
    assert datetime.fromisoformat(data["previous_due_at"]) == local(2022, 6, 15, 23, 59, 59)
    # No breach on the old date.
    assert (await deadlines.tick(local(2022, 6, 20, 9))).alerts == 0
    assert (await deadlines.tick(local(2022, 7, 12, 9))).alerts == 1


async def test_extension_beyond_two_months_from_day_one_is_refused_naming_the_cap(
    deadlines: Deadlines, appeal: str
) -> None:
    # Two months from day 1 (26 May) end on Mon 25 July 2022.
    assert (await extend(deadlines, appeal, new_due_date="2022-07-25")).status_code == 200
    fresh = await deadlines.assign(local(2022, 5, 26, 10))
    await deadlines.wait_for(fresh)
    response = await extend(deadlines, fresh, new_due_date="2022-07-26")
    assert response.status_code == 422
    problem = response.json()
    assert problem["problems"] == [
        {
            "field": "body",
            "message": "new due date 2022-07-26 makes the whole term longer than 2 months "
            "from 2022-05-26 (latest 2022-07-25)",
        }
    ]
    assert "2 months" in problem["detail"]
    clock = (await deadlines.clock_of(fresh))["current"]
    assert clock["extensions"] == 0


async def test_a_second_extension_is_refused(deadlines: Deadlines, appeal: str) -> None:
    assert (await extend(deadlines, appeal, new_due_date="2022-07-01")).status_code == 200
    response = await extend(deadlines, appeal, new_due_date="2022-07-08")
    assert response.status_code == 422
    assert [p["message"] for p in response.json()["problems"]] == [
        "the term was already extended 1 time(s); at most 1 extension(s) allowed"
    ]


async def test_notifying_the_applicant_late_or_in_the_future_is_refused(
    deadlines: Deadlines, appeal: str
) -> None:
    deadlines.clock.set(local(2022, 6, 1, 10))
    late = await extend(deadlines, appeal, new_due_date="2022-07-01", notified_on="2022-06-07")
    assert late.status_code == 422
    assert "more than 3 working days after" in late.json()["problems"][0]["message"]
    ahead = await extend(deadlines, appeal, new_due_date="2022-07-01", notified_on="2022-06-02")
    assert ahead.status_code == 422
    assert "has not come yet" in ahead.json()["problems"][0]["message"]


async def test_a_date_not_after_the_current_one_or_an_expired_term_is_refused(
    deadlines: Deadlines, appeal: str
) -> None:
    earlier = await extend(deadlines, appeal, new_due_date="2022-06-15")
    assert earlier.status_code == 422
    assert "is not after the current due date" in earlier.json()["problems"][0]["message"]
    deadlines.clock.set(local(2022, 6, 16, 9))
    expired = await extend(deadlines, appeal, new_due_date="2022-07-01")
    assert expired.status_code == 422
    assert "an expired term cannot be extended" in expired.json()["problems"][0]["message"]


async def test_only_the_assigned_agency_may_extend_an_open_clock(
    deadlines: Deadlines, appeal: str
) -> None:
    other = await extend(deadlines, appeal, agency="KRG-POLICE", new_due_date="2022-07-01")
    assert other.status_code == 403
    missing = await extend(
        deadlines, "00000000-0000-4000-8000-000000000000", new_due_date="2022-07-01"
    )
    assert missing.status_code == 404
    staff = await deadlines.client.post(
        f"/v1/appeals/{appeal}/extend",
        json={"new_due_date": "2022-07-01", "reason": "x"},
        headers=deadlines.auth(Role.MONITORING),
    )
    assert staff.status_code == 403
    no_reason = await extend(deadlines, appeal, new_due_date="2022-07-01", reason="")
    assert no_reason.status_code == 422
    await deadlines.answer(appeal, local(2022, 6, 10, 12))
    await deadlines.wait_for(appeal, lambda v: v["current"]["state"] == "answered")
    closed = await extend(deadlines, appeal, new_due_date="2022-07-01")
    assert closed.status_code == 409


async def test_only_the_current_holder_of_an_open_hop_may_extend(
    deadlines: Deadlines, appeal: str
) -> None:
    """The agency that redirected the appeal away holds nothing (403, as in intake and
    routing); once the appeal is answered, by anyone, nobody extends it (409)."""
    other = "KRG-KARAGANDA-AKIMAT"
    await deadlines.hand_over(
        appeal, local(2022, 5, 26, 17, 17), local(2022, 5, 27, 10), to_agency=other
    )
    away = await extend(deadlines, appeal, new_due_date="2022-07-01")
    assert away.status_code == 403 and "redirected" in away.json()["detail"], away.text
    assert (await extend(deadlines, appeal, agency=other, new_due_date="2022-07-01")).is_success

    # A partial redirect leaves both agencies an open hop; the appeal's answer closes it
    # for both, although only the answering agency's clock stops.
    shared = await deadlines.assign(local(2022, 6, 1, 10))
    await deadlines.hand_over(
        shared, local(2022, 6, 1, 10), local(2022, 6, 2, 10), to_agency=other, partial=True
    )
    await deadlines.answer(shared, local(2022, 6, 3, 10), agency=other)
    view = await deadlines.wait_for(shared, lambda v: v["current"]["state"] == "answered")
    assert view["hops"][0]["state"] == "open"
    late = await extend(deadlines, shared, new_due_date="2022-07-01")
    assert late.status_code == 409 and late.json()["title"] == "the appeal was already answered"
