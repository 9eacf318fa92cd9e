"""Await a Kafka message by event id, subject or any predicate, from the offsets at creation."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition


class EventProbe:
    """Start it before the action under test; it only sees messages written after that."""

    def __init__(self, kafka_options: dict[str, Any], topic: str) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(
            **kafka_options,
            enable_auto_commit=False,
            group_id=None,
            client_id=f"probe-{uuid.uuid4().hex[:6]}",
        )
        self.seen: list[dict[str, Any]] = []

    async def __aenter__(self) -> EventProbe:
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(self.topic)
        for _ in range(50):
            if partitions:
                break
            await asyncio.sleep(0.1)
            await self._consumer._client.force_metadata_update()
            partitions = self._consumer.partitions_for_topic(self.topic)
        assert partitions, f"topic {self.topic} does not exist"
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        ends = await self._consumer.end_offsets(assigned)
        for tp, offset in ends.items():
            self._consumer.seek(tp, offset)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._consumer.stop()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        for event in self.seen:
            if predicate(event):
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=1000)
            # Keep the whole batch before looking: a later wait may want a record that came
            # in the same fetch as this one.
            fetched = [self._event(r) for records in batches.values() for r in records]
            self.seen.extend(fetched)
            for event in fetched:
                if predicate(event):
                    return event
        raise AssertionError(f"no matching message on {self.topic} within {timeout}s")

    @staticmethod
    def _event(record: Any) -> dict[str, Any]:
        event: dict[str, Any] = orjson.loads(record.value) if record.value else {}
        event["_key"] = record.key.decode() if record.key else None
        event["_headers"] = dict(record.headers)
        event["_partition"] = record.partition
        event["_offset"] = record.offset
        event["_raw"] = record.value
        return event

    async def wait_for_id(self, event_id: str, timeout: float = 30) -> dict[str, Any]:
        return await self.wait_for(lambda e: e.get("id") == event_id, timeout)

    async def wait_for_subject(
        self, subject: str, event_type: str | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        return await self.wait_for(
            lambda e: (
                e.get("subject") == subject and (event_type is None or e.get("type") == event_type)
            ),
            timeout,
        )

    async def collect(self, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        """Read until `count` messages were seen (or time is up) and return them all."""
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            self.seen.extend(self._event(r) for records in batches.values() for r in records)
        return self.seen
