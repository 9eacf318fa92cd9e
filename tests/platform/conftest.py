"""Fixtures of the platform tests: a relay on the test database and broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from appeals_platform.outbox import OutboxRelay, create_producer
from appeals_platform.pool import create_pool
from tests.conftest import Stack


@dataclass
class Relaying:
    """A pool on the `intake` schema of the test database and a started outbox producer."""

    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    prefix: str  # the test run's topic prefix

    def relay(self, **options: Any) -> OutboxRelay:
        options.setdefault("topic_prefix", self.prefix)
        return OutboxRelay(self.pool, self.producer, schema="intake", **options)


@pytest.fixture
async def relaying(stack: Stack, database: str) -> AsyncIterator[Relaying]:
    pool = await create_pool(database, "intake")
    producer = create_producer(stack.options(), "test-relay")
    await producer.start()
    try:
        yield Relaying(pool, producer, stack.prefix)
    finally:
        await producer.stop()
        await pool.close()
