"""Kafka down: intake keeps registering appeals over HTTP (each with its event in the outbox),
`/ready` says 200 "degraded" so the HTTP intake stays in service, and once the broker is back
the relay delivers every waiting event and readiness is plain "ready" again.

The broker is one of the test's own (state in a temporary folder, ports of its own),
stopped and started again here: the suite's shared broker is never touched. Two broker
starts take minutes on this machine, so it runs with `make test-kafka-modes`; in `make test`
the fault suite's short "broker killed" case checks intake's degraded readiness and that
nothing accepted meanwhile is lost.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from appeals_contracts.topics import APPEAL_RECEIVED
from appeals_platform.auth import Role
from appeals_platform.kafka import client_options
from appeals_tools.chaos.instance import bindable
from appeals_tools.stack import kafka
from appeals_tools.stack.layout import Layout
from intake.app import create_app
from intake.config import Settings
from tests.conftest import Stack, TokenFactory
from tests.intake.conftest import dev_submissions, fresh
from tests.kafka_modes.conftest import own_kafka
from tests.services import running, settings_for

pytestmark = [pytest.mark.infra, pytest.mark.kafka_modes]

APPEALS = 20
# Ports for the test's broker and its controller: below the kernel's ephemeral range and
# above the blocks of the fault suite's instances (20000-24999).
PORTS = range(26000, 28000, 2)


def free_port_pair() -> int:
    for port in random.sample(list(PORTS), len(PORTS)):
        if bindable("127.0.0.1", port) and bindable("127.0.0.1", port + 1):
            return port
    raise RuntimeError("no two free ports for the test's broker")


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Layout]:
    monkeypatch.setenv("APPEALS_KAFKA_PORT", str(free_port_pair()))
    monkeypatch.delenv("APPEALS_KAFKA_TLS", raising=False)
    with own_kafka(tmp_path / "local", brokers=1) as layout:
        yield layout


async def ready(client: httpx.AsyncClient, status: str, timeout: float = 60) -> dict[str, str]:
    """The readiness checks once `/ready` says `status` (200 both times)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = await client.get("/ready")
        body = answer.json()
        if body["status"] == status:
            assert answer.status_code == 200, body
            checks: dict[str, str] = body["checks"]
            return checks
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.2)


async def outbox_rows(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM intake.outbox"))
    finally:
        await conn.close()


async def received_subjects(layout: Layout, wanted: set[str], timeout: float = 60) -> set[str]:
    """The appeal ids among `wanted` that AppealReceived events on the broker name."""
    consumer = AIOKafkaConsumer(
        APPEAL_RECEIVED,
        **client_options(kafka.admin_access(layout)),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: set[str] = set()
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while seen < wanted and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    assert record.value is not None
                    seen.add(str(orjson.loads(record.value)["subject"]))
    finally:
        await consumer.stop()
    return seen & wanted


async def test_intake_accepts_while_kafka_is_down_and_the_backlog_drains_after(
    broker: Layout, stack: Stack, database: str, key_dir: Path, token: TokenFactory
) -> None:
    settings = settings_for(Settings, database, stack, key_dir).model_copy(
        update={**kafka.settings_of(kafka.access(broker, "svc-intake")), "topic_prefix": ""}
    )
    auth = {"Authorization": f"Bearer {token(Role.INTEGRATION, source='egov-portal')}"}
    submissions = dev_submissions()
    async with running(create_app(settings), wait_for_consumers=False) as client:
        assert (await ready(client, "ready"))["kafka"] == "ok"

        await asyncio.to_thread(kafka.stop_kafka, broker)
        checks = await ready(client, "degraded")
        assert checks["postgres"] == "ok" and checks["kafka"].startswith("degraded: "), checks

        accepted: set[str] = set()
        for n in range(APPEALS):
            body = fresh(submissions[n % len(submissions)])
            answer = await client.post("/v1/appeals", json=body, headers=auth)
            assert answer.status_code == 201, answer.text
            accepted.add(answer.json()["appeal_id"])
        # Registered, and their events wait in the outbox for the broker.
        assert await outbox_rows(settings.database_url) >= APPEALS

        await asyncio.to_thread(kafka.start_kafka, broker, 1)
        assert await received_subjects(broker, accepted) == accepted
        assert (await ready(client, "ready"))["kafka"] == "ok"
        deadline = asyncio.get_running_loop().time() + 60
        while await outbox_rows(settings.database_url):
            assert asyncio.get_running_loop().time() < deadline, "the outbox did not drain"
            await asyncio.sleep(0.2)
