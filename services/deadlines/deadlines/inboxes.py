"""Forgotten inboxes: an agency that stops taking its appeals in is an alert, not a surprise at
the quarter's count.

Every `inbox_interval` seconds the watcher reads, from Kafka itself, how far each agency's
consumer groups (`agency.<code>.*`) have committed on its assignment topic against the topic's
end offsets (admin API; deadlines may describe the agencies' groups and topics, never read
them), and from the clocks the oldest assignment it has not confirmed. An agency is stalled
when records stay unread for more than `inbox_lag_minutes` of working time, or an assignment
stays unconfirmed for more than `inbox_unconfirmed_days` working days; it recovers when
neither holds. Each change of state is one `inbox-stalled` / `inbox-recovered` event on
`deadlines.alerts` (keyed by the agency), for monitoring and the parent body.

The state lives in `inboxes`, one row per agency; a round locks the rows it judges, so any
number of deadlines processes may watch and a change is announced once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Counter, Gauge

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import event_id
from appeals_contracts.events import InboxAlert
from appeals_law.calendar import ALMATY, WorkingCalendar
from appeals_platform import outbox
from appeals_platform.kafka import KafkaSettings, client_options
from deadlines.clocks import Clock
from deadlines.context import Context
from deadlines.law import local_day, start_of

log = logging.getLogger(__name__)

SOURCE = "/appeals/deadlines"
STALLED = Gauge("deadlines_inboxes_stalled", "Agencies whose inbox is stalled")
LAG = Gauge("deadlines_inbox_lag", "Unread records on an agency's assignment topic", ["agency"])
CHANGES = Counter("deadlines_inbox_changes_total", "Inbox state changes announced", ["state"])


@dataclass(frozen=True)
class Hours:
    """The working hours of a working day (Almaty time): a group idle overnight or over a
    weekend has not forgotten its inbox."""

    start: time = time(9)
    end: time = time(18, 30)

    @property
    def seconds(self) -> float:
        """The length of one working day."""
        return (
            datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)
        ).total_seconds()


def working_seconds(
    start: datetime, end: datetime, calendar: WorkingCalendar, hours: Hours
) -> float:
    """Seconds between two moments that fall in the working hours of working days."""
    if end <= start:
        return 0.0
    total = 0.0
    day = local_day(start)
    while start_of(day) < end:
        if calendar.is_working_day(day):
            opens = datetime.combine(day, hours.start, tzinfo=ALMATY)
            closes = datetime.combine(day, hours.end, tzinfo=ALMATY)
            total += max(0.0, (min(end, closes) - max(start, opens)).total_seconds())
        day += timedelta(days=1)
    return total


# ------------------------------------------------------------------ what Kafka says


@dataclass(frozen=True)
class Reading:
    """One agency's assignment topic as Kafka has it now."""

    agency: str
    lag: int  # unread by its most advanced group (everything when no group committed)
    committed: int | None  # that group's committed offsets, summed; None: no group has any


def reading_of(
    agency: str, ends: dict[TopicPartition, int], groups: Sequence[dict[TopicPartition, int]]
) -> Reading:
    """The agency's lag: its best group's (an agency may run several readers; one that keeps
    up is enough), or the whole topic when none of them ever committed on it."""
    best: tuple[int, int] | None = None
    for committed in groups:
        if not any(offset >= 0 for offset in committed.values()):
            continue
        lag = sum(max(0, end - max(0, committed.get(tp, -1))) for tp, end in ends.items())
        total = sum(max(0, offset) for offset in committed.values())
        if best is None or lag < best[0]:
            best = (lag, total)
    if best is None:
        return Reading(agency, sum(ends.values()), None)
    return Reading(agency, *best)


class KafkaView:
    """End offsets and the agencies' committed offsets, through one admin client and one
    consumer without a group (it never fetches a record)."""

    def __init__(self, settings: KafkaSettings, prefix: str) -> None:
        options = client_options(settings)
        self._admin = AIOKafkaAdminClient(**options, request_timeout_ms=10_000)
        self._consumer = AIOKafkaConsumer(**options, group_id=None, request_timeout_ms=10_000)
        self._prefix = prefix
        self._started = False

    async def _start(self) -> None:
        if not self._started:
            await self._admin.start()
            await self._consumer.start()
            self._started = True

    async def close(self) -> None:
        if self._started:
            await self._consumer.stop()
            await self._admin.close()

    async def read(self, agencies: Sequence[str]) -> list[Reading]:
        await self._start()
        group_ids = [g[0] for g in await self._admin.list_consumer_groups()]
        names = {code: self._prefix + topics.agency_topic(code) for code in agencies}
        if any(self._consumer.partitions_for_topic(t) is None for t in names.values()):
            # One refresh for every topic not in the cached metadata yet (a consumer without a
            # subscription learns topics only so; `topics()` does not update its cache).
            await self._consumer._client.force_metadata_update()
        partitions = {
            code: [
                TopicPartition(t, p) for p in sorted(self._consumer.partitions_for_topic(t) or ())
            ]
            for code, t in names.items()
        }
        every = [tp for tps in partitions.values() for tp in tps]
        ends: dict[TopicPartition, int] = await self._consumer.end_offsets(every) if every else {}
        readings = []
        for code, tps in partitions.items():
            prefix = topics.agency_group_prefix(code)
            groups = []
            for group in (g for g in group_ids if g.startswith(prefix)):
                offsets = await self._admin.list_consumer_group_offsets(group, partitions=tps)
                groups.append({tp: meta.offset for tp, meta in offsets.items()})
            readings.append(reading_of(code, {tp: ends.get(tp, 0) for tp in tps}, groups))
        return readings


