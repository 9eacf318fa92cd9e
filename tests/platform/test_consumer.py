"""The one consumer path, against the real broker and PostgreSQL: lenient headers, dead letters
for records that cannot be parsed or applied, waiting out a database that is away, and
`appeals-dlq` replaying a dead letter after the fix."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CoordinatorNotAvailableError
from pydantic import BaseModel

from appeals_contracts import event_types
from appeals_platform.consumer import Consumer, Policy, Subscription
from appeals_platform.migrations import migrate
from appeals_platform.outbox import OutboxRelay, create_producer
from appeals_platform.pool import create_pool
from appeals_platform.records import Record
from appeals_tools import dlq
from tests.aiokafka_faults import CLOSED, end_metadata_synchroniser
from tests.conftest import Stack
from tests.kafka_probe import EventProbe

pytestmark = pytest.mark.infra

SCHEMA = "consumer_test"
LETTERS = "SELECT payload FROM outbox WHERE type = 'kz.appeals.dead-letter.v1'"
FAST = Policy(max_attempts=3, backoff_initial=0.05, backoff_max=0.5, poll_timeout_ms=100)


class Note(BaseModel):
    n: int
    text: str


def parse(record: Record) -> Note:
    return Note.model_validate_json(record.value or b"")


async def store(conn: asyncpg.Connection, notes: list[Note]) -> None:
    # A NUL character is refused by PostgreSQL's text type: a record the database rejects.
    await conn.executemany(
        "INSERT INTO notes (n, text) VALUES ($1, $2)", [(n.n, n.text) for n in notes]
    )


@dataclass
class Bench:
    topic: str
    dsn: str
    produce: Callable[..., Awaitable[None]]

    async def rows(self, sql: str) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn, server_settings={"search_path": SCHEMA})
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    async def wait_for(self, sql: str, check: Callable[[list[asyncpg.Record]], bool]) -> list[Any]:
        for _ in range(1200):  # a minute at most: the machine is shared
            rows = await self.rows(sql)
            if check(rows):
                return rows
            await asyncio.sleep(0.05)
        raise AssertionError(f"never true: {sql} -> {rows}")

    async def letters(self) -> list[dict[str, Any]]:
        rows = await self.rows(
            "SELECT payload FROM outbox WHERE type = 'kz.appeals.dead-letter.v1'"
        )
        return [orjson.loads(r["payload"])["data"] for r in rows]


@pytest.fixture
async def bench(stack: Stack, database: str) -> AsyncIterator[Bench]:
    conn = await asyncpg.connect(database)
    try:
        await migrate(conn, SCHEMA, [])
        await conn.execute(f"CREATE TABLE {SCHEMA}.notes (n int PRIMARY KEY, text text NOT NULL)")
    finally:
        await conn.close()
    topic = f"test.consumer.{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(**stack.options())
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    producer = AIOKafkaProducer(**stack.options(), linger_ms=0)
    await producer.start()

    async def produce(value: bytes, *, partition: int = 0, headers: Any = ()) -> None:
        await producer.send_and_wait(topic, value, partition=partition, headers=list(headers))

    try:
        yield Bench(topic, database, produce)
    finally:
        await producer.stop()
        await admin.delete_topics([topic, f"{topic}.dlq"])
        await admin.close()


@asynccontextmanager
async def consuming(
    stack: Stack,
    bench: Bench,
    dsn: str | None = None,
    handle: Callable[[asyncpg.Connection, list[Note]], Awaitable[None]] | None = None,
    parse: Callable[[Record], Note | None] = parse,
    gather_ms: int = 0,
    transaction: bool = True,
    group: str | None = None,
    policy: Policy = FAST,
) -> AsyncIterator[Consumer[Note]]:
    pool = await create_pool(dsn or bench.dsn, SCHEMA, min_size=1, max_size=2)
    consumer = Consumer(
        Subscription(
            name="notes",
            topics=(bench.topic,),
            group=group or f"test-{uuid.uuid4().hex[:8]}",
            parse=parse,
            handle=handle or store,
            event_id=(lambda note: str(note.n)) if transaction else None,
            gather_ms=gather_ms,
            transaction=transaction,
        ),
        pool=pool,
        kafka_options=stack.options(),
        source="/appeals/test",
        policy=policy,
    )
    task = asyncio.create_task(consumer.run())
    try:
        for _ in range(300):
            if await consumer.positions_resolved():
                break
            await asyncio.sleep(0.05)
        yield consumer
    finally:
        consumer.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()


def note(n: int, text: str = "ok") -> bytes:
    return orjson.dumps({"n": n, "text": text})


@asynccontextmanager
async def reading(stack: Stack, bench: Bench) -> AsyncIterator[tuple[Consumer[Note], Any]]:
    """A consumer that has read and stored a first note, and the aiokafka consumer it reads
    with: the one a test then breaks as a broker kill did."""
    await bench.produce(note(1))
    async with consuming(stack, bench) as consumer:
        await bench.wait_for("SELECT n FROM notes", lambda r: len(r) == 1)
        assert consumer._consumer is not None
        yield consumer, consumer._consumer


async def test_a_header_that_is_not_utf8_loses_no_record_of_its_batch(
    stack: Stack, bench: Bench
) -> None:
    """The probe from the issue: seven records on one partition, the fourth with a header in
    cp1251. FastStream's batch parser decoded headers strictly and the batch was lost."""
    for n in range(1, 8):
        headers = [("applicant", "Иван".encode("cp1251"))] if n == 4 else []
        await bench.produce(note(n), headers=headers)
    async with consuming(stack, bench):
        rows = await bench.wait_for("SELECT n FROM notes ORDER BY n", lambda r: len(r) == 7)
    assert [r["n"] for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert await bench.letters() == []


async def test_a_gathering_consumer_takes_records_that_come_one_by_one_in_one_batch(
    stack: Stack, bench: Bench
) -> None:
    """Ten records produced one at a time, 20 ms apart, reach a consumer that gathers for up
    to two seconds in one batch, or two when a fetch's wait ends among them. Without
    `gather_ms` the broker answers each fetch as soon as a record is there: a batch each."""
    batches: list[int] = []

    async def counted(conn: asyncpg.Connection, notes: list[Note]) -> None:
        batches.append(len(notes))
        await store(conn, notes)

    async with consuming(stack, bench, handle=counted, gather_ms=2000):
        for n in range(1, 11):
            await bench.produce(note(n))
            await asyncio.sleep(0.02)
        await bench.wait_for("SELECT n FROM notes", lambda r: len(r) == 10)
    assert sum(batches) == 10
    assert len(batches) <= 2, batches


async def test_a_handler_writing_with_one_statement_runs_without_a_transaction(
    stack: Stack, bench: Bench
) -> None:
    """`transaction=False`: no BEGIN and COMMIT around a batch (two round trips, each waiting
    for a core on a busy machine); the handler's one statement is atomic on its own, and the
    dead letters of the batch are still written."""
    in_transaction: list[bool] = []

    async def one_statement(conn: asyncpg.Connection, notes: list[Note]) -> None:
        in_transaction.append(conn.is_in_transaction())
        await conn.execute(
            "INSERT INTO notes (n, text) SELECT * FROM unnest($1::int[], $2::text[]) "
            "ON CONFLICT (n) DO NOTHING",
            [n.n for n in notes],
            [n.text for n in notes],
        )

    await bench.produce(note(1))
    await bench.produce(b"{not json")
    await bench.produce(note(2))
    async with consuming(stack, bench, handle=one_statement, transaction=False):
        rows = await bench.wait_for("SELECT n FROM notes ORDER BY n", lambda r: len(r) == 2)
        letters = await bench.wait_for(LETTERS, lambda r: len(r) == 1)
    assert [r["n"] for r in rows] == [1, 2]
    assert orjson.loads(letters[0]["payload"])["data"]["offset"] == 1
    assert in_transaction and not any(in_transaction)


async def test_handled_offsets_wait_for_the_interval_and_none_is_lost_to_the_next_reader(
    stack: Stack, bench: Bench
) -> None:
    """Offsets are committed once per `commit_interval`, not after every batch (a request to
    the group coordinator and a write to `__consumer_offsets` each). What was handled is
    still committed before anyone else reads it: a rebalance commits what was handled of the
    partitions it takes away, and a stop commits the rest. A partition's first batch is
    committed at once. (Polls of a minute here, so the commit a consumer makes when it goes
    idle does not come in between.)"""
    group = f"test-{uuid.uuid4().hex[:8]}"
    patient = Policy(
        max_attempts=3, backoff_initial=0.05, poll_timeout_ms=60_000, commit_interval=3600
    )
    admin = AIOKafkaAdminClient(**stack.options())
    await admin.start()

    async def committed() -> int:
        offsets = await admin.list_consumer_group_offsets(group)
        return sum(max(0, meta.offset) for meta in offsets.values())

    async def committed_reaches(total: int) -> None:
        for _ in range(600):  # half a minute at most
            if await committed() == total:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"committed {await committed()} of {total}")

    try:
        for n in range(1, 3):
            await bench.produce(note(n), partition=n % 2)
        async with consuming(stack, bench, group=group, policy=patient):
            await bench.wait_for("SELECT n FROM notes", lambda r: len(r) == 2)
            # A partition's first batch is committed at once: until then a replica taking
            # it over would start from the group's reset position.
            await committed_reaches(2)
            for n in range(3, 6):
                await bench.produce(note(n), partition=n % 2)
            await bench.wait_for("SELECT n FROM notes", lambda r: len(r) == 5)
            assert await committed() == 2  # the rest waits for the interval
            async with consuming(stack, bench, group=group, policy=patient):
                await committed_reaches(5)  # the rebalance took them: committed first
                for n in range(6, 8):
                    await bench.produce(note(n), partition=n % 2)
                await bench.wait_for("SELECT n FROM notes", lambda r: len(r) == 7)
        await committed_reaches(7)  # both stopped
    finally:
        await admin.close()


