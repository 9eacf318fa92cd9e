"""Kafka identities against the real broker: each party authenticates as itself and may do only
what its ACLs allow. Every wait is bounded; denials are expected as errors, never as silence."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from confluent_kafka import Consumer, KafkaError, Message, Producer
from pydantic import SecretStr

from appeals_contracts import topics
from appeals_platform.kafka import KafkaAccess, client_options
from appeals_reference import load_integrations, load_reference
from appeals_tools.provisioning import CredentialsRefused, librdkafka
from tests.conftest import ROOT, Stack

pytestmark = pytest.mark.infra

POLICE, AKIMAT = "KRG-POLICE", "KRG-KARAGANDA-AKIMAT"
WAIT = 20.0


def police_group() -> str:
    return f"agency.krg-police.test-{uuid.uuid4().hex[:8]}"


def consume(settings: KafkaAccess | dict[str, str], group: str) -> Consumer:
    base = librdkafka(settings) if isinstance(settings, KafkaAccess) else dict(settings)
    return Consumer(
        {**base, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )


def poll_until(consumer: Consumer, wanted: Callable[[Message], bool]) -> Message:
    """The first message `wanted` accepts, or the first error; fails after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and (message.error() is not None or wanted(message)):
                return message
    finally:
        consumer.close()
    raise AssertionError(f"neither the record nor an error within {WAIT}s")


def produce_as_routing(stack: Stack, topic: str, key: str) -> None:
    producer = Producer(librdkafka(stack.access("svc-routing"), **{"enable.idempotence": True}))
    failures: list[KafkaError] = []
    producer.produce(
        topic, b"{}", key=key.encode(), on_delivery=lambda err, _: err and failures.append(err)
    )
    assert producer.flush(WAIT) == 0 and not failures, failures


def issued_properties(kind: str, name: str) -> dict[str, str]:
    """What `appeals-kafka credentials <kind> <name> --format properties` prints, parsed."""
    command = ["credentials", kind, name, "--format", "properties"]
    printed = subprocess.run(
        [sys.executable, "-m", "appeals_tools.credentials", *command],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    ).stdout
    return dict(line.split("=", 1) for line in printed.splitlines() if "=" in line)


def test_an_agency_reads_its_own_topic_with_the_credentials_the_command_issues(
    stack: Stack,
) -> None:
    # This run's copy of the topic (the same ACLs under the run's prefix): a `make run` stack
    # on the same broker never sees the record.
    key, own = f"acl-{uuid.uuid4().hex}", stack.topic(topics.agency_topic(POLICE))
    produce_as_routing(stack, own, key)
    properties = issued_properties("agency", POLICE)
    assert properties["sasl.username"] == "agency-krg-police"
    assert properties["group.id"].startswith("agency.krg-police.")
    consumer = consume(properties | {"log_level": "0"}, police_group())
    consumer.subscribe([own])
    message = poll_until(consumer, lambda m: m.key() == key.encode())
    assert message.error() is None and message.topic() == own


def test_an_agency_is_denied_another_agencys_topic_with_an_error_not_a_hang(
    stack: Stack,
) -> None:
    consumer = consume(stack.access("agency-krg-police"), police_group())
    consumer.subscribe([topics.agency_topic(AKIMAT)])
    message = poll_until(consumer, lambda m: False)
    error = message.error()
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_an_agency_may_not_use_a_consumer_group_outside_its_prefix(stack: Stack) -> None:
    consumer = consume(stack.access("agency-krg-police"), "routing-steal")
    consumer.subscribe([topics.agency_topic(POLICE)])
    message = poll_until(consumer, lambda m: False)
    error = message.error()
    assert error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED


async def test_a_client_without_credentials_is_refused(stack: Stack) -> None:
    anonymous = AIOKafkaConsumer(
        topics.agency_topic(POLICE), bootstrap_servers=stack.bootstrap, request_timeout_ms=5000
    )
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(anonymous.start(), WAIT)
    await anonymous.stop()


def test_a_wrong_password_is_refused_and_reported_not_retried_forever(stack: Stack) -> None:
    wrong = KafkaAccess(
        kafka_bootstrap_servers=stack.bootstrap,
        kafka_username="agency-krg-police",
        kafka_password=SecretStr("not-the-password"),
        kafka_security_protocol=stack.access().kafka_security_protocol,
        kafka_ca_file=stack.access().kafka_ca_file,
    )
    consumer = consume(wrong, police_group())
    consumer.subscribe([topics.agency_topic(POLICE)])
    # librdkafka only reports it to error_cb; the project's configuration raises there.
    with pytest.raises(CredentialsRefused):
        poll_until(consumer, lambda m: False)