# ------------------------------------------------------------------ judging


@dataclass(frozen=True)
class Inbox:
    """One agency's row of `inboxes`."""

    agency: str
    state: str = "ok"  # "ok" or "stalled"
    reasons: tuple[str, ...] = ()
    lag: int = 0
    committed: int | None = None
    lagging_since: datetime | None = None
    last_commit_at: datetime | None = None
    oldest_unconfirmed_at: datetime | None = None
    unconfirmed: int = 0
    changed_at: datetime | None = None
    checked_at: datetime | None = None


@dataclass(frozen=True)
class Limits:
    lag_seconds: float  # of working time
    unconfirmed_days: float  # working days, each `hours.seconds` of working time
    hours: Hours = Hours()


def judge(
    before: Inbox,
    reading: Reading,
    unconfirmed: tuple[int, datetime | None],
    now: datetime,
    limits: Limits,
    calendar: WorkingCalendar,
) -> Inbox:
    """The agency's row after this round's reading."""
    lagging_since = None
    if reading.lag > 0:
        lagging_since = before.lagging_since if before.lag > 0 and before.lagging_since else now
    moved = reading.committed is not None and reading.committed != before.committed
    count, oldest = unconfirmed
    reasons = []
    hours = limits.hours
    if lagging_since and working_seconds(lagging_since, now, calendar, hours) > limits.lag_seconds:
        reasons.append("lag")
    unconfirmed_for = working_seconds(oldest, now, calendar, hours) if oldest else 0.0
    if unconfirmed_for > limits.unconfirmed_days * hours.seconds:
        reasons.append("unconfirmed")
    state = "stalled" if reasons else "ok"
    return replace(
        before,
        state=state,
        reasons=tuple(reasons),
        lag=reading.lag,
        committed=reading.committed,
        lagging_since=lagging_since,
        last_commit_at=now if moved and before.checked_at else before.last_commit_at,
        oldest_unconfirmed_at=oldest,
        unconfirmed=count,
        changed_at=now if state != before.state else before.changed_at,
        checked_at=now,
    )


def announcement(inbox: Inbox, parent: str | None, topic: str) -> outbox.Event:
    state = "stalled" if inbox.state == "stalled" else "recovered"
    at = inbox.changed_at or inbox.checked_at
    assert at is not None
    data = InboxAlert.model_validate(
        {
            "agency": inbox.agency,
            "parent_agency": parent,
            "state": state,
            "reasons": list(inbox.reasons),
            "lag": inbox.lag,
            "lagging_since": inbox.lagging_since,
            "oldest_unconfirmed_at": inbox.oldest_unconfirmed_at,
            "unconfirmed": inbox.unconfirmed,
            "last_commit_at": inbox.last_commit_at,
            "at": at,
        }
    )
    return outbox.event(
        topic,
        inbox.agency,
        type=event_types.INBOX_STALLED if state == "stalled" else event_types.INBOX_RECOVERED,
        source=SOURCE,
        subject=inbox.agency,
        data=data.model_dump(mode="json"),
        # One id per change: the same change judged again (a retried round) is dropped.
        id=event_id(f"inbox/{inbox.agency}", f"{state}/{at.isoformat()}"),
        time=at,
    )


# ------------------------------------------------------------------ storage

INBOX_COLUMNS = """agency, state, reasons, lag, committed, lagging_since, last_commit_at,
oldest_unconfirmed_at, unconfirmed, changed_at, checked_at"""

LOCK = f"SELECT {INBOX_COLUMNS} FROM inboxes WHERE agency = ANY($1::text[]) FOR UPDATE"

# Each round counts at most this many of an agency's unconfirmed assignments (the count
# then reads "this many or more"). An agency that never confirms made the exact count grow
# without end: at a million unconfirmed clocks it took 1.6-1.9 s of a core every minute
# (bench-pipeline, whose appeals are never confirmed), and the appeals on their way waited.
# The stall rule needs only the oldest: the agency's first entry in the index (0013), so one
# walk of the index in its order gives both.
UNCONFIRMED_COUNTED = 1000

