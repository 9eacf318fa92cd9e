"""bench-routing: appeals/s through the routing consumer, beside a raw Kafka consume, same run.

Fills a fresh 6-partition topic with BENCH_APPEALS AppealReceived events (intake's demo
submissions), then:
1. raw: a plain aiokafka consumer reads the whole topic (no parsing): the ceiling.
2. decide: `decide_many` alone on the same submissions, in this process: the CPU cost.
3. routing: BENCH_PROCESSES instances of the real routing app (FastStream batch consumer in
   one consumer group, decisions, set-based writes of appeals, assignments and outbox rows)
   on a scratch database, with the outbox relay publishing as in production; appeals/s
   counted from the group's committed offsets; "outbox drained" says when the relay had
   published every event, and CPU time per appeal is taken over the whole machine until then.
4. wiring: the same with every decision replaced by one fixed decision, on a copy of the
   topic: what consuming, recording and publishing cost without the decision's CPU.
Goal (issue 4): >= 5,000 appeals/s on this 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import envelope, event_id
from appeals_contracts.events import AppealReceived
from appeals_contracts.submission import AppealSubmission
from appeals_contracts.topics import all_topic_specs
from appeals_platform.records import Record
from appeals_reference import load_reference
from appeals_tools import procfs
from appeals_tools.stack import usage
from appeals_tools.stack.kafka import admin_access, admin_options, settings_of
from appeals_tools.stack.layout import Layout, project_root
from appeals_tools.stack.postgres import database_url, prepare_database
from appeals_tools.tokens import ensure_keys

# 60,000: about ten seconds of routing, long enough for the host's moods to average out.
APPEALS = int(os.environ.get("BENCH_APPEALS", "60000"))
BATCH = int(os.environ.get("BENCH_BATCH", "2000"))  # routing's consumer_batch_size
# Routing instances consuming the topic together (ROUTING_WORKERS in production). Three on two
# cores: each instance waits for PostgreSQL between its chunks, and a third fills those gaps
# (measured 1 Dec 2026, alternating runs: 2 -> 2,894 and 3,134 appeals/s, 3 -> 3,277 and 3,391).
PROCESSES = int(os.environ.get("BENCH_PROCESSES", "3"))
GOAL = 5000
PARTITIONS = 6
DEV_SET = project_root() / "examples" / "appeals-dev.jsonl"


def say(message: str) -> None:
    print(message, flush=True)


def submissions(count: int) -> list[AppealSubmission]:
    try:
        from appeals_tools.demo import demo_submissions

        return list(demo_submissions(count, seed=11))
    except ImportError:
        lines = [json.loads(x) for x in DEV_SET.read_text().splitlines() if x.strip()]
        return [
            AppealSubmission.model_validate(
                {**lines[n % len(lines)], "external_id": f"b-{uuid.uuid4().hex}"}
            )
            for n in range(count)
        ]


def events(subs: list[AppealSubmission]) -> list[tuple[bytes, bytes]]:
    now = datetime.now(UTC)
    result = []
    for n, sub in enumerate(subs):
        appeal_id = str(uuid.uuid4())
        data = AppealReceived(
            appeal_id=appeal_id,
            registration_number=f"KRG-{now.year}-{n:08d}",
            registered_at=now,
            source="bench",
            channel="http",
            submission=sub,
        )
        event = envelope(
            event_type=event_types.APPEAL_RECEIVED,
            source="/appeals/intake",
            subject=appeal_id,
            data=data.model_dump(mode="json"),
            id=event_id(appeal_id, "received"),
            time=now,
        )
        result.append((appeal_id.encode(), orjson.dumps(event.model_dump(mode="json"))))
    return result


async def fill(topic: str, records: list[tuple[bytes, bytes]]) -> float:
    producer = AIOKafkaProducer(**admin_options(), linger_ms=5, max_batch_size=512 * 1024)
    await producer.start()
    try:
        started = time.perf_counter()
        for start in range(0, len(records), 5000):
            sends = [
                await producer.send(topic, value=value, key=key)
                for key, value in records[start : start + 5000]
            ]
            await asyncio.gather(*sends)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def raw_consume_rate(topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        **admin_options(),
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        started = time.perf_counter()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=BATCH)
            seen += sum(len(records) for records in batches.values())
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def decide_rate(records: list[tuple[bytes, bytes]]) -> tuple[float, float, str]:
    """decide_many alone, on what the service decides from: the events parsed by routing's own
    `parse` (its RoutedSubmission models), in chunks of the service's decision_chunk_size.
    Returns (appeals/s, CPU µs per appeal, classifier version)."""
    from routing.config import Settings
    from routing.decision import decide_many
    from routing.handlers import parse
    from routing.knowledge import load_classifier

    classifier = load_classifier(None)
    ref = load_reference()
    chunk = Settings.model_fields["decision_chunk_size"].default
    sample = [
        parse(Record("input", 0, n, key, value, ()))
        for n, (key, value) in enumerate(records[: min(len(records), 10 * BATCH)])
    ]
    submissions = [item.appeal.submission for item in sample if item is not None]
    decide_many(submissions[:chunk], ref, classifier)  # warm caches as a running service has them
    started, cpu = time.perf_counter(), time.thread_time()
    for start in range(0, len(submissions), chunk):
        decide_many(submissions[start : start + chunk], ref, classifier)
    cpu_us = (time.thread_time() - cpu) * 1e6 / len(submissions)
    return len(submissions) / (time.perf_counter() - started), cpu_us, classifier.version


def stub_decisions() -> None:
    """Replace the decision with one fixed, precomputed decision: what the wiring alone costs."""
    from routing import handlers
    from routing.decision import decide
    from routing.knowledge import load_classifier

    fixed = decide(
        {"subject": "Нет отопления", "text": "Батареи холодные", "category": "HOUSING-HEATING"},
        load_reference(),
        load_classifier(None),
    )

    def decide_all(incoming: Any, *_: Any) -> list[Any]:
        return [fixed] * len(incoming)

    handlers.decide_all = decide_all  # type: ignore[assignment]


def timed_service(spent: Any) -> None:
    """Count, in `spent` (shared with the bench), the appeals decided and the CPU and wall
    time of deciding and of recording them inside a routing process: [appeals, decide CPU,
    decide wall, record CPU, record wall] (seconds). Thread CPU time, so the share of the
    two cores the process did not get is not counted as cost."""
    from routing import app as routing_app
    from routing import handlers

    decide_all, record_decisions = handlers.decide_all, handlers.record_decisions

    def timed_decide(incoming: Any, *args: Any) -> Any:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return decide_all(incoming, *args)
        finally:
            with spent.get_lock():
                spent[0] += len(incoming)
                spent[1] += time.thread_time() - cpu
                spent[2] += time.perf_counter() - started

    async def timed_record(*args: Any, **kwargs: Any) -> Any:
        # Await included: the wall time holds PostgreSQL's share; the CPU time is this
        # process's own (building rows and events, asyncpg encoding).
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return await record_decisions(*args, **kwargs)
        finally:
            with spent.get_lock():
                spent[3] += time.thread_time() - cpu
                spent[4] += time.perf_counter() - started

    handlers.decide_all = timed_decide  # type: ignore[assignment]
    handlers.record_decisions = timed_record  # type: ignore[assignment]
    assert routing_app.handlers is handlers


def consumer_process(
    options: dict[str, Any], stop: Any, partitions: Any, index: int, stub: bool, spent: Any
) -> None:
    """One routing instance (as one of ROUTING_WORKERS would be) until `stop` is set.

    Reports how many partitions it holds, so the rate is measured once the group is stable.
    """
    from routing.app import create_app
    from routing.config import Settings

    if stub:
        stub_decisions()
    timed_service(spent)

    app = create_app(Settings(**options))

    appeals = options["topic_prefix"] + options["appeals_topic"]  # the partitions that count

    async def run() -> None:
        async with app.router.lifespan_context(app):
            while not stop.is_set():
                consumers = app.state.runtime.consumers
                partitions[index] = sum(
                    1 for c in consumers for tp in c.assignment if tp.topic == appeals
                )
                await asyncio.sleep(0.1)

    # On uvloop, as uvicorn runs the service (loop="auto" picks it when installed).
    uvloop.run(run())


@dataclass(frozen=True)
class Inside:
    """Per appeal inside the routing processes (µs): deciding and recording, CPU and wall."""

    decide_cpu: float
    decide_wall: float
    record_cpu: float
    record_wall: float
    # Machine CPU per appeal (µs) by where it was spent: routing, postgres, kafka, other.
    machine: dict[str, float] = field(default_factory=dict)


async def committed_count(admin: AIOKafkaAdminClient, group: str, topic: str, before: int) -> int:
    """Records of `topic` the group has committed, or `before` while the broker cannot say yet.

    On a fresh broker the group's coordinator (`__consumer_offsets`) is created on the group's
    first request and is "not available" for a moment: asking again at the next tick is the
    remedy, as for any retriable error."""
    try:
        committed = await admin.list_consumer_group_offsets(group)
    except KafkaError as exc:
        if not exc.retriable:
            raise
        return before
    return sum(max(0, meta.offset) for tp, meta in committed.items() if tp.topic == topic)


async def routing_rate(
    topic: str, dsn: str, count: int, prefix: str, stub: bool = False
) -> tuple[float, float, float, float, Inside]:
    """(appeals/s committed, seconds until the last commit, seconds until the outbox drained,
    machine CPU milliseconds per appeal until drained, time spent inside per appeal)."""
    keys = Layout(project_root()).local / "keys"
    ensure_keys(keys)  # a fresh checkout has none until the first `make run`
    options: dict[str, Any] = {
        "database_url": dsn,
        # As admin: the bench's topics are its own, with no ACLs for svc-routing.
        **settings_of(admin_access(Layout(project_root()))),
        # Read from and publish to the bench's own topics: <prefix><topic>.
        "appeals_topic": topic,
        "consumer_group": f"bench-{uuid.uuid4().hex[:8]}",
        "consumer_offset_reset": "earliest",
        "consumer_batch_size": BATCH,
        "model_path": "/nonexistent/bench-model.joblib",
        "jwt_jwks_file": str(keys / "jwks.json"),
        "log_level": "WARNING",
        "topic_prefix": prefix,
    }
    # The first instance migrates the scratch database before the others join.
    watcher = await asyncpg.connect(dsn)
    admin = AIOKafkaAdminClient(**admin_options())
    await admin.start()
    input_topic = prefix + topic
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    partitions = context.Array("i", PROCESSES)
    spent = context.Array("d", 5)
    processes = [
        context.Process(
            target=consumer_process,
            args=(options, stop, partitions, index, stub, spent),
            daemon=True,
        )
        for index in range(PROCESSES)
    ]
    try:
        for process in processes:
            process.start()
        owner = usage.owner(
            Layout(project_root()), {p.pid: "routing" for p in processes if p.pid is not None}
        )
        first: tuple[float, int, float] | None = None
        reading: procfs.Reading = {}
        done = 0
        last_report = 0.0
        while done < count:
            await asyncio.sleep(0.2)
            if any(not p.is_alive() for p in processes):
                raise SystemExit("a routing process died; see its output above")
            # The group's committed offsets on the input topic: a batch's offsets are committed
            # once its appeals, assignments and events are. Asked of the broker, not of
            # PostgreSQL: counting routing.appeals (1 KB of payload a row) five times a second
            # cost PostgreSQL a few per cent of the machine the bench is measuring.
            done = await committed_count(admin, options["consumer_group"], input_topic, done)
            now = time.perf_counter()
            # The clock starts once every instance holds partitions and all are held: a
            # joining instance first stops the group for a rebalance.
            held = [int(partitions[n]) for n in range(PROCESSES)]
            stable = all(held) and sum(held) == PARTITIONS
            if first is None and stable:
                first = (now, done, procfs.machine_busy_seconds())
                reading = procfs.spent(owner)
            if now - last_report >= 2:
                say(f"  routed {done:,}/{count:,}")
                last_report = now
        finished = time.perf_counter()
        assert first is not None
        # The oldest row through the primary key, as the relay reads: a count(*) every 0.2 s
        # scanned the whole table, dead rows included, at PostgreSQL's (measured) expense.
        while await watcher.fetchval("SELECT seq FROM routing.outbox ORDER BY seq LIMIT 1"):
            await asyncio.sleep(0.2)
        drained = time.perf_counter()
        cpu_ms = (procfs.machine_busy_seconds() - first[2]) * 1000 / max(count - first[1], 1)
        rate = (count - first[1]) / max(finished - first[0], 1e-9)
        n = max(spent[0], 1)
        machine = {"routing": 0.0, "postgres": 0.0, "kafka": 0.0, "other": 0.0}
        for name, seconds in procfs.since(reading, procfs.spent(owner)).items():
            machine[name] = seconds * 1e6 / max(count - first[1], 1)
        inside = Inside(*(spent[k] * 1e6 / n for k in range(1, 5)), machine=machine)
        return rate, finished - first[0], drained - first[0], cpu_ms, inside
    finally:
        stop.set()
        for process in processes:
            process.join(30)
        await watcher.close()
        await admin.close()


async def main() -> int:
    database = f"bench_routing_{uuid.uuid4().hex[:6]}"
    # Routing reads and publishes topics of the bench's own (the services' topic prefix): the
    # real ones keep events forever, and each run would leave about a gigabyte in them.
    prefix = f"bench.routing.{uuid.uuid4().hex[:8]}."
    topic = prefix + "input"
    admin_db = await asyncpg.connect(database_url())
    await admin_db.execute(f'CREATE DATABASE "{database}"')
    await prepare_database(database_url(), database)  # routing's role and schema, as in use
    admin = AIOKafkaAdminClient(**admin_options())
    await admin.start()
    outputs = [
        NewTopic(prefix + spec.name, spec.partitions, 1)
        for spec in all_topic_specs([a.code for a in load_reference().agencies], [])
        # Routing's own topics, and the answers it reads: a topic it subscribes to that is
        # missing makes each process ask the broker for metadata again and again.
        if spec.owner == "routing" or spec.name == topics.ANSWER_GIVEN
    ]
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1), *outputs])
    try:
        say(
            f"bench-routing: {APPEALS:,} AppealReceived events on {topic}, batches of "
            f"{BATCH}, {PROCESSES} routing process(es), {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        subs = submissions(APPEALS)
        records = events(subs)
        size = sum(len(v) for _, v in records) // len(records)
        produced = await fill(topic, records)
        say(f"  filled the topic: {produced:,.0f} events/s, ~{size} bytes each")
        raw = await raw_consume_rate(topic, APPEALS)
        say(f"  raw Kafka consume: {raw:,.0f} records/s")
        decided, alone_us, version = await asyncio.to_thread(decide_rate, records)
        say(
            f"  decide_many alone (classifier {version}): {decided:,.0f} appeals/s, "
            f"{alone_us:.0f} µs of CPU per appeal"
        )
        rate, busy, drained, cpu, inside = await routing_rate(
            "input", database_url(database, role="routing"), APPEALS, prefix
        )
        say(
            f"  routing consumer: {rate:,.0f} appeals/s ({busy:.1f}s for the backlog; "
            f"outbox drained {drained:.1f}s after the first commit, 2 events per assignment; "
            f"{cpu:.3f} ms of machine CPU per appeal)"
        )
        say(
            f"  inside the routing processes, per appeal: deciding {inside.decide_cpu:.0f} µs "
            f"of CPU ({inside.decide_wall:.0f} µs wall), recording {inside.record_cpu:.0f} µs "
            f"of CPU ({inside.record_wall:.0f} µs wall, PostgreSQL's turn included)"
        )
        stub_topic = prefix + "stub"
        await admin.create_topics([NewTopic(stub_topic, PARTITIONS, 1)])
        try:
            await fill(stub_topic, records)
            await admin_db.execute(f'CREATE DATABASE "{database}_stub"')
            await prepare_database(database_url(), f"{database}_stub")
            wiring, _, _, wiring_cpu, stub_inside = await routing_rate(
                "stub", database_url(f"{database}_stub", role="routing"), APPEALS, prefix, stub=True
            )
        finally:
            await admin.delete_topics([stub_topic])
            await admin_db.execute(f'DROP DATABASE IF EXISTS "{database}_stub" WITH (FORCE)')
        say(
            f"  routing consumer with a fixed stub decision: {wiring:,.0f} appeals/s "
            f"({wiring_cpu:.3f} ms of machine CPU per appeal)"
        )
        say("")
        say(f"{'raw Kafka consume':<28} {raw:>10,.0f} records/s")
        say(f"{'decide_many (CPU only)':<28} {decided:>10,.0f} appeals/s")
        say(f"{'wiring, stub decision':<28} {wiring:>10,.0f} appeals/s")
        say(f"{'routing consumer':<28} {rate:>10,.0f} appeals/s  ({rate / raw:.3f} of raw)")
        say(
            f"{'decision, per appeal':<28} {inside.decide_cpu:>10.0f} µs CPU inside the service "
            f"({inside.decide_wall:.0f} µs wall) vs {alone_us:.0f} µs alone; "
            f"recording {inside.record_cpu:.0f} µs CPU ({inside.record_wall:.0f} µs wall; "
            f"stub run {stub_inside.record_cpu:.0f} µs CPU)"
        )
        budget = (os.cpu_count() or 1) * 1000 / GOAL
        say(
            f"{'machine CPU per appeal':<28} {cpu:>10.3f} ms  (the goal leaves {budget:.3f} ms "
            f"on {os.cpu_count()} cores; stub decision {wiring_cpu:.3f} ms)"
        )
        say(
            f"{'where it went, per appeal':<28} "
            + ", ".join(f"{k} {v:.0f} µs" for k, v in inside.machine.items())
            + "; stub decision: "
            + ", ".join(f"{k} {v:.0f} µs" for k, v in stub_inside.machine.items())
        )
        verdict = "meets" if rate >= GOAL else "misses"
        say(f"{verdict} the goal of >= {GOAL:,} appeals/s")
        return 0
    finally:
        await admin.delete_topics([topic, *(t.name for t in outputs)])
        await admin.close()
        await admin_db.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin_db.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
