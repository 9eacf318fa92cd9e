"""Relay leadership is a lease: a leader that hangs is replaced, and one that wakes up stops;
on the real PostgreSQL and Kafka, with a relay in a process of its own frozen by SIGSTOP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from appeals_platform import lease, outbox
from appeals_platform.outbox import Event, OutboxRelay, create_producer
from appeals_platform.pool import create_pool
from tests.conftest import Stack
from tests.kafka_probe import EventProbe
from tests.outage.proxy import PostgresProxy
from tests.platform.conftest import Relaying
from tests.platform.test_outbox import assert_per_key_order, fill, outbox_rows

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
LEASE = 3.0
# The bound for replacing a hung leader; the lease here is 3 s, so it is far away.
TAKEOVER_LIMIT = 30.0


async def until(check: Callable[[], Any], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.1)


def numbered(topic_name: str, key: str, n: int) -> Event:
    return outbox.event(
        topic_name, key, type="kz.appeals.test.v1", source="tests", subject=key, data={"n": n}
    )


async def relay_process(
    database: str, prefix: str, lease_seconds: float, *, output: int
) -> asyncio.subprocess.Process:
    """A relay leading from a process of its own (tests/platform/relay_process.py), so the test
    can freeze or kill it; its output (stdout and stderr) goes to `output`."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.platform.relay_process",
        database,
        prefix,
        str(lease_seconds),
        cwd=ROOT,
        stdout=output,
        stderr=asyncio.subprocess.STDOUT if output == asyncio.subprocess.PIPE else output,
    )