def test_an_inbox_needs_the_transaction() -> None:
    with pytest.raises(ValueError, match="inbox"):
        Subscription(
            name="notes",
            topics=("t",),
            group="g",
            parse=parse,
            handle=store,
            event_id=lambda note: str(note.n),
            transaction=False,
        )


async def test_every_neighbour_of_a_bad_record_is_stored_and_the_bad_ones_are_dead_letters(
    stack: Stack, bench: Bench
) -> None:
    await bench.produce(note(1))
    await bench.produce(b"{not json", headers=[("name", "Иван".encode("cp1251"))])
    await bench.produce(note(2))
    await bench.produce(orjson.dumps({"n": "three", "text": "wrong type"}))
    await bench.produce(note(3))
    await bench.produce(note(4, "NUL \x00 inside"))
    await bench.produce(note(5))
    await bench.produce(note(6), partition=1)
    async with consuming(stack, bench):
        rows = await bench.wait_for("SELECT n FROM notes ORDER BY n", lambda r: len(r) == 5)
        letters = await bench.wait_for(LETTERS, lambda r: len(r) == 3)
    assert [r["n"] for r in rows] == [1, 2, 3, 5, 6]
    by_offset = {d["offset"]: d for d in (orjson.loads(r["payload"])["data"] for r in letters)}
    assert sorted(by_offset) == [1, 3, 5]
    unparseable, mistyped, refused = by_offset[1], by_offset[3], by_offset[5]
    # Parsing again gives the same answer: one attempt. The record PostgreSQL refuses is
    # tried again with backoff before it is given up.
    assert (unparseable["attempts"], mistyped["attempts"], refused["attempts"]) == (1, 1, 3)
    assert mistyped["error"].startswith("n:")
    assert "UntranslatableCharacter" in refused["error"] or "0x00" in refused["error"]
    for letter in (unparseable, mistyped, refused):
        assert (letter["topic"], letter["partition"], letter["consumer"]) == (
            bench.topic,
            0,
            "notes",
        )
    assert base64.b64decode(unparseable["value_base64"]) == b"{not json"
    header = unparseable["headers"][0]
    assert header["key"] == "name" and header["value"] is None
    assert base64.b64decode(header["value_base64"]) == "Иван".encode("cp1251")
    outbox_topics = await bench.rows("SELECT DISTINCT aggregatetype FROM outbox")
    assert [r["aggregatetype"] for r in outbox_topics] == [f"{bench.topic}.dlq"]


