"""bench-outbox: outbox relay throughput (rows/s) beside a raw aiokafka producer, same run.

Both send the same CloudEvents (about 600 bytes, keyed by appeal id) to fresh 6-partition
topics with an idempotent producer and acks=all. The raw baseline only sends; the relay also
reads the rows, holds its lease (renewed with every delete) and deletes what Kafka acknowledged.
Goal (issue 2): the relay reaches at least half of the raw rate at batch sizes >= 100.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from appeals_contracts.envelope import event_id
from appeals_platform import outbox
from appeals_platform.migrations import migrate
from appeals_platform.outbox import Event, OutboxRelay, create_producer
from appeals_platform.pool import create_pool
from appeals_tools.stack.kafka import admin_options
from appeals_tools.stack.postgres import database_url

ROWS = int(os.environ.get("BENCH_ROWS", "50000"))
BATCHES = (100, 500, 1000)
TEXT = (
    "Во дворе дома по ул. Ерубаева 12 мусор не вывозят вторую неделю, контейнеры переполнены. " * 4
)


def say(message: str) -> None:
    print(message, flush=True)


def messages(topic: str, count: int) -> list[Event]:
    keys = [str(uuid.uuid4()) for _ in range(2000)]
    result = []
    for n in range(count):
        key = keys[n % len(keys)]
        event = outbox.event(
            topic,
            key,
            type="kz.appeals.bench.v1",
            source="/bench",
            subject=key,
            id=event_id(key, "bench", n),
            data={"n": n, "text": TEXT},
        )
        result.append(event)
    return result


async def new_topic(admin: AIOKafkaAdminClient) -> str:
    name = f"bench.outbox.{uuid.uuid4().hex[:8]}"
    await admin.create_topics([NewTopic(name, 6, 1)])
    return name


async def raw_producer_rate(topic: str, rows: list[Event], batch: int) -> float:
    producer = create_producer(admin_options(), "bench-raw")
    await producer.start()
    payloads = [(m.key.encode(), m.payload) for m in rows]
    try:
        started = time.perf_counter()
        for start in range(0, len(payloads), batch):
            deliveries = [
                await producer.send(topic, value=value, key=key)
                for key, value in payloads[start : start + batch]
            ]
            await asyncio.gather(*deliveries)
        return len(payloads) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def relay_rate(pool: asyncpg.Pool, topic: str, rows: list[Event], batch: int) -> float:
    async with pool.acquire() as conn:
        for start in range(0, len(rows), 5000):
            async with conn.transaction():
                await outbox.add(conn, rows[start : start + 5000])
    producer = create_producer(admin_options(), "bench-relay")
    await producer.start()
    relay = OutboxRelay(pool, producer, schema="bench", batch_size=batch)
    try:
        started = time.perf_counter()
        async with pool.acquire() as conn:
            assert await relay.take_lease(conn)
            while await relay.publish_batch(conn):
                pass
            await relay.release_lease(conn)
        return len(rows) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def main() -> int:
    database = f"bench_outbox_{uuid.uuid4().hex[:6]}"
    admin_db = await asyncpg.connect(database_url())
    await admin_db.execute(f'CREATE DATABASE "{database}"')
    admin = AIOKafkaAdminClient(**admin_options())
    await admin.start()
    topics: list[str] = []
    try:
        dsn = database_url(database)
        conn = await asyncpg.connect(dsn)
        await migrate(conn, "bench", [])
        await conn.close()
        pool = await create_pool(dsn, "bench", min_size=2, max_size=4)
        say(
            f"bench-outbox: {ROWS:,} events of ~{len(messages('x', 1)[0].payload)} "
            "bytes, 2,000 keys, 6 partitions, idempotent producer, acks=all"
        )
        header = ("batch", "raw producer rows/s", "outbox relay rows/s", "relay/raw")
        say(f"{header[0]:>6} {header[1]:>20} {header[2]:>20} {header[3]:>10}")
        worst = 1.0
        for batch in BATCHES:
            raw_topic, relay_topic = await new_topic(admin), await new_topic(admin)
            topics += [raw_topic, relay_topic]
            say(f"  batch {batch}: raw producer ...")
            raw = await raw_producer_rate(raw_topic, messages(raw_topic, ROWS), batch)
            say(f"  batch {batch}: outbox relay ...")
            relayed = await relay_rate(pool, relay_topic, messages(relay_topic, ROWS), batch)
            worst = min(worst, relayed / raw)
            say(f"{batch:>6} {raw:>20,.0f} {relayed:>20,.0f} {relayed / raw:>10.2f}")
        await pool.close()
        verdict = "meets" if worst >= 0.5 else "misses"
        say(f"lowest relay/raw ratio {worst:.2f}: {verdict} the goal of >= 0.5")
        return 0
    finally:
        if topics:
            await admin.delete_topics(topics)
        await admin.close()
        await admin_db.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin_db.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
