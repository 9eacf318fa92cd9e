"""The three services in-process on the test stack, an agency's producer as its own Kafka
principal, and helpers to write commands and wait for their results."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from appeals_contracts import topics
from appeals_platform.auth import Role
from deadlines.app import create_app as create_deadlines
from deadlines.config import Settings as DeadlinesSettings
from intake.app import create_app as create_intake
from intake.config import Settings as IntakeSettings
from routing.app import create_app as create_routing
from routing.config import Settings as RoutingSettings
from tests.conftest import RunProducer, Stack, TokenFactory
from tests.intake.conftest import dev_submissions, fresh
from tests.kafka_probe import EventProbe
from tests.services import running, settings_for

# The first dev submission (heating in Karaganda) goes to this agency by the routing rule.
AGENCY = "KRG-KARAGANDA-COMMUNAL-TRANSPORT"
OTHER = "KRG-POLICE"


def command(
    event_type: str, appeal_id: str, data: dict[str, Any], *, id: str | None = None
) -> tuple[str, bytes]:
    """(id, value) of an agency's command as a CloudEvent."""
    ident = id or str(uuid.uuid4())
    event = {
        "specversion": "1.0",
        "id": ident,
        "source": "/tests/agency-case-system",
        "type": event_type,
        "subject": appeal_id,
        "datacontenttype": "application/json",
        "data": data,
    }
    return ident, orjson.dumps(event)


@dataclass
class Platform:
    intake: httpx.AsyncClient
    routing: httpx.AsyncClient
    deadlines: httpx.AsyncClient
    stack: Stack
    token: TokenFactory
    producers: dict[str, RunProducer]
    results: dict[str, EventProbe]
    assignments: EventProbe

    def agency(self, code: str = AGENCY) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(Role.AGENCY, agency=code)}"}

    def staff(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(Role.MONITORING)}"}

    async def send(self, code: str, appeal_id: str, value: bytes) -> None:
        """Write to `code`'s actions topic as `code`'s own principal."""
        await self.producers[code].send_and_wait(
            topics.agency_actions_topic(code), value, key=appeal_id.encode()
        )

    async def result(self, code: str, action_id: str) -> dict[str, Any]:
        found = await self.results[code].wait_for(lambda e: e["data"]["action_id"] == action_id)
        assert found["type"] == "kz.appeals.agency.action-result.v1"
        data: dict[str, Any] = found["data"]
        return data

    async def register(self) -> str:
        """An appeal registered over HTTP and known as AGENCY's to intake and deadlines."""
        integration = {
            "Authorization": f"Bearer {self.token(Role.INTEGRATION, source='egov-portal')}"
        }
        created = await self.intake.post(
            "/v1/appeals", json=fresh(dev_submissions()[0]), headers=integration
        )
        assert created.status_code == 201, created.text
        appeal_id: str = created.json()["appeal_id"]
        await self.assignments.wait_for_subject(appeal_id)
        for _ in range(600):
            seen = await self.intake.get(f"/v1/appeals/{appeal_id}", headers=self.agency())
            clock = await self.deadlines.get(
                f"/v1/appeals/{appeal_id}/clock", headers=self.agency()
            )
            if seen.status_code == 200 and clock.status_code == 200:
                return appeal_id
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"not learned of the assignment: intake {seen.status_code}, deadlines "
            f"{clock.status_code}"
        )

    async def timeline(self, appeal_id: str, kind: str) -> list[dict[str, Any]]:
        """The appeal's timeline entries of `kind`, once there is one."""
        for _ in range(600):
            seen = await self.intake.get(f"/v1/appeals/{appeal_id}", headers=self.agency())
            found = [t for t in seen.json()["timeline"] if t["kind"] == kind]
            if found:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {kind} entry on the timeline")


@pytest.fixture
async def platform(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    probe: Callable[[str], EventProbe],
    tmp_path: Path,
) -> AsyncIterator[Platform]:
    routing_app = create_routing(
        settings_for(
            RoutingSettings, database, stack, key_dir, model_path=tmp_path / "no-model.joblib"
        )
    )
    intake_app = create_intake(settings_for(IntakeSettings, database, stack, key_dir))
    deadlines_app = create_deadlines(
        settings_for(DeadlinesSettings, database, stack, key_dir, ticker_enabled=False)
    )
    async with AsyncExitStack() as started:
        routing = await started.enter_async_context(running(routing_app))
        intake = await started.enter_async_context(running(intake_app))
        deadlines = await started.enter_async_context(running(deadlines_app))
        producers: dict[str, RunProducer] = {}
        results: dict[str, EventProbe] = {}
        for code in (AGENCY, OTHER):
            producer = stack.producer(f"agency-{code.lower()}", enable_idempotence=True)
            await producer.start()
            started.push_async_callback(producer.stop)
            producers[code] = producer
            results[code] = await started.enter_async_context(
                probe(topics.agency_results_topic(code))
            )
        assignments = await started.enter_async_context(probe(topics.agency_topic(AGENCY)))
        yield Platform(intake, routing, deadlines, stack, token, producers, results, assignments)