def parse_answers(record: Record) -> Note | None:
    """Like a service's parse: the one event type it uses, None for any other."""
    event = orjson.loads(record.value or b"")
    if event.get("type") != event_types.ANSWER_GIVEN:
        return None
    return Note.model_validate(event["data"])


def event(n: int, kind: str) -> bytes:
    return orjson.dumps({"type": kind, "data": {"n": n, "text": "ok"}})


async def test_a_type_nobody_writes_is_a_dead_letter_and_a_known_unused_one_is_passed_by(
    stack: Stack, bench: Bench
) -> None:
    """`parse` returning None means "not for me", which is only true of a type the platform
    writes: an unknown one would otherwise be committed past without a trace."""
    await bench.produce(event(1, event_types.ANSWER_GIVEN))
    await bench.produce(event(2, "kz.appeals.nobody-writes-this.v1"))
    await bench.produce(event(3, event_types.DEADLINE_WARNING))  # known, not used here
    await bench.produce(event(4, event_types.ANSWER_GIVEN))
    # A binary-mode event: the type in the header only.
    await bench.produce(b"{}", headers=[("ce_type", b"kz.appeals.header-only.v1")])
    await bench.produce(event(6, event_types.ANSWER_GIVEN))
    async with consuming(stack, bench, parse=parse_answers):
        rows = await bench.wait_for("SELECT n FROM notes ORDER BY n", lambda r: len(r) == 3)
        letters = await bench.wait_for(LETTERS, lambda r: len(r) == 2)
    assert [r["n"] for r in rows] == [1, 4, 6]
    by_offset = {d["offset"]: d for d in (orjson.loads(r["payload"])["data"] for r in letters)}
    assert sorted(by_offset) == [1, 4]
    assert "kz.appeals.nobody-writes-this.v1" in by_offset[1]["error"]
    assert "kz.appeals.header-only.v1" in by_offset[4]["error"]
    assert by_offset[1]["attempts"] == 1


