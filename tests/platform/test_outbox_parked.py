"""Rows the broker refuses for good are parked, the rows behind them keep flowing, and passing
failures are waited out with no PostgreSQL transaction open; on the real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client import REGISTRY

from appeals_platform import outbox
from appeals_platform.outbox import BEHIND, Event
from appeals_tools import outbox as outbox_cli
from appeals_tools.stack.layout import read_pid
from tests.conftest import Stack
from tests.kafka_probe import EventProbe
from tests.platform.conftest import Relaying
from tests.platform.test_outbox import assert_per_key_order, fill

pytestmark = pytest.mark.infra


def numbered(topic_name: str, key: str, n: int, padding: int = 0) -> Event:
    return outbox.event(
        topic_name,
        key,
        type="kz.appeals.test.v1",
        source="tests",
        subject=key,
        data={"n": n, "padding": "x" * padding},
    )


async def set_topic_config(stack: Stack, topic_name: str, settings: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(**stack.options())
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, stack.topic(topic_name), settings)]
        )
    finally:
        await admin.close()


async def parked_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch("SELECT * FROM outbox_parked ORDER BY seq"))


async def until(check: Callable[[], Any], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.2)


def parked_total(topic_name: str) -> float:
    labels = {"schema": "intake", "topic": topic_name}
    return REGISTRY.get_sample_value("outbox_parked_total", labels) or 0.0


def parked_now(topic_name: str) -> float | None:
    labels = {"schema": "intake", "topic": topic_name}
    return REGISTRY.get_sample_value("outbox_parked_rows", labels)


async def _true(value: bool) -> bool:
    return value


async def test_a_record_over_the_size_limit_is_parked_with_the_rows_of_its_key_behind_it(
    relaying: Relaying,
    stack: Stack,
    database: str,
    topic: Callable[..., Any],
    probe: Callable[[str], EventProbe],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = await topic("outbox-limit", partitions=2)
    await set_topic_config(stack, name, {"max.message.bytes": "20000"})
    refused, others = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(4)]
    # The refused key: a first row that goes out, then one too large (it shares a batch with
    # its neighbours first, so the relay must find it), then two more that must wait behind it.
    rows = [numbered(name, refused, 0)]
    rows += [numbered(name, k, 0) for k in others]
    rows.append(numbered(name, refused, 1, padding=60_000))
    rows += [numbered(name, k, 1) for k in others]
    rows.append(numbered(name, refused, 2))
    rows += [numbered(name, k, 2) for k in others]
    rows.append(numbered(name, refused, 3))
    flowing = [r for r in rows if r.key != refused or r is rows[0]]
    before = parked_total(name)
    caplog.set_level(logging.WARNING, logger="appeals_platform.outbox")

    relay = relaying.relay(batch_size=500, poll_interval=0.05)
    task = asyncio.create_task(relay.run())
    try:
        async with probe(name) as events:
            await fill(relaying.pool, rows)
            seen = await events.collect(len(flowing), timeout=60)
            await until(lambda: _count(relaying.pool, "outbox_parked", 3), "three rows parked")
    finally:
        relay.stop()
        await task

    assert {e["id"] for e in seen} == {r.id for r in flowing}
    assert_per_key_order(seen)
    parked = await parked_rows(relaying.pool)
    assert [str(p["id"]) for p in parked] == [r.id for r in rows if r.key == refused][1:]
    assert "MessageSizeTooLarge" in parked[0]["error"]
    assert [p["error"] for p in parked[1:]] == [BEHIND, BEHIND]
    assert await _count(relaying.pool, "outbox", 0)
    assert parked_total(name) - before == 3
    assert parked_now(name) == 3
    lines = [r for r in caplog.records if r.getMessage().startswith("outbox rows parked")]
    assert lines, "no log line for the parked rows"
    assert all("xxxx" not in r.getMessage() and refused not in r.getMessage() for r in lines)

    show = ["--dsn", database, "--schema", "intake"]
    capsys.readouterr()
    assert await asyncio.to_thread(outbox_cli.main, [*show, "parked", "list"]) == 0
    listed = capsys.readouterr().out
    assert "intake: 3 parked row(s)" in listed and str(parked[0]["id"]) in listed
    assert await asyncio.to_thread(outbox_cli.main, [*show, "status"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:4] == ["intake", "0", "-", "3"]

    # Fixed (the topic takes larger records): a retry of the refused row brings its key back,
    # in order, ahead of anything newer for it.
    await set_topic_config(stack, name, {"max.message.bytes": "1000000"})
    newer = numbered(name, refused, 4)
    async with probe(name) as events:
        await fill(relaying.pool, [newer])
        retry = ["--dsn", database, "--schema", "intake", "parked", "retry", str(parked[0]["id"])]
        assert await asyncio.to_thread(outbox_cli.main, retry) == 0
        relay = relaying.relay(batch_size=500, poll_interval=0.05)
        task = asyncio.create_task(relay.run())
        try:
            again = await events.collect(4, timeout=60)
            await until(lambda: _true(parked_now(name) == 0), "the parked-rows gauge at 0")
        finally:
            relay.stop()
            await task
    assert [e["data"]["n"] for e in again] == [1, 2, 3, 4]
    assert await parked_rows(relaying.pool) == []


async def _count(pool: asyncpg.Pool, table: str, expected: int) -> bool:
    async with pool.acquire() as conn:
        return bool(await conn.fetchval(f"SELECT count(*) = $1 FROM {table}", expected))


async def test_rows_for_a_topic_that_never_comes_wait_then_are_parked_while_others_flow(
    relaying: Relaying, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    present = await topic("outbox-present", partitions=1)
    absent = f"outbox-absent.{uuid.uuid4().hex[:10]}"  # never created
    keys = [str(uuid.uuid4()) for _ in range(3)]
    rows = [numbered(absent if n % 2 else present, keys[n % 3], n) for n in range(40)]
    relay = relaying.relay(batch_size=500, poll_interval=0.05, topic_wait=15)
    task = asyncio.create_task(relay.run())
    try:
        async with probe(present) as events:
            await fill(relaying.pool, rows)
            seen = await events.collect(20, timeout=60)
        # The present topic's rows went out while the absent one's still wait, unparked.
        assert {e["id"] for e in seen} == {r.id for r in rows if r.topic == present}
        assert await parked_rows(relaying.pool) == []
        await until(lambda: _count(relaying.pool, "outbox_parked", 20), "absent topic parked")
    finally:
        relay.stop()
        await task
    parked = await parked_rows(relaying.pool)
    assert [str(p["id"]) for p in parked] == [r.id for r in rows if r.topic == absent]
    assert all("UnknownTopicOrPartition" in p["error"] for p in parked)
    assert await _count(relaying.pool, "outbox", 0)


async def test_a_topic_created_while_its_rows_wait_receives_them_in_order(
    relaying: Relaying, stack: Stack
) -> None:
    late = f"outbox-late.{uuid.uuid4().hex[:10]}"
    keys = [str(uuid.uuid4()) for _ in range(4)]
    rows = [numbered(late, keys[n % 4], n) for n in range(40)]
    relay = relaying.relay(batch_size=500, poll_interval=0.05, topic_wait=120)
    task = asyncio.create_task(relay.run())
    admin = AIOKafkaAdminClient(**stack.options())
    await admin.start()
    try:
        await fill(relaying.pool, rows)
        await asyncio.sleep(2)  # the relay has met the missing topic by now
        assert await _count(relaying.pool, "outbox", 40)
        await admin.create_topics([NewTopic(stack.topic(late), 3, 1)])
        await until(lambda: _count(relaying.pool, "outbox", 0), "rows published", timeout=90)
        got = await read_all(stack, late, 40)
    finally:
        relay.stop()
        await task
        await admin.delete_topics([stack.topic(late)])
        await admin.close()
    assert [e["id"] for e in sorted(got, key=lambda e: e["data"]["n"])] == [r.id for r in rows]
    assert_per_key_order(got)
    assert await parked_rows(relaying.pool) == []


async def read_all(stack: Stack, topic_name: str, count: int) -> list[dict[str, Any]]:
    """Every record of a topic from its beginning (a probe only sees what comes after it)."""
    consumer = AIOKafkaConsumer(
        stack.topic(topic_name), **stack.options(), group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 60
        while len(found) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = orjson.loads(record.value)
                    event["_key"] = record.key.decode()
                    found.append(event)
    finally:
        await consumer.stop()
    return found


async def test_an_illegal_topic_name_is_parked_at_once(relaying: Relaying) -> None:
    row = numbered("no spaces allowed!", str(uuid.uuid4()), 0)
    await fill(relaying.pool, [row])
    relay = relaying.relay(poll_interval=0.05, topic_wait=3600)
    task = asyncio.create_task(relay.run())
    try:
        await until(lambda: _count(relaying.pool, "outbox_parked", 1), "illegal topic parked")
    finally:
        relay.stop()
        await task
    (parked,) = await parked_rows(relaying.pool)
    assert "InvalidTopic" in parked["error"]


@pytest.mark.serial  # freezes the broker every worker of the run shares
async def test_a_broker_that_does_not_answer_is_waited_for_with_no_transaction_open(
    relaying: Relaying,
    stack: Stack,
    database: str,
    topic: Callable[..., Any],
    probe: Callable[[str], EventProbe],
) -> None:
    # The test stack's broker frozen (SIGSTOP) for longer than the relay waits for an answer:
    # the relay must neither hold a PostgreSQL transaction open meanwhile, nor park the rows,
    # nor send them again while the first sends are still unanswered.
    name = await topic("outbox-frozen", partitions=1)
    broker = read_pid(stack.layout.pid_file("kafka"))
    assert broker is not None, "the test stack's broker is not running"
    keys = [str(uuid.uuid4()) for _ in range(3)]
    rows = [numbered(name, keys[n % 3], n) for n in range(30)]
    relay = relaying.relay(poll_interval=0.05, delivery_timeout=2)
    observer = await asyncpg.connect(database)
    task = asyncio.create_task(relay.run())
    try:
        await until(lambda: _leading(relay), "the relay leads", timeout=30)
        async with probe(name) as events:
            os.kill(broker, signal.SIGSTOP)
            try:
                await fill(relaying.pool, rows)
                open_transactions = 0
                for _ in range(40):  # 8 s: several delivery timeouts
                    open_transactions += await observer.fetchval(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND state LIKE 'idle in transaction%'"
                    )
                    await asyncio.sleep(0.2)
                assert open_transactions == 0
                assert await _count(relaying.pool, "outbox", 30)  # kept, not parked
                assert await parked_rows(relaying.pool) == []
            finally:
                os.kill(broker, signal.SIGCONT)
            await events.collect(30, timeout=90)
            await until(lambda: _count(relaying.pool, "outbox", 0), "rows deleted")
            seen = await events.collect(31, timeout=3)  # anything sent twice is here by now
    finally:
        relay.stop()
        await task
        await observer.close()
    assert [e["id"] for e in seen] == [r.id for r in rows]  # each once, in order


async def _leading(relay: outbox.OutboxRelay) -> bool:
    return relay.is_leader


async def test_the_outbox_depth_and_the_oldest_rows_age_are_measured(relaying: Relaying) -> None:
    # Rows waiting for a topic that does not exist stay in the outbox: the gauges show them.
    absent = f"outbox-gauges.{uuid.uuid4().hex[:10]}"
    await fill(relaying.pool, [numbered(absent, str(uuid.uuid4()), n) for n in range(7)])
    relay = relaying.relay(poll_interval=0.05, topic_wait=3600, lease_seconds=1.5)
    task = asyncio.create_task(relay.run())

    async def measured() -> bool:
        depth = REGISTRY.get_sample_value("outbox_depth", {"schema": "intake"})
        age = REGISTRY.get_sample_value("outbox_oldest_age_seconds", {"schema": "intake"})
        return depth == 7 and age is not None and age > 0

    try:
        await until(measured, "gauges of 7 waiting rows", timeout=30)
    finally:
        relay.stop()
        await task
