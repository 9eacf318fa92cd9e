"""`appeals-stack up --replicas intake=2,routing=3,deadlines=2`, as real processes on the test
broker and a database of the test's own: the consumer groups spread their partitions over the
replicas, a routing replica killed with SIGKILL hands its partitions to the others, nothing
is done twice, and several deadlines tickers raise each alert once.

The replicas are started by the same function `appeals-stack up --replicas` uses
(`start_replicas`), with the test's database, topic prefix and consumer groups in their
environment instead of the stack's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from appeals_contracts import event_types
from appeals_contracts.envelope import envelope, event_id
from appeals_contracts.events import AppealAssigned
from appeals_contracts.topics import ALERTS, APPEAL_ASSIGNED, APPEAL_RECEIVED
from appeals_platform.auth import Role
from appeals_tools.stack.kafka import environment_of
from appeals_tools.stack.layout import Layout, read_pid, stop_process
from appeals_tools.stack.postgres import as_role, password_file
from appeals_tools.stack.services import (
    REPLICA_PORT_STEP,
    SERVICES,
    Instance,
    instances,
    start_replicas,
)
from tests.conftest import ROOT, Stack, TokenFactory
from tests.intake.conftest import dev_submissions, fresh
from tests.kafka_probe import EventProbe

pytestmark = [pytest.mark.infra, pytest.mark.replicas]

REPLICAS = {"intake": 2, "routing": 3, "deadlines": 2}
# The broker's smallest allowed session timeout: a killed replica's partitions move sooner.
SESSION_TIMEOUT_MS = 6000
# The group each service's replicas are compared on: its group name's suffix, and a topic of it.
GROUP_SUFFIX = {"intake": "-timeline", "routing": "", "deadlines": "-clocks"}
TOPICS = {"intake": APPEAL_ASSIGNED, "routing": APPEAL_RECEIVED, "deadlines": APPEAL_ASSIGNED}
PARTITIONS = set(range(6))


def free_port_base() -> int:
    """A port P with P, P+1, P+2 and the replicas' ports above them all free."""
    offsets = [i + n * REPLICA_PORT_STEP for i in range(len(SERVICES)) for n in range(3)]
    for base in range(21000 + os.getpid() % 500 * 10, 40000, 7):
        try:
            for offset in offsets:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free ports")


@dataclass
class Replicated:
    layout: Layout
    instances: list[Instance]
    dsn: str
    groups: dict[str, str]  # service -> the group its replicas share (this test's own)
    stack: Stack

    def of(self, service: str) -> list[Instance]:
        return [i for i in self.instances if i.service == service]

    async def metrics(self, instance: Instance) -> dict[str, list[tuple[dict[str, str], float]]]:
        """The replica's /metrics: sample name -> (labels, value) of each sample."""
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"http://127.0.0.1:{instance.port}/metrics")).text
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((sample.labels, sample.value))
        return samples

    async def held(self, instance: Instance) -> set[int]:
        """The partitions of the service's main topic this replica holds (its lag gauges)."""
        group = self.groups[instance.service] + GROUP_SUFFIX[instance.service]
        topic = self.stack.topic(TOPICS[instance.service])
        samples = (await self.metrics(instance)).get("consumer_lag", [])
        return {
            int(labels["partition"])
            for labels, _ in samples
            if labels["group"] == group and labels["topic"] == topic
        }

    async def spread(self, service: str, among: list[Instance] | None = None) -> bool:
        """Every partition held by exactly one of the replicas (`among`: those), each some."""
        held = [await self.held(i) for i in among or self.of(service)]
        return (
            all(held)
            and set().union(*held) == PARTITIONS
            and sum(len(h) for h in held) == len(PARTITIONS)
        )

    async def fetchval(self, sql: str, *args: object) -> int:
        return int((await self.fetchrow(sql, *args))[0])

    async def fetchrow(self, sql: str, *args: object) -> asyncpg.Record:
        conn = await asyncpg.connect(self.dsn)
        try:
            row = await conn.fetchrow(sql, *args)
            assert row is not None
            return row
        finally:
            await conn.close()