async def test_a_consumer_whose_fetcher_died_starts_again_and_reads_on(
    stack: Stack, bench: Bench
) -> None:
    """aiokafka ends its background fetcher on an unexpected error (a write on a connection
    already closed, seen when the partition leader was killed) and getmany then returns
    nothing forever: the fault suite's deadlines stopped opening clocks. The consumer must
    notice and start again."""
    # The test drives the failure the broker kill caused, through the same routine.
    failed = asyncio.Event()
    async with reading(stack, bench) as (consumer, inner):
        fetcher = inner._fetcher
        original = fetcher._proc_fetch_request

        async def broken(*args: Any, **kwargs: Any) -> bool:
            failed.set()
            fetcher._proc_fetch_request = original  # once: the next consumer is not touched
            raise RuntimeError(CLOSED)

        fetcher._proc_fetch_request = broken
        await asyncio.wait_for(failed.wait(), 60)
        await bench.produce(note(2))
        rows = await bench.wait_for("SELECT n FROM notes ORDER BY n", lambda r: len(r) == 2)
        assert consumer._consumer is not inner  # a new aiokafka consumer reads now
    assert [r["n"] for r in rows] == [1, 2]
    assert await bench.letters() == []


async def test_a_consumer_whose_group_coordination_died_starts_again_and_reads_on(
    stack: Stack, bench: Bench
) -> None:
    """The uvloop error that ends aiokafka's fetcher can end its coordination task instead
    (seen in make test's short fault suite after the broker was killed). Unlike the fetcher's,
    that death is raised by the next getmany, and the consumer must start again on it."""
    async with reading(stack, bench) as (consumer, inner):
        client = inner._client
        original = client.coordinator_lookup

        async def broken(*args: Any, **kwargs: Any) -> Any:
            client.coordinator_lookup = original  # once: the next consumer is not touched
            raise RuntimeError(CLOSED)

        client.coordinator_lookup = broken
        inner._coordinator.coordinator_dead()  # it looks the coordinator up again, and dies
        await asyncio.wait([inner._coordinator._coordination_task], timeout=60)
        assert inner._coordinator._coordination_task.done()
        await bench.produce(note(2))
        await bench.produce(note(3))
        rows = await bench.wait_for("SELECT n FROM notes ORDER BY n", lambda r: len(r) == 3)
        assert consumer._consumer is not inner  # a new aiokafka consumer reads now
    assert [r["n"] for r in rows] == [1, 2, 3]


