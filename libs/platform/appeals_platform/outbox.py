"""Transactional outbox: events are rows written with the state change; a relay publishes them.

The relay claims rows in `seq` order with `FOR UPDATE SKIP LOCKED`, sends them with an
idempotent producer (`acks=all`), awaits the whole batch, then deletes the rows in the same
transaction. A crash between publish and delete re-publishes those rows with the same event
id, which consumers drop through their inbox. Only one relay per schema is active at a time
(an advisory lock), because two relays taking interleaved batches could reorder a key's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from prometheus_client import Counter
from pydantic import BaseModel

from appeals_platform import partitioning

log = logging.getLogger(__name__)

NOTICE_GAP_SECONDS = 0.05
_CONTENT = ("content-type", b"application/cloudevents+json")

PUBLISHED = Counter("outbox_published_total", "Outbox rows published to Kafka", ["schema"])


class Event(NamedTuple):
    """An event for the outbox: its CloudEvent already written as JSON (structured mode).

    Made by `event()`, the one place that writes an envelope. (A named tuple: two are made
    per routed appeal, and a frozen dataclass is built slowly.)
    """

    id: str
    topic: str
    key: str
    type: str
    payload: bytes


def _json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON")


def event(
    topic: str,
    key: str,
    *,
    type: str,
    source: str,
    subject: str,
    data: Any,
    id: str | None = None,
    time: datetime | None = None,
) -> Event:
    """A CloudEvents 1.0 event for `topic`, keyed by `key` (the appeal id, mostly).

    `data` is a contract model, a dict, or JSON already written (an `orjson.Fragment`: what a
    hot path has dumped once and reuses); ids are deterministic where the fact is (see
    `appeals_contracts.envelope.event_id`), random only for events that are not replayed.
    The JSON is written by orjson directly: building a `CloudEvent` model only to dump it
    cost more than everything else on routing's and intake's hot paths.
    """
    ident = id or str(uuid.uuid4())
    envelope = {
        "specversion": "1.0",
        "id": ident,
        "source": source,
        "type": type,
        "subject": subject,
        "time": time or datetime.now(UTC),
        "datacontenttype": "application/json",
        "data": data,
    }
    payload = orjson.dumps(envelope, default=_json, option=orjson.OPT_UTC_Z)
    return Event(ident, topic, key, type, payload)


# Payloads travel as UTF-8 bytes (bytea) and become text in the server: from orjson's bytes
# to the column with no decoding and re-encoding in Python on the way.
INSERT_SQL = """
INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
SELECT i, t, k, y, convert_from(p, 'UTF8')
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[]) AS x(i, t, k, y, p)
ON CONFLICT (id) DO NOTHING
"""


async def add(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Write events in the caller's transaction, in order; one statement for the whole batch.

    The only writer of the outbox table: an event already there (same id) is not added again.
    """
    if not events:
        return
    await conn.execute(
        INSERT_SQL,
        [e.id for e in events],
        [e.topic for e in events],
        [e.key for e in events],
        [e.type for e in events],
        [e.payload for e in events],
    )


CLAIM_SQL = """
SELECT seq, id::text AS id, aggregatetype, aggregateid, type, convert_to(payload, 'UTF8') AS payload
FROM outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
"""
DELETE_SQL = "DELETE FROM outbox WHERE seq = ANY($1::bigint[])"


