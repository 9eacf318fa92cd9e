"""Transactional outbox: events are rows written with the state change; a relay publishes them.

The relay reads the oldest rows in `seq` order (one statement, no transaction), sends them with
an idempotent producer (`acks=all`) and waits a bounded time for Kafka's answers, then deletes
the rows Kafka acknowledged in one short statement. No transaction is open while Kafka is
waited for, however long it is away. A crash between publish and delete re-publishes those
rows with the same event id, which consumers drop through their inbox.

Rows the broker refuses for good (a topic that never came, a record over the size limit, an
illegal topic name) are moved to `outbox_parked` with the refusal, and so are the rows of the
same topic and key behind them, in order, until `appeals-outbox parked retry` puts them back;
every other key keeps flowing. A missing topic is first waited for (`topic_wait`): an agency
added at run time gets its topic from the provisioner a moment after routing wrote to it.

One relay per schema is active at a time, the holder of the `outbox_lease` row
(`appeals_platform.lease`), because two relays taking interleaved batches could reorder a key's
events. A leader that hangs loses the lease when it stops renewing it; one that wakes up checks
its lease before each batch it sends and deletes only while holding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer, TopicPartition, errors
from aiokafka.producer.message_accumulator import BatchBuilder
from prometheus_client import Counter, Gauge
from pydantic import BaseModel

from appeals_platform import lease, partitioning, sql
from appeals_platform.kafka import background_failure, stop_within
from appeals_platform.lease import Lease

log = logging.getLogger(__name__)

NOTICE_GAP_SECONDS = 0.05
# How long a producer replaced for a dead background task may take to stop before it is left.
STOP_OLD_PRODUCER = 5.0
_CONTENT = ("content-type", b"application/cloudevents+json")

PUBLISHED = Counter("outbox_published_total", "Outbox rows published to Kafka", ["schema"])
PARKED_TOTAL = Counter(
    "outbox_parked_total", "Outbox rows parked: refused by Kafka for good", ["schema", "topic"]
)
# (`outbox_parked` itself is taken: the counter above is `outbox_parked` to Prometheus.)
PARKED = Gauge(
    "outbox_parked_rows", "Rows in the parked table (waiting for a retry)", ["schema", "topic"]
)
DEPTH = Gauge("outbox_depth", "Outbox rows not yet published", ["schema"])
# The topics each schema's PARKED gauge has a series for in this process (the gauge is
# process-wide too): a topic whose parked rows were all retried is set back to 0.
_PARKED_SHOWN: dict[str, set[str]] = {}
OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds", "Age of the oldest outbox row not yet published", ["schema"]
)


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
_INSERT = """
INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
SELECT i, t, k, y, convert_from(p, 'UTF8')
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[])
    WITH ORDINALITY AS x(i, t, k, y, p, n){where}
ORDER BY n
ON CONFLICT (id) DO NOTHING
"""
INSERT_SQL = _INSERT.format(where="")


def columns(events: Sequence[Event]) -> list[list[Any]]:
    """The events as the five arrays the outbox's INSERT takes, in this order."""
    return [
        [e.id for e in events],
        [e.topic for e in events],
        [e.key for e in events],
        [e.type for e in events],
        [e.payload for e in events],
    ]


def insert_part(first: int, *, keys_in: str) -> str:
    """The outbox's INSERT as a data-modifying part of a caller's statement: `columns()` at
    parameters `first`..`first + 4`, and only the events whose key is the text of an `id` of
    the caller's CTE `keys_in` (the rows it inserted).

    For a state change and its events in one statement: in autocommit a statement is its own
    transaction, so they still commit together, without the BEGIN and COMMIT round trips and
    the outbox's own INSERT. Each of those round trips waits for a core on a busy machine.
    """
    where = f"\nWHERE k IN (SELECT id::text FROM {keys_in})"
    return sql.numbered(_INSERT.format(where=where), first)


