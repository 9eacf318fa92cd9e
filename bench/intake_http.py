"""bench-intake: accepted appeals/s and POST→AppealReceived latency, beside raw INSERTs.

Starts a real intake server (uvicorn, INTAKE_WORKERS processes) on a scratch database, posts
valid submissions at rising concurrency from client processes, and times each appeal from
the POST to its AppealReceived on Kafka. The baseline, measured in the same run on the same
PostgreSQL: single-row durable INSERTs (autocommit, synchronous_commit on) of a row of the
same width, from the same number of connections.
Goal (issue 3): >= 2,000 appeals/s on this 2-core machine and at least half the raw rate.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from appeals_contracts import topics
from appeals_platform.auth import Role
from appeals_tools.stack.kafka import admin_access, admin_options, environment_of
from appeals_tools.stack.layout import Layout, project_root
from appeals_tools.stack.postgres import database_url, prepare_database
from appeals_tools.tokens import ensure_keys, issue_token, signing_key

PER_LEVEL = int(os.environ.get("BENCH_APPEALS", "10000"))
LEVELS = tuple(int(c) for c in os.environ.get("BENCH_CONCURRENCY", "8,32,128").split(","))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CLIENTS = int(os.environ.get("BENCH_CLIENT_PROCESSES", "1"))
PORT = 18000
DEV_SET = project_root() / "examples" / "appeals-dev.jsonl"


def say(message: str) -> None:
    print(message, flush=True)


def bodies(count: int) -> list[bytes]:
    try:
        from appeals_tools.demo import demo_submissions

        return [s.model_dump_json().encode() for s in demo_submissions(count, seed=7)]
    except ImportError:
        lines = [json.loads(x) for x in DEV_SET.read_text().splitlines() if x.strip()]
        return [
            json.dumps({**lines[n % len(lines)], "external_id": f"b-{uuid.uuid4().hex}"}).encode()
            for n in range(count)
        ]


def post_all(args: tuple[list[bytes], int, str]) -> list[tuple[float, str, int]]:
    """One client process: post its bodies over `concurrency` keep-alive connections.

    A bare HTTP/1.1 client (requests serialized up front, responses read by Content-Length):
    httpx spent more CPU per request than the server's parsing did, on the same two cores.
    """
    payloads, concurrency, token = args
    requests = [
        (
            "POST /v1/appeals HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in reversed(payloads)
    ]

    async def connection(results: list[tuple[float, str, int]]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
        try:
            while requests:
                request = requests.pop()
                started = time.time()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                at = head.lower().index(b"content-length:") + len(b"content-length:")
                body = await reader.readexactly(int(head[at : head.index(b"\r\n", at)]))
                appeal = orjson.loads(body).get("appeal_id", "") if status < 300 else ""
                results.append((started, appeal, status))
        finally:
            writer.close()

    async def run() -> list[tuple[float, str, int]]:
        results: list[tuple[float, str, int]] = []
        await asyncio.gather(*(connection(results) for _ in range(concurrency)))
        return results

    return asyncio.run(run())


async def watch_received(topic: str, stop: asyncio.Event, seen: dict[str, float]) -> None:
    consumer = AIOKafkaConsumer(**admin_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        known = None
        while not known:  # metadata for an unsubscribed topic arrives on a forced update
            await consumer._client.force_metadata_update()
            known = consumer.partitions_for_topic(topic)
        partitions = [TopicPartition(topic, p) for p in known]
        consumer.assign(partitions)
        for tp, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, offset)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for records in batches.values():
                for record in records:
                    if record.key:
                        seen.setdefault(record.key.decode(), now)
    finally:
        await consumer.stop()


async def raw_insert_rate(dsn: str, connections: int, rows: int, table: str) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    assert pool is not None
    await pool.execute(
        f"CREATE TABLE {table} (id uuid PRIMARY KEY, source text, external_id text, "
        "registered_at timestamptz, submission jsonb, UNIQUE (source, external_id))"
    )
    payload = json.dumps({"text": "x" * 600})
    counter = iter(range(rows))

    async def worker() -> None:
        async with pool.acquire() as conn:
            for n in counter:
                await conn.execute(
                    f"INSERT INTO {table} VALUES ($1, 'bench', $2, now(), $3::jsonb)",
                    uuid.uuid4(),
                    str(n),
                    payload,
                )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return rows / elapsed


def start_server(dsn: str, key_file: Path, topic: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "INTAKE_PORT": str(PORT),
        "INTAKE_DATABASE_URL": dsn,
        "INTAKE_WORKERS": str(WORKERS),
        "INTAKE_LOG_LEVEL": "WARNING",
        "INTAKE_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:6]}",
        "INTAKE_CONSUMER_OFFSET_RESET": "latest",
        "INTAKE_JWT_JWKS_FILE": str(key_file),
        "INTAKE_POOL_MAX_SIZE": "20",
        # As admin: its received topic is the bench's own, with no ACLs for svc-intake.
        **environment_of("INTAKE_", admin_access(Layout(project_root()))),
        # A topic of its own: the dev stack's routing must not route benchmark appeals.
        "INTAKE_RECEIVED_TOPIC": topic,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "intake"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/ready", timeout=1):
                return server
        except OSError:
            time.sleep(0.25)
    server.kill()
    raise SystemExit("intake did not become ready")


def all_workers_listening() -> None:
    """Each worker opens its own socket once started: wait until every one of them answers."""
    seen: set[int] = set()
    for _ in range(400):
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2) as response:
            seen.add(json.loads(response.read())["worker"])
        if len(seen) >= WORKERS:
            return
        time.sleep(0.05)
    raise SystemExit(f"only {len(seen)} of {WORKERS} workers answered")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [float("nan")]
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> int:
    keys = project_root() / ".local" / "keys"
    public = ensure_keys(keys)
    token = issue_token(signing_key(keys), Role.INTEGRATION, source="bench")
    name = f"bench_intake_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(database_url())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await prepare_database(database_url(), name)  # intake's role and schema, as in use
    topic = f"bench.intake.appeal-received.{uuid.uuid4().hex[:6]}"
    kafka = AIOKafkaAdminClient(**admin_options())
    await kafka.start()
    partitions = next(t.partitions for t in topics.TOPICS if t.name == topics.APPEAL_RECEIVED)
    await kafka.create_topics([NewTopic(topic, partitions, 1)])
    server = None
    try:
        dsn = database_url(name)
        say(
            f"bench-intake: {PER_LEVEL:,} appeals per level, concurrency {LEVELS}, "
            f"{WORKERS} server workers, {CLIENTS} client processes"
        )
        say("raw baseline: single-row durable INSERTs (autocommit) ...")
        single = await raw_insert_rate(dsn, 1, 3_000, "raw_insert_single")
        say(f"  {single:,.0f} rows/s from 1 connection (every commit waits for its own flush)")
        raw = await raw_insert_rate(dsn, max(LEVELS), 30_000, "raw_insert")
        say(f"  {raw:,.0f} rows/s from {max(LEVELS)} connections (commits share flushes)")
        server = start_server(database_url(name, role="intake"), public, topic)
        all_workers_listening()
        payloads = bodies(PER_LEVEL * len(LEVELS) + 200)
        with multiprocessing.get_context("spawn").Pool(CLIENTS) as clients:
            clients.map(post_all, [(payloads[-200:][i::CLIENTS], 8, token) for i in range(CLIENTS)])
            say(f"{'conc':>5} {'accepted/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'non-201':>8}")
            best = 0.0
            for level, concurrency in enumerate(LEVELS):
                chunk = payloads[level * PER_LEVEL : (level + 1) * PER_LEVEL]
                seen: dict[str, float] = {}
                stop = asyncio.Event()
                watcher = asyncio.create_task(watch_received(topic, stop, seen))
                await asyncio.sleep(1)
                started = time.perf_counter()
                parts = [
                    (chunk[i::CLIENTS], max(1, concurrency // CLIENTS), token)
                    for i in range(CLIENTS)
                ]
                results = [
                    r
                    for part in await asyncio.to_thread(clients.map, post_all, parts)
                    for r in part
                ]
                elapsed = time.perf_counter() - started
                accepted = [r for r in results if r[2] == 201]
                if not accepted:
                    codes = sorted({r[2] for r in results})
                    raise SystemExit(f"no appeal was accepted (status codes {codes})")
                deadline = time.time() + 30
                while len(seen) < len(accepted) and time.time() < deadline:
                    await asyncio.sleep(0.2)
                stop.set()
                await watcher
                latencies = [(seen[a] - t0) * 1000 for t0, a, _ in accepted if a in seen]
                rate = len(accepted) / elapsed
                best = max(best, rate)
                say(
                    f"{concurrency:>5} {rate:>11,.0f} {percentile(latencies, 0.5):>8.1f} "
                    f"{percentile(latencies, 0.99):>8.1f} {len(results) - len(accepted):>8}"
                    + (
                        ""
                        if len(latencies) == len(accepted)
                        else f"  ({len(accepted) - len(latencies)} not seen on Kafka)"
                    )
                )
        say(
            f"best {best:,.0f} appeals/s = {best / raw:.2f} of the raw INSERT rate from "
            f"{max(LEVELS)} connections ({raw:,.0f}/s), {best / single:.2f} of the rate from one "
            f"({single:,.0f}/s); goal >= 2,000/s and >= 0.5"
        )
        say(
            "latency: from sending the POST to the AppealReceived record arriving on Kafka "
            "(registration, commit, outbox relay, broker)"
        )
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await kafka.delete_topics([topic])
        await kafka.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
