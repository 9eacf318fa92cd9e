"""The one way a service reads Kafka, so the rules of consuming live in one place.

A service describes each of its subscribers as a `Subscription`: the topics and the group,
how a record becomes a typed item (`parse`), and what a batch of items does to its tables
(`handle`). A `Consumer` runs it:

- records are read with their header values as bytes: a header that is not UTF-8 never fails
  anything;
- a record that cannot be parsed (a `ValueError`: bad JSON, a validation error, `Poison`) is
  a dead letter at once, since parsing it again gives the same answer; `parse` returning None
  means "not for this consumer" (an event type it does not use), but only for a type the
  platform knows: a record of a type nobody writes is a dead letter too, never passed by;
- the handler's effect, the inbox rows and the dead letters' outbox rows are written in one
  transaction (or, for a handler that writes with single statements and no inbox, without
  one), and the offsets are committed after it: at most once per `Policy.commit_interval`
  (and when the consumer goes idle, loses partitions or stops), not after every batch;
- a batch whose handler fails is taken again record by record, so the records around a bad
  one are stored; a record that still fails after `max_attempts` tries, with backoff, goes to
  `<topic>.dlq` with its coordinates, headers, the error and the attempt count, and its
  partition goes on;
- a consumer is watched from outside its poll loop and started again when one of aiokafka's
  background tasks has died (`kafka.background_failure`) or when the loop has not come round
  for `Policy.stall_timeout` (a wait nobody bounds): it never sits idle over a full partition;
- while PostgreSQL is unreachable nothing is dead-lettered: the consumer seeks back and polls
  again after a backoff, for as long as the outage lasts. Every wait happens between polls, so
  no handler call keeps the poll loop longer than one batch takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge

from appeals_contracts import event_types
from appeals_platform import outbox
from appeals_platform.availability import database_unavailable
from appeals_platform.inbox import first_seen
from appeals_platform.kafka import background_failure, stop_within
from appeals_platform.records import Record, dead_letter, event_type, problem_of

log = logging.getLogger(__name__)

T = TypeVar("T")

RECORDS = Counter(
    "consumer_records_total",
    "Records read, by what became of them (handled, duplicate, ignored, dead_letter, skipped)",
    ["consumer", "outcome"],
)
REDELIVERED = Counter(
    "consumer_redelivered_total",
    "Records read again after a failed attempt or while the database was unavailable",
    ["consumer"],
)
DEAD_LETTERS = Counter("dead_letters_total", "Records sent to <topic>.dlq", ["consumer", "topic"])
RESTARTS = Counter(
    "consumer_restarts_total",
    "Consumers started again from outside their poll loop, by why (aiokafka_task, stalled)",
    ["consumer", "reason"],
)
LAG = Gauge(
    "consumer_lag",
    "Records behind the end of each partition this process holds (a partition handed to "
    "another replica leaves the gauge)",
    ["group", "topic", "partition"],
)


class Poison(ValueError):
    """Raised by `parse` or `handle` for a record that can never be handled: no more attempts."""


@dataclass(frozen=True)
class Subscription(Generic[T]):
    """One subscriber of a service.

    `event_id`, when given, is the item's id for the inbox: items seen before are dropped
    before `handle` runs. Without it the handler is idempotent on its own (intake's
    registrations, keyed by source and external id). `group=None` reads every partition from
    the end and commits nothing: for views fed live in every process (the dashboard).
    `pattern` (a topic name with `{placeholders}`, e.g. `agency.{code}.actions`) subscribes to
    every topic of that shape instead of `topics`: one per agency, including agencies added
    while the service runs (found at the next metadata refresh).
    `known_types` are the event types `parse` may pass by (return None for); a record of any
    other type is dead-lettered. None leaves every decision to `parse` (the agency actions,
    whose unknown commands one service answers with a refusal).
    `gather_ms` lets the broker hold a fetch up to that long to gather `GATHER_BYTES` first
    (Kafka's fetch.max.wait.ms with fetch.min.bytes). 0, the default, answers each fetch as
    soon as one record is there: for the consumers on an appeal's way to its agency. A
    consumer off that way (a timeline, the legal clocks) may gather instead (the services'
    `consumer_gather_ms`, 200 ms by default): under light traffic it handles a batch per
    `gather_ms` rather than one per record, and leaves the cores it shares to the consumers on
    that way; under a backlog its fetches fill and return at once.
    `transaction=False` says that `handle` writes each effect with one statement, atomic and
    idempotent on its own (routing's hop 1, keyed by the appeal): the consumer then opens no
    transaction around a batch, two round trips less (BEGIN, COMMIT), each waiting for a core
    on a busy machine. A dead letter is then its own statement. Not with an inbox, whose rows
    must commit with the effect.
    """

    name: str
    topics: Sequence[str]
    group: str | None
    parse: Callable[[Record], T | None]
    handle: Callable[[asyncpg.Connection, list[T]], Awaitable[None]]
    event_id: Callable[[T], str] | None = None
    max_records: int = 500
    offset_reset: Literal["earliest", "latest"] = "earliest"
    pattern: str | None = None
    known_types: Collection[str] | None = event_types.KNOWN
    gather_ms: int = 0
    transaction: bool = True

    def __post_init__(self) -> None:
        if not self.transaction and self.event_id is not None:
            raise ValueError(f"{self.name}: an inbox is written with the effect, in a transaction")


# What a gathering fetch waits for: about twenty events of a few KB.
GATHER_BYTES = 64 * 1024


def fetch_options(sub: Subscription[Any]) -> dict[str, int]:
    """The consumer's fetch settings: aiokafka's defaults (one byte, and a fetch held up to
    500 ms while nothing comes), or a gathering fetch."""
    if not sub.gather_ms:
        return {}
    return {"fetch_min_bytes": GATHER_BYTES, "fetch_max_wait_ms": sub.gather_ms}


def topic_regex(pattern: str, prefix: str = "") -> str:
    """The regular expression of the topics a `{placeholder}` pattern names: a placeholder is
    one dot-free part, the rest literal, anchored (so `<topic>.dlq` and another run's prefixed
    copies are not matched)."""
    parts = re.split(r"\{[a-z_]+\}", pattern)
    return "^" + re.escape(prefix) + "[^.]+".join(re.escape(p) for p in parts) + "$"


@dataclass(frozen=True)
class Policy:
    """Attempts and waits; tests shorten them.

    `commit_interval` is how long handled offsets may wait before they are committed. A
    commit after every batch was a request to the group coordinator and a write to
    `__consumer_offsets` per batch: under light traffic, when a batch is one or two records,
    about one per appeal on routing's way, each waiting for a core on a busy machine. A
    deferred commit only widens what a crash hands to the next reader, and every handler
    already takes a record again safely (its inbox, or an effect keyed by the appeal).

    `stall_timeout` is how long the poll loop may go without coming round (joining the
    group, one batch, one commit) before the consumer is taken for stuck and started again.
    Every wait of its own is bounded well below it (a statement by the pool's 30 s, a retry's
    backoff by `backoff_max`), so only a wait nobody bounds reaches it: aiokafka's, on a
    broker that was killed.
    """

    max_attempts: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    poll_timeout_ms: int = 500
    commit_interval: float = 1.0
    stall_timeout: float = 60.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.backoff_max, self.backoff_initial * 2 ** max(0, attempt - 1)))


@dataclass
class _Retry:
    """Where each partition of a failed batch starts again, and how long to wait first."""

    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    wait: float = 0.0

    def at(self, record: Record, wait: float) -> None:
        tp = TopicPartition(record.topic, record.partition)
        self.offsets.setdefault(tp, record.offset)
        self.wait = max(self.wait, wait)


# How long a commit may wait for its answer. aiokafka retries one for as long as the group
# coordinator is away (a broker down for minutes), and the poll loop must come round
# meanwhile; what is not committed now is tried again at the next flush.
FLUSH_TIMEOUT = 5.0
# How long aiokafka's stop may take before what it did not reach is cut (`stop_within`).
STOP_TIMEOUT = 5.0
# How often the watch looks at a running poll loop, and how long one it cancelled may take to
# end (its last commit, the stop) before it is cancelled again, every interval, until it ends.
WATCH_INTERVAL = 1.0
GRACE = FLUSH_TIMEOUT + STOP_TIMEOUT + 2.0


class _Handover(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits what was handled of the partitions a rebalance takes away, before they go,
    so the replica that gets them does not read those records again.

    Within a bound (`FLUSH_TIMEOUT`, as every commit): this runs in aiokafka's coordination
    task, whose commit retries for as long as the coordinator is away, and the rebalance (or
    the consumer's stop) waits for it. (A `pattern` subscription loses its assignment as
    soon as a new topic of its pattern appears, before this runs: what it handled of the last
    interval is read again by whoever gets those partitions, and dropped by the inbox.)
    """

    def __init__(self, owner: Consumer[Any], consumer: AIOKafkaConsumer, run: int) -> None:
        self._owner = owner
        self._consumer = consumer
        self._run = run

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if self._owner.current(self._run):  # a poll loop given up on touches nothing shared
            await self._owner.give_up(self._consumer, revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


class Consumer(Generic[T]):
    def __init__(
        self,
        subscription: Subscription[T],
        *,
        pool: asyncpg.Pool,
        kafka_options: dict[str, Any],
        source: str,
        topic_prefix: str = "",
        client_id: str = "appeals",
        on_commit: Callable[[], None] | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.subscription = subscription
        self._pool = pool
        self._kafka_options = kafka_options
        self._source = source
        self._prefix = topic_prefix
        self._client_id = client_id
        self._on_commit = on_commit
        self._policy = policy or Policy()
        self._consumer: AIOKafkaConsumer | None = None
        self._attempts: dict[tuple[str, int, int], int] = {}
        self._unavailable_since: float | None = None
        self._outages = 0
        self._lag_at = 0.0
        self._lag_labels: set[tuple[str, str, str]] = set()
        self._stopping = False
        # When the poll loop last came round, and what it does now (for the watch's message).
        self._beat = time.monotonic()
        self._doing = "starting"
        # The number of the latest poll loop: only it reads and writes the state below.
        self._run = 0
        # Handled and not yet committed: the next offset of each partition.
        self._pending: dict[TopicPartition, int] = {}
        self._committed_at = time.monotonic()
        self._commit_failing = False
        # The partitions this consumer has committed on since it was given them.
        self._committed: set[TopicPartition] = set()

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        self._stopping = True

    @property
    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment()) if self._consumer is not None else set()

    async def positions_resolved(self) -> bool:
        """True once every assigned partition has a position ("latest" is resolved lazily)."""
        consumer = self._consumer
        if consumer is None or not consumer.assignment():
            return False
        for tp in consumer.assignment():
            await consumer.position(tp)
        return True

    async def run(self) -> None:
        """Consume until stopped; a broker that is down, a crash or a stall is retried with
        backoff. Only a cancellation of this task ends it: a CancelledError raised from inside
        (an awaited future something else cancelled) is a crash like any other."""
        failures = 0
        while not self._stopping:
            try:
                await self._watched()
                failures = 0
            except (Exception, asyncio.CancelledError) as exc:
                current = asyncio.current_task()
                if isinstance(exc, asyncio.CancelledError) and (
                    current is None or current.cancelling()
                ):
                    raise
                failures += 1
                log.warning(
                    "consumer %s stopped; starting again", self.subscription.name, exc_info=True
                )
                await asyncio.sleep(self._policy.backoff(failures))

    async def _watched(self) -> None:
        """One poll loop, in a task of its own, watched from outside: a wait inside it that
        never ends (aiokafka's, on a background task of its own that died) cannot hold the
        consumer."""
        name = self.subscription.name
        self._run += 1
        self._alive("starting")
        task = asyncio.create_task(self._run_once(self._run), name=f"consumer-{name}")
        try:
            while not (await asyncio.wait({task}, timeout=WATCH_INTERVAL))[0]:
                if (stuck := self._stuck()) is not None:
                    reason, message = stuck
                    RESTARTS.labels(name, reason).inc()
                    log.error("consumer %s: %s; starting it again", name, message)
                    raise KafkaError(message)
            task.result()
        finally:
            await self._ended(task)

    async def _ended(self, task: asyncio.Task[None]) -> None:
        """Until the poll loop's task has ended: cancelled once, given time for its last
        commit and stop, then cancelled again every interval (a cancellation can be lost,
        e.g. by a wait_for whose inner call finished at the same moment)."""
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=GRACE)
        for _ in range(int(GRACE / WATCH_INTERVAL)):
            if task.done():
                break
            log.warning("%s goes on after its cancellation; cancelling it again", task.get_name())
            task.cancel()
            await asyncio.wait({task}, timeout=WATCH_INTERVAL)
        if not task.done():
            # Left behind: it touches no shared state any more (`current`), and ends when
            # whatever holds it lets go.
            log.error("%s did not end; left behind", task.get_name())
            self._run += 1  # not current any more, even before the next poll loop starts
            return
        if not task.cancelled():
            task.exception()  # retrieved: raised by the caller already, or not worth twice

    def current(self, run: int) -> bool:
        return run == self._run

    def _alive(self, doing: str) -> None:
        """The poll loop is doing something bounded now: the stall clock starts again."""
        self._beat, self._doing = time.monotonic(), doing

    def _stuck(self) -> tuple[str, str] | None:
        """(reason, message) when the running poll loop cannot go on by itself."""
        if self._stopping:
            return None
        consumer = self._consumer
        if consumer is not None and (failure := background_failure(consumer)) is not None:
            return "aiokafka_task", f"aiokafka's background task ended: {failure!r}"
        quiet = time.monotonic() - self._beat
        if quiet > self._policy.stall_timeout:
            return "stalled", f"its poll loop has not come round for {quiet:.0f} s ({self._doing})"
        return None

    async def _run_once(self, run: int) -> None:
        sub = self.subscription
        self._committed.clear()
        consumer = AIOKafkaConsumer(
            **self._kafka_options,
            group_id=sub.group,
            client_id=f"{self._client_id}-{sub.name}",
            enable_auto_commit=False,
            auto_offset_reset=sub.offset_reset if sub.group else "latest",
            max_poll_records=sub.max_records,
            **fetch_options(sub),
        )
        listener = _Handover(self, consumer, run)
        if sub.pattern is not None:
            consumer.subscribe(pattern=topic_regex(sub.pattern, self._prefix), listener=listener)
        else:
            consumer.subscribe([self._prefix + t for t in sub.topics], listener=listener)
        try:
            # Inside the try: a stop that cancels this task while the consumer starts (joining
            # its group can take a while) must still stop it, or its coordinator and metadata
            # tasks outlive the service and keep its event loop (and the process) from ending.
            self._doing = "joining its group"
            await consumer.start()
            self._consumer = consumer
            while not self._stopping and self.current(run):
                self._alive("polling")
                batch = await consumer.getmany(
                    timeout_ms=self._policy.poll_timeout_ms, max_records=sub.max_records
                )
                records = [self._record(r) for rs in batch.values() for r in rs]
                if records:
                    self._doing = f"handling a batch of {len(records)}"
                    await self._consume(consumer, records)
                elif self._pending:
                    self._doing = "committing"
                    await self._flush(consumer)  # idle: nothing to gain by waiting
                self._doing = "reading its positions"
                await self._report_lag(consumer)
        finally:
            mine = self.current(run)  # else a later poll loop owns the shared state
            try:
                if mine:
                    self._consumer = None
                    self._forget_lag(set())
                    with contextlib.suppress(Exception):
                        await self._flush(consumer)
            finally:  # also when the flush itself is cancelled: the consumer must stop
                if mine:
                    self._pending.clear()
                if not await stop_within(consumer, STOP_TIMEOUT):
                    log.warning("consumer %s: aiokafka did not stop in time; cut", sub.name)

    def _record(self, r: ConsumerRecord[bytes, bytes]) -> Record:
        topic = r.topic[len(self._prefix) :] if r.topic.startswith(self._prefix) else r.topic
        return Record(
            topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()), r.timestamp
        )

    # ------------------------------------------------------------------ one batch

    async def _consume(self, consumer: AIOKafkaConsumer, records: list[Record]) -> None:
        if self.subscription.group is None:
            await self._view(records)
            return
        retry = _Retry()
        try:
            await self._apply(records)
            done = records
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if database_unavailable(exc):
                self._database_down(exc, retry, records)
                done = []
            else:
                log.warning(
                    "consumer %s: a batch of %d failed (%s); taking it record by record",
                    self.subscription.name,
                    len(records),
                    type(exc).__name__,
                )
                done = await self._one_by_one(records, retry)
        if done:
            self._database_up()
        await self._commit(consumer, done)
        if retry.offsets:
            REDELIVERED.labels(self.subscription.name).inc(
                sum(1 for r in records if TopicPartition(r.topic, r.partition) in retry.offsets)
            )
            for tp, offset in retry.offsets.items():
                actual = TopicPartition(self._prefix + tp.topic, tp.partition)
                if actual in consumer.assignment():
                    consumer.seek(actual, offset)
            self._alive("waiting to try a batch again")
            await asyncio.sleep(retry.wait)

    async def _view(self, records: list[Record]) -> None:
        """A group-less subscription feeds a live view: what it cannot read or apply is
        skipped (the topic's group consumers dead-letter it), and nothing is retried."""
        sub = self.subscription
        items: list[T] = []
        for record in records:
            try:
                item = sub.parse(record)
            except ValueError:
                RECORDS.labels(sub.name, "skipped").inc()
                continue
            if item is not None:
                items.append(item)
        if not items:
            return
        try:
            async with self._pool.acquire() as conn:
                await sub.handle(conn, items)
        except asyncio.CancelledError:
            raise
        except Exception:
            RECORDS.labels(sub.name, "skipped").inc(len(items))
            log.warning("consumer %s: a batch for the live view failed", sub.name, exc_info=True)
            return
        RECORDS.labels(sub.name, "handled").inc(len(items))

    async def _one_by_one(self, records: list[Record], retry: _Retry) -> list[Record]:
        """Each record in its own transaction; returns those done (handled or dead-lettered)."""
        done: list[Record] = []
        for n, record in enumerate(records, 1):
            self._alive(f"handling record {n} of {len(records)} alone")
            coordinates = (record.topic, record.partition, record.offset)
            if TopicPartition(record.topic, record.partition) in retry.offsets:
                continue  # an earlier record of this partition waits: keep the order
            try:
                await self._apply([record])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if database_unavailable(exc):
                    self._database_down(exc, retry, records[records.index(record) :])
                    return done
                attempt = self._attempts.get(coordinates, 0) + 1
                if attempt < self._policy.max_attempts and not isinstance(exc, Poison):
                    self._attempts[coordinates] = attempt
                    log.warning(
                        "consumer %s: %s:%d@%d failed (attempt %d of %d): %s",
                        self.subscription.name,
                        *coordinates,
                        attempt,
                        self._policy.max_attempts,
                        type(exc).__name__,
                    )
                    retry.at(record, self._policy.backoff(attempt))
                    continue
                try:
                    await self._bury(record, problem_of(exc), attempt)
                except asyncio.CancelledError:
                    raise
                except Exception as bury_exc:
                    # Not even the dead letter could be written: try the record again later.
                    log.error("consumer %s: dead letter not written", self.subscription.name)
                    retry.at(record, self._policy.backoff(attempt))
                    if database_unavailable(bury_exc):
                        return done
                    continue
            self._attempts.pop(coordinates, None)
            done.append(record)
        return done

    async def _apply(self, records: Sequence[Record]) -> None:
        """Parse, then write the effect, the inbox rows and the dead letters in one transaction."""
        sub = self.subscription
        items: list[T] = []
        dead: list[outbox.Event] = []
        ignored = 0
        for record in records:
            try:
                item = sub.parse(record)
            except ValueError as exc:
                dead.append(self._letter(record, problem_of(exc), 1))
                continue
            if item is None:
                if (unknown := self._unknown_type(record)) is not None:
                    dead.append(self._letter(record, unknown, 1))
                else:
                    ignored += 1
            else:
                items.append(item)
        duplicates = 0
        async with self._pool.acquire() as conn, self._transaction(conn):
            if sub.event_id is not None and items:
                ids = [sub.event_id(item) for item in items]
                fresh = await first_seen(conn, sub.name, ids)
                kept: list[T] = []
                for item, event_id in zip(items, ids, strict=True):
                    if event_id in fresh:
                        fresh.discard(event_id)  # a repeat inside the batch is a duplicate too
                        kept.append(item)
                duplicates = len(items) - len(kept)
                items = kept
            if items:
                await sub.handle(conn, items)
            await outbox.add(conn, dead)
        RECORDS.labels(sub.name, "handled").inc(len(items))
        if duplicates:
            RECORDS.labels(sub.name, "duplicate").inc(duplicates)
        if ignored:
            RECORDS.labels(sub.name, "ignored").inc(ignored)
        for message in dead:
            self._count_dead(message)
        if self._on_commit is not None:
            self._on_commit()

    def _transaction(self, conn: asyncpg.Connection) -> contextlib.AbstractAsyncContextManager[Any]:
        if not self.subscription.transaction:
            return contextlib.nullcontext()
        transaction: contextlib.AbstractAsyncContextManager[Any] = conn.transaction()
        return transaction

    def _unknown_type(self, record: Record) -> str | None:
        """Why a record `parse` passed by is a dead letter: its type is none the platform
        writes (a producer's bug or a newer version; either way somebody must look). None
        when the type is known and simply not used here."""
        known = self.subscription.known_types
        if known is None:
            return None
        kind = event_type(record)
        if kind in known:
            return None
        return f"Poison: unknown event type {kind!r}: no consumer of the platform handles it"

    async def _bury(self, record: Record, error: str, attempts: int) -> None:
        message = self._letter(record, error, attempts)
        async with self._pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, [message])
        self._count_dead(message)
        if self._on_commit is not None:
            self._on_commit()

    def _letter(self, record: Record, error: str, attempts: int) -> outbox.Event:
        return dead_letter(
            record, error, self._source, consumer=self.subscription.name, attempts=attempts
        )

    def _count_dead(self, letter: outbox.Event) -> None:
        RECORDS.labels(self.subscription.name, "dead_letter").inc()
        DEAD_LETTERS.labels(self.subscription.name, letter.topic).inc()
        # The error, not the record: a record's value may hold personal data.
        log.warning(
            "dead letter: %s",
            orjson.loads(letter.payload)["data"]["error"][:300],
            extra={"topic": letter.topic, "event_id": letter.id},
        )

    # ------------------------------------------------------------------ outages and offsets

    def _database_down(self, exc: BaseException, retry: _Retry, pending: list[Record]) -> None:
        if self._unavailable_since is None:
            self._unavailable_since = time.monotonic()
            log.warning(
                "consumer %s: PostgreSQL unavailable (%s); waiting for it",
                self.subscription.name,
                type(exc).__name__,
            )
        self._outages += 1
        for record in pending:
            retry.at(record, self._policy.backoff(self._outages))

    def _database_up(self) -> None:
        if self._unavailable_since is not None:
            log.info(
                "consumer %s: PostgreSQL back after %.1f s",
                self.subscription.name,
                time.monotonic() - self._unavailable_since,
            )
        self._unavailable_since = None
        self._outages = 0

    async def _commit(self, consumer: AIOKafkaConsumer, done: list[Record]) -> None:
        """Note the handled records' offsets; commit them once `commit_interval` has passed
        (also after a batch of which nothing was done: PostgreSQL away, say)."""
        if self.subscription.group is None:
            return
        for record in done:
            tp = TopicPartition(self._prefix + record.topic, record.partition)
            self._pending[tp] = record.offset + 1
        if not self._pending:
            return
        # A partition's first batch is committed at once: until something is committed on
        # it, a replica that takes it over (this one killed) would start from the group's
        # reset position, the topic's end ("latest": what this one had not handled would be
        # skipped) or its beginning ("earliest": all of it read again).
        first = not self._committed.issuperset(self._pending)
        if first or time.monotonic() - self._committed_at >= self._policy.commit_interval:
            await self._flush(consumer)

    async def give_up(self, consumer: AIOKafkaConsumer, revoked: list[TopicPartition]) -> None:
        """Commit what was handled of partitions a rebalance takes away, then forget them:
        whatever of them is still pending is not this consumer's to commit any more."""
        await self._flush(consumer, revoked)
        self._committed.difference_update(revoked)
        for tp in revoked:
            self._pending.pop(tp, None)

    async def _flush(
        self, consumer: AIOKafkaConsumer, partitions: Collection[TopicPartition] | None = None
    ) -> None:
        """Commit the pending offsets (of `partitions` only, when given) this consumer holds.

        Offsets of partitions it no longer holds are forgotten, and so are those committed
        (unless newer ones came meanwhile); a failed commit is tried again at the next flush.
        Either way nothing is lost: the effects are stored, so whoever reads those records
        again (this consumer after a restart, or another replica) drops or repeats them
        harmlessly.
        """
        held = consumer.assignment()
        chosen = {
            tp: offset
            for tp, offset in self._pending.items()
            if partitions is None or tp in partitions
        }
        offsets = {tp: offset for tp, offset in chosen.items() if tp in held}
        self._committed_at = time.monotonic()
        forget = {tp: offset for tp, offset in chosen.items() if tp not in held}
        if offsets:
            try:
                await asyncio.wait_for(consumer.commit(offsets), FLUSH_TIMEOUT)
                self._committed.update(offsets)
                forget.update(offsets)
                self._commit_failing = False
            except (KafkaError, TimeoutError) as exc:
                # Rebalanced away, or the coordinator is gone: tried again at the next flush
                # (if this consumer still holds them then). Said once per spell of failures.
                if not self._commit_failing:
                    why = str(exc) or f"no answer within {FLUSH_TIMEOUT:.0f} s"
                    log.warning("consumer %s: commit failed: %s", self.subscription.name, why)
                self._commit_failing = True
        for tp, offset in forget.items():
            if self._pending.get(tp) == offset:
                del self._pending[tp]

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        if self.subscription.group is None or now - self._lag_at < 1.0:
            return
        self._lag_at = now
        reported: set[tuple[str, str, str]] = set()
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is None:
                continue
            position = await consumer.position(tp)
            labels = (self.subscription.group, tp.topic, str(tp.partition))
            LAG.labels(*labels).set(max(0, end - position))
            reported.add(labels)
        self._forget_lag(reported)

    def _forget_lag(self, kept: set[tuple[str, str, str]]) -> None:
        """Drop the gauges of partitions no longer held: after a rebalance they belong to
        another replica, and a stale value would count its lag twice (and scale on it)."""
        for labels in self._lag_labels - kept:
            with contextlib.suppress(KeyError):
                LAG.remove(*labels)
        self._lag_labels = kept