async def add(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Write events in the caller's transaction, in order; one statement for the whole batch.

    The outbox's writer, with `insert_part` for a statement that writes its state change and
    its events at once: an event already there (same id) is not added again.
    """
    if not events:
        return
    await conn.execute(INSERT_SQL, *columns(events))


# The relay's read: the oldest rows in `seq` order, past the topics it is waiting for (their
# rows stay where they are, in order, until the topic exists); `behind` marks a row whose
# topic and key already have a parked row, which must not overtake it.
_NEXT = """
SELECT seq, id::text AS id, aggregatetype, aggregateid, type,
       convert_to(payload, 'UTF8') AS payload,
       (aggregatetype, aggregateid) IN (SELECT aggregatetype, aggregateid FROM outbox_parked)
           AS behind
FROM outbox WHERE aggregatetype <> ALL(${topics}::text[]){past} ORDER BY seq LIMIT ${limit}
"""
READ_SQL = _NEXT.format(limit=1, topics=2, past="")
# The end of a round, one statement (so one short transaction): renew the lease and, only if
# it was still held, delete what Kafka acknowledged and move what it refused to the parked
# table. The lease row stays locked until the commit: a relay taking over waits for it.
# The same statement reads the rows to send next (`next`, the relay's read): under traffic
# rows came while Kafka was waited for, and reading them here saves the read's round trip
# in each round. Its snapshot still holds the rows this statement deletes: left out by seq.
# (It cannot see what this statement parks either: a round that parks reads again.)
_SETTLE = """
WITH held AS ({held}),
gone AS (DELETE FROM outbox WHERE seq = ANY($1::bigint[]) AND EXISTS (SELECT FROM held)),
why AS (
    SELECT w.seq, w.error FROM unnest($2::bigint[], $3::text[]) AS w(seq, error)
    WHERE EXISTS (SELECT FROM held)
),
moved AS (
    DELETE FROM outbox o USING why WHERE o.seq = why.seq
    RETURNING o.seq, o.id, o.aggregatetype, o.aggregateid, o.type, o.payload, o.created_at,
              why.error
),
parked AS (
    INSERT INTO outbox_parked (seq, id, aggregatetype, aggregateid, type, payload, created_at,
                               error)
    SELECT seq, id, aggregatetype, aggregateid, type, payload, created_at, error FROM moved
    ON CONFLICT (seq) DO NOTHING
    RETURNING aggregatetype
),
status AS (
    SELECT EXISTS (SELECT FROM held) AS held,
           coalesce((SELECT array_agg(aggregatetype) FROM parked), '{{}}') AS parked
),
next AS ({next})
SELECT status.held, status.parked, next.* FROM status LEFT JOIN next ON true ORDER BY next.seq
"""
_SETTLE_NEXT = _NEXT.format(
    limit=6, topics=7, past=" AND seq <> ALL($1::bigint[]) AND seq <> ALL($2::bigint[])"
)
SETTLE_SQL = _SETTLE.format(
    held="UPDATE outbox_lease SET expires_at = now() + make_interval(secs => $5), "
    "backend_pid = pg_backend_pid() "
    "WHERE name = 'outbox' AND holder = $4 AND expires_at > now() RETURNING 1",
    next=_SETTLE_NEXT,
)
# A relay that does not lead (a benchmark, a test calling publish_batch) settles unfenced.
SETTLE_UNFENCED_SQL = _SETTLE.format(
    held="SELECT WHERE $4::text IS NULL OR $5::float8 > 0", next=_SETTLE_NEXT
)
MEASURE_SQL = """
SELECT (SELECT count(*) FROM outbox) AS depth,
       (SELECT extract(epoch FROM now() - created_at) FROM outbox ORDER BY seq LIMIT 1) AS age
"""
MEASURE_PARKED_SQL = "SELECT aggregatetype, count(*) AS n FROM outbox_parked GROUP BY aggregatetype"
# The relay's own session: no statement may hang it, no transaction it leaves open can pin
# vacuum, and PostgreSQL notices a peer that vanished (keepalives on its side of the socket).
# And it reads the outbox by its primary key only. The outbox is a queue: its statistics say
# "a few live rows" while its pages still hold every row deleted since autovacuum last came
# (a minute of traffic, megabytes), so the planner chose a sequential scan and sort for the
# oldest rows, and each read walked all of those pages: 1.7-2.0 ms a read at a few hundred
# appeals/s against 0.4 ms by the index (measured 7 Dec 2026, make up stack, 16 MB of dead
# rows). The index is the right plan at any size; the statistics cannot say so.
SESSION_SQL = """
SET statement_timeout = '{ms}ms';
SET idle_in_transaction_session_timeout = '{ms}ms';
SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3;
SET enable_seqscan = off
"""
SESSION_RESET_SQL = """
RESET statement_timeout; RESET idle_in_transaction_session_timeout;
RESET tcp_keepalives_idle; RESET tcp_keepalives_interval; RESET tcp_keepalives_count;
RESET enable_seqscan
"""

# Refusals no retry can cure: the record (or the batch it was in) is over a size limit, the
# topic name is illegal, a broker policy or validation refused it. Anything else (the broker
# away, a leader election, a timeout) is waited out.
_REFUSED_FOR_GOOD = (
    errors.MessageSizeTooLargeError,
    errors.RecordTooLargeError,
    errors.RecordListTooLargeError,
    errors.InvalidTopicError,
    errors.InvalidTimestampError,
    errors.PolicyViolationError,
    errors.CorruptRecordException,
)
_INVALID_RECORD = 87  # INVALID_RECORD: the broker's validation (aiokafka has no class for it)
_TOPIC_NOT_THERE = (errors.UnknownTopicOrPartitionError, errors.TopicAuthorizationFailedError)
_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")
BEHIND = "behind a parked row of the same topic and key"
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0
MEASURE_EVERY = 5.0


def _give_back_sequence(producer: AIOKafkaProducer, topic: str, partition: int, count: int) -> None:
    """Undo the sequence numbers of a batch the broker refused for good.

    aiokafka (< 0.15) numbers an idempotent producer's batches per partition as it sends them
    and keeps the numbers when the broker refuses a batch (the Java client resets them,
    KIP-360): the partition's next batch would be refused as out of sequence, for ever. The
    refused batch was its partition's last (a partition's batches go one after another), so
    its numbers are the ones to give back.
    """
    numbering = getattr(producer, "_txn_manager", None)
    if numbering is not None:
        numbering.increment_sequence_number(TopicPartition(topic, partition), -count)


def refused_for_good(error: BaseException) -> bool:
    return isinstance(error, _REFUSED_FOR_GOOD) or getattr(error, "errno", None) == _INVALID_RECORD


def describe(error: BaseException) -> str:
    """The refusal as stored and logged: the error's class and message (never the record)."""
    text = str(error)
    return f"{type(error).__name__}: {text}"[:500] if text else type(error).__name__


