"""POST/GET /v1/appeals, applicant history and answers, against real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cloudevents.v1.kafka import KafkaMessage, from_structured

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import envelope, event_id
from appeals_platform.auth import Role
from appeals_platform.logs import JsonFormatter
from tests.conftest import Stack
from tests.intake.conftest import Intake, dev_submissions, fresh
from tests.intake_contract.hostile import HOSTILE, VALID_ODD, as_json
from tests.kafka_probe import EventProbe

pytestmark = pytest.mark.infra


async def test_valid_submission_is_registered_and_announced_as_a_cloudevent(
    intake: Intake, probe: Callable[[str], EventProbe]
) -> None:
    body = fresh(dev_submissions()[0])
    async with probe(topics.APPEAL_RECEIVED) as received:
        response = await intake.post(body)
        assert response.status_code == 201, response.text
        created = response.json()
        event = await received.wait_for_subject(created["appeal_id"])
    assert created["registration_number"].startswith(f"KRG-{datetime.now(UTC).year}-")
    assert created["status"] == "registered"
    assert uuid.UUID(created["appeal_id"]).version == 7  # time-ordered: see intake.ids
    assert response.headers["location"] == f"/v1/appeals/{created['appeal_id']}"
    assert event["_key"] == created["appeal_id"]
    parsed = from_structured(KafkaMessage(headers={}, key=event["_key"], value=event["_raw"]))
    assert parsed["type"] == event_types.APPEAL_RECEIVED
    assert parsed["id"] == event_id(created["appeal_id"], "received")
    assert parsed.get_data()["submission"]["applicant"]["phone"] == body["applicant"]["phone"]
    assert parsed.get_data()["registration_number"] == created["registration_number"]


async def test_retry_with_same_content_returns_the_same_appeal_with_200(intake: Intake) -> None:
    body = fresh(dev_submissions()[1])
    first = await intake.post(body)
    again = await intake.post(body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["appeal_id"] == first.json()["appeal_id"]
    assert again.json()["registration_number"] == first.json()["registration_number"]
    assert await intake.count() == 1


async def test_same_key_with_different_content_is_409_naming_what_differs(intake: Intake) -> None:
    body = fresh(dev_submissions()[2])
    assert (await intake.post(body)).status_code == 201
    changed = {
        **body,
        "text": body["text"] + " Дополнение.",
        "applicant": {**body["applicant"], "phone": "+7 700 000 00 00"},
    }
    response = await intake.post(changed)
    assert response.status_code == 409
    fields = {e["field"] for e in response.json()["problems"]}
    assert fields == {"text", "applicant.phone"}
    assert await intake.count() == 1


async def test_same_external_id_from_another_integration_is_another_appeal(
    intake: Intake,
) -> None:
    body = fresh(dev_submissions()[3])
    a = await intake.post(body, source="egov-portal")
    b = await intake.post(body, source="egov-mobile")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["appeal_id"] != b.json()["appeal_id"]


async def test_two_hundred_concurrent_posts_of_one_key_create_exactly_one_appeal(
    intake: Intake,
) -> None:
    body = fresh(dev_submissions()[4])
    responses = await asyncio.gather(*(intake.post(body) for _ in range(200)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and statuses.count(200) == 199
    assert len({r.json()["appeal_id"] for r in responses}) == 1
    assert await intake.count() == 1
    assert await intake.count("timeline") == 1


async def test_every_dev_set_submission_is_accepted(intake: Intake) -> None:
    for body in dev_submissions():
        response = await intake.post(fresh(body))
        assert response.status_code == 201, (body["external_id"], response.text)
    assert await intake.count() == 80


async def test_hostile_submissions_get_a_clear_4xx_and_nothing_is_stored(intake: Intake) -> None:
    headers = {**intake.auth(), "Content-Type": "application/json"}
    for description, body in HOSTILE:
        response = await intake.client.post("/v1/appeals", content=as_json(body), headers=headers)
        assert 400 <= response.status_code < 500, (description, response.status_code)
        problem = response.json()
        assert problem["status"] == response.status_code
        if response.status_code == 422:
            assert problem["problems"] and all(
                e["field"] and e["message"] for e in problem["problems"]
            )
            expected_field = description.split(":")[0]
            assert any(
                e["field"].startswith(expected_field.split("[")[0]) for e in problem["problems"]
            ), (description, problem["problems"])
    assert await intake.count() == 0
    assert await intake.count("outbox") == 0


async def test_odd_but_valid_submissions_are_accepted_once(intake: Intake) -> None:
    headers = {**intake.auth(), "Content-Type": "application/json"}
    # Codes of the right shape that are not in the reference data pass the contract but not
    # intake, which also checks membership.
    odd = [(d, b) for d, b in VALID_ODD if "not in the reference data" not in d]
    for description, body in odd:
        body = fresh(body)
        response = await intake.client.post("/v1/appeals", content=as_json(body), headers=headers)
        assert response.status_code == 201, (description, response.text)
    assert await intake.count() == len(odd)


async def test_bad_requests_get_400_401_403_413_and_store_nothing(intake: Intake) -> None:
    body = fresh(dev_submissions()[5])
    malformed = await intake.client.post(
        "/v1/appeals", content=b'{"external_id": ', headers=intake.auth()
    )
    assert malformed.status_code == 400
    assert (await intake.client.post("/v1/appeals", json=body)).status_code == 401
    bad_token = {"Authorization": "Bearer not-a-token"}
    assert (
        await intake.client.post("/v1/appeals", json=body, headers=bad_token)
    ).status_code == 401
    wrong_role = intake.auth(Role.AGENCY, agency="KRG-POLICE")
    assert (
        await intake.client.post("/v1/appeals", json=body, headers=wrong_role)
    ).status_code == 403
    huge = {**body, "text": "а" * 300_000}
    assert (await intake.post(huge)).status_code == 413
    unknown_code = {**body, "category": "NO-SUCH-CATEGORY"}
    response = await intake.post(unknown_code)
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "category"
    assert await intake.count() == 0


async def publish(stack: Stack, topic: str, key: str, event: object) -> None:
    producer = stack.producer()
    await producer.start()
    try:
        await producer.send_and_wait(topic, event.model_dump_json().encode(), key=key.encode())  # type: ignore[arg-type]
    finally:
        await producer.stop()


def assigned_event(appeal_id: str, agency: str, hop: int = 1) -> object:
    return envelope(
        event_type=event_types.APPEAL_ASSIGNED,
        source="/appeals/routing",
        subject=appeal_id,
        id=event_id(appeal_id, "assigned", hop),
        data={"appeal_id": appeal_id, "agency": agency, "hop": hop, "method": "rule"},
    )


async def wait_for_status(intake: Intake, appeal_id: str, status: str) -> dict[str, object]:
    headers = intake.auth(Role.MONITORING)
    for _ in range(100):
        view = (await intake.client.get(f"/v1/appeals/{appeal_id}", headers=headers)).json()
        if view["status"] == status:
            return dict(view)
        await asyncio.sleep(0.1)
    raise AssertionError(f"appeal {appeal_id} never became {status}")


async def test_timeline_and_visibility_follow_the_assignment(intake: Intake, stack: Stack) -> None:
    created = (await intake.post(fresh(dev_submissions()[6]))).json()
    appeal_id = created["appeal_id"]
    url = f"/v1/appeals/{appeal_id}"
    police = intake.auth(Role.AGENCY, agency="KRG-POLICE")
    assert (await intake.client.get(url, headers=police)).status_code == 404
    assert (await intake.client.get(url, headers=intake.auth(source="other"))).status_code == 404
    own = await intake.client.get(url, headers=intake.auth())
    assert own.status_code == 200
    assert [t["kind"] for t in own.json()["timeline"]] == ["received"]
    assert own.json()["due_at"] is not None

    await publish(stack, topics.APPEAL_ASSIGNED, appeal_id, assigned_event(appeal_id, "KRG-POLICE"))
    view = await wait_for_status(intake, appeal_id, "assigned")
    assert view["agency"] == "KRG-POLICE"
    assert [t["kind"] for t in view["timeline"]] == ["received", "assigned"]  # type: ignore[union-attr]
    assert (await intake.client.get(url, headers=police)).status_code == 200
    operator = intake.auth(Role.OPERATOR)
    assert (await intake.client.get(url, headers=operator)).status_code == 200
    assert (
        await intake.client.get(f"/v1/appeals/{uuid.uuid4()}", headers=operator)
    ).status_code == 404


async def test_only_the_assigned_agency_answers_once_and_answer_is_published(
    intake: Intake, stack: Stack, probe: Callable[[str], EventProbe]
) -> None:
    appeal_id = (await intake.post(fresh(dev_submissions()[7]))).json()["appeal_id"]
    await publish(
        stack, topics.APPEAL_ASSIGNED, appeal_id, assigned_event(appeal_id, "KRG-KARAGANDA-AKIMAT")
    )
    await wait_for_status(intake, appeal_id, "assigned")
    answer = {
        "outcome": "explained",
        "text": "Разъяснено: ремонт запланирован на май.",
        "signed_at": "2026-03-10T12:00:00+05:00",
    }
    url = f"/v1/appeals/{appeal_id}/answer"
    other = intake.auth(Role.AGENCY, agency="KRG-POLICE")
    assert (await intake.client.post(url, json=answer, headers=other)).status_code == 403
    integration = intake.auth()
    assert (await intake.client.post(url, json=answer, headers=integration)).status_code == 403
    akimat = intake.auth(Role.AGENCY, agency="KRG-KARAGANDA-AKIMAT")
    bad = await intake.client.post(url, json={**answer, "outcome": "terminated"}, headers=akimat)
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "ground"
    async with probe(topics.ANSWER_GIVEN) as given:
        first = await intake.client.post(url, json=answer, headers=akimat)
        assert first.status_code == 201, first.text
        event = await given.wait_for_subject(appeal_id, event_types.ANSWER_GIVEN)
    assert event["data"]["outcome"] == "explained"
    assert (await intake.client.post(url, json=answer, headers=akimat)).status_code == 409
    view = await wait_for_status(intake, appeal_id, "answered")
    assert view["answered_at"] is not None


async def test_applicant_history_is_for_monitoring_and_the_submitting_integration(
    intake: Intake,
) -> None:
    bodies = [fresh(b) for b in dev_submissions() if b["applicant"]["kind"] == "individual"][:1]
    iin = bodies[0]["applicant"]["iin"]
    await intake.post(bodies[0], source="egov-portal")
    await intake.post(fresh(bodies[0]), source="egov-mobile")
    url = "/v1/applicants/search"
    monitoring = await intake.client.post(
        url, json={"iin": iin}, headers=intake.auth(Role.MONITORING)
    )
    assert monitoring.status_code == 200
    assert len(monitoring.json()["appeals"]) == 2
    assert monitoring.json()["applicant"] == iin[:4] + "******" + iin[-2:]
    assert iin not in monitoring.text
    portal = await intake.client.post(url, json={"iin": iin}, headers=intake.auth())
    assert len(portal.json()["appeals"]) == 1
    one = await intake.client.post(
        url, json={"iin": iin, "limit": 1}, headers=intake.auth(Role.MONITORING)
    )
    assert len(one.json()["appeals"]) == 1
    agency = intake.auth(Role.AGENCY, agency="KRG-POLICE")
    assert (await intake.client.post(url, json={"iin": iin}, headers=agency)).status_code == 403
    assert (await intake.client.post(url, json={"iin": iin})).status_code == 401
    for wrong in ({"iin": "123456789012"}, {"iin": iin, "extra": 1}, {"limit": 5}, {"iin": 1}):
        bad = await intake.client.post(url, json=wrong, headers=intake.auth(Role.MONITORING))
        assert bad.status_code == 422, wrong
        assert "123456789012" not in bad.text


async def test_the_old_applicant_path_is_gone_and_never_echoes_or_logs_the_iin(
    intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    body = fresh(next(b for b in dev_submissions() if b["applicant"]["kind"] == "individual"))
    iin = body["applicant"]["iin"]
    await intake.post(body)
    caplog.set_level(logging.DEBUG)
    for headers in ({}, intake.auth(Role.MONITORING)):
        gone = await intake.client.get(f"/v1/applicants/{iin}/appeals", headers=headers)
        assert gone.status_code == 410
        assert gone.headers["content-type"] == "application/problem+json"
        assert "/v1/applicants/search" in gone.json()["detail"]
        assert gone.headers["link"] == '</v1/applicants/search>; rel="successor-version"'
        assert iin not in gone.text and iin[:6] not in gone.text
    found = await intake.client.post(
        "/v1/applicants/search", json={"iin": iin}, headers=intake.auth(Role.MONITORING)
    )
    assert len(found.json()["appeals"]) == 1
    metrics = (await intake.client.get("/metrics")).text
    assert iin not in metrics
    assert 'route="/v1/applicants/{identifier}/appeals"' in metrics
    assert 'route="/v1/applicants/search"' in metrics
    # Every record of the service (httpx's are this test's own client, which sent the URL).
    logged = "\n".join(
        JsonFormatter("intake").format(record) + record.getMessage()
        for record in caplog.records
        if not record.name.startswith("httpx")
    )
    assert iin not in logged


async def test_submission_dated_in_the_future_is_422_and_times_are_local(intake: Intake) -> None:
    body = fresh(dev_submissions()[8])
    future = await intake.post({**body, "submitted_at": "2099-01-01T10:00:00+05:00"})
    assert future.status_code == 422
    assert future.json()["problems"][0]["field"] == "submitted_at"
    created = await intake.post(body)
    assert created.json()["registered_at"].endswith("+05:00")
    assert created.json()["due_at"].endswith("T23:59:59+05:00")


def routing_event(kind: str, appeal_id: str, hop: int, **data: object) -> object:
    event_type = {
        "redirected": event_types.APPEAL_REDIRECTED,
        "triaged": event_types.APPEAL_TRIAGED,
    }[kind]
    return envelope(
        event_type=event_type,
        source="/appeals/routing",
        subject=appeal_id,
        id=event_id(appeal_id, kind, hop),
        data={"appeal_id": appeal_id, "hop": hop, **data},
    )


async def test_an_agency_that_redirected_the_appeal_away_can_no_longer_answer_it(
    intake: Intake, stack: Stack
) -> None:
    """The ping-pong of issue 15: A → B → A → triage. Intake kept A as the agency then, so A
    could answer (201) an appeal waiting for an operator, while B got 403. Nobody holds an
    appeal in triage."""
    appeal_id = (await intake.post(fresh(dev_submissions()[7]))).json()["appeal_id"]
    a, b = "KRG-KARAGANDA-AKIMAT", "KRG-POLICE"
    chain = [
        (topics.APPEAL_ASSIGNED, assigned_event(appeal_id, a, 1)),
        (topics.APPEAL_REDIRECTED, routing_event("redirected", appeal_id, 1, from_agency=a)),
        (topics.APPEAL_ASSIGNED, assigned_event(appeal_id, b, 2)),
        (topics.APPEAL_REDIRECTED, routing_event("redirected", appeal_id, 2, from_agency=b)),
        (topics.APPEAL_ASSIGNED, assigned_event(appeal_id, a, 3)),
        (topics.APPEAL_REDIRECTED, routing_event("redirected", appeal_id, 3, from_agency=a)),
        (topics.APPEAL_TRIAGE, routing_event("triaged", appeal_id, 4, reason="ping_pong")),
    ]
    for topic, event in chain:
        await publish(stack, topic, appeal_id, event)
    view = await wait_for_status(intake, appeal_id, "triage")
    assert (view["agency"], view["hop"]) == (None, 4)
    answer = {
        "outcome": "explained",
        "text": "Разъяснено.",
        "signed_at": "2026-03-10T12:00:00+05:00",
    }
    url = f"/v1/appeals/{appeal_id}/answer"
    # An operator's assignment keeps the triage item's hop: an agency naming it is early.
    early = await intake.client.post(
        url, json={**answer, "hop": 4}, headers=intake.auth(Role.AGENCY, agency=b)
    )
    assert early.status_code == 409, early.text
    for agency in (a, b):
        headers = intake.auth(Role.AGENCY, agency=agency)
        refused = await intake.client.post(url, json=answer, headers=headers)
        assert refused.status_code == 403, (agency, refused.text)
        # Nor does either read it any more: it is neither's.
        seen = await intake.client.get(f"/v1/appeals/{appeal_id}", headers=headers)
        assert seen.status_code == 404
    # An operator's assignment (hop 4) gives it to one agency again.
    await publish(stack, topics.APPEAL_ASSIGNED, appeal_id, assigned_event(appeal_id, b, 4))
    view = await wait_for_status(intake, appeal_id, "assigned")
    assert (view["agency"], view["hop"]) == (b, 4)
    taken = await intake.client.post(url, json=answer, headers=intake.auth(Role.AGENCY, agency=b))
    assert taken.status_code == 201, taken.text


async def test_an_agency_ahead_of_the_registry_is_asked_to_retry_and_its_command_waits(
    intake: Intake, stack: Stack, probe: Callable[[str], EventProbe]
) -> None:
    """An agency that acts the moment it reads its assignment can reach intake before intake
    has followed that assignment from routing's topic. Over HTTP that is a 409 with
    Retry-After (not a 403: the appeal will be its own in a moment); a command over Kafka is
    tried again for a few seconds, so it is applied once the assignment arrives, and refused
    with the same 409 only if it never does."""
    agency = "KRG-KARAGANDA-AKIMAT"
    answer = {
        "outcome": "explained",
        "text": "Разъяснено: ремонт запланирован на май.",
        "signed_at": "2026-03-10T12:00:00+05:00",
    }
    early, never, nor = [
        (await intake.post(fresh(dev_submissions()[n]))).json()["appeal_id"] for n in (8, 9, 10)
    ]
    headers = intake.auth(Role.AGENCY, agency=agency)
    too_soon = await intake.client.post(f"/v1/appeals/{early}/answer", json=answer, headers=headers)
    assert too_soon.status_code == 409, too_soon.text
    assert too_soon.headers["retry-after"] == "1"
    assert too_soon.json()["title"] == "the appeal's assignment has not reached the registry yet"

    producer = stack.producer(f"agency-{agency.lower()}", enable_idempotence=True)
    await producer.start()
    try:
        async with probe(topics.agency_results_topic(agency)) as results:
            commands = {}
            # Two that never come: the second waits only what the first left of the batch's
            # patience (or all of it, in a batch of its own). Both are refused, none is lost.
            for appeal_id in (early, never, nor):
                command_id = str(uuid.uuid4())
                commands[appeal_id] = command_id
                value = envelope(
                    event_type=event_types.AGENCY_ANSWER,
                    source="/tests/agency-case-system",
                    subject=appeal_id,
                    id=command_id,
                    data=answer,
                )
                await producer.send_and_wait(
                    topics.agency_actions_topic(agency),
                    value.model_dump_json().encode(),
                    key=appeal_id.encode(),
                )
            await asyncio.sleep(0.3)  # the command is waiting; now the assignment comes
            await publish(stack, topics.APPEAL_ASSIGNED, early, assigned_event(early, agency))
            applied = await results.wait_for(lambda e: e["data"]["action_id"] == commands[early])
            refused = await results.wait_for(lambda e: e["data"]["action_id"] == commands[never])
            also = await results.wait_for(lambda e: e["data"]["action_id"] == commands[nor])
    finally:
        await producer.stop()
    assert (applied["data"]["outcome"], applied["data"]["status"]) == ("accepted", 201)
    assert (refused["data"]["outcome"], refused["data"]["status"]) == ("refused", 409)
    assert (also["data"]["outcome"], also["data"]["status"]) == ("refused", 409)
    view = await wait_for_status(intake, early, "answered")
    assert view["agency"] == agency


async def test_an_agency_naming_a_hop_the_registry_has_not_followed_is_asked_to_retry(
    intake: Intake, stack: Stack, probe: Callable[[str], EventProbe]
) -> None:
    """Redirected to B a moment ago, the appeal is still A's here. B's answer naming the hop
    it read (2) is "not yet", and its command waits until intake follows the redirect; an
    answer naming no hop, or the hop intake is at, is B's to be refused (403)."""
    a, b = "KRG-KARAGANDA-AKIMAT", "KRG-POLICE"
    appeal_id = (await intake.post(fresh(dev_submissions()[11]))).json()["appeal_id"]
    await publish(stack, topics.APPEAL_ASSIGNED, appeal_id, assigned_event(appeal_id, a, 1))
    await wait_for_status(intake, appeal_id, "assigned")
    answer = {
        "outcome": "explained",
        "text": "Разъяснено: вопрос в компетенции полиции.",
        "signed_at": "2026-03-10T12:00:00+05:00",
    }
    url, headers = f"/v1/appeals/{appeal_id}/answer", intake.auth(Role.AGENCY, agency=b)
    ahead = await intake.client.post(url, json={**answer, "hop": 2}, headers=headers)
    assert ahead.status_code == 409, ahead.text
    assert ahead.headers["retry-after"] == "1"
    assert ahead.json()["title"] == (
        "the appeal's redirect to your agency has not reached the registry yet"
    )
    for named in ({}, {"hop": 1}):
        refused = await intake.client.post(url, json={**answer, **named}, headers=headers)
        assert refused.status_code == 403, (named, refused.text)
    invalid = await intake.client.post(url, json={**answer, "hop": 0}, headers=headers)
    assert invalid.status_code == 422, invalid.text

    producer = stack.producer(f"agency-{b.lower()}", enable_idempotence=True)
    await producer.start()
    try:
        async with probe(topics.agency_results_topic(b)) as results:
            command = envelope(
                event_type=event_types.AGENCY_ANSWER,
                source="/tests/agency-case-system",
                subject=appeal_id,
                id=str(uuid.uuid4()),
                data={**answer, "hop": 2},
            )
            await producer.send_and_wait(
                topics.agency_actions_topic(b),
                command.model_dump_json().encode(),
                key=appeal_id.encode(),
            )
            await asyncio.sleep(0.3)  # the command is waiting; now the redirect comes
            redirected = routing_event("redirected", appeal_id, 1, from_agency=a, to_agency=b)
            await publish(stack, topics.APPEAL_REDIRECTED, appeal_id, redirected)
            await publish(stack, topics.APPEAL_ASSIGNED, appeal_id, assigned_event(appeal_id, b, 2))
            result = await results.wait_for(lambda e: e["data"]["action_id"] == command.id)
    finally:
        await producer.stop()
    assert (result["data"]["outcome"], result["data"]["status"]) == ("accepted", 201), result
    view = await wait_for_status(intake, appeal_id, "answered")
    assert (view["agency"], view["hop"]) == (b, 2)
    # Answered, the appeal is no longer followed here: a later hop named is not "not yet".
    late = await intake.client.post(
        url, json={**answer, "hop": 3}, headers=intake.auth(Role.AGENCY, agency=a)
    )
    assert late.status_code == 403, late.text