UNCONFIRMED = """
SELECT a.agency, first.n, first.oldest
FROM unnest($1::text[]) AS a(agency)
CROSS JOIN LATERAL (
    SELECT count(*)::int AS n, min(agency_received_at) AS oldest
    FROM (SELECT c.agency_received_at FROM clocks c
          WHERE c.agency = a.agency AND c.state = 'open' AND c.confirmed_at IS NULL
          ORDER BY c.agency_received_at LIMIT $2) AS walked
) AS first
WHERE first.n > 0
"""

# Reasons travel as one comma-joined text per row: unnest would flatten a text[][].
SAVE = f"""
INSERT INTO inboxes ({INBOX_COLUMNS})
SELECT agency, state, coalesce(string_to_array(nullif(reasons, ''), ','), '{{}}'), lag,
       committed, lagging_since, last_commit_at, oldest_unconfirmed_at, unconfirmed,
       changed_at, checked_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
            $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::int[],
            $10::timestamptz[], $11::timestamptz[])
     AS t({INBOX_COLUMNS})
ON CONFLICT (agency) DO UPDATE SET
    state = excluded.state, reasons = excluded.reasons, lag = excluded.lag,
    committed = excluded.committed, lagging_since = excluded.lagging_since,
    last_commit_at = excluded.last_commit_at,
    oldest_unconfirmed_at = excluded.oldest_unconfirmed_at,
    unconfirmed = excluded.unconfirmed, changed_at = excluded.changed_at,
    checked_at = excluded.checked_at
"""


def inbox_of(row: asyncpg.Record) -> Inbox:
    values: dict[str, Any] = dict(row)
    values["reasons"] = tuple(values["reasons"] or ())
    return Inbox(**values)


async def save(conn: asyncpg.Connection, rows: Sequence[Inbox]) -> None:
    await conn.execute(
        SAVE,
        [r.agency for r in rows],
        [r.state for r in rows],
        [",".join(r.reasons) for r in rows],
        [r.lag for r in rows],
        [r.committed for r in rows],
        [r.lagging_since for r in rows],
        [r.last_commit_at for r in rows],
        [r.oldest_unconfirmed_at for r in rows],
        [r.unconfirmed for r in rows],
        [r.changed_at for r in rows],
        [r.checked_at for r in rows],
    )


# ------------------------------------------------------------------ the watcher


class Watcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ctx: Context,
        clock: Clock,
        kafka: KafkaView,
        limits: Limits,
    ) -> None:
        self._pool = pool
        self._ctx = ctx
        self._clock = clock
        self._kafka = kafka
        self._limits = limits
        self._stopping = asyncio.Event()

    def agencies(self) -> list[str]:
        return sorted(a.code for a in self._ctx.reference.agencies)

    async def round(self) -> list[Inbox]:
        """One look at every agency; the rows whose state changed (announced)."""
        codes = self.agencies()
        readings = {r.agency: r for r in await self._kafka.read(codes)}
        now = self._clock.now()
        changed: list[Inbox] = []
        async with self._pool.acquire() as conn, conn.transaction():
            before = {r["agency"]: inbox_of(r) for r in await conn.fetch(LOCK, codes)}
            unconfirmed = await conn.fetch(UNCONFIRMED, codes, UNCONFIRMED_COUNTED)
            waiting = {r["agency"]: (r["n"], r["oldest"]) for r in unconfirmed}
            after = []
            for code in codes:
                previous = before.get(code, Inbox(code))
                row = judge(
                    previous,
                    readings.get(code, Reading(code, 0, None)),
                    waiting.get(code, (0, None)),
                    now,
                    self._limits,
                    self._ctx.law.calendar,
                )
                after.append(row)
                if row.state != previous.state:
                    changed.append(row)
            await save(conn, after)
            reference = self._ctx.reference
            await outbox.add(
                conn,
                [
                    announcement(row, reference.agency(row.agency).parent, self._ctx.alerts_topic)
                    for row in changed
                ],
            )
        STALLED.set(sum(row.state == "stalled" for row in after))
        for row in after:
            LAG.labels(row.agency).set(row.lag)
        for row in changed:
            CHANGES.labels(row.state).inc()
            log.warning(
                "agency inbox %s",
                row.state,
                extra={"agency": row.agency, "reasons": list(row.reasons), "lag": row.lag},
            )
        return changed

    async def run(self, interval: float) -> None:
        """Until stopped: a round, then sleep `interval` seconds."""
        try:
            while not self._stopping.is_set():
                try:
                    await self.round()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("inbox watch failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), interval)
        finally:
            await self._kafka.close()

    def stop(self) -> None:
        self._stopping.set()