async def replaced(consumer: Consumer[Note], inner: Any) -> None:
    """Until the consumer reads with an aiokafka consumer other than `inner`."""
    for _ in range(1200):  # a minute at most: the machine is shared
        if consumer._consumer not in (None, inner):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the consumer was not started again")


async def test_a_consumer_whose_metadata_synchroniser_died_starts_again_and_reads_on(
    stack: Stack, bench: Bench
) -> None:
    """The same uvloop error can end the client's metadata synchroniser. Nothing shows at
    once (fetches go on with the metadata known), but the next wait for fresh metadata never
    ends: after a broker restart the group coordinator is looked up again, a retriable error
    asks for metadata, and coordination waits forever, holding the lock every commit takes.
    make test's fault suite saw routing stop routing for good after the broker was killed.
    The test drives that chain through the same routines; the consumer must start again."""
    async with reading(stack, bench) as (consumer, inner):
        client = inner._client
        lookup = client.coordinator_lookup

        async def lookup_refused(*args: Any, **kwargs: Any) -> Any:
            client.coordinator_lookup = lookup  # once: the next consumer is not touched
            raise CoordinatorNotAvailableError("the coordinator is loading")

        await end_metadata_synchroniser(client)
        client.coordinator_lookup = lookup_refused
        inner._coordinator.coordinator_dead()  # looked up again: refused, waits for metadata
        await bench.produce(note(2))
        await bench.wait_for("SELECT n FROM notes", lambda r: len(r) == 2)
        await bench.produce(note(3))  # after the commit of note 2 began to wait
        rows = await bench.wait_for("SELECT n FROM notes ORDER BY n", lambda r: len(r) == 3)
        await replaced(consumer, inner)
        # Its stop waited for coordination that waits forever: it was cut, nothing of it runs
        # on (fetching, heartbeating to keep its place in the group).
        left = [inner._coordinator._coordination_task, inner._fetcher.error_future]
        await asyncio.wait(left, timeout=60)
        assert all(task.done() for task in left)
    assert [r["n"] for r in rows] == [1, 2, 3]
    assert await bench.letters() == []


