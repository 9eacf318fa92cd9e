"""The local stack command: a second `up` is a no-op, status reports, topics exist."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from appeals_contracts.topics import TOPICS, agency_specs, dead_letter_topic, submission_topic
from appeals_reference import load_integrations
from appeals_reference.loader import load_reference
from appeals_tools.stack.layout import Layout
from tests.conftest import Stack

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]


def stack_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appeals_tools.stack", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_an_up_waits_for_the_up_or_down_under_way_then_does_its_own(stack: Stack) -> None:
    """Two test workers starting a stopped stack at once raced; now the second waits."""
    layout = Layout(ROOT)
    with open(layout.run / "stack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # an up or down under way
        waiting = subprocess.Popen(
            [sys.executable, "-m", "appeals_tools.stack", "up", "--infra"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            assert waiting.stdout is not None
            first = waiting.stdout.readline()
            assert "waiting for another appeals-stack up or down" in first
            assert waiting.poll() is None  # it does nothing while the other runs
        except BaseException:
            waiting.kill()
            raise
    rest, _ = waiting.communicate(timeout=300)
    assert waiting.returncode == 0
    assert "kafka already running" in rest


def test_second_up_is_a_no_op_that_says_what_runs(stack: Stack) -> None:
    result = stack_command("up", "--infra")
    assert result.returncode == 0
    assert "kafka already running" in result.stdout
    assert "postgres already running" in result.stdout
    assert "topics: all present" in result.stdout


async def test_broker_holds_every_platform_agency_and_dead_letter_topic(stack: Stack) -> None:
    admin = AIOKafkaAdminClient(**stack.options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        described = await admin.describe_topics([t.name for t in TOPICS])
    finally:
        await admin.close()
    expected = {t.name for t in TOPICS} | {dead_letter_topic(t.name) for t in TOPICS}
    agencies = agency_specs([a.code for a in load_reference().agencies])
    expected |= {t.name for t in agencies} | {dead_letter_topic(t.name) for t in agencies if t.twin}
    expected |= {submission_topic(i.source) for i in load_integrations()}
    assert expected <= existing
    partitions = {d["topic"]: len(d["partitions"]) for d in described}
    assert all(partitions[t.name] == t.partitions for t in TOPICS)


async def test_postgres_answers_as_the_project_user(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "appeals"
        assert (await conn.fetchval("SHOW server_version")).startswith("15")
    finally:
        await conn.close()


def test_broker_is_a_real_kafka_process() -> None:
    processes = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
    assert any("kafka.Kafka" in line and "java" in line for line in processes.splitlines())


async def test_event_topics_are_kept_forever_and_raw_input_is_not(stack: Stack) -> None:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from appeals_contracts.topics import Topic, submission_specs
    from appeals_tools import provisioning

    kept, raw = f"test.kept.{uuid.uuid4().hex[:8]}", f"test.raw.{uuid.uuid4().hex[:8]}"
    provisioning.create_topics(
        provisioning.admin_client(stack.access()),
        [Topic(kept, "tests", ()), Topic(raw, "tests", (), retention_ms=None)],
    )
    admin = AIOKafkaAdminClient(**stack.options())
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in (kept, raw)]
        )
        await admin.delete_topics([kept, raw])
    finally:
        await admin.close()
    retention = {
        resource[3]: entry[1]
        for response in described
        for resource in response.resources
        for entry in resource[4]
        if entry[0] == "retention.ms"
    }
    assert retention[kept] == "-1"
    assert retention[raw] != "-1"
    by_name = {t.name: t for t in TOPICS}
    assert by_name["deadlines.alerts"].retention_ms == -1
    assert all(t.retention_ms is None for t in submission_specs(["egov-portal"]))


def test_replicas_are_named_and_placed_by_service_and_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from appeals_tools.stack.layout import Layout
    from appeals_tools.stack.services import (
        instances,
        parse_replicas,
        record_replicas,
        recorded_replicas,
    )

    monkeypatch.delenv("APPEALS_ROUTING_PORT", raising=False)
    monkeypatch.delenv("APPEALS_DEADLINES_PORT", raising=False)
    monkeypatch.setenv("APPEALS_INTAKE_PORT", "9000")
    layout = Layout(ROOT, home=tmp_path)
    layout.run.mkdir()
    assert recorded_replicas(layout) == {"intake": 1, "routing": 1, "deadlines": 1}
    counts = parse_replicas("intake=2, routing=3")
    record_replicas(layout, counts)
    assert recorded_replicas(layout) == {"intake": 2, "routing": 3, "deadlines": 1}
    assert [(i.name, i.port) for i in instances(layout)] == [
        ("intake", 9000),
        ("routing", 8001),
        ("deadlines", 8002),
        ("intake-2", 9100),
        ("routing-2", 8101),
        ("routing-3", 8201),
    ]


@pytest.mark.parametrize("text", ["queue=2", "routing=0", "routing", "routing=x", "routing=10"])
def test_replicas_that_name_no_service_or_count_are_refused_with_the_form(text: str) -> None:
    result = stack_command("up", "--replicas", text)
    assert result.returncode == 2
    assert "<service>=<1..9>" in result.stderr