def create_producer(options: dict[str, Any], client_id: str) -> AIOKafkaProducer:
    """The relay's producer; `options` from `appeals_platform.kafka.client_options`."""
    return AIOKafkaProducer(
        **options,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30000,
    )


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        schema: str,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        after_publish: Callable[[int], Awaitable[None]] | None = None,
        topic_prefix: str = "",
    ) -> None:
        self._pool = pool
        self._topic_prefix = topic_prefix
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._after_publish = after_publish
        self._wake = asyncio.Event()
        self._stopping = False
        self._channel = f"outbox_{schema}"
        self._notice_due = False
        self._notice: asyncio.Task[None] | None = None
        self.published = 0
        self.is_leader = False

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows, so they go out without a poll delay.

        The leader may be another process of the service (several workers share a schema):
        it is then told through PostgreSQL (NOTIFY on its channel), one notice for however
        many commits ask while one is being sent.
        """
        if self.is_leader:
            self._wake.set()
            return
        self._notice_due = True
        if self._notice is None:
            self._notice = asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        try:
            while self._notice_due and not self._stopping:
                self._notice_due = False
                async with self._pool.acquire() as conn:
                    await conn.execute("SELECT pg_notify($1, '')", self._channel)
                # At most one notice per gap: under load the leader is busy anyway, and a
                # notice per commit made it publish in smaller, costlier batches.
                await asyncio.sleep(NOTICE_GAP_SECONDS)
        except Exception:
            log.warning("could not notify the outbox leader; it will poll", exc_info=True)
        finally:
            self._notice = None

    def _on_notice(self, *_: object) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        async with conn.transaction():
            rows = await conn.fetch(CLAIM_SQL, self._batch_size)
            if not rows:
                return 0
            await self._send(rows)
            if self._after_publish is not None:
                await self._after_publish(len(rows))
            await conn.execute(DELETE_SQL, [row["seq"] for row in rows])
        self.published += len(rows)
        PUBLISHED.labels(self._schema).inc(len(rows))
        return len(rows)

    async def _send(self, rows: Sequence[asyncpg.Record]) -> None:
        """Publish rows in claim order and wait until Kafka has acknowledged all of them.

        Record batches are filled here, one per topic partition, and handed to the producer
        whole: `send()` per record cost a future, a partitioner call in pure Python and an
        event-loop look-up each, more than building the records. A full batch is handed over
        before the next one for its partition is started, so each key keeps its order.
        """
        producer = self._producer
        keys = [row["aggregateid"].encode() for row in rows]
        prefix = self._topic_prefix
        counts = {
            topic: len(await producer.partitions_for(topic))
            for topic in {prefix + row["aggregatetype"] for row in rows}
        }
        hashes = partitioning.murmur2(keys)
        open_batches: dict[tuple[str, int], BatchBuilder] = {}
        deliveries: list[asyncio.Future[Any]] = []
        for row, key, hashed in zip(rows, keys, hashes, strict=True):
            topic = prefix + row["aggregatetype"]
            partition = partitioning.partition_of(hashed, counts[topic])
            value = row["payload"]
            headers = [("ce_id", row["id"].encode()), ("ce_type", row["type"].encode()), _CONTENT]
            batch = open_batches.get((topic, partition))
            if (
                batch is not None
                and batch.append(timestamp=None, key=key, value=value, headers=headers) is not None
            ):
                continue
            if batch is not None:  # full
                deliveries.append(await producer.send_batch(batch, topic, partition=partition))
            batch = open_batches[(topic, partition)] = producer.create_batch()
            # An empty batch takes any record, however large.
            batch.append(timestamp=None, key=key, value=value, headers=headers)
        for (topic, partition), batch in open_batches.items():
            deliveries.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*deliveries)

    async def run(self) -> None:
        while not self._stopping:
            try:
                async with self._pool.acquire() as conn:
                    await self._lead(conn)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        lock = "SELECT pg_try_advisory_lock(hashtext('outbox:' || $1))"
        while not self._stopping and not await conn.fetchval(lock, self._schema):
            await self._sleep()
        self.is_leader = True
        # Other processes' commits arrive as notices on this connection, between batches.
        await conn.add_listener(self._channel, self._on_notice)
        try:
            while not self._stopping:
                if await self.publish_batch(conn) < self._batch_size:
                    await self._sleep()
        finally:
            self.is_leader = False
            if not conn.is_closed():
                await conn.remove_listener(self._channel, self._on_notice)
                await conn.execute(
                    "SELECT pg_advisory_unlock(hashtext('outbox:' || $1))", self._schema
                )

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._poll_interval)
        self._wake.clear()


async def pending(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox"))