async def test_a_poll_loop_held_by_a_wait_nobody_bounds_is_started_again(
    stack: Stack, bench: Bench
) -> None:
    """Whatever wait holds the poll loop past `stall_timeout`, the consumer is started again
    from outside it and reads on from the committed offsets."""
    calls = 0

    async def hangs_once(conn: asyncpg.Connection, notes: list[Note]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.Event().wait()  # never set
        await store(conn, notes)

    await bench.produce(note(1))
    policy = replace(FAST, stall_timeout=2.0)
    async with consuming(stack, bench, handle=hangs_once, policy=policy) as consumer:
        for _ in range(1200):
            if calls:
                break
            await asyncio.sleep(0.05)
        inner = consumer._consumer
        rows = await bench.wait_for("SELECT n FROM notes", lambda r: len(r) == 1)
        assert consumer._consumer is not inner
    assert calls == 2
    assert [r["n"] for r in rows] == [1]


async def test_a_cancellation_raised_from_inside_does_not_end_the_consumer(
    stack: Stack, bench: Bench
) -> None:
    """A CancelledError from an awaited future something else cancelled is a crash like any
    other: only a cancellation of the consumer's own task ends it."""
    calls = 0

    async def cancelled_once(conn: asyncpg.Connection, notes: list[Note]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncio.CancelledError()
        await store(conn, notes)

    await bench.produce(note(1))
    async with consuming(stack, bench, handle=cancelled_once):
        rows = await bench.wait_for("SELECT n FROM notes", lambda r: len(r) == 1)
    assert calls == 2
    assert [r["n"] for r in rows] == [1]


async def test_while_postgresql_refuses_connections_records_wait_and_none_is_dead_lettered(
    stack: Stack, bench: Bench, database: str
) -> None:
    """A role whose connections are cut and refused (CONNECTION LIMIT 0, backends terminated)
    stands for a database that is away; when it is back every record is stored once."""
    role, password = f"consumer_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = await asyncpg.connect(database)
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    await admin.execute(f"GRANT ALL ON SCHEMA {SCHEMA} TO {role}")
    await admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA {SCHEMA} TO {role}")
    await admin.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {role}")
    dsn = f"postgresql://{role}:{password}@{database.split('@', 1)[1]}"
    try:
        async with consuming(stack, bench, dsn):
            await bench.produce(note(1))
            await bench.wait_for("SELECT n FROM notes", lambda r: len(r) == 1)
            await admin.execute(f"ALTER ROLE {role} CONNECTION LIMIT 0")
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
            )
            for n in range(2, 12):
                await bench.produce(note(n), partition=n % 2)
            await asyncio.sleep(2)  # the consumer meets the outage several times
            assert len(await bench.rows("SELECT n FROM notes")) == 1
            await admin.execute(f"ALTER ROLE {role} CONNECTION LIMIT -1")
            rows = await bench.wait_for("SELECT n FROM notes ORDER BY n", lambda r: len(r) == 11)
        assert [r["n"] for r in rows] == list(range(1, 12))
        assert await bench.letters() == []
    finally:
        await admin.execute(f"ALTER ROLE {role} CONNECTION LIMIT -1")
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
        )
        await admin.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {SCHEMA} FROM {role}")
        await admin.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {SCHEMA} FROM {role}")
        await admin.execute(f"REVOKE ALL ON SCHEMA {SCHEMA} FROM {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_a_dead_letter_replayed_after_the_fix_is_stored_with_its_original_headers(
    stack: Stack, bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    """Dead letters reach `<topic>.dlq` through the real relay; `appeals-dlq replay` writes the
    record back unchanged (the cp1251 header too) and the fixed consumer stores it."""
    poisoned = note(7, "NUL \x00")
    await bench.produce(poisoned, headers=[("applicant", "Иван".encode("cp1251"))])
    pool = await create_pool(bench.dsn, SCHEMA, min_size=1, max_size=2)
    producer = create_producer(stack.options(), "test-dlq-relay")
    await producer.start()
    relay = OutboxRelay(pool, producer, schema=SCHEMA, poll_interval=0.05)
    relaying = asyncio.create_task(relay.run())
    try:
        dead = EventProbe(stack.options(), f"{bench.topic}.dlq")
        async with dead, consuming(stack, bench):
            await dead.wait_for(lambda e: e["type"] == "kz.appeals.dead-letter.v1", timeout=60)
    finally:
        relay.stop()
        await asyncio.gather(relaying, return_exceptions=True)
        await producer.stop()
        await pool.close()
    options = ["--bootstrap", stack.bootstrap]
    assert await asyncio.to_thread(dlq.main, [*options, "list", bench.topic]) == 0
    captured = capsys.readouterr()
    listed = captured.out + captured.err
    assert listed.startswith(f"1 dead letter(s) on {bench.topic}.dlq"), listed
    assert "attempts 3" in listed and "0x00" in listed

    async def fixed(conn: asyncpg.Connection, notes: list[Note]) -> None:
        await store(conn, [Note(n=n.n, text=n.text.replace("\x00", "")) for n in notes])

    probe = EventProbe(stack.options(), bench.topic)
    async with probe, consuming(stack, bench, handle=fixed):
        assert await asyncio.to_thread(dlq.main, [*options, "replay", bench.topic, "--all"]) == 0
        replayed = await probe.wait_for(lambda e: True)
        rows = await bench.wait_for("SELECT n, text FROM notes", lambda r: len(r) == 1)
    assert (rows[0]["n"], rows[0]["text"]) == (7, "NUL ")
    assert replayed["_raw"] == poisoned
    assert replayed["_headers"] == {"applicant": "Иван".encode("cp1251")}
