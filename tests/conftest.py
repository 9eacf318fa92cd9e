"""Fixtures: the real stack (started once through `appeals-stack up --infra`), one database per
test cloned from a migrated template, tokens, unique topics, and a probe for Kafka messages.

Kafka has ACLs: services under test run as their own principals (svc-intake, ...), and a test
that gives a service topics of its own grants that principal what it would have on the real
ones (`Stack.grant`), taken back afterwards. Set-up, drivers and probes use `admin`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from confluent_kafka.admin import AclBinding

from appeals_contracts.topics import dead_letter_topic
from appeals_platform.auth import Role
from appeals_platform.kafka import KafkaAccess, client_options
from appeals_platform.migrations import migrate
from appeals_reference import load_integrations, load_reference
from appeals_tools import principals, provisioning
from appeals_tools.principals import ADMIN, Grant
from appeals_tools.stack.kafka import access, bootstrap_servers, settings_of
from appeals_tools.stack.layout import Layout
from appeals_tools.stack.postgres import SERVICE_ROLES, as_role, database_url, prepare_database
from appeals_tools.tokens import ensure_keys, issue_token, signing_key
from tests.kafka_probe import EventProbe

ROOT = Path(__file__).resolve().parent.parent
SERVICE_SCHEMAS = {
    "intake": "intake.migrations",
    "routing": "routing.migrations",
    "deadlines": "deadlines.migrations",
}
assert set(SERVICE_SCHEMAS) == set(SERVICE_ROLES)


@dataclass(frozen=True)
class Stack:
    bootstrap: str
    admin_dsn: str
    layout: Layout
    # Every topic of this test run is `<prefix><platform name>`: services get it as their
    # topic_prefix, fixtures and probes apply it, so a `make run` stack on the same broker
    # never sees a test's records nor the tests its own.
    prefix: str = ""

    def topic(self, name: str) -> str:
        """The physical name of a platform topic (or a test's own) in this run."""
        return self.prefix + name

    def producer(self, user: str = ADMIN, **options: Any) -> RunProducer:
        """A producer as `user` onto this run's topics (topics are named as in the platform)."""
        return RunProducer(self, user, **options)

    def dsn(self, database: str) -> str:
        return self.admin_dsn.rsplit("/", 1)[0] + "/" + database

    def access(self, user: str = ADMIN) -> KafkaAccess:
        """How `user` (a principal of this checkout) reaches the broker."""
        return access(self.layout, user, self.bootstrap)

    def options(self, user: str = ADMIN) -> dict[str, Any]:
        """aiokafka keyword arguments for `user` (admin: set-up, drivers and probes)."""
        return client_options(self.access(user))

    def kafka_settings(self, user: str) -> dict[str, Any]:
        """The kafka_* settings of a service that runs as `user`."""
        return settings_of(self.access(user))

    def grant(
        self, user: str, *, reads: Sequence[str] = (), writes: Sequence[str] = ()
    ) -> list[AclBinding]:
        """ACLs for `user` on a test's own topics: READ (and WRITE on the dead-letter twin,
        as a reader has) and WRITE; returns what to pass to `revoke`."""
        grants = [Grant("topic", t, "literal", "read") for t in reads]
        grants += [Grant("topic", dead_letter_topic(t), "literal", "write") for t in reads]
        grants += [Grant("topic", t, "literal", "write") for t in writes]
        bindings = [provisioning.acl_binding(user, g) for g in grants]
        provisioning.grant(provisioning.admin_client(self.access()), bindings)
        return bindings

    def revoke(self, bindings: Sequence[AclBinding]) -> None:
        provisioning.revoke(provisioning.admin_client(self.access()), bindings)


class RunProducer:
    """An aiokafka producer that writes to this run's copies of the topics (`Stack.topic`)."""

    def __init__(self, stack: Stack, user: str, **options: Any) -> None:
        self._producer = AIOKafkaProducer(**stack.options(user), **options)
        self._prefix = stack.prefix

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_and_wait(self, topic: str, value: bytes | None, **options: Any) -> Any:
        return await self._producer.send_and_wait(self._prefix + topic, value, **options)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """PostgreSQL and Kafka, started by the same command `make run` uses (a no-op if running),
    with this run's own copies of every platform topic and the ACLs that go with them."""
    subprocess.run(
        [sys.executable, "-m", "appeals_tools.stack", "up", "--infra"], check=True, cwd=ROOT
    )
    layout = Layout(ROOT)
    stack = Stack(
        bootstrap=bootstrap_servers(layout),
        admin_dsn=database_url(),
        layout=layout,
        prefix=f"test-{os.getpid()}-{uuid.uuid4().hex[:6]}.",
    )
    admin = provisioning.admin_client(stack.access())
    codes = [a.code for a in load_reference().agencies]
    sources = [i.source for i in load_integrations()]
    specs = provisioning.platform_specs(codes, sources, stack.prefix)
    bindings = [
        provisioning.acl_binding(p.user, g)
        for p in principals.principals(codes, sources, stack.prefix)
        for g in p.grants
        if g.resource == "topic"
    ]
    provisioning.create_topics(admin, specs)
    provisioning.grant(admin, bindings)
    provisioning.wait_for_acls(admin, bindings)
    try:
        yield stack
    finally:
        provisioning.revoke(admin, bindings)
        provisioning.delete_topics(admin, [spec.name for spec in specs])


@pytest.fixture(scope="session")
async def template_database(stack: Stack) -> AsyncIterator[str]:
    """A database migrated as the services do it: each schema made by the set-up and owned by
    its service's role, which then applies its migrations (so it owns what they create)."""
    name = f"tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(stack.admin_dsn)
    await prepare_database(stack.admin_dsn, name)
    for schema, package in SERVICE_SCHEMAS.items():
        conn = await asyncpg.connect(as_role(stack.dsn(name), schema))
        try:
            await migrate(conn, schema, [package])
        finally:
            await conn.close()
    yield name
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@asynccontextmanager
async def cloned_database(stack: Stack, template_database: str) -> AsyncIterator[str]:
    """A fresh database cloned from the migrated template, dropped afterwards; its DSN."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield stack.dsn(name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database(stack: Stack, template_database: str) -> AsyncIterator[str]:
    """A fresh database for this test; its DSN."""
    async with cloned_database(stack, template_database) as dsn:
        yield dsn


@pytest.fixture(scope="module")
async def module_database(stack: Stack, template_database: str) -> AsyncIterator[str]:
    """One database for a module whose services are started once for all its tests."""
    async with cloned_database(stack, template_database) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    ensure_keys(directory)
    return directory


TokenFactory = Callable[..., str]


@pytest.fixture(scope="session")
def token(key_dir: Path) -> TokenFactory:
    """token(Role.INTEGRATION, source="egov-portal") -> a signed bearer token."""
    key = signing_key(key_dir)

    def make(role: Role, **claims: str) -> str:
        return issue_token(key, role, **claims)

    return make


@pytest.fixture
async def topic(stack: Stack) -> AsyncIterator[Callable[..., object]]:
    """A factory of unique topics, deleted after the test: topic(prefix, partitions=6,
    reader="svc-routing") also makes its dead-letter twin and lets that principal read it;
    writer="svc-intake" lets that one write it."""
    admin = AIOKafkaAdminClient(**stack.options())
    await admin.start()
    created: list[str] = []
    granted: list[AclBinding] = []

    async def make(
        prefix: str = "test",
        partitions: int = 6,
        reader: str | None = None,
        writer: str | None = None,
    ) -> str:
        logical = f"{prefix}.{uuid.uuid4().hex[:10]}"
        name = stack.topic(logical)
        new = [name] if reader is None else [name, dead_letter_topic(name)]
        await admin.create_topics([NewTopic(n, partitions if n == name else 1, 1) for n in new])
        created.extend(new)
        if reader is not None:
            granted.extend(stack.grant(reader, reads=[name]))
        if writer is not None:
            granted.extend(stack.grant(writer, writes=[name]))
        return logical

    yield make
    if created:
        await admin.delete_topics(created)
    await admin.close()
    stack.revoke(granted)


@pytest.fixture
def probe(stack: Stack) -> Callable[[str], EventProbe]:
    """probe(topic) -> an EventProbe on this run's copy of `topic`, to use as `async with`."""
    return lambda topic_name: EventProbe(stack.options(), stack.topic(topic_name))


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@dataclass(frozen=True)
class Topics:
    assigned: str
    redirected: str
    answers: str
    deadline_events: str
    alerts: str

    def settings(self) -> dict[str, str]:
        return {
            "assigned_topic": self.assigned,
            "redirected_topic": self.redirected,
            "answers_topic": self.answers,
            "deadline_events_topic": self.deadline_events,
            "alerts_topic": self.alerts,
        }


@pytest.fixture
async def topics(stack: Stack) -> AsyncIterator[Topics]:
    """Fresh deadlines topics (and dead-letter twins): a rebuild reads only this test's events."""
    suffix = uuid.uuid4().hex[:8]
    names = Topics(
        f"t.assigned.{suffix}",
        f"t.redirected.{suffix}",
        f"t.answers.{suffix}",
        f"t.deadline-events.{suffix}",
        f"t.alerts.{suffix}",
    )
    every = [stack.topic(name) for name in names.settings().values()]
    admin = AIOKafkaAdminClient(**stack.options())
    await admin.start()
    await admin.create_topics(
        [NewTopic(n, 3, 1) for n in every] + [NewTopic(f"{n}.dlq", 1, 1) for n in every]
    )
    # What svc-deadlines has on the real topics: it reads all five (its own two to rebuild
    # and for the webhook) and writes the dead-letter twins, extensions and alerts.
    granted = stack.grant(
        "svc-deadlines",
        reads=every,
        writes=[stack.topic(names.deadline_events), stack.topic(names.alerts)],
    )
    try:
        yield names
    finally:
        await admin.delete_topics(every + [f"{n}.dlq" for n in every])
        await admin.close()
        stack.revoke(granted)