async def test_a_frozen_leader_is_replaced_and_stops_when_it_wakes_up(
    stack: Stack, database: str, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    name = await topic("outbox-failover", partitions=3)
    pool = await create_pool(database, "intake")
    producer = create_producer(stack.options(), "test-relay-b")
    await producer.start()
    standby = OutboxRelay(
        pool,
        producer,
        schema="intake",
        topic_prefix=stack.prefix,
        poll_interval=0.05,
        lease_seconds=LEASE,
        service="relay-b",
    )
    process = await relay_process(database, stack.prefix, LEASE, output=asyncio.subprocess.PIPE)
    keys = [str(uuid.uuid4()) for _ in range(20)]
    written: list[Event] = []
    writing = True

    async def write() -> None:  # a steady trickle of rows, before, during and after the freeze
        while writing:
            start = len(written)
            batch = [numbered(name, keys[(start + i) % 20], start + i) for i in range(5)]
            written.extend(batch)
            await fill(pool, batch)
            await asyncio.sleep(0.02)

    async def held_by(pid: int) -> bool:
        async with pool.acquire() as conn:
            holder = await lease.holder(conn, "outbox")
        return holder is not None and holder.rsplit(":", 2)[1] == str(pid)

    standing: asyncio.Task[None] | None = None
    writer: asyncio.Task[None] | None = None
    try:
        async with probe(name) as events:
            await until(lambda: held_by(process.pid), "the relay process leads", timeout=60)
            standing = asyncio.create_task(standby.run())  # a candidate from now on
            writer = asyncio.create_task(write())
            await events.collect(100, timeout=60)  # the process relays
            assert not standby.is_leader
            os.kill(process.pid, signal.SIGSTOP)
            await until(lambda: _is(standby), "the standby took over", timeout=TAKEOVER_LIMIT)
            await asyncio.sleep(1)
            os.kill(process.pid, signal.SIGCONT)
            await asyncio.sleep(2 * LEASE)  # the process wakes up to a lease that is gone
            writing = False
            await writer
            writer = None
            await until(lambda: _empty(pool), "the outbox drained")
            seen = await events.collect(len(written), timeout=60)
        assert await held_by(os.getpid())
        assert standby.is_leader
    finally:
        writing = False
        if writer is not None:
            await writer
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
        output, _ = await process.communicate()
        standby.stop()
        if standing is not None:
            await standing
        await producer.stop()
        await pool.close()
    assert {e["id"] for e in seen} == {e.id for e in written}  # nothing lost
    assert_per_key_order(seen)  # nothing of a key overtook an earlier row of it
    log = output.decode()
    assert "leads" in log and "stops leading" in log, log


async def _is(relay: OutboxRelay) -> bool:
    return relay.is_leader


async def _empty(pool: Any) -> bool:
    async with pool.acquire() as conn:
        return await outbox.pending(conn) == 0


async def test_a_leader_whose_lease_was_taken_deletes_nothing(
    relaying: Relaying, topic: Callable[..., Any]
) -> None:
    name = await topic("outbox-fenced", partitions=1)
    await fill(relaying.pool, outbox_rows(name, 10, keys=2))
    relay = relaying.relay()
    async with relaying.pool.acquire() as conn:
        assert await relay.take_lease(conn)
        # Another process took the lease (this one's ran out while it hung, say).
        await conn.execute(
            "UPDATE outbox_lease SET holder = 'other@host:1:x', "
            "expires_at = now() + interval '1 min'"
        )
        await relay.publish_batch(conn)
        assert not relay.is_leader
        assert await outbox.pending(conn) == 10  # kept for the lease's holder
        assert not await relay.take_lease(conn)


async def test_a_killed_leader_is_replaced_without_waiting_for_its_lease(
    stack: Stack, database: str, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    # A lease far longer than the wait below: a takeover within it can only come from
    # PostgreSQL having closed the killed holder's session, not from the lease running out.
    long_lease = 600.0
    name = await topic("outbox-killed", partitions=1)
    pool = await create_pool(database, "intake")
    producer = create_producer(stack.options(), "test-relay-c")
    await producer.start()
    standby = OutboxRelay(
        pool,
        producer,
        schema="intake",
        topic_prefix=stack.prefix,
        poll_interval=0.05,
        lease_seconds=long_lease,
        service="relay-c",
    )
    process = await relay_process(
        database, stack.prefix, long_lease, output=asyncio.subprocess.DEVNULL
    )

    async def holder_pid() -> str | None:
        async with pool.acquire() as conn:
            holder = await lease.holder(conn, "outbox")
        return None if holder is None else holder.rsplit(":", 2)[1]

    async def held_by_process() -> bool:
        return await holder_pid() == str(process.pid)

    standing: asyncio.Task[None] | None = None
    try:
        await until(held_by_process, "the relay process leads", timeout=60)
        standing = asyncio.create_task(standby.run())
        await asyncio.sleep(1)
        assert not standby.is_leader  # its lease is good for minutes
        process.kill()
        await process.wait()
        await until(lambda: _is(standby), "the standby took over", timeout=TAKEOVER_LIMIT)
        assert await holder_pid() == str(os.getpid())
        rows = [numbered(name, str(uuid.uuid4()), n) for n in range(10)]
        async with probe(name) as events:
            await fill(pool, rows)
            seen = await events.collect(len(rows), timeout=60)
        assert {e["id"] for e in seen} == {r.id for r in rows}
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        standby.stop()
        if standing is not None:
            await standing
        await producer.stop()
        await pool.close()


async def test_a_leader_whose_connection_freezes_is_replaced_and_stops_relaying(
    stack: Stack, database: str, topic: Callable[..., Any], probe: Callable[[str], EventProbe]
) -> None:
    # The leader's PostgreSQL connections pass a forwarder that stops passing bytes (a
    # half-open connection): its statements hang, its lease is not renewed, and another
    # relay, with a connection of its own, takes over.
    name = await topic("outbox-frozen-link", partitions=3)
    host_port = urlsplit(database).netloc.rpartition("@")[2]
    host, _, port = host_port.partition(":")
    link = PostgresProxy(int(port), host)
    await link.start()
    frozen_pool = await create_pool(link.dsn(database), "intake", min_size=1, max_size=3)
    pool = await create_pool(database, "intake")
    producer = create_producer(stack.options(), "test-relay-d")
    await producer.start()
    options: dict[str, Any] = {
        "schema": "intake",
        "topic_prefix": stack.prefix,
        "poll_interval": 0.05,
        "lease_seconds": LEASE,
        "statement_timeout": 2.0,
    }
    leader = OutboxRelay(frozen_pool, producer, service="relay-frozen", **options)
    standby = OutboxRelay(pool, producer, service="relay-standby", **options)
    keys = [str(uuid.uuid4()) for _ in range(10)]
    before = [numbered(name, keys[n % 10], n) for n in range(50)]
    after = [numbered(name, keys[n % 10], n) for n in range(50, 100)]
    leading = asyncio.create_task(leader.run())
    standing: asyncio.Task[None] | None = None
    try:
        async with probe(name) as events:
            await until(lambda: _is(leader), "the first relay leads", timeout=30)
            standing = asyncio.create_task(standby.run())
            await fill(pool, before)
            await events.collect(len(before), timeout=60)
            assert not standby.is_leader
            await link.freeze()
            await until(lambda: _is(standby), "the standby took over", timeout=TAKEOVER_LIMIT)
            await until(lambda: _not(leader), "the frozen leader stopped", timeout=TAKEOVER_LIMIT)
            await fill(pool, after)
            # Rows the frozen leader had sent come again from the standby: count ids, not records.
            wanted = {e.id for e in before + after}
            deadline = time.monotonic() + 60
            while not wanted <= {e["id"] for e in events.seen} and time.monotonic() < deadline:
                await events.collect(len(events.seen) + 1, timeout=1)
            seen = events.seen
            await link.restore()
            await until(lambda: _empty(pool), "the outbox drained")
    finally:
        await link.restore()
        leader.stop()
        standby.stop()
        await asyncio.wait_for(leading, 60)
        if standing is not None:
            await standing
        await producer.stop()
        await frozen_pool.close()
        await pool.close()
        await link.close()
    assert {e["id"] for e in seen} == {e.id for e in before + after}
    assert_per_key_order(seen)


async def _not(relay: OutboxRelay) -> bool:
    return not relay.is_leader
