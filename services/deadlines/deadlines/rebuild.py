"""Rebuild every clock and alert from the Kafka topics, read from their earliest offsets.

The projection (clocks, alerts, answers, redirects, compliance aggregates) is emptied and
refilled in one transaction under ACCESS EXCLUSIVE locks, so consumers and tickers of a
running service wait and then continue on the rebuilt state. Events are applied in three
passes, each in time order: assignments, redirects and answers; then extensions; then the
alerts and acknowledgements the service raised itself, which restore the timers exactly.
Calendar overrides are configuration and stay as they are.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from appeals_platform.inbox import first_seen
from appeals_platform.records import KafkaRecord, Record
from deadlines import db
from deadlines.context import Context
from deadlines.inputs import CONSUMER, RANK, Input, TopicNames, apply_run, parse_batch, runs

log = logging.getLogger(__name__)

PASSES = ((0, 1, 2), (3,), (4, 5))


@dataclass(frozen=True)
class RebuildReport:
    records: int
    applied: int
    skipped: int
    clocks: int
    alerts: int


async def read_history(
    kafka_options: dict[str, Any],
    names: TopicNames,
    progress: Callable[[str], None] | None = None,
    topic_prefix: str = "",
) -> list[KafkaRecord]:
    """Every record on the topics, from the earliest offsets up to their current ends.

    `kafka_options` from `appeals_platform.kafka.client_options`. A topic this principal may
    not describe is absent from the metadata, so it fails here instead of hanging in assign().
    The topics are read under the service's `topic_prefix`; the records keep the plain names.
    """
    consumer = AIOKafkaConsumer(
        **kafka_options,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        client_id=f"deadlines-rebuild-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()
        partitions: list[TopicPartition] = []
        for topic in (topic_prefix + name for name in names.history):
            numbers = metadata.partitions_for_topic(topic)
            if not numbers:
                raise RuntimeError(
                    f"topic {topic} does not exist or this principal may not read it"
                )
            partitions += [TopicPartition(topic, n) for n in sorted(numbers)]
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        # Explicit seeks: seek_to_beginning() races the reset that assign() starts.
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        pending = {tp for tp in partitions if ends[tp] > starts[tp]}
        records: list[KafkaRecord] = []
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500, max_records=5000)
            for tp, batch in batches.items():
                records += [
                    Record(
                        r.topic.removeprefix(topic_prefix),
                        r.partition,
                        r.offset,
                        r.key,
                        r.value,
                        tuple(r.headers or ()),
                        r.timestamp,
                    )
                    for r in batch
                    if r.offset < ends[tp]
                ]
                if batch and batch[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
            if progress is not None and batches:
                progress(f"read {len(records):,} records")
        return records
    finally:
        await consumer.stop()


UNPUBLISHED = """
SELECT seq, aggregatetype, aggregateid, payload::text AS payload FROM outbox
WHERE aggregatetype = ANY($1::text[]) ORDER BY seq
"""


async def unpublished(conn: asyncpg.Connection, names: TopicNames) -> list[KafkaRecord]:
    """Extensions and alerts still in the outbox: decided, so part of the history."""
    rows = await conn.fetch(UNPUBLISHED, [names.deadline_events, names.alerts])
    return [
        Record(
            r["aggregatetype"], -1, r["seq"], r["aggregateid"].encode(), r["payload"].encode(), ()
        )
        for r in rows
    ]


async def applies_in_savepoint(conn: asyncpg.Connection, run: list[Input], ctx: Context) -> bool:
    """Apply a group of events in a savepoint of its own; False (logged, nothing kept) when one
    of them can make no clock."""
    try:
        async with conn.transaction():
            await apply_run(conn, run, ctx)
    except ValueError as exc:
        log.warning(
            "rebuild could not apply %s: %s",
            run[0].event_id if len(run) == 1 else f"a group of {len(run)}",
            exc,
        )
        return False
    return True


async def rebuild(
    conn: asyncpg.Connection,
    ctx: Context,
    kafka_options: dict[str, Any],
    names: TopicNames,
    progress: Callable[[str], None] | None = None,
    topic_prefix: str = "",
) -> RebuildReport:
    """Empty the projection and replay the topics into it, in the caller's transaction."""
    replay = replace(ctx, emit=False)
    await db.wipe_projection(conn, [CONSUMER])
    # The ends are read after the locks are held: an event after them is the live
    # consumer's, which waits for this transaction and then applies it to the rebuilt state.
    records = await read_history(kafka_options, names, progress, topic_prefix)
    records += await unpublished(conn, names)
    items, dead = parse_batch(records, names)
    live = [i for i in items if RANK[i.kind] in PASSES[0]]
    await first_seen(conn, CONSUMER, [i.event_id for i in live])
    applied = skipped = 0
    seen: set[str] = set()
    # The compliance aggregates are folded once, at the end: per statement, their triggers
    # cost more than applying the events.
    async with db.compliance_deferred(conn):
        for ranks in PASSES:
            ordered = sorted((i for i in items if RANK[i.kind] in ranks), key=lambda i: i.order)
            fresh = []
            for item in ordered:
                if item.event_id not in seen:
                    seen.add(item.event_id)
                    fresh.append(item)
            for run in runs(fresh):
                if await applies_in_savepoint(conn, run, replay):
                    applied += len(run)
                elif len(run) == 1:
                    skipped += 1
                else:
                    # A group with an event that makes no clock: each on its own, to skip just it.
                    for item in run:
                        if await applies_in_savepoint(conn, [item], replay):
                            applied += 1
                        else:
                            skipped += 1
            if progress is not None:
                progress(f"applied {applied:,} events")
    clocks = int(await conn.fetchval("SELECT count(*) FROM clocks"))
    raised = int(await conn.fetchval("SELECT count(*) FROM alerts"))
    return RebuildReport(len(records), applied, skipped + len(dead), clocks, raised)