async def until(what: str, check: object, timeout: float = 90) -> float:
    """Wait for `check()` (async) to be true; the seconds it took. A bound, not a measurement."""
    assert callable(check)
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.25)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def replicated(
    stack: Stack, module_database: str, key_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicated]:
    database = module_database
    base = free_port_base()
    ports = pytest.MonkeyPatch()
    for offset, name in enumerate(SERVICES):
        ports.setenv(f"APPEALS_{name.upper()}_PORT", str(base + offset))
    layout = Layout(ROOT, home=tmp_path_factory.mktemp("replicas") / "local")
    layout.run.mkdir(parents=True)
    layout.logs.mkdir(parents=True)
    tag = uuid.uuid4().hex[:8]
    groups = {name: f"{name}-replicas-{tag}" for name in SERVICES}

    def environment(name: str) -> dict[str, str]:
        prefix = f"{name.upper()}_"
        settings = {
            "database_url": as_role(database, name),
            "database_password_file": str(password_file(name)),
            "jwt_jwks_file": str(key_dir / "jwks.json"),
            "topic_prefix": stack.prefix,
            "consumer_group": groups[name],
            # The run's topics hold earlier tests' records: only what this test sends.
            "consumer_offset_reset": "latest",
            "consumer_session_timeout_ms": str(SESSION_TIMEOUT_MS),
            "consumer_heartbeat_interval_ms": "1000",
            "outbox_poll_interval": "0.1",
            "ticker_interval": "0.2",
            "ticker_batch_size": "5",  # the tickers take turns over many small batches
            "log_level": "INFO",
        }
        return {
            **environment_of(prefix, stack.access(f"svc-{name}")),
            **{prefix + key.upper(): value for key, value in settings.items()},
        }

    try:
        started = start_replicas(layout, REPLICAS, environment)
        assert [i.name for i in instances(layout, REPLICAS)] == [i.name for i in started]
        yield Replicated(layout, started, database, groups, stack)
    finally:
        for instance in instances(layout, REPLICAS):
            stop_process(instance.name, layout, timeout=15)
        ports.undo()


