"""Submissions produced to intake.appeal-submissions.<source>, each by its integration's own
principal: registered like HTTP ones under the topic's source, or rejected."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import asyncpg
import pytest

from appeals_contracts import event_types, topics
from tests.conftest import Stack
from tests.intake.conftest import Intake, dev_submissions, fresh
from tests.kafka_probe import EventProbe

pytestmark = pytest.mark.infra


async def produce(
    stack: Stack, key: str, value: bytes, source: str, header: str | None = None
) -> None:
    """As integration `source` would: its own principal, its own topic, maybe a header."""
    user = f"integration-{source}"
    producer = stack.producer(user, enable_idempotence=True)
    await producer.start()
    try:
        headers = [("source", header.encode())] if header else []
        await producer.send_and_wait(
            topics.submission_topic(source), value, key=key.encode(), headers=headers
        )
    finally:
        await producer.stop()


async def registered_id(intake: Intake, source: str, external_id: str) -> str:
    """This test's database, not the topic: a running dev stack consumes the topic too."""
    conn = await asyncpg.connect(intake.dsn)
    try:
        for _ in range(200):
            found = await conn.fetchval(
                "SELECT id FROM intake.appeals WHERE source = $1 AND external_id = $2",
                source,
                external_id,
            )
            if found:
                return str(found)
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise AssertionError("the submission was never registered")


async def test_valid_submission_on_kafka_is_registered_once_like_an_http_one(
    intake: Intake, stack: Stack, probe: Callable[[str], EventProbe]
) -> None:
    body = fresh(dev_submissions()[10])
    value = json.dumps(body, ensure_ascii=False).encode()
    async with probe(topics.APPEAL_RECEIVED) as received:
        await produce(stack, body["external_id"], value, "cons-operator", header=None)
        appeal_id = await registered_id(intake, "cons-operator", body["external_id"])
        event = await received.wait_for_subject(appeal_id)
    assert event["data"]["channel"] == "kafka" and event["data"]["source"] == "cons-operator"
    # The same submission again over HTTP from the same source is the same appeal.
    again = await intake.post(body, source="cons-operator")
    assert again.status_code == 200
    assert again.json()["appeal_id"] == appeal_id
    assert await intake.count() == 1


async def test_invalid_submissions_go_to_the_rejection_topic_and_the_consumer_moves_on(
    intake: Intake, stack: Stack, probe: Callable[[str], EventProbe]
) -> None:
    bad_iin = fresh(dev_submissions()[11])
    bad_iin["applicant"] = {**bad_iin["applicant"], "iin": "123456789012"}
    good = fresh(dev_submissions()[12])
    forged_key, garbage_key = f"forged-{uuid.uuid4().hex}", f"garbage-{uuid.uuid4().hex}"
    forged = fresh(dev_submissions()[13])
    async with probe(topics.APPEAL_REJECTIONS) as rejections:
        await produce(stack, bad_iin["external_id"], json.dumps(bad_iin).encode(), "egov-portal")
        # egov-mobile's own topic, but its header claims the portal: not registered at all.
        forged["external_id"] = forged_key
        await produce(
            stack, forged_key, json.dumps(forged).encode(), "egov-mobile", header="egov-portal"
        )
        await produce(stack, garbage_key, b"{not json", "egov-portal")
        await produce(
            stack, good["external_id"], json.dumps(good).encode(), "egov-portal", "egov-portal"
        )
        checksum = await rejections.wait_for(lambda e: e["_key"] == bad_iin["external_id"])
        disagreeing = await rejections.wait_for(lambda e: e["_key"] == forged_key)
        garbage = await rejections.wait_for(lambda e: e["_key"] == garbage_key)
        await registered_id(intake, "egov-portal", good["external_id"])
    assert checksum["type"] == event_types.SUBMISSION_REJECTED
    assert checksum["data"]["source"] == "egov-portal"
    assert [e["field"] for e in checksum["data"]["errors"]] == ["applicant.iin"]
    assert "123456789012" not in json.dumps(checksum["data"])
    assert disagreeing["data"]["source"] == "egov-mobile"
    assert disagreeing["data"]["topic"] == topics.submission_topic("egov-mobile")
    assert [e["field"] for e in disagreeing["data"]["errors"]] == ["headers.source"]
    assert garbage["data"]["errors"][0]["field"] == "body"
    assert await intake.count() == 1


async def test_seven_submissions_with_a_non_utf8_header_on_the_fourth_are_all_registered(
    intake: Intake, stack: Stack
) -> None:
    """The probe of the fault issue: before the platform's consumer path, FastStream decoded
    every header strictly and six of these seven were neither stored nor rejected."""
    bodies = [fresh(dev_submissions()[20 + n]) for n in range(7)]
    producer = stack.producer("integration-egov-portal", linger_ms=0)
    await producer.start()
    try:
        for n, body in enumerate(bodies):
            headers = [("source", b"egov-portal")]
            if n == 3:
                headers.append(("applicant", "Иван".encode("cp1251")))
            await producer.send_and_wait(
                topics.submission_topic("egov-portal"),
                json.dumps(body, ensure_ascii=False).encode(),
                key=body["external_id"].encode(),
                headers=headers,
                partition=0,
            )
    finally:
        await producer.stop()
    for body in bodies:
        await registered_id(intake, "egov-portal", body["external_id"])
    assert await intake.count() == 7
