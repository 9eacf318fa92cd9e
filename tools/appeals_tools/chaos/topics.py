"""Reading the instance's topics: end offsets, records between two positions, group offsets.

Every call builds its own short-lived client with a bounded wait, so a dead or frozen broker
makes a check fail or come back empty, never hang the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from appeals_contracts.topics import APPEAL_REJECTIONS, TOPICS

Offsets = dict[TopicPartition, int]


@asynccontextmanager
async def admin(options: dict[str, Any]) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(**options, request_timeout_ms=15000)
    await asyncio.wait_for(client.start(), 30)
    try:
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def reader(options: dict[str, Any]) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        **options,
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=15000,
        # Poison records reach 2 MB; one fetch must hold one of them whole.
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=16 << 20,
    )
    await asyncio.wait_for(consumer.start(), 30)
    try:
        yield consumer
    finally:
        await consumer.stop()


async def names(options: dict[str, Any]) -> set[str]:
    async with admin(options) as client:
        return set(await client.list_topics())


async def rejected_topics(options: dict[str, Any]) -> list[str]:
    """Where refused records end: every `<topic>.dlq`, and intake's submission rejections."""
    return [*sorted(t for t in await names(options) if t.endswith(".dlq")), APPEAL_REJECTIONS]


async def end_offsets(options: dict[str, Any], topics: list[str]) -> Offsets:
    async with reader(options) as consumer:
        partitions = []
        for topic in topics:
            known = consumer.partitions_for_topic(topic)
            if not known:
                await consumer._client.force_metadata_update()
                known = consumer.partitions_for_topic(topic) or set()
            partitions += [TopicPartition(topic, p) for p in known]
        ends: Offsets = await asyncio.wait_for(consumer.end_offsets(partitions), 30)
        return ends


async def read(
    options: dict[str, Any], starts: Offsets, ends: Offsets, timeout: float = 60
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record from `starts` (missing: 0) up to `ends`, in partition order."""
    wanted = {tp: end for tp, end in ends.items() if end > starts.get(tp, 0)}
    if not wanted:
        return []
    records: list[ConsumerRecord[bytes, bytes]] = []
    async with reader(options) as consumer:
        consumer.assign(list(wanted))
        for tp in wanted:
            consumer.seek(tp, starts.get(tp, 0))
        deadline = time.monotonic() + timeout
        while wanted and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, batch in batches.items():
                end = wanted.get(tp)
                if end is None:
                    continue
                records += [r for r in batch if r.offset < end]
                if batch and batch[-1].offset >= end - 1:
                    del wanted[tp]
                    consumer.pause(tp)
    return records


async def committed(options: dict[str, Any]) -> dict[str, Offsets]:
    """Every consumer group's committed offsets (the next record each group will read)."""
    found: dict[str, Offsets] = {}
    async with admin(options) as client:
        groups = await client.list_consumer_groups()
        for group in groups:
            name = group[0]
            with contextlib.suppress(Exception):
                offsets = await client.list_consumer_group_offsets(name)
                found[name] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    return found


async def allow_large_records(options: dict[str, Any], topics: list[str], size: int) -> None:
    """Let these topics take records of `size` bytes (the broker's default is 1 MB).

    AlterConfigs replaces a topic's whole set of settings: the retention it was created with
    (appeals_contracts.topics) is given again.
    """
    retention = {t.name: t.retention_ms for t in TOPICS}
    resources = []
    for topic in topics:
        settings = {"max.message.bytes": str(size)}
        if (kept := retention.get(topic)) is not None:
            settings["retention.ms"] = str(kept)
        resources.append(ConfigResource(ConfigResourceType.TOPIC, topic, settings))
    async with admin(options) as client:
        await client.alter_configs(resources)
