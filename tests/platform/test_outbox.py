"""The outbox relay against the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from appeals_contracts.envelope import event_id
from appeals_platform import outbox
from appeals_platform.outbox import Event, OutboxRelay, create_producer
from appeals_platform.pool import create_pool
from tests.aiokafka_faults import end_metadata_synchroniser
from tests.conftest import Stack
from tests.kafka_probe import EventProbe
from tests.platform.conftest import Relaying

pytestmark = pytest.mark.infra


def outbox_rows(topic_name: str, count: int, keys: int) -> list[Event]:
    appeal_ids = [str(uuid.uuid4()) for _ in range(keys)]
    messages = []
    for n in range(count):
        appeal = appeal_ids[n % keys]
        event = outbox.event(
            topic_name,
            appeal,
            type="kz.appeals.test.v1",
            source="tests",
            subject=appeal,
            data={"n": n},
            id=event_id(appeal, "test", n),
        )
        messages.append(event)
    return messages


async def fill(pool: Any, messages: list[Event]) -> None:
    async with pool.acquire() as conn:
        for start in range(0, len(messages), 1000):
            async with conn.transaction():
                await outbox.add(conn, messages[start : start + 1000])


def assert_per_key_order(events: list[dict[str, Any]]) -> None:
    by_key: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if e["data"]["n"] not in by_key[e["_key"]]:
            by_key[e["_key"]].append(e["data"]["n"])
    for numbers in by_key.values():
        assert numbers == sorted(numbers)


async def run_until(relay: OutboxRelay, collected: Awaitable[list[dict[str, Any]]]) -> list[Any]:
    """Run the relay until the events are collected, then stop it."""
    task = asyncio.create_task(relay.run())
    try:
        return await collected
    finally:
        relay.stop()
        await task


async def test_ten_thousand_rows_are_each_published_once_in_per_key_order(
    relaying: Relaying, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    topic_name = await topic("outbox")
    messages = outbox_rows(topic_name, 10_000, keys=250)
    async with probe(topic_name) as events:
        await fill(relaying.pool, messages)
        seen = await run_until(relaying.relay(batch_size=500), events.collect(10_000, timeout=120))
    assert len(seen) == 10_000
    assert {e["id"] for e in seen} == {m.id for m in messages}
    assert all(e["_key"] == e["subject"] for e in seen)
    assert_per_key_order(seen)
    # Each key on the partition any Kafka client's default partitioner gives it.
    partitions = list(range(6))
    assert all(
        e["_partition"] == DefaultPartitioner()(e["_key"].encode(), partitions, partitions)
        for e in seen
    )
    async with relaying.pool.acquire() as conn:
        assert await outbox.pending(conn) == 0


async def test_events_larger_than_a_batch_and_many_topics_are_all_published(
    relaying: Relaying, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    # Batches are filled per topic partition by the relay: one that fills up is sent and a
    # new one started, and an event bigger than a whole batch still goes out (alone).
    names = [await topic("outbox-big", partitions=p) for p in (1, 3)]
    big = "x" * 300_000  # over the producer's 256 KiB batch
    messages = []
    for n in range(40):
        appeal = str(uuid.uuid4())
        data: dict[str, Any] = {"n": n, "padding": big if n % 10 == 0 else "y" * 20_000}
        messages.append(
            outbox.event(
                names[n % 2],
                appeal,
                type="kz.appeals.test.v1",
                source="tests",
                subject=appeal,
                data=data,
            )
        )

    async with probe(names[0]) as first, probe(names[1]) as second:

        async def both() -> list[dict[str, Any]]:
            return await first.collect(20, timeout=60) + await second.collect(20, timeout=60)

        await fill(relaying.pool, messages)
        seen = await run_until(relaying.relay(batch_size=500), both())
    assert sorted(e["data"]["n"] for e in seen) == list(range(40))
    assert {len(e["data"]["padding"]) for e in seen} == {300_000, 20_000}


async def test_a_topic_prefix_sends_events_to_topics_of_their_own(
    relaying: Relaying, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    # The rows keep the plain topic name; the relay puts the prefix in front when publishing.
    prefixed = await topic("bench.x")  # bench.x.<random>
    prefix, plain = relaying.prefix + "bench.x.", prefixed.removeprefix("bench.x.")
    messages = outbox_rows(plain, 20, keys=5)
    async with probe(prefixed) as events:
        await fill(relaying.pool, messages)
        seen = await run_until(relaying.relay(topic_prefix=prefix), events.collect(20, timeout=60))
    assert {e["id"] for e in seen} == {m.id for m in messages}
    async with relaying.pool.acquire() as conn:
        assert await outbox.pending(conn) == 0


class RelayCrash(Exception):
    pass


async def test_relay_killed_between_publish_and_delete_loses_nothing_and_reuses_event_ids(
    stack: Stack, database: str, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    topic_name = await topic("outbox")
    pool = await create_pool(database, "intake")
    producer = create_producer(stack.options(), "test-relay")
    await producer.start()
    messages = outbox_rows(topic_name, 1_000, keys=40)

    async def crash(published: int) -> None:
        raise RelayCrash(f"killed after publishing {published} rows, before deleting them")

    try:
        async with probe(topic_name) as events:
            await fill(pool, messages)
            crashing = OutboxRelay(
                pool,
                producer,
                schema="intake",
                topic_prefix=stack.prefix,
                batch_size=300,
                after_publish=crash,
            )
            async with pool.acquire() as conn:
                with pytest.raises(RelayCrash):
                    await crashing.publish_batch(conn)
                assert await outbox.pending(conn) == 1_000  # the delete was rolled back

            restarted = OutboxRelay(
                pool, producer, schema="intake", topic_prefix=stack.prefix, batch_size=300
            )
            task = asyncio.create_task(restarted.run())
            seen = await events.collect(1_300, timeout=60)
            restarted.stop()
            await task
        ids = [e["id"] for e in seen]
        assert len(ids) == 1_300  # the first 300 went out twice ...
        assert set(ids) == {m.id for m in messages}  # ... with the same ids, none lost
        assert_per_key_order(seen)
    finally:
        await producer.stop()
        await pool.close()


async def test_relay_wakes_on_signal_without_waiting_for_the_poll_interval(
    stack: Stack, database: str, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    topic_name = await topic("outbox", partitions=1)
    pool = await create_pool(database, "intake")
    producer = create_producer(stack.options(), "test-relay")
    await producer.start()
    relay = OutboxRelay(
        pool, producer, schema="intake", topic_prefix=stack.prefix, poll_interval=3600
    )
    task = asyncio.create_task(relay.run())
    try:
        async with probe(topic_name) as events:
            for _ in range(50):  # let the relay take the lead and go to sleep
                if relay.is_leader:
                    break
                await asyncio.sleep(0.05)
            message = outbox_rows(topic_name, 1, keys=1)[0]
            await fill(pool, [message])
            relay.wake()
            received = await events.wait_for_id(message.id, timeout=20)
        assert received["subject"] == message.key
    finally:
        relay.stop()
        await task
        await producer.stop()
        await pool.close()


async def test_a_commit_in_another_process_wakes_the_leader_through_postgresql(
    stack: Stack, database: str, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    """Two workers of one service: the one that commits is not the relay leader."""
    topic_name = await topic("outbox", partitions=1)
    pools = [await create_pool(database, "intake") for _ in range(2)]
    producers = [create_producer(stack.options(), f"test-relay-{n}") for n in range(2)]
    for producer in producers:
        await producer.start()
    # An hour between polls: the row can only go out because the leader was told.
    leader, other = (
        OutboxRelay(pool, producer, schema="intake", topic_prefix=stack.prefix, poll_interval=3600)
        for pool, producer in zip(pools, producers, strict=True)
    )
    leading = asyncio.create_task(leader.run())
    try:
        for _ in range(100):
            if leader.is_leader:
                break
            await asyncio.sleep(0.05)
        assert leader.is_leader
        waiting = asyncio.create_task(other.run())  # stays a candidate: the lock is taken
        await asyncio.sleep(0.2)
        async with probe(topic_name) as events:
            message = outbox_rows(topic_name, 1, keys=1)[0]
            await fill(pools[1], [message])
            other.wake()
            received = await events.wait_for_id(message.id, timeout=20)
        assert received["subject"] == message.key
        assert not other.is_leader and other.published == 0
        other.stop()
        await waiting
    finally:
        leader.stop()
        await leading
        for producer in producers:
            await producer.stop()
        for pool in pools:
            await pool.close()


async def test_only_one_relay_per_schema_leads(stack: Stack, database: str) -> None:
    pool = await create_pool(database, "intake")
    producer = create_producer(stack.options(), "test-relay")
    await producer.start()
    first = OutboxRelay(
        pool, producer, schema="intake", topic_prefix=stack.prefix, poll_interval=0.05
    )
    second = OutboxRelay(
        pool, producer, schema="intake", topic_prefix=stack.prefix, poll_interval=0.05
    )
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        await asyncio.sleep(1)
        assert [first.is_leader, second.is_leader].count(True) == 1
    finally:
        first.stop()
        second.stop()
        await asyncio.gather(*tasks)
        await producer.stop()
        await pool.close()


async def test_the_leaders_read_takes_the_oldest_rows_by_the_primary_key_however_many_were_deleted(
    relaying: Relaying, topic: Callable[..., Any]
) -> None:
    """The outbox is a queue: between two autovacuum rounds its pages fill with deleted rows
    while its statistics say it is nearly empty. With the planner's own choice, the relay's
    read was a sequential scan and a sort over all of those pages (1.7-2.0 ms a read on the
    `make up` stack at a few hundred appeals/s); its session takes the primary key."""
    topic_name = await topic("outbox-bloat")
    payload = "x" * 2400  # the size of an AppealAssigned carrying its appeal
    rows = [
        outbox.event(
            topic_name,
            str(n),
            type="kz.appeals.test.v1",
            source="tests",
            subject=str(n),
            data={"text": payload},
            id=str(uuid.uuid4()),
        )
        for n in range(6000)
    ]
    await fill(relaying.pool, rows)
    async with relaying.pool.acquire() as conn:
        await conn.execute("DELETE FROM outbox")  # published and settled; not vacuumed yet
        await conn.execute("ANALYZE outbox")
        explain = "EXPLAIN (FORMAT JSON) " + outbox.READ_SQL
        planned = json.dumps(await conn.fetchval(explain, 500, []))
        assert "Seq Scan" in planned, "the planner's own choice (why the session says otherwise)"
        await conn.execute(outbox.SESSION_SQL.format(ms=10_000))
        try:
            plan = json.dumps(await conn.fetchval(explain, 500, []))
            # The round's settling statement reads the next rows the same way.
            settle = await conn.fetchval(
                "EXPLAIN (FORMAT JSON) " + outbox.SETTLE_UNFENCED_SQL, [], [], [], None, 0, 500, []
            )
        finally:
            await conn.execute(outbox.SESSION_RESET_SQL)
    assert "Seq Scan" not in plan
    assert '"Index Name": "outbox_pkey"' in plan
    assert "outbox" not in scanned_in_full(settle)
    assert '"Index Name": "outbox_pkey"' in json.dumps(settle)


def scanned_in_full(plan: Any) -> set[str]:
    """The relations a JSON plan reads by a sequential scan."""
    if isinstance(plan, list):
        return set().union(*(scanned_in_full(p) for p in plan))
    if not isinstance(plan, dict):
        return set()
    found = {plan["Relation Name"]} if plan.get("Node Type") == "Seq Scan" else set()
    return found.union(*(scanned_in_full(v) for v in plan.values() if isinstance(v, list | dict)))


async def test_a_round_reads_the_rows_that_came_meanwhile_as_it_settles(
    relaying: Relaying, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    """Under traffic rows come while a round waits for Kafka. The statement that settles the
    round reads them too, so the next round sends them without a read of its own: one round
    trip less per round, on every appeal's way through both relays."""
    topic_name = await topic("outbox-next")
    messages = outbox_rows(topic_name, 5, keys=5)
    relay = relaying.relay(batch_size=3)
    statements: list[str] = []

    def logged(record: Any) -> None:
        if "outbox" in record.query:  # not asyncpg's own (it learns a new statement's types)
            statements.append(record.query)

    async with probe(topic_name) as events, relaying.pool.acquire() as conn:
        while await relaying.relay(batch_size=500).publish_batch(conn):
            pass  # rows other tests left behind: not counted
        await fill(relaying.pool, messages)
        conn.add_query_logger(logged)
        assert await relay.publish_batch(conn) == 3  # read 3; settle them and read 2 more
        assert await relay.publish_batch(conn) == 2  # those 2, with no read
        assert await relay.publish_batch(conn) == 0  # nothing left: a read finds nothing
        conn.remove_query_logger(logged)
        seen = await events.collect(5, timeout=30)
        assert await outbox.pending(conn) == 0
    assert statements == [
        outbox.READ_SQL,
        outbox.SETTLE_UNFENCED_SQL,
        outbox.SETTLE_UNFENCED_SQL,
        outbox.READ_SQL,
    ]
    assert sorted(e["id"] for e in seen) == sorted(m.id for m in messages)


