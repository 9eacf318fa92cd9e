"""A deadlines service running in-process against the test stack, on topics of its own, with
a clock the test moves, and helpers that publish routing's and intake's events. The dashboard's
tests use the same service, served over real HTTP (`over_http=True`) for Chromium."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from appeals_contracts import event_types
from appeals_contracts.envelope import CloudEvent, envelope, event_id
from appeals_contracts.events import AnswerGiven, AppealAssigned, AppealRedirected
from appeals_law.calendar import ALMATY
from appeals_platform.auth import Role
from deadlines.api import Service
from deadlines.app import create_app
from deadlines.clocks import SettableClock
from deadlines.config import Settings
from deadlines.ticker import TickResult
from tests.conftest import RunProducer, Stack, TokenFactory, Topics
from tests.services import running, serving, settings_for


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A moment in Asia/Almaty time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ALMATY)


@dataclass
class Deadlines:
    client: httpx.AsyncClient
    app: FastAPI
    clock: SettableClock
    topics: Topics
    producer: RunProducer
    dsn: str
    token: TokenFactory
    url: str
    """Where a browser reaches it: a real socket when started `over_http`, else the client's."""

    @property
    def service(self) -> Service:
        service: Service = self.app.state.deadlines
        return service

    def auth(self, role: Role = Role.MONITORING, **claims: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **claims)}"}

    async def send(self, topic: str, event: CloudEvent[Any]) -> None:
        await self.producer.send_and_wait(
            topic, event.model_dump_json().encode(), key=str(event.subject).encode()
        )

    async def assign(
        self,
        received_at: datetime,
        *,
        appeal_id: str | None = None,
        hop: int = 1,
        agency: str = "KRG-ENERGY-HOUSING",
        assigned_at: datetime | None = None,
        appeal_type: str = "statement",
        locality: str | None = "KRG-KARAGANDA",
        category: str | None = "HOUSING-HEATING",
        agency_level: str = "",
        agency_parent: str | None = None,
        explanation: dict[str, Any] | None = None,
    ) -> str:
        """Publish routing's AppealAssigned; the appeal id."""
        appeal_id = appeal_id or str(uuid.uuid4())
        data = AppealAssigned(
            appeal_id=appeal_id,
            registration_number=f"KRG-TEST-{appeal_id[:8]}",
            hop=hop,
            agency=agency,
            agency_level=agency_level,
            agency_parent=agency_parent,
            category=category,
            locality=locality,
            method="rule",
            explanation=explanation or {},
            assigned_at=assigned_at or received_at + timedelta(seconds=2),
            received_at=received_at,
            appeal_type=appeal_type,
        )
        await self.send(
            self.topics.assigned,
            envelope(
                event_type=event_types.APPEAL_ASSIGNED,
                source="/appeals/routing",
                subject=appeal_id,
                data=data.model_dump(mode="json"),
                id=event_id(appeal_id, "assigned", hop),
                time=data.assigned_at,
            ),
        )
        return appeal_id

    async def redirect(
        self,
        appeal_id: str,
        redirected_at: datetime,
        *,
        hop: int = 1,
        from_agency: str = "KRG-ENERGY-HOUSING",
        to_agency: str | None = "KRG-KARAGANDA-AKIMAT",
        partial: bool = False,
    ) -> None:
        data = AppealRedirected(
            appeal_id=appeal_id,
            registration_number=f"KRG-TEST-{appeal_id[:8]}",
            hop=hop,
            from_agency=from_agency,
            to_agency=to_agency,
            reason="not_competent",
            partial=partial,
            redirected_at=redirected_at,
        )
        await self.send(
            self.topics.redirected,
            envelope(
                event_type=event_types.APPEAL_REDIRECTED,
                source="/appeals/routing",
                subject=appeal_id,
                data=data.model_dump(mode="json"),
                id=event_id(appeal_id, "redirected", hop),
                time=redirected_at,
            ),
        )

    async def hand_over(
        self,
        appeal_id: str,
        received_at: datetime,
        redirected_at: datetime,
        *,
        hop: int = 1,
        from_agency: str = "KRG-ENERGY-HOUSING",
        to_agency: str = "KRG-KARAGANDA-AKIMAT",
        partial: bool = False,
    ) -> None:
        """What routing publishes for a redirect: hop `hop` redirected, hop `hop + 1` assigned
        to `to_agency` at that moment; returns once deadlines has both hops."""
        await self.redirect(
            appeal_id,
            redirected_at,
            hop=hop,
            from_agency=from_agency,
            to_agency=to_agency,
            partial=partial,
        )
        if not partial:  # the two come on different topics: the redirect first, as routing
            await self.wait_for_clock(appeal_id, "redirected")
        await self.assign(
            received_at,
            appeal_id=appeal_id,
            hop=hop + 1,
            agency=to_agency,
            assigned_at=redirected_at,
        )
        await self.wait_for(appeal_id, lambda view: len(view["hops"]) == hop + 1)

    async def answer(
        self, appeal_id: str, answered_at: datetime, *, agency: str = "KRG-ENERGY-HOUSING"
    ) -> None:
        data = AnswerGiven.model_validate(
            {
                "appeal_id": appeal_id,
                "registration_number": f"KRG-TEST-{appeal_id[:8]}",
                "agency": agency,
                "outcome": "explained",
                "text": "Разъяснено.",
                "signed_at": answered_at.isoformat(),
                "answered_at": answered_at.isoformat(),
            }
        )
        await self.send(
            self.topics.answers,
            envelope(
                event_type=event_types.ANSWER_GIVEN,
                source="/appeals/intake",
                subject=appeal_id,
                data=data.model_dump(mode="json"),
                id=event_id(appeal_id, "answered"),
                time=answered_at,
            ),
        )

    async def clock_of(self, appeal_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/appeals/{appeal_id}/clock", headers=self.auth())
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def wait_for(
        self,
        appeal_id: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda view: True,
        timeout: float = 20,
    ) -> dict[str, Any]:
        """The appeal's clock view once the consumer has made it satisfy `predicate`."""
        deadline = asyncio.get_running_loop().time() + timeout
        url = f"/v1/appeals/{appeal_id}/clock"
        while True:
            response = await self.client.get(url, headers=self.auth())
            if response.status_code == 200 and predicate(response.json()):
                return dict(response.json())
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"clock of {appeal_id} never matched: {response.text}")
            await asyncio.sleep(0.05)

    async def tick(self, at: datetime | None = None) -> TickResult:
        if at is not None:
            self.clock.set(at)
        return await self.service.ticker.drain()

    async def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn, server_settings={"search_path": "deadlines"})
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def wait_until(self, sql: str, *args: Any, timeout: float = 30) -> None:
        """Until the query returns a row (the consumers work asynchronously)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not await self.rows(sql, *args):
            assert asyncio.get_running_loop().time() < deadline, f"never true: {sql} {args}"
            await asyncio.sleep(0.1)

    async def wait_for_clock(self, appeal_id: str, state: str = "open") -> None:
        await self.wait_until(
            "SELECT 1 FROM clocks WHERE appeal_id = $1 AND state = $2", uuid.UUID(appeal_id), state
        )

    async def outbox_drained(self, timeout: float = 20) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while (await self.rows("SELECT count(*) AS n FROM outbox"))[0]["n"]:
            assert asyncio.get_running_loop().time() < deadline, "outbox not drained"
            await asyncio.sleep(0.1)


@asynccontextmanager
async def start_deadlines(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    topics: Topics,
    clock: SettableClock,
    *,
    over_http: bool = False,
    **extra: Any,
) -> AsyncIterator[Deadlines]:
    """The service as `python -m deadlines` builds it (create_app mounts the dashboard, found
    installed beside it); `over_http` serves it on a real socket, for a browser."""
    settings = settings_for(
        Settings,
        database,
        stack,
        key_dir,
        **({"ticker_enabled": False} | topics.settings() | extra),
    )
    # The topics are this test's own and empty: reading from the earliest offset cannot pick
    # up anything old, and cannot miss an event sent before the first fetch resolved "latest".
    # (The dashboard's live consumer always starts at the end.)
    settings = settings.model_copy(update={"consumer_offset_reset": "earliest"})
    app = create_app(settings, clock)
    producer = stack.producer(linger_ms=0)
    await producer.start()
    try:
        if over_http:
            async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
                yield Deadlines(client, app, clock, topics, producer, database, token, url)
        else:
            async with running(app) as client:
                yield Deadlines(
                    client, app, clock, topics, producer, database, token, str(client.base_url)
                )
    finally:
        await producer.stop()


@pytest.fixture
async def deadlines(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> AsyncIterator[Deadlines]:
    clock = SettableClock(local(2022, 5, 26, 9))
    async with start_deadlines(stack, database, key_dir, token, topics, clock) as service:
        yield service
