"""integration.<source>.updates: an integration hears what became of the appeals it submitted,
on its own topic, read with its own principal and consumer group; no internal data; kept
forever, so a portal that reconnects later reads what it missed; no other integration reads it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import TopicAuthorizationFailedError
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource

from appeals_contracts import event_types, topics
from appeals_platform.kafka import client_options
from appeals_tools.provisioning import librdkafka
from tests.agency_actions.conftest import AGENCY, OTHER, Platform, command
from tests.agency_actions.test_actions import ANSWER
from tests.agency_actions.test_example_client import start_group_at_the_end
from tests.conftest import Stack

pytestmark = pytest.mark.infra

PORTAL = "egov-portal"
INTERNAL = {"explanation", "applicant", "submission", "comment", "text_original", "confidence"}


def portal_consumer(stack: Stack, group: str) -> Consumer:
    """The portal's consumer, as the portal runs it: its principal, its group, commits by hand."""
    consumer = Consumer(
        librdkafka(
            stack.access(f"integration-{PORTAL}"),
            **{"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False},
        )
    )
    consumer.subscribe([stack.topic(topics.integration_updates_topic(PORTAL))])
    return consumer


def read_until(consumer: Consumer, appeal_id: str, *statuses: str) -> list[dict[str, Any]]:
    """The appeal's updates until one of each of `statuses` has come (in any order: a redirect
    and the next assignment reach intake on two topics), then the group's offset committed and
    the consumer closed (the portal goes away)."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            event = json.loads(message.value() or b"{}")
            if event.get("subject") != appeal_id:
                continue
            found.append(event)
            if set(statuses) <= {e["data"]["status"] for e in found}:
                consumer.commit(asynchronous=False)
                return found
        raise AssertionError(f"not all of {statuses}; seen {[e['data'] for e in found]}")
    finally:
        consumer.close()


def retention_ms(stack: Stack, topic: str) -> str:
    admin = AdminClient(librdkafka(stack.access()))
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=20)
    return str(configs["retention.ms"].value)


async def test_a_portal_reads_the_whole_life_of_its_appeal_and_after_reconnecting_misses_nothing(
    platform: Platform,
) -> None:
    stack = platform.stack
    topic = stack.topic(topics.integration_updates_topic(PORTAL))
    # Kept forever: a portal away for a day (or a month) finds every update still there.
    assert await asyncio.to_thread(retention_ms, stack, topic) == "-1"
    group = f"integration.{PORTAL}.status-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(start_group_at_the_end, stack, group, topic)

    appeal_id = await platform.register()
    before = await asyncio.to_thread(
        read_until, portal_consumer(stack, group), appeal_id, "registered", "assigned"
    )

    # While the portal is away: the agency redirects the appeal to the police, who answer.
    redirect_id, value = command(
        event_types.AGENCY_REDIRECT_REQUESTED,
        appeal_id,
        {"target": OTHER, "reason": "not_competent"},
    )
    await platform.send(AGENCY, appeal_id, value)
    assert (await platform.result(AGENCY, redirect_id))["outcome"] == "accepted"
    for _ in range(600):
        seen = await platform.intake.get(f"/v1/appeals/{appeal_id}", headers=platform.staff())
        if seen.json()["agency"] == OTHER:
            break
        await asyncio.sleep(0.1)
    answer_id, value = command(event_types.AGENCY_ANSWER, appeal_id, ANSWER)
    await platform.send(OTHER, appeal_id, value)
    assert (await platform.result(OTHER, answer_id))["outcome"] == "accepted"

    # The portal comes back with its group: it resumes after what it read, nothing twice.
    after = await asyncio.to_thread(
        read_until, portal_consumer(stack, group), appeal_id, "redirected", "assigned", "answered"
    )
    assert [e["data"]["status"] for e in before] == ["registered", "assigned"]
    # Routing's redirect and its new assignment reach intake on two topics, so their updates
    # may come in either order: each carries its hop (and time) to put them in order.
    by_status = {e["data"]["status"]: e["data"] for e in after}
    assert sorted(e["data"]["status"] for e in after) == ["answered", "assigned", "redirected"]
    assert (by_status["redirected"]["hop"], by_status["assigned"]["hop"]) == (1, 2)
    life = before + after
    assert all(e["type"] == event_types.APPEAL_STATUS_CHANGED for e in life)
    assert len({e["id"] for e in life}) == len(life)
    assert before[0]["data"]["registration_number"] and before[1]["data"]["agency"] == AGENCY
    assert by_status["redirected"]["redirect_reason"] == "not_competent"
    assert by_status["assigned"]["agency"] == OTHER == by_status["answered"]["agency"]
    assert by_status["answered"]["answer"]["text"] == ANSWER["text"]
    for event in life:
        assert not INTERNAL & set(event["data"]), event["data"]


async def test_another_integration_may_not_read_the_updates(platform: Platform) -> None:
    stack = platform.stack
    consumer = AIOKafkaConsumer(
        stack.topic(topics.integration_updates_topic(PORTAL)),
        **client_options(stack.access("integration-egov-mobile")),
        group_id="integration.egov-mobile.updates-test",
        request_timeout_ms=10000,
    )

    async def read() -> None:
        await consumer.start()
        await consumer.getone()

    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(read(), 20)
    finally:
        await consumer.stop()