def create_producer(
    options: dict[str, Any], client_id: str, *, request_timeout_ms: int = 30000
) -> AIOKafkaProducer:
    """The relay's producer; `options` from `appeals_platform.kafka.client_options`.

    `request_timeout_ms` bounds each produce request and how long a batch waits for a leader
    before it fails (aiokafka's delivery timeout); the relay then tries again.
    """
    return AIOKafkaProducer(
        **options,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=request_timeout_ms,
    )


class _Batch(NamedTuple):
    builder: BatchBuilder
    seqs: list[int]
    alone: bool  # a row sent in a batch of its own (to find which row of a batch was refused)


@dataclass
class Outcome:
    """What one round did: rows Kafka acknowledged, rows to park (with why), and the last
    passing failure (None: none), which makes the relay back off."""

    delivered: list[int] = field(default_factory=list)
    parked: dict[int, str] = field(default_factory=dict)
    failure: str | None = None
    refusal: str | None = None  # a partition's passing failure, noted while sending


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
        service: str | None = None,
        lease_seconds: float = 10.0,
        delivery_timeout: float = 60.0,
        topic_wait: float = 60.0,
        statement_timeout: float = 10.0,
        renew: Callable[[], Awaitable[AIOKafkaProducer]] | None = None,
    ) -> None:
        self._pool = pool
        self._topic_prefix = topic_prefix
        self._producer = producer
        # Makes and starts a producer to replace one whose background task died.
        self._renew = renew
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._after_publish = after_publish
        self._delivery_timeout = delivery_timeout
        self._topic_wait = topic_wait
        self._statement_timeout = statement_timeout
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self._channel = f"outbox_{schema}"
        self._notice_due = False
        self._notice: asyncio.Task[None] | None = None
        self._lease = Lease("outbox", lease.holder_name(service or schema), lease_seconds)
        # The leader's connection serves the relay's rounds and its heartbeats, one at a time.
        self._conn_lock = asyncio.Lock()
        # Topics that were not there (unknown, or not yet allowed to us): since when, by
        # the monotonic clock; their rows wait up to `topic_wait`, then are parked.
        self._missing: dict[str, float] = {}
        self._next_lookup = 0.0
        self._isolate: set[int] = set()  # rows of a refused batch: next time each alone
        self._pending: tuple[asyncio.Future[Any], Outcome] | None = None
        # The rows the last round's settling read: the next round sends them without a read.
        self._next: list[asyncpg.Record] = []
        self._backoff = 0.0
        self._failing_since: float | None = None
        self._measured = 0.0
        self.published = 0
        self.parked = 0
        self.is_leader = False

    @property
    def holder(self) -> str:
        return self._lease.holder

    @property
    def producer(self) -> AIOKafkaProducer:
        """The producer the relay sends with now (a new one after `_replace_dead_producer`)."""
        return self._producer

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
        self._stopped.set()
        self._wake.set()

    async def take_lease(self, conn: asyncpg.Connection) -> bool:
        """Lead this schema's relay if nobody else does (or their lease expired)."""
        self.is_leader = await self._lease.take(conn, self._statement_timeout)
        return self.is_leader

    async def release_lease(self, conn: asyncpg.Connection) -> None:
        """Stop leading at once, so another relay need not wait for the lease to run out."""
        self.is_leader = False
        await self._lease.release(conn, self._statement_timeout)

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        """One round: read the oldest rows, send them, then delete what Kafka acknowledged and
        park what it refused for good; the number of rows read.

        No transaction is open while Kafka is waited for: the read is one statement, the
        settling another. A leader that lost its lease (it was frozen, say) sends nothing
        and deletes nothing; what it sent meanwhile is sent again by the new leader, with
        the same event ids, which consumers' inboxes drop.
        """
        fenced = self.is_leader
        delivery: asyncio.Future[Any] | None
        if self._pending is not None:  # the last round's sends, still unanswered
            delivery, outcome = self._pending
            read = self._batch_size
        else:
            if self._missing and time.monotonic() >= self._next_lookup:
                await self._partitions(set(), Outcome())  # has a waited-for topic come?
            rows, self._next = self._next, []
            if not rows:
                async with self._conn_lock:
                    rows = await conn.fetch(
                        READ_SQL,
                        self._batch_size,
                        self._waiting(),
                        timeout=self._statement_timeout,
                    )
            if not rows or (fenced and not self._lease.held):
                return 0
            read = len(rows)
            outcome = Outcome()
            delivery = await self._send(rows, fenced, outcome)
        if delivery is not None and not await self._answered(delivery, outcome):
            self._pace(outcome)
            return 0
        outcome.failure = outcome.refusal
        if self._after_publish is not None:
            await self._after_publish(len(outcome.delivered))
        await self._settle(conn, outcome, fenced)
        self._pace(outcome)
        return read

    async def _answered(self, delivery: asyncio.Future[Any], outcome: Outcome) -> bool:
        """Wait a bounded time for a round's sends. Unanswered, they stay pending (the producer
        of an idempotent relay retries them until the broker takes them) and the next round
        waits for them again instead of sending the same rows once more."""
        done, _ = await asyncio.wait({delivery}, timeout=self._delivery_timeout)
        if not done:
            self._pending = (delivery, outcome)
            outcome.failure = f"no answer from Kafka within {self._delivery_timeout:.0f}s"
            return False
        self._pending = None
        delivery.result()
        return True

    def _drop_pending(self) -> None:
        if self._pending is not None:
            self._pending[0].cancel()
            self._pending = None

    def _waiting(self) -> list[str]:
        """Topics whose rows are not read now: missing, and still within their wait."""
        now = time.monotonic()
        return [t for t, since in self._missing.items() if now - since < self._topic_wait]

    async def _settle(self, conn: asyncpg.Connection, outcome: Outcome, fenced: bool) -> None:
        if not outcome.delivered and not outcome.parked:
            return
        parked = sorted(outcome.parked)
        started = time.monotonic()
        async with self._conn_lock:
            # What commits from here on is not in this statement's read: its notice (or the
            # wake of a consumer in this process) must wake the relay again. (A round that
            # parks rows reads again, so what woke it so far still counts.)
            if not parked:
                self._wake.clear()
            rows = await conn.fetch(
                SETTLE_SQL if fenced else SETTLE_UNFENCED_SQL,
                outcome.delivered,
                parked,
                [outcome.parked[seq] for seq in parked],
                self._lease.holder if fenced else None,
                self._lease.seconds if fenced else 0.0,
                self._batch_size,
                self._waiting(),
                timeout=self._statement_timeout,
            )
        row = rows[0]
        if fenced:
            self._lease.confirm(started, row["held"])
            if not row["held"]:
                log.warning("outbox relay of %s lost its lease; it stops relaying", self._schema)
                self.is_leader = False
                return
        if not parked:
            self._next = [r for r in rows if r["seq"] is not None]
        self._isolate.difference_update(outcome.delivered)
        self._isolate.difference_update(parked)
        self.published += len(outcome.delivered)
        PUBLISHED.labels(self._schema).inc(len(outcome.delivered))
        if row["parked"]:
            self._count_parked(row["parked"], outcome, parked)

    def _count_parked(self, topics: list[str], outcome: Outcome, seqs: list[int]) -> None:
        self.parked += len(topics)
        by_topic: dict[str, int] = {}
        for topic in topics:
            by_topic[topic] = by_topic.get(topic, 0) + 1
        for topic, count in by_topic.items():
            PARKED_TOTAL.labels(self._schema, topic).inc(count)
        for topic, count in by_topic.items():
            PARKED.labels(self._schema, topic).inc(count)
        _PARKED_SHOWN.setdefault(self._schema, set()).update(by_topic)
        # One line per round: topics and counts, the first refusal (no payload, no key).
        reasons = sorted({outcome.parked[s] for s in seqs if outcome.parked[s] != BEHIND})
        log.warning(
            "outbox rows parked: %s",
            ", ".join(f"{t} ({n})" for t, n in sorted(by_topic.items())),
            extra={"schema": self._schema, "parked": by_topic, "errors": reasons[:3]},
        )

    def _pace(self, outcome: Outcome) -> None:
        """Back off while Kafka fails and nothing gets through; log a streak's start and end."""
        if outcome.failure is None or outcome.delivered:
            if self._failing_since is not None:
                log.info(
                    "outbox relay of %s delivers again after %.0fs",
                    self._schema,
                    time.monotonic() - self._failing_since,
                )
            self._failing_since, self._backoff = None, 0.0
            return
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning(
                "outbox relay of %s cannot deliver; retrying with backoff: %s",
                self._schema,
                outcome.failure,
            )
        self._backoff = min(BACKOFF_MAX, max(BACKOFF_FIRST, self._backoff * 2))

    async def _send(
        self, rows: Sequence[asyncpg.Record], fenced: bool, outcome: Outcome
    ) -> asyncio.Future[Any] | None:
        """Publish rows in `seq` order and wait (a bounded time) for Kafka's answers.

        Record batches are filled here, one after another per topic partition, and handed to
        the producer whole: `send()` per record cost a future, a partitioner call in pure
        Python and an event-loop look-up each, more than building the records. A partition's
        next batch is handed over only once the one before it was acknowledged, so a batch
        that fails stops its partition there: nothing of a key ever overtakes an earlier row
        of it that was not delivered. Returns the deliveries under way (None: nothing to send).
        """
        producer = self._producer
        prefix = self._topic_prefix
        counts = await self._partitions({row["aggregatetype"] for row in rows}, outcome)
        keys = [row["aggregateid"].encode() for row in rows]
        hashes = partitioning.murmur2(keys)
        chains: dict[tuple[str, int], list[_Batch]] = {}
        isolate = self._isolate
        for row, key, hashed in zip(rows, keys, hashes, strict=True):
            seq = row["seq"]
            if row["behind"]:
                outcome.parked[seq] = BEHIND
                continue
            count = counts[row["aggregatetype"]]
            if isinstance(count, str):  # the topic is refused for good: park its rows
                outcome.parked[seq] = count
                continue
            if count is None:  # waiting for the topic
                continue
            topic = prefix + row["aggregatetype"]
            partition = partitioning.partition_of(hashed, count)
            value = row["payload"]
            headers = [("ce_id", row["id"].encode()), ("ce_type", row["type"].encode()), _CONTENT]
            chain = chains.setdefault((topic, partition), [])
            alone = seq in isolate
            if chain and not alone and not chain[-1].alone:
                last = chain[-1]
                appended = last.builder.append(
                    timestamp=None, key=key, value=value, headers=headers
                )
                if appended is not None:
                    last.seqs.append(seq)
                    continue
            builder = producer.create_batch()
            # An empty batch takes any record, however large.
            builder.append(timestamp=None, key=key, value=value, headers=headers)
            chain.append(_Batch(builder, [seq], alone))
        if not chains:
            return None
        return asyncio.gather(
            *(
                self._deliver(topic, partition, chain, outcome, fenced)
                for (topic, partition), chain in chains.items()
            )
        )

    async def _deliver(
        self, topic: str, partition: int, chain: list[_Batch], outcome: Outcome, fenced: bool
    ) -> None:
        for batch in chain:
            if fenced and not self._lease.held:
                outcome.refusal = "lease expired"
                return
            batch.builder.close()  # complete: no linger
            try:
                sent = await self._producer.send_batch(batch.builder, topic, partition=partition)
            except Exception as error:  # not handed over (no leader known in time, say)
                outcome.refusal = describe(error)
                return
            try:
                await sent
            except Exception as error:
                refused = isinstance(error, _TOPIC_NOT_THERE) or refused_for_good(error)
                if refused:  # the broker's answer: the batch took sequence numbers
                    _give_back_sequence(self._producer, topic, partition, len(batch.seqs))
                if isinstance(error, _TOPIC_NOT_THERE):
                    # Gone since the metadata said it was there, or not allowed to us (yet).
                    name = topic.removeprefix(self._topic_prefix)
                    self._missing.setdefault(name, time.monotonic())
                    outcome.refusal = describe(error)
                elif not refused:
                    outcome.refusal = describe(error)
                elif len(batch.seqs) == 1:
                    outcome.parked[batch.seqs[0]] = describe(error)
                else:  # which row? each goes alone next time (at once: no backoff)
                    self._isolate.update(batch.seqs)
                return
            outcome.delivered.extend(batch.seqs)

    async def _partitions(self, names: set[str], outcome: Outcome) -> dict[str, int | str | None]:
        """Partition counts of the rows' topics: a number, None while a missing topic is
        waited for, or the refusal for a topic its rows are parked for (an illegal name, or
        missing for longer than `topic_wait`).

        A topic this relay has not asked about yet is looked up at once; one found missing is
        looked up again at most once a second, and only counts as missing while Kafka answers
        (not while it is away). (A producer knows no topic until asked: throttling every
        look-up held the first record of each agency a restarted routing process wrote to
        for up to a second, p99 POST → agency topic 800 ms in the half minute after a restart
        against 100 ms, 7 Dec 2026.)
        """
        cluster = self._producer.client.cluster
        prefix = self._topic_prefix
        found: dict[str, int | str | None] = {}
        unknown: list[str] = []
        for name in names | set(self._missing):
            topic = prefix + name
            if not _LEGAL_TOPIC.fullmatch(topic):
                found[name] = f"InvalidTopicError: {topic!r} is not a legal topic name"
                continue
            partitions = cluster.partitions_for_topic(topic)
            if partitions:
                found[name] = len(partitions)
                self._missing.pop(name, None)
            else:
                unknown.append(name)
        now = time.monotonic()
        answered = True
        unasked = any(name not in self._missing for name in unknown)
        if unknown and (unasked or now >= self._next_lookup):
            self._next_lookup = now + 1.0
            for name in unknown:
                self._producer.client.add_topic(prefix + name)
            try:
                answered = bool(
                    await asyncio.wait_for(self._producer.client.force_metadata_update(), 5)
                )
            except TimeoutError:
                answered = False
        for name in unknown:
            partitions = cluster.partitions_for_topic(prefix + name)
            if partitions:
                found[name] = len(partitions)
                self._missing.pop(name, None)
                continue
            found[name] = None
            if not answered:
                outcome.refusal = "Kafka did not answer a metadata request"
                continue
            since = self._missing.setdefault(name, now)
            if now - since >= self._topic_wait:
                why = (
                    "TopicAuthorizationFailedError"
                    if prefix + name in cluster.unauthorized_topics
                    else "UnknownTopicOrPartitionError"
                )
                found[name] = (
                    f"{why}: topic {prefix + name} not there after {self._topic_wait:.0f}s"
                )
        return found

    async def run(self) -> None:
        """Lead the relay whenever this process holds the lease; otherwise try again soon."""
        retry = min(2.0, max(0.2, self._lease.seconds / 5))
        while not self._stopping:
            try:
                async with self._pool.acquire() as conn:
                    if await self.take_lease(conn):
                        await self._lead(conn)
                    else:
                        await self._measure(conn, self._statement_timeout)
                if not self._stopping:
                    await self._pause(retry)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.is_leader = False
                log.exception("outbox relay failed; retrying")
                await self._pause(1)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        log.info("outbox relay of %s leads (%s)", self._schema, self._lease.holder)
        ms = int(self._statement_timeout * 1000)
        heartbeat: asyncio.Task[None] | None = None
        try:
            await conn.execute(SESSION_SQL.format(ms=ms), timeout=self._statement_timeout)
            # Other processes' commits arrive as notices on this connection, between batches.
            await asyncio.wait_for(
                conn.add_listener(self._channel, self._on_notice), self._statement_timeout
            )
            heartbeat = asyncio.create_task(self._heartbeat(conn))
            while not self._stopping and self.is_leader and self._lease.held:
                await self._replace_dead_producer()
                read = await self.publish_batch(conn)
                if self._backoff:
                    await self._pause(self._backoff)
                elif read < self._batch_size and not self._next:
                    await self._sleep()
        finally:
            self.is_leader = False
            self._next = []
            self._drop_pending()
            if not self._stopping:
                log.warning(
                    "outbox relay of %s stops leading: its lease ran out or was taken",
                    self._schema,
                )
            if heartbeat is not None:
                heartbeat.cancel()
                await asyncio.gather(heartbeat, return_exceptions=True)
            await self._leave(conn)

    async def _replace_dead_producer(self) -> None:
        """A new producer for one whose background task died (`kafka.background_failure`):
        without its metadata synchroniser it never learns a partition's new leader or a topic
        it has not sent to yet, and every row for those would wait, then be parked. What the
        old one had in flight is sent again by the new one, with the same event ids."""
        failure = background_failure(self._producer)
        if failure is None or self._renew is None:
            return
        log.error(
            "outbox relay of %s: its producer's background task ended (%r); starting a new one",
            self._schema,
            failure,
        )
        self._drop_pending()
        self._missing.clear()
        self._next_lookup = 0.0
        # A new one that cannot start (the broker away) raises here, and the old one is kept
        # for the next try.
        old, self._producer = self._producer, await self._renew()
        await stop_within(old, STOP_OLD_PRODUCER)

    async def _leave(self, conn: asyncpg.Connection) -> None:
        """Undo the leader's LISTEN and session settings (and give the lease up on a clean
        stop), within a bound: a connection that no longer answers (half-open, or its server
        frozen) is closed instead, so this process does not hang on it and can lead again
        later on a fresh one."""
        if conn.is_closed():
            return

        async def undo() -> None:
            await conn.remove_listener(self._channel, self._on_notice)
            if self._stopping:
                await self.release_lease(conn)
            await conn.execute(SESSION_RESET_SQL)

        try:
            await asyncio.wait_for(undo(), self._statement_timeout)
        except Exception:
            log.warning("outbox relay of %s closes its unanswering connection", self._schema)
            conn.terminate()

    async def _heartbeat(self, conn: asyncpg.Connection) -> None:
        """Renew the lease every third of it, also while a round waits on Kafka."""
        while True:
            await asyncio.sleep(self._lease.seconds / 3)
            try:
                async with self._conn_lock:
                    held = await self._lease.renew(conn, self._statement_timeout)
                    if held:
                        await self._measure(conn, self._statement_timeout)
            except Exception:
                log.warning("outbox lease not renewed; retrying", exc_info=True)
                continue
            if not held:
                log.warning("outbox relay of %s lost its lease", self._schema)
                self.is_leader = False
                self._wake.set()
                return

    async def _measure(self, conn: asyncpg.Connection, timeout: float) -> None:
        """The schema's outbox depth, oldest row's age and parked rows, every few seconds."""
        if time.monotonic() < self._measured + MEASURE_EVERY:
            return
        self._measured = time.monotonic()
        row = await conn.fetchrow(MEASURE_SQL, timeout=timeout)
        parked = {
            r["aggregatetype"]: r["n"]
            for r in await conn.fetch(MEASURE_PARKED_SQL, timeout=timeout)
        }
        DEPTH.labels(self._schema).set(row["depth"])
        OLDEST_AGE.labels(self._schema).set(float(row["age"] or 0.0))
        # A topic whose rows were all retried shows 0 (its series stays, at 0).
        shown = _PARKED_SHOWN.setdefault(self._schema, set())
        shown.update(parked)
        for topic in shown:
            PARKED.labels(self._schema, topic).set(parked.get(topic, 0))

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._poll_interval)
        self._wake.clear()

    async def _pause(self, seconds: float) -> None:
        """Sleep, cut short by stop() only (not by notices: a backoff is a backoff)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)


async def pending(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox"))