async def expect_write_denied(options: dict[str, object], targets: list[str]) -> None:
    # Not idempotent: a principal that may write nowhere would already fail at start, with
    # ClusterAuthorizationFailedError (no producer id); this asks topic by topic.
    producer = AIOKafkaProducer(**options, enable_idempotence=False, request_timeout_ms=10000)
    await producer.start()
    try:
        for target in targets:
            with pytest.raises(TopicAuthorizationFailedError):
                await asyncio.wait_for(producer.send_and_wait(target, b"{}", key=b"x"), WAIT)
    finally:
        await producer.stop()


async def test_an_integration_writes_its_own_submissions_and_nothing_else(stack: Stack) -> None:
    sources = [i.source for i in load_integrations()]
    every = topics.all_topic_specs([a.code for a in load_reference().agencies], sources)
    forbidden = [t.name for t in every if t.name.startswith(("routing.", "deadlines."))]
    forbidden += [topics.submission_topic("egov-mobile"), topics.APPEAL_RECEIVED]
    forbidden += [topics.agency_topic(POLICE)]
    assert len(forbidden) > 10
    options = stack.options("integration-egov-portal")
    await expect_write_denied(options, forbidden)
    producer = AIOKafkaProducer(**options, enable_idempotence=True)
    await producer.start()
    try:
        own = stack.topic(topics.submission_topic("egov-portal"))
        await asyncio.wait_for(producer.send_and_wait(own, b"{not json", key=b"acl-test"), WAIT)
    finally:
        await producer.stop()


@pytest.mark.parametrize(
    ("user", "topic"),
    [
        # Forged assignments were the issue's example: only routing writes them.
        ("svc-intake", topics.APPEAL_ASSIGNED),
        ("svc-deadlines", topics.APPEAL_ASSIGNED),
        ("agency-krg-police", topics.APPEAL_ASSIGNED),
        # Registrations come from intake alone.
        ("svc-routing", topics.APPEAL_RECEIVED),
        # An agency's topic is written by routing, not by the agency or another service.
        ("agency-krg-police", topics.agency_topic(POLICE)),
        ("svc-deadlines", topics.agency_topic(POLICE)),
        # Submissions only by their integration.
        ("svc-intake", topics.submission_topic("egov-portal")),
        # An agency's commands only by that agency: the topic is what names the actor.
        ("agency-krg-police", topics.agency_actions_topic(AKIMAT)),
        ("svc-intake", topics.agency_actions_topic(POLICE)),
        # Results only by the services.
        ("agency-krg-police", topics.agency_results_topic(POLICE)),
    ],
)
async def test_a_principal_cannot_forge_events_of_a_topic_it_does_not_own(
    stack: Stack, user: str, topic: str
) -> None:
    await expect_write_denied(stack.options(user), [topic])


@pytest.mark.parametrize(
    ("user", "group", "topic"),
    [
        # Appeals with IINs and addresses: routing needs them, deadlines and agencies do not.
        ("svc-deadlines", "deadlines-acl-test", topics.APPEAL_RECEIVED),
        ("agency-krg-police", "agency.krg-police.acl-test", topics.APPEAL_RECEIVED),
        # Another agency's assignments, and everyone's.
        ("svc-routing", "routing-acl-test", topics.agency_topic(POLICE)),
        ("agency-krg-police", "agency.krg-police.acl-test", topics.APPEAL_ASSIGNED),
        # Raw submissions are intake's input only.
        ("svc-routing", "routing-acl-test", topics.submission_topic("egov-portal")),
        # Another agency's results and commands.
        ("agency-krg-police", "agency.krg-police.acl-test", topics.agency_results_topic(AKIMAT)),
        ("agency-krg-police", "agency.krg-police.acl-test", topics.agency_actions_topic(AKIMAT)),
    ],
)
async def test_a_principal_cannot_read_a_topic_it_does_not_need(
    stack: Stack, user: str, group: str, topic: str
) -> None:
    consumer = AIOKafkaConsumer(
        topic, **client_options(stack.access(user)), group_id=group, request_timeout_ms=10000
    )

    async def read() -> None:
        # Without DESCRIBE the subscription fails at start; with DESCRIBE but no READ (routing
        # writes agency topics, which implies DESCRIBE) the fetch does.
        await consumer.start()
        await consumer.getone()

    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(read(), WAIT)
    finally:
        await consumer.stop()
