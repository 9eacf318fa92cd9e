"""Fixtures: the real stack (started once through `appeals-stack up --infra`), one database per
test cloned from a migrated template, tokens, unique topics, and a probe for Kafka messages."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from appeals_platform.auth import Role
from appeals_platform.migrations import migrate
from appeals_tools.stack.kafka import bootstrap_servers
from appeals_tools.stack.postgres import database_url
from appeals_tools.tokens import ensure_keys, issue_token
from tests.kafka_probe import EventProbe

ROOT = Path(__file__).resolve().parent.parent
SERVICE_SCHEMAS = {
    "intake": "intake.migrations",
    "routing": "routing.migrations",
    "deadlines": "deadlines.migrations",
}


@dataclass(frozen=True)
class Stack:
    bootstrap: str
    admin_dsn: str

    def dsn(self, database: str) -> str:
        return self.admin_dsn.rsplit("/", 1)[0] + "/" + database


@pytest.fixture(scope="session")
def stack() -> Stack:
    """PostgreSQL and Kafka, started by the same command `make run` uses (a no-op if running)."""
    subprocess.run(
        [sys.executable, "-m", "appeals_tools.stack", "up", "--infra"], check=True, cwd=ROOT
    )
    return Stack(bootstrap=bootstrap_servers(), admin_dsn=database_url())


@pytest.fixture(scope="session")
async def template_database(stack: Stack) -> AsyncIterator[str]:
    name = f"tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(stack.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(stack.dsn(name))
    try:
        for schema, package in SERVICE_SCHEMAS.items():
            await migrate(conn, schema, [package])
    finally:
        await conn.close()
    yield name
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def database(stack: Stack, template_database: str) -> AsyncIterator[str]:
    """A fresh database for this test, cloned from the migrated template; its DSN."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield stack.dsn(name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    ensure_keys(directory)
    return directory


TokenFactory = Callable[..., str]


@pytest.fixture(scope="session")
def token(key_dir: Path) -> TokenFactory:
    """token(Role.INTEGRATION, source="egov-portal") -> a signed bearer token."""
    private = (key_dir / "jwt-private.pem").read_bytes()

    def make(role: Role, **claims: str) -> str:
        return issue_token(private, role, **claims)

    return make


@pytest.fixture
async def topic(stack: Stack) -> AsyncIterator[Callable[..., object]]:
    """A factory of unique topics, deleted after the test."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    created: list[str] = []

    async def make(prefix: str = "test", partitions: int = 6) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:10]}"
        await admin.create_topics([NewTopic(name, partitions, 1)])
        created.append(name)
        return name

    yield make
    if created:
        await admin.delete_topics(created)
    await admin.close()


@pytest.fixture
def probe(stack: Stack) -> Callable[[str], EventProbe]:
    """probe(topic) -> an EventProbe to use as `async with`."""
    return lambda topic_name: EventProbe(stack.bootstrap, topic_name)


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
    every = list(names.settings().values())
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    await admin.create_topics(
        [NewTopic(n, 3, 1) for n in every] + [NewTopic(f"{n}.dlq", 1, 1) for n in every]
    )
    try:
        yield names
    finally:
        await admin.delete_topics(every + [f"{n}.dlq" for n in every])
        await admin.close()
