"""APPEALS_KAFKA_TLS=1: the client listener is SASL_SSL with the PEM keys the stack makes; the
project's clients (aiokafka, FastStream settings, librdkafka) connect with the CA, others not."""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from confluent_kafka import Consumer

from appeals_contracts.topics import agency_topic
from appeals_platform.kafka import client_options, librdkafka_config
from appeals_tools.provisioning import librdkafka
from appeals_tools.stack import kafka
from appeals_tools.stack.layout import Layout
from tests.kafka_modes.conftest import own_kafka

pytestmark = [pytest.mark.infra, pytest.mark.kafka_modes]
POLICE = "KRG-POLICE"


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Layout]:
    monkeypatch.setenv("APPEALS_KAFKA_PORT", str(kafka.kafka_port() + 300))
    monkeypatch.setenv("APPEALS_KAFKA_TLS", "1")
    with own_kafka(tmp_path / "local", brokers=1) as layout:
        yield layout


def read_one(layout: Layout, key: bytes) -> bytes | None:
    config = librdkafka(
        kafka.access(layout, "agency-krg-police"),
        **{"group.id": "agency.krg-police.tls", "auto.offset.reset": "earliest"},
    )
    assert config["security.protocol"] == "SASL_SSL" and config["ssl.ca.location"]
    consumer = Consumer(config)
    consumer.subscribe([agency_topic(POLICE)])
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None and message.key() == key:
                return message.value()
    finally:
        consumer.close()
    return None


async def test_clients_with_the_projects_ca_connect_over_tls_and_others_are_refused(
    tls: Layout,
) -> None:
    routing = kafka.access(tls, "svc-routing")
    assert routing.kafka_security_protocol == "SASL_SSL"
    key = uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(**client_options(routing), enable_idempotence=True)
    await asyncio.wait_for(producer.start(), 30)
    try:
        await asyncio.wait_for(producer.send_and_wait(agency_topic(POLICE), b"{}", key=key), 30)
    finally:
        await producer.stop()
    assert await asyncio.to_thread(read_one, tls, key) == b"{}"

    # The system's CAs do not know the project's: the certificate is not trusted.
    untrusted = AIOKafkaProducer(
        **client_options(routing) | {"ssl_context": ssl.create_default_context()},
        request_timeout_ms=5000,
    )
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(untrusted.start(), 30)
    await untrusted.stop()
    # Without TLS the listener does not answer SASL at all.
    plain = {**client_options(routing), "security_protocol": "SASL_PLAINTEXT"}
    plain.pop("ssl_context")
    cleartext = AIOKafkaProducer(**plain, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(cleartext.start(), 30)
    await cleartext.stop()
    assert "ssl.ca.location" in librdkafka_config(routing)
