"""Triage, operator assignment, redirects, the ping-pong guard and the routing history."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import envelope, event_id
from appeals_contracts.events import AnswerGiven
from appeals_platform.auth import Role
from tests.kafka_probe import EventProbe
from tests.routing_service.conftest import Routing, RoutingFactory, received, submission

pytestmark = pytest.mark.infra

HEATING_AGENCY = "KRG-KARAGANDA-COMMUNAL-TRANSPORT"


async def redirect(routing: Routing, appeal_id: str, agency: str, **body: Any) -> Any:
    return await routing.client.post(
        f"/v1/appeals/{appeal_id}/redirect",
        json={"reason": "not_competent", **body},
        headers=routing.agency(agency),
    )


async def test_low_confidence_appeal_waits_in_triage_until_an_operator_assigns_it(
    start_routing: RoutingFactory, probe: Callable[[str], EventProbe]
) -> None:
    routing = await start_routing(decision_threshold=0.999)
    appeal = received(submission(subject="Вопрос", text="Прошу разобраться.", category=None))
    async with probe(topics.APPEAL_TRIAGE) as triage_topic:
        history = await routing.route(appeal)
        triaged = await triage_topic.wait_for_subject(appeal.appeal_id)
    assert history["status"] == "triage" and history["agencies"] == []
    assert triaged["id"] == event_id(appeal.appeal_id, "triaged", 1)
    assert triaged["data"]["reason"] == "low_confidence"
    assert triaged["data"]["explanation"]["notes"]

    queue = await routing.client.get("/v1/triage", headers=routing.auth(Role.OPERATOR))
    [item] = [i for i in queue.json()["items"] if i["appeal_id"] == appeal.appeal_id]
    assert item["hop"] == 1 and item["subject"] == "Вопрос" and item["explanation"]

    async with probe(topics.agency_topic("KRG-SARAN-AKIMAT")) as saran:
        response = await routing.client.post(
            f"/v1/appeals/{appeal.appeal_id}/assign",
            json={"agency": "KRG-SARAN-AKIMAT", "comment": "about Saran"},
            headers=routing.auth(Role.OPERATOR, subject="operator-7"),
        )
        delivered = await saran.wait_for_subject(appeal.appeal_id)
    assert response.status_code == 201, response.text
    assert delivered["data"]["method"] == "manual" and delivered["data"]["hop"] == 1
    assert delivered["data"]["appeal"]["appeal_id"] == appeal.appeal_id
    assert delivered["data"]["explanation"]["triage"]["reason"] == "low_confidence"
    assert delivered["data"]["received_at"].startswith("2026-03-02T05:00:00")
    queue = await routing.client.get("/v1/triage", headers=routing.auth(Role.OPERATOR))
    assert appeal.appeal_id not in {i["appeal_id"] for i in queue.json()["items"]}
    [example] = await routing.fetch(
        "SELECT category, origin, agency FROM routing.labelled_examples WHERE appeal_id = $1::uuid",
        appeal.appeal_id,
    )
    assert example["origin"] == "manual" and example["agency"] == "KRG-SARAN-AKIMAT"
    assert example["category"]  # the akimat's category that fits the text best


async def test_operator_assignment_is_refused_for_unknown_agency_and_untriaged_appeal(
    routing: Routing,
) -> None:
    appeal = received()
    await routing.route(appeal)
    path = f"/v1/appeals/{appeal.appeal_id}/assign"
    operator = routing.auth(Role.OPERATOR)
    unknown = await routing.client.post(path, json={"agency": "NO-SUCH"}, headers=operator)
    assigned = await routing.client.post(path, json={"agency": "KRG-AKIMAT"}, headers=operator)
    as_agency = await routing.client.post(
        path, json={"agency": "KRG-AKIMAT"}, headers=routing.agency(HEATING_AGENCY)
    )
    assert (unknown.status_code, assigned.status_code, as_agency.status_code) == (422, 409, 403)


async def test_redirect_to_a_named_agency_publishes_the_redirect_and_a_second_hop(
    routing: Routing, probe: Callable[[str], EventProbe]
) -> None:
    appeal = received()
    await routing.route(appeal)
    target = "KRG-KARAGANDA-HOUSING-INSPECTION"
    async with (
        probe(topics.APPEAL_REDIRECTED) as redirected,
        probe(topics.agency_topic(target)) as inspection,
    ):
        response = await redirect(
            routing, appeal.appeal_id, HEATING_AGENCY, target=target, comment="КСК, не мы"
        )
        moved = await redirected.wait_for_subject(appeal.appeal_id)
        delivered = await inspection.wait_for_subject(appeal.appeal_id)
    assert response.status_code == 201, response.text
    assert moved["type"] == event_types.APPEAL_REDIRECTED
    assert moved["data"]["from_agency"] == HEATING_AGENCY and moved["data"]["to_agency"] == target
    assert (moved["data"]["hop"], moved["data"]["to_hop"]) == (1, 2)
    assert moved["data"]["reason"] == "not_competent" and moved["data"]["comment"] == "КСК, не мы"
    data = delivered["data"]
    assert delivered["id"] == event_id(appeal.appeal_id, "delivered", 2)
    assert data["hop"] == 2 and data["agency"] == target and data["method"] == "manual"
    assert data["redirected_from"] == HEATING_AGENCY
    assert data["received_at"] == moved["data"]["redirected_at"]
    assert data["category"] == "HOUSING-MANAGEMENT"  # what the inspection stands for here

    history = await routing.history(appeal.appeal_id, hops=2)
    assert history["agencies"] == [target] and history["redirects"] == 1
    first, second = history["hops"]
    assert first["assignment"]["active"] is False and first["assignment"]["ended_at"]
    assert second["redirect"]["from_agency"] == HEATING_AGENCY
    assert second["assignment"]["explanation"]["redirect"]["reason"] == "not_competent"
    [example] = await routing.fetch(
        "SELECT category, origin FROM routing.labelled_examples WHERE appeal_id = $1::uuid",
        appeal.appeal_id,
    )
    assert (example["category"], example["origin"]) == ("HOUSING-MANAGEMENT", "redirect")


async def test_another_agency_cannot_redirect_an_appeal_it_does_not_hold(routing: Routing) -> None:
    appeal = received()
    await routing.route(appeal)
    response = await redirect(routing, appeal.appeal_id, "KRG-POLICE", target="KRG-AKIMAT")
    operator = await routing.client.post(
        f"/v1/appeals/{appeal.appeal_id}/redirect",
        json={"reason": "other", "target": "KRG-AKIMAT"},
        headers=routing.auth(Role.OPERATOR),
    )
    assert response.status_code == 403 and operator.status_code == 403
    history = await routing.history(appeal.appeal_id)
    assert history["agencies"] == [HEATING_AGENCY] and len(history["hops"]) == 1
    # Nor read its routing history: the same 404 as for an appeal that does not exist.
    peek = await routing.client.get(
        f"/v1/appeals/{appeal.appeal_id}/routing", headers=routing.agency("KRG-POLICE")
    )
    own = await routing.client.get(
        f"/v1/appeals/{appeal.appeal_id}/routing", headers=routing.agency(HEATING_AGENCY)
    )
    assert (peek.status_code, own.status_code) == (404, 200)


async def test_redirect_without_a_target_decides_again_without_the_redirecting_agency(
    routing: Routing,
) -> None:
    appeal = received(
        submission(
            subject="Холодно в квартире",
            text="Батареи холодные, в подъезде разбиты окна, КСК ничего не делает.",
        )
    )
    await routing.route(appeal)
    response = await redirect(routing, appeal.appeal_id, HEATING_AGENCY, target=None)
    assert response.status_code == 201, response.text
    outcome = response.json()
    assert outcome["hop"] == 2 and outcome["agency"] not in (None, HEATING_AGENCY)
    notes = outcome["explanation"]["notes"]
    assert any(f"without {HEATING_AGENCY}" in n for n in notes)


async def test_third_redirect_sends_the_appeal_to_triage_instead_of_bouncing_on(
    routing: Routing, probe: Callable[[str], EventProbe]
) -> None:
    appeal = received()
    await routing.route(appeal)
    chain = [HEATING_AGENCY, "KRG-ENERGY-HOUSING", "KRG-KARAGANDA-AKIMAT"]
    first = await redirect(routing, appeal.appeal_id, chain[0], target=chain[1])
    second = await redirect(routing, appeal.appeal_id, chain[1], target=chain[2])
    async with probe(topics.APPEAL_TRIAGE) as triage_topic:
        third = await redirect(routing, appeal.appeal_id, chain[2], target=chain[0])
        triaged = await triage_topic.wait_for_subject(appeal.appeal_id)
    assert [r.status_code for r in (first, second, third)] == [201, 201, 201]
    assert third.json()["outcome"] == "triage" and third.json()["triage_reason"] == "ping_pong"
    assert triaged["data"]["reason"] == "ping_pong" and triaged["data"]["hop"] == 4
    history = await routing.history(appeal.appeal_id, hops=4)
    assert history["status"] == "triage" and history["agencies"] == []
    # The last agency no longer holds it; only an operator can assign it now.
    again = await redirect(routing, appeal.appeal_id, chain[2], target=chain[1])
    assert again.status_code == 403
    assigned = await routing.client.post(
        f"/v1/appeals/{appeal.appeal_id}/assign",
        json={"agency": chain[1], "category": "HOUSING-HEATING"},
        headers=routing.auth(Role.OPERATOR),
    )
    assert assigned.status_code == 201 and assigned.json()["hop"] == 4
    assert assigned.json()["redirected_from"] == chain[2]


async def test_partial_redirect_keeps_the_first_agency_on_its_part(routing: Routing) -> None:
    appeal = received()
    await routing.route(appeal)
    response = await redirect(
        routing,
        appeal.appeal_id,
        HEATING_AGENCY,
        target="KRG-KARAGANDA-HOUSING-INSPECTION",
        reason="partially_competent",
        partial=True,
    )
    assert response.status_code == 201, response.text
    history = await routing.history(appeal.appeal_id, hops=2)
    assert sorted(history["agencies"]) == sorted(
        [HEATING_AGENCY, "KRG-KARAGANDA-HOUSING-INSPECTION"]
    )
    assert history["hops"][1]["assignment"]["partial"] is True
    # Both hold a part, so either may still redirect its part.
    again = await redirect(routing, appeal.appeal_id, HEATING_AGENCY, target="KRG-ENERGY-HOUSING")
    assert again.status_code == 201


async def test_redirect_body_is_validated(routing: Routing) -> None:
    appeal = received()
    await routing.route(appeal)
    bad_reason = await redirect(routing, appeal.appeal_id, HEATING_AGENCY, reason="bored")
    unknown = await redirect(routing, appeal.appeal_id, HEATING_AGENCY, target="NO-SUCH-BODY")
    itself = await redirect(routing, appeal.appeal_id, HEATING_AGENCY, target=HEATING_AGENCY)
    missing = await redirect(
        routing, "00000000-0000-0000-0000-000000000000", HEATING_AGENCY, target="KRG-AKIMAT"
    )
    assert [r.status_code for r in (bad_reason, unknown, itself, missing)] == [422, 422, 422, 404]


async def test_an_answered_appeal_takes_no_redirect_and_no_assignment(routing: Routing) -> None:
    appeal = received()
    await routing.route(appeal)
    answer = AnswerGiven(
        appeal_id=appeal.appeal_id,
        registration_number=appeal.registration_number,
        agency=HEATING_AGENCY,
        outcome="explained",
        text="Разъяснено.",
        signed_at=datetime(2026, 3, 3, 6, 0, tzinfo=UTC),
        answered_at=datetime(2026, 3, 3, 6, 0, tzinfo=UTC),
    )
    event = envelope(
        event_type=event_types.ANSWER_GIVEN,
        source="/appeals/intake",
        subject=appeal.appeal_id,
        data=answer.model_dump(mode="json"),
        id=event_id(appeal.appeal_id, "answered"),
        time=answer.answered_at,
    )
    # As intake publishes it: on the platform's answers topic, which routing now reads.
    await routing.producer.send_and_wait(
        topics.ANSWER_GIVEN, event.model_dump_json().encode(), key=appeal.appeal_id.encode()
    )
    for _ in range(300):
        history = await routing.history(appeal.appeal_id)
        if history["status"] == "answered":
            break
        await asyncio.sleep(0.1)
    assert history["status"] == "answered" and history["answered_by"] == HEATING_AGENCY
    # The agency that answered holds the hop still, but has nothing to hand on: 409; any
    # other agency never held it: 403.
    own = await redirect(routing, appeal.appeal_id, HEATING_AGENCY, target="KRG-ENERGY-HOUSING")
    other = await redirect(routing, appeal.appeal_id, "KRG-POLICE", target="KRG-ENERGY-HOUSING")
    assert (own.status_code, other.status_code) == (409, 403), own.text
    assert own.json()["title"] == "the appeal was already answered"
    assigned = await routing.client.post(
        f"/v1/appeals/{appeal.appeal_id}/assign",
        json={"agency": "KRG-ENERGY-HOUSING"},
        headers=routing.auth(Role.OPERATOR),
    )
    assert assigned.status_code == 409
    history = await routing.history(appeal.appeal_id)
    assert len(history["hops"]) == 1 and history["agencies"] == [HEATING_AGENCY]
