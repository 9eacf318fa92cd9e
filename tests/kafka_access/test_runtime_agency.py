"""An agency added at run time (routing's PUT /v1/reference) gets its topic, user and ACLs from
the provisioner that follows routing.reference-changed, and reads its first assignment."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer

from appeals_contracts import topics
from appeals_platform.auth import Role
from appeals_reference import load_reference
from appeals_tools import principals, provisioning
from appeals_tools.stack.secrets import secret_file, secrets_dir
from tests.conftest import Stack
from tests.kafka_access.test_acls import WAIT, poll_until
from tests.routing_service.conftest import Routing, received
from tests.routing_service.test_operators import HEATING_AGENCY, redirect

pytestmark = pytest.mark.infra


def with_new_agency(code: str) -> dict[str, Any]:
    """The packaged data plus one agency that is competent for nothing (it wins no decision,
    so the data stays valid) and takes appeals only by redirect."""
    document = load_reference().to_document()
    model = next(a for a in document["agencies"] if a["code"] == "KRG-KARAGANDA-HOUSING-INSPECTION")
    document["agencies"].append(
        {
            **model,
            "code": code,
            "name_ru": f"Тестовое ведомство {code}",
            "name_kk": f"Сынақ мекемесі {code}",
            "competences": [],
            "topic": topics.agency_topic(code),
        }
    )
    return document


@contextlib.contextmanager
def following(stack: Stack) -> Iterator[None]:
    """The follower as `appeals-stack up` runs it, as the `provisioner` principal, in a thread.

    Its group is the tests' own: it catches up on the topic's history once (nothing to do for
    agencies that have users), then waits for this test's change.
    """
    stop = threading.Event()
    thread = threading.Thread(
        target=provisioning.follow,
        args=(stack.access(principals.PROVISIONER), secrets_dir(stack.layout)),
        kwargs={"group": "provisioner-tests", "stop": stop, "prefix": stack.prefix},
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


@pytest.fixture
async def provisioner(stack: Stack) -> AsyncIterator[None]:
    with following(stack):
        yield


async def test_an_agency_added_at_run_time_reads_its_first_assignment_with_its_own_credentials(
    routing: Routing, stack: Stack, provisioner: None
) -> None:
    code = f"KRG-TEST-{uuid.uuid4().hex[:8].upper()}"
    user = principals.agency(code).user
    changed = await routing.client.put(
        "/v1/reference", json=with_new_agency(code), headers=routing.auth(Role.OPERATOR)
    )
    assert changed.status_code == 200, changed.text
    admin = provisioning.admin_client(stack.access())
    try:
        for _ in range(int(WAIT / 0.2)):
            if user in provisioning.existing_users(admin):
                break
            await asyncio.sleep(0.2)
        assert secret_file(secrets_dir(stack.layout), user).exists(), "not provisioned"

        appeal = received()
        await routing.route(appeal)
        moved = await redirect(routing, appeal.appeal_id, HEATING_AGENCY, target=code)
        assert moved.status_code == 201, moved.text

        consumer = Consumer(
            provisioning.librdkafka(
                stack.access(user),
                **{"group.id": f"agency.{code.lower()}.inbox", "auto.offset.reset": "earliest"},
            )
        )
        consumer.subscribe([stack.topic(topics.agency_topic(code))])
        message = await asyncio.to_thread(poll_until, consumer, lambda m: True)
        assert message.error() is None, message.error()
        assert message.key() == appeal.appeal_id.encode()
    finally:
        provisioning.remove_agency(admin, secrets_dir(stack.layout), code, stack.prefix)


async def test_an_assignment_written_before_the_agency_has_its_topic_waits_for_it(
    routing: Routing, stack: Stack
) -> None:
    """Routing may write to a new agency's topic before the provisioner made it (the operator
    redirects an appeal there at once): the relay waits for the topic, it does not park the
    row, and the agency receives its first assignment."""
    code = f"KRG-TEST-{uuid.uuid4().hex[:8].upper()}"
    user = principals.agency(code).user
    appeal = received()
    await routing.route(appeal)
    changed = await routing.client.put(
        "/v1/reference", json=with_new_agency(code), headers=routing.auth(Role.OPERATOR)
    )
    assert changed.status_code == 200, changed.text
    moved = await redirect(routing, appeal.appeal_id, HEATING_AGENCY, target=code)
    assert moved.status_code == 201, moved.text
    admin = provisioning.admin_client(stack.access())
    topic = stack.topic(topics.agency_topic(code))
    assert topic not in admin.list_topics(timeout=10).topics  # nobody has made it yet
    try:
        with following(stack):  # the provisioner comes now, after the row was written
            for _ in range(int(WAIT / 0.2)):
                if user in provisioning.existing_users(admin):
                    break
                await asyncio.sleep(0.2)
            consumer = Consumer(
                provisioning.librdkafka(
                    stack.access(user),
                    **{"group.id": f"agency.{code.lower()}.inbox", "auto.offset.reset": "earliest"},
                )
            )
            consumer.subscribe([topic])
            message = await asyncio.to_thread(poll_until, consumer, lambda m: True)
        assert message.error() is None, message.error()
        assert message.key() == appeal.appeal_id.encode()
        assert await routing.fetch("SELECT 1 FROM routing.outbox_parked") == []
    finally:
        provisioning.remove_agency(admin, secrets_dir(stack.layout), code, stack.prefix)