@pytest.fixture
async def poster(token: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {token(Role.INTEGRATION, source='egov-portal')}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        yield client


async def test_replicas_share_partitions_survive_a_kill_and_do_nothing_twice(
    replicated: Replicated, poster: httpx.AsyncClient
) -> None:
    r = replicated

    # Spread: each replica of each service holds some partitions, none holds one twice.
    async def spread() -> bool:
        return all([await r.spread(service) for service in SERVICES])

    await until("every replica holds partitions of its group", spread)
    routing = r.of("routing")
    before = {i.name: await r.held(i) for i in routing}
    print(f"routing partitions: {before}")

    # Appeals posted to both intake replicas; routing-2 killed halfway.
    count = 120
    bodies = [fresh(b) for b in (dev_submissions() * 2)[:count]]
    intakes = r.of("intake")
    victim = routing[1]
    victim_pid = read_pid(r.layout.pid_file(victim.name))
    assert victim_pid is not None
    killed_at = 0.0
    for n, body in enumerate(bodies):
        if n == count // 2:
            os.kill(victim_pid, signal.SIGKILL)
            killed_at = time.monotonic()
        intake = intakes[n % len(intakes)]
        response = await poster.post(f"http://127.0.0.1:{intake.port}/v1/appeals", json=body)
        assert response.status_code == 201, response.text

    # Handed over: the survivors hold every partition, the victim's included.
    survivors = [i for i in routing if i is not victim]

    await until(
        "the survivors hold the killed replica's partitions",
        lambda: r.spread("routing", survivors),
    )
    print(
        f"routing partitions {before[victim.name]} of the killed replica taken over "
        f"{time.monotonic() - killed_at:.1f} s after SIGKILL (session timeout "
        f"{SESSION_TIMEOUT_MS / 1000:.0f} s): {[sorted(await r.held(i)) for i in survivors]}"
    )

    # Everything arrives once: registered, assigned, clocked, on every timeline.
    async def all_clocked() -> bool:
        return await r.fetchval("SELECT count(*) FROM deadlines.clocks") >= count

    await until("every appeal has its clock", all_clocked, timeout=120)
    await asyncio.sleep(2)  # anything doubled would arrive now
    assert await r.fetchval("SELECT count(*) FROM intake.appeals") == count
    assert await r.fetchval("SELECT count(*) FROM routing.appeals") == count
    assert await r.fetchval("SELECT count(*) FROM routing.assignments") == count
    assert await r.fetchval("SELECT count(*) FROM routing.triage") == 0
    assert await r.fetchval("SELECT count(*) FROM deadlines.clocks") == count
    assert await r.fetchval("SELECT count(DISTINCT appeal_id) FROM deadlines.clocks") == count

    async def timelines_complete() -> bool:
        kinds = await r.fetchval(
            "SELECT count(*) FROM intake.timeline WHERE kind IN ('received', 'assigned')"
        )
        return kinds >= 2 * count

    await until("every timeline shows received and assigned", timelines_complete)
    twice = await r.fetchval(
        "SELECT count(*) FROM (SELECT appeal_id, kind FROM intake.timeline "
        "GROUP BY appeal_id, kind HAVING count(*) > 1) AS doubled"
    )
    assert twice == 0


async def test_several_deadlines_tickers_raise_each_alert_once(
    replicated: Replicated, probe: Callable[[str], EventProbe]
) -> None:
    r = replicated
    await until("both deadlines replicas hold partitions", lambda: r.spread("deadlines"))
    producer = r.stack.producer()
    await producer.start()
    appeals = [str(uuid.uuid4()) for _ in range(40)]
    # Received three months ago: breached, reminded and escalated as soon as clocked.
    received = datetime.now(UTC) - timedelta(days=90)
    async with probe(ALERTS) as alerts:
        try:
            for appeal in appeals:
                data = AppealAssigned(
                    appeal_id=appeal,
                    registration_number=f"KRG-TEST-{appeal[:8]}",
                    hop=1,
                    agency="KRG-ENERGY-HOUSING",
                    agency_level="",
                    agency_parent="KRG-AKIMAT",
                    category="HOUSING-HEATING",
                    locality="KRG-KARAGANDA",
                    method="rule",
                    assigned_at=received + timedelta(seconds=2),
                    received_at=received,
                    appeal_type="statement",
                )
                event = envelope(
                    event_type=event_types.APPEAL_ASSIGNED,
                    source="/appeals/routing",
                    subject=appeal,
                    data=data.model_dump(mode="json"),
                    id=event_id(appeal, "assigned", 1),
                    time=data.assigned_at,
                )
                await producer.send_and_wait(
                    APPEAL_ASSIGNED, event.model_dump_json().encode(), key=appeal.encode()
                )
        finally:
            await producer.stop()

        async def settled() -> bool:
            clocks, due = await r.fetchrow(
                "SELECT count(*), count(*) FILTER (WHERE next_action_at <= now()) "
                "FROM deadlines.clocks WHERE appeal_id = ANY($1::uuid[])",
                appeals,
            )
            return bool(clocks == len(appeals) and due == 0)

        await until("every clock's due alerts raised", settled, timeout=120)
        stored = await r.fetchval(
            "SELECT count(*) FROM deadlines.alerts WHERE appeal_id = ANY($1::uuid[])", appeals
        )
        events = await alerts.collect(stored, timeout=30)
    assert stored >= 2 * len(appeals)  # at least a breach and a reminder each
    # Each alert raised by one ticker only: the replicas' counters add up to the rows (a
    # ticker whose alert was already there counts nothing), and each went out once.
    raised = []
    for instance in r.of("deadlines"):
        samples = (await r.metrics(instance)).get("deadlines_alerts_raised_total", [])
        raised.append(sum(value for _, value in samples))
    print(f"alerts raised by each deadlines replica: {raised}, {stored} stored")
    assert sum(raised) == stored
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)) == stored
