"""Agency actions over Kafka against the real broker and database: each command applied once
by the service that owns its rule, with the HTTP endpoint's outcome on the agency's results
topic; the acting agency is the topic's (its principal alone may write it)."""

from __future__ import annotations

import pytest

from appeals_contracts import event_types
from tests.agency_actions.conftest import AGENCY, OTHER, Platform, command

pytestmark = pytest.mark.infra

ANSWER = {
    "outcome": "satisfied",
    "text": "Отопление восстановлено.",
    "signed_at": "2026-03-02T10:00:00+05:00",
}


async def test_a_command_for_an_appeal_assigned_to_another_agency_is_refused_with_the_reason(
    platform: Platform,
) -> None:
    appeal_id = await platform.register()
    # The police write to their own topic about the communal agency's appeal: the topic says
    # who acts, so it is the police answering, and the rule of the HTTP endpoint refuses it.
    action_id, value = command(event_types.AGENCY_ANSWER, appeal_id, ANSWER)
    await platform.send(OTHER, appeal_id, value)
    result = await platform.result(OTHER, action_id)
    over_http = await platform.intake.post(
        f"/v1/appeals/{appeal_id}/answer", json=ANSWER, headers=platform.agency(OTHER)
    )
    assert result["outcome"] == "refused" and result["agency"] == OTHER
    assert result["status"] == over_http.status_code == 403
    assert (
        result["title"] == over_http.json()["title"] == "the appeal is not assigned to your agency"
    )
    assert result["appeal_id"] == appeal_id and result["action_type"] == event_types.AGENCY_ANSWER

    # The same for every owner: a redirect (routing) and a confirmation (deadlines).
    for event_type, data in (
        (event_types.AGENCY_REDIRECT_REQUESTED, {"target": None, "reason": "not_competent"}),
        (event_types.AGENCY_RECEIPT_CONFIRMED, {}),
    ):
        action_id, value = command(event_type, appeal_id, data)
        await platform.send(OTHER, appeal_id, value)
        refused = await platform.result(OTHER, action_id)
        assert (refused["outcome"], refused["status"]) == ("refused", 403), refused
        assert refused["title"] == "the appeal is not assigned to your agency"
    # The appeal is untouched: still the communal agency's, unanswered.
    seen = await platform.intake.get(f"/v1/appeals/{appeal_id}", headers=platform.agency())
    assert seen.json()["agency"] == AGENCY and seen.json()["answered_at"] is None

    # Records that are no command (not JSON, a type no service takes) are refused too, not
    # lost: intake answers them.
    await platform.send(OTHER, appeal_id, b"{not json")
    bad = await platform.results[OTHER].wait_for(lambda e: e["data"]["status"] == 400)
    assert bad["data"]["title"] == "malformed JSON body" and bad["subject"] == appeal_id
    unknown_id, value = command("kz.appeals.agency.delete-everything.v1", appeal_id, {})
    await platform.send(OTHER, appeal_id, value)
    refused = await platform.result(OTHER, unknown_id)
    assert (refused["status"], refused["title"]) == (422, "the record is not an agency action")
    assert [p["field"] for p in refused["problems"]] == ["type"]


async def test_commands_are_applied_once_with_the_http_endpoints_outcomes(
    platform: Platform,
) -> None:
    appeal_id = await platform.register()

    # Receipt: recorded on the clock beside the hop's arrival, shown on the timeline.
    confirm_id, value = command(event_types.AGENCY_RECEIPT_CONFIRMED, appeal_id, {})
    await platform.send(AGENCY, appeal_id, value)
    confirmed = await platform.result(AGENCY, confirm_id)
    assert (confirmed["outcome"], confirmed["status"]) == ("accepted", 201), confirmed
    assert confirmed["result"]["hop"] == 1 and confirmed["result"]["agency"] == AGENCY
    clock = await platform.deadlines.get(
        f"/v1/appeals/{appeal_id}/clock", headers=platform.agency()
    )
    current = clock.json()["current"]
    assert current["confirmed_at"] and current["agency_received_at"]
    [entry] = await platform.timeline(appeal_id, "confirmed")
    assert entry["type"] == event_types.RECEIPT_CONFIRMED and entry["data"]["agency"] == AGENCY
    again = await platform.deadlines.post(
        f"/v1/appeals/{appeal_id}/receipt", headers=platform.agency()
    )
    assert again.status_code == 409 and again.json()["title"] == "the receipt was already confirmed"

    # An invalid answer: the same refusal, field by field, as the HTTP endpoint's.
    invalid = {"outcome": "terminated", "text": "", "signed_at": "yesterday", "extra": 1}
    invalid_id, value = command(event_types.AGENCY_ANSWER, appeal_id, invalid)
    await platform.send(AGENCY, appeal_id, value)
    refused = await platform.result(AGENCY, invalid_id)
    over_http = await platform.intake.post(
        f"/v1/appeals/{appeal_id}/answer", json=invalid, headers=platform.agency()
    )
    assert refused["outcome"] == "refused" and over_http.status_code == refused["status"] == 422
    assert refused["title"] == over_http.json()["title"]
    assert refused["problems"] == over_http.json()["problems"] and len(refused["problems"]) >= 3

    # The same answer command twice, then a second answer: the first takes effect once, its
    # repeat is dropped (no second result), and the second answer is refused as over HTTP.
    answer_id, value = command(event_types.AGENCY_ANSWER, appeal_id, ANSWER)
    await platform.send(AGENCY, appeal_id, value)
    await platform.send(AGENCY, appeal_id, value)
    later_id, later = command(event_types.AGENCY_ANSWER, appeal_id, ANSWER)
    await platform.send(AGENCY, appeal_id, later)
    accepted = await platform.result(AGENCY, answer_id)
    second = await platform.result(AGENCY, later_id)
    assert (accepted["outcome"], accepted["status"]) == ("accepted", 201), accepted
    assert accepted["result"]["agency"] == AGENCY and accepted["result"]["outcome"] == "satisfied"
    assert (second["outcome"], second["status"]) == ("refused", 409)
    assert second["title"] == "the appeal was already answered"
    # One partition, one consumer, in order: the repeat was read before the later command.
    repeats = [e for e in platform.results[AGENCY].seen if e["data"]["action_id"] == answer_id]
    assert len(repeats) == 1
    assert len(await platform.timeline(appeal_id, "answered")) == 1


async def test_a_redirect_requested_over_kafka_is_routings_redirect(platform: Platform) -> None:
    appeal_id = await platform.register()
    target = "KRG-KARAGANDA-HOUSING-INSPECTION"
    own_id, own = command(
        event_types.AGENCY_REDIRECT_REQUESTED, appeal_id, {"target": AGENCY, "reason": "other"}
    )
    await platform.send(AGENCY, appeal_id, own)
    refused = await platform.result(AGENCY, own_id)
    assert (refused["status"], refused["title"]) == (422, "invalid redirect")
    assert refused["problems"] == [{"field": "target", "message": "is your own agency"}]

    moved_id, moved = command(
        event_types.AGENCY_REDIRECT_REQUESTED,
        appeal_id,
        {"target": target, "reason": "not_competent", "comment": "КСК"},
    )
    await platform.send(AGENCY, appeal_id, moved)
    accepted = await platform.result(AGENCY, moved_id)
    assert (accepted["outcome"], accepted["status"]) == ("accepted", 201), accepted
    assert accepted["result"]["agency"] == target and accepted["result"]["hop"] == 2
    history = await platform.routing.get(
        f"/v1/appeals/{appeal_id}/routing", headers=platform.agency(target)
    )
    assert history.json()["hops"][-1]["assignment"]["agency"] == target