async def test_a_topic_new_to_the_relay_is_looked_up_in_the_round_that_first_has_it(
    relaying: Relaying, topic: Callable[..., Any]
) -> None:
    """A producer knows no topic until asked. A relay that just started (a restarted routing
    process) meets its agencies' topics one round after another; each is looked up when it
    first comes, not after the pause that spares Kafka the look-ups of a topic found missing."""
    first, second = await topic("outbox-first"), await topic("outbox-second")
    relay = relaying.relay()
    async with relaying.pool.acquire() as conn:
        while await relaying.relay(batch_size=500).publish_batch(conn):
            pass  # rows other tests left behind
        await fill(relaying.pool, outbox_rows(first, 1, keys=1))
        assert await relay.publish_batch(conn) == 1
        await fill(relaying.pool, outbox_rows(second, 1, keys=1))
        # Within the pause after the first look-up, however slow the machine was.
        relay._next_lookup = time.monotonic() + 60
        assert await relay.publish_batch(conn) == 1
        assert await outbox.pending(conn) == 0  # the second topic's row went in its own round


async def test_a_relay_whose_producer_lost_its_metadata_task_sends_with_a_new_producer(
    relaying: Relaying,
    stack: Stack,
    topic: Callable[..., Any],
    probe: Callable[[str], EventProbe],
) -> None:
    """aiokafka's client ends its metadata synchroniser, silently, on the uvloop error a
    killed broker causes (a RuntimeError where it expects an OSError). Its producer then
    never learns a topic it has not sent to, nor a partition's new leader: the relay's rows
    for those would wait, then be parked. The relay must go on with a new producer."""
    before, after = await topic("outbox-before"), await topic("outbox-after")
    old = create_producer(stack.options(), "test-relay-old")
    await old.start()
    made: list[AIOKafkaProducer] = []

    async def renew() -> AIOKafkaProducer:
        made.append(create_producer(stack.options(), "test-relay-new"))
        await made[-1].start()
        return made[-1]

    relay = OutboxRelay(
        relaying.pool, old, schema="intake", topic_prefix=relaying.prefix, renew=renew
    )
    task = asyncio.create_task(relay.run())
    try:
        async with probe(before) as first, probe(after) as second:
            await fill(relaying.pool, outbox_rows(before, 1, keys=1))
            await first.collect(1, timeout=60)
            await end_metadata_synchroniser(old.client)
            await fill(relaying.pool, outbox_rows(after, 1, keys=1))  # a topic new to it
            assert len(await second.collect(1, timeout=60)) == 1
        assert relay.producer is made[0]
    finally:
        relay.stop()
        await task
        for producer in (old, *made):
            await producer.stop()
