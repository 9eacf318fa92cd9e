"""`appeals-stack up --brokers 3`: three KRaft nodes on 127.0.0.1-3 with a static quorum of
three, the project's topics at replication factor 3 and min.insync.replicas=2, security on.

A Kafka of its own (ports base+200..205), so it runs beside the suite's one-broker stack.
`make test-kafka-modes` runs it (about a minute here, on 2 shared cores).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from appeals_contracts.topics import APPEAL_ASSIGNED, agency_topic
from appeals_platform.kafka import client_options
from appeals_tools.chaos.processes import alive
from appeals_tools.stack import kafka
from appeals_tools.stack.layout import Layout
from tests.kafka_modes.conftest import own_kafka

pytestmark = [pytest.mark.infra, pytest.mark.kafka_modes]


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Layout]:
    monkeypatch.setenv("APPEALS_KAFKA_CLUSTER_PORT", str(kafka.kafka_port() + 200))
    with own_kafka(tmp_path / "local", brokers=3) as layout:
        yield layout


async def test_three_brokers_come_up_and_the_topics_have_three_replicas(cluster: Layout) -> None:
    admin_access = kafka.admin_access(cluster)
    assert [a.split(":")[0] for a in admin_access.kafka_bootstrap_servers.split(",")] == [
        "127.0.0.1",
        "127.0.0.2",
        "127.0.0.3",
    ]
    admin = AIOKafkaAdminClient(**client_options(admin_access), request_timeout_ms=10000)
    await admin.start()
    try:
        described = await admin.describe_cluster()
        names = [APPEAL_ASSIGNED, agency_topic("KRG-POLICE")]
        topics = await admin.describe_topics(names)
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
        )
    finally:
        await admin.close()
    assert sorted(b["node_id"] for b in described["brokers"]) == [1, 2, 3]
    for topic in topics:
        assert topic["partitions"], topic
        assert all(len(p["replicas"]) == 3 for p in topic["partitions"]), topic["topic"]
    min_isr = {
        resource[3]: entry[1]
        for response in configs
        for resource in response.resources
        for entry in resource[4]
        if entry[0] == "min.insync.replicas"
    }
    assert min_isr == {names[0]: "2", names[1]: "2"}
    pids = [kafka.read_pid(cluster.pid_file(f"kafka-{i}")) for i in (1, 2, 3)]
    assert all(pids)
    await asyncio.to_thread(kafka.stop_kafka, cluster)
    assert not any(alive(pid) for pid in pids if pid)
