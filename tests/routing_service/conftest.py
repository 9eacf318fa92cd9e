"""A routing service running in-process against the test stack, fed on a topic of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from appeals_contracts import event_types
from appeals_contracts.envelope import envelope, event_id
from appeals_contracts.events import AppealReceived
from appeals_contracts.submission import AppealSubmission
from appeals_platform.auth import Role
from routing.app import create_app
from routing.config import Settings
from tests.conftest import RunProducer, Stack, TokenFactory
from tests.services import running, serving, settings_for

BASE_SUBMISSION: dict[str, Any] = {
    "type": "complaint",
    "language": "ru",
    "submitted_at": "2026-03-02T10:00:00+05:00",
    "applicant": {"kind": "individual", "iin": "790322499544", "full_name": "Тестова Анна"},
    "subject": "Нет отопления",
    "text": "В квартире холодно, батареи холодные уже неделю.",
    "category": "HOUSING-HEATING",
    "location": {"locality": "KRG-KARAGANDA"},
}


def submission(**changes: Any) -> AppealSubmission:
    body = {**BASE_SUBMISSION, "external_id": f"t-{uuid.uuid4().hex}", **changes}
    return AppealSubmission.model_validate(body)


def received(sub: AppealSubmission | None = None) -> AppealReceived:
    appeal_id = uuid.uuid4()
    return AppealReceived(
        appeal_id=str(appeal_id),
        registration_number=f"KRG-2026-{uuid.uuid4().int % 10**8:08d}",
        registered_at=datetime(2026, 3, 2, 5, 0, tzinfo=UTC),
        source="egov-portal",
        channel="http",
        submission=sub or submission(),
    )


def received_event_bytes(appeal: AppealReceived) -> bytes:
    event = envelope(
        event_type=event_types.APPEAL_RECEIVED,
        source="/appeals/intake",
        subject=appeal.appeal_id,
        data=appeal.model_dump(mode="json"),
        id=event_id(appeal.appeal_id, "received"),
        time=appeal.registered_at,
    )
    return event.model_dump_json().encode()


@dataclass
class Routing:
    app: FastAPI
    client: httpx.AsyncClient
    dsn: str
    token: TokenFactory
    topic: str
    bootstrap: str
    producer: RunProducer
    published: list[str] = field(default_factory=list)
    url: str = "http://test"  # a real loopback URL when started over_http

    def auth(self, role: Role = Role.OPERATOR, **claims: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **claims)}"}

    def agency(self, code: str) -> dict[str, str]:
        return self.auth(Role.AGENCY, agency=code)

    async def send_raw(self, key: str, value: bytes) -> None:
        await self.producer.send_and_wait(self.topic, value, key=key.encode())

    async def send(self, appeal: AppealReceived) -> None:
        await self.send_raw(appeal.appeal_id, received_event_bytes(appeal))

    async def history(self, appeal_id: str, hops: int = 1, timeout: float = 30) -> dict[str, Any]:
        """The routing history once it has `hops` hops (the consumer works asynchronously)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            response = await self.client.get(
                f"/v1/appeals/{appeal_id}/routing", headers=self.auth(Role.OPERATOR)
            )
            if response.status_code == 200 and len(response.json()["hops"]) >= hops:
                return dict(response.json())
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"appeal {appeal_id} not routed: {response.text}")
            await asyncio.sleep(0.1)

    async def route(self, appeal: AppealReceived) -> dict[str, Any]:
        await self.send(appeal)
        return await self.history(appeal.appeal_id)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()


RoutingFactory = Callable[..., Awaitable[Routing]]


@pytest.fixture
async def start_routing(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    topic: Callable[..., Awaitable[str]],
    tmp_path: Path,
) -> AsyncIterator[RoutingFactory]:
    """start_routing(**settings) -> a running routing service; stopped after the test."""
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(*, over_http: bool = False, **extra: Any) -> Routing:
        appeals_topic = await topic("test.routing-in", reader="svc-routing")
        settings = settings_for(
            Settings,
            database,
            stack,
            key_dir,
            appeals_topic=appeals_topic,
            model_path=extra.pop("model_path", tmp_path / "absent-model.joblib"),
            refresh_interval=extra.pop("refresh_interval", 0.2),
            **extra,
        )
        # A topic of its own: nothing on it predates the test, so read it from the start.
        settings = settings.model_copy(update={"consumer_offset_reset": "earliest"})
        app = create_app(settings)
        if over_http:  # on a real socket, for another service that calls it (the dashboard)
            served = serving(app)
            url = await served.__aenter__()
            client = httpx.AsyncClient(base_url=url)

            async def leave() -> None:
                await client.aclose()
                await served.__aexit__(None, None, None)
        else:
            context = running(app)
            client = await context.__aenter__()
            url = str(client.base_url)

            async def leave() -> None:
                await context.__aexit__(None, None, None)

        producer = stack.producer()
        await producer.start()

        async def stop() -> None:
            await producer.stop()
            await leave()

        stops.append(stop)
        return Routing(
            app, client, database, token, appeals_topic, stack.bootstrap, producer, url=url
        )

    yield start
    for stop in reversed(stops):
        await stop()


@pytest.fixture
async def routing(start_routing: RoutingFactory) -> Routing:
    return await start_routing()
