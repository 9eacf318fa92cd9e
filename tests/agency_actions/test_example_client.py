"""examples/agency/agency_client.py, as an agency would run it: its own process, confluent-kafka
only, the credentials `appeals-kafka credentials` issues, against the real stack."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from appeals_contracts import topics
from appeals_tools.provisioning import librdkafka
from tests.agency_actions.conftest import AGENCY, Platform
from tests.conftest import ROOT, Stack
from tests.kafka_access.test_acls import issued_properties

pytestmark = pytest.mark.infra

CLIENT = ROOT / "examples" / "agency" / "agency_client.py"
TARGET = "KRG-KARAGANDA-HOUSING-INSPECTION"


def start_group_at_the_end(stack: Stack, group: str, topic: str) -> None:
    """The client's group starts after what earlier tests put on the agency's topic."""
    consumer = Consumer(librdkafka(stack.access(), **{"group.id": group}))
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        offsets = []
        for number in metadata.topics[topic].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, number), timeout=10)
            offsets.append(TopicPartition(topic, number, high))
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()


async def test_the_example_client_confirms_answers_redirects_and_reads_its_results(
    platform: Platform, stack: Stack, tmp_path: Path
) -> None:
    properties = issued_properties("agency", AGENCY)
    group = f"agency.{AGENCY.lower()}.example-{uuid.uuid4().hex[:8]}"
    properties["group.id"] = group
    config = tmp_path / "agency.properties"
    config.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    await asyncio.to_thread(
        start_group_at_the_end, stack, group, stack.topic(topics.agency_topic(AGENCY))
    )
    appeals = [await platform.register() for _ in range(3)]

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CLIENT),
        AGENCY,
        "--config",
        str(config),
        "--appeals",
        "3",
        "--redirect-to",
        TARGET,
        "--timeout",
        "60",
        "--topic-prefix",
        stack.prefix,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 240)
    printed = out.decode()
    assert process.returncode == 0, printed + err.decode()
    assert json.loads(printed.splitlines()[-1]) == {"appeals": 3, "commands": 6, "refused": 0}
    assert printed.count("receipt-confirmed") == 3 and printed.count(": accepted") == 6

    # What the platform made of it: every hop confirmed, two answers and one redirect.
    answered, redirected = 0, 0
    for appeal_id in appeals:
        clock = await platform.deadlines.get(
            f"/v1/appeals/{appeal_id}/clock", headers=platform.staff()
        )
        assert clock.json()["hops"][0]["confirmed_at"], clock.json()
        hops = await platform.routing.get(
            f"/v1/appeals/{appeal_id}/routing", headers=platform.staff()
        )
        if hops.json()["hops"][-1]["assignment"]["agency"] == TARGET:
            redirected += 1
        else:
            answered += len(await platform.timeline(appeal_id, "answered"))
    assert (answered, redirected) == (2, 1)
