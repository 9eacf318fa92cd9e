"""An appeal posted to intake ends up on the competent agency's topic, with its explanation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from appeals_contracts import topics
from appeals_platform.auth import Role
from intake.app import create_app as create_intake
from intake.config import Settings as IntakeSettings
from routing.app import create_app as create_routing
from routing.config import Settings as RoutingSettings
from tests.conftest import Stack, TokenFactory
from tests.intake.conftest import dev_submissions, fresh
from tests.kafka_probe import EventProbe
from tests.services import running, settings_for

pytestmark = pytest.mark.infra


async def test_appeal_posted_to_intake_reaches_the_agency_topic_and_intake_learns_of_it(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    probe: Callable[[str], EventProbe],
    tmp_path: Path,
) -> None:
    intake_app = create_intake(settings_for(IntakeSettings, database, stack, key_dir))
    routing_app = create_routing(
        settings_for(
            RoutingSettings,
            database,
            stack,
            key_dir,
            model_path=tmp_path / "no-model.joblib",
        )
    )
    body = fresh(dev_submissions()[0])  # heating in Юго-Восток, Karaganda
    agency = "KRG-KARAGANDA-COMMUNAL-TRANSPORT"
    integration = {"Authorization": f"Bearer {token(Role.INTEGRATION, source='egov-portal')}"}
    async with (
        running(routing_app) as routing,
        running(intake_app) as intake,
        probe(topics.agency_topic(agency)) as agency_topic,
    ):
        created = await intake.post("/v1/appeals", json=body, headers=integration)
        assert created.status_code == 201, created.text
        appeal_id = created.json()["appeal_id"]
        delivered = await agency_topic.wait_for_subject(appeal_id)
        data = delivered["data"]
        assert data["agency"] == agency and data["hop"] == 1
        assert data["appeal"]["registration_number"] == created.json()["registration_number"]
        assert data["explanation"]["locality"] == "KRG-KARAGANDA-KAZYBEK-BI"
        assert data["explanation"]["reference_version"]
        assert data["received_at"] == data["appeal"]["registered_at"]

        # Intake follows routing's events: the agency can now answer through intake.
        headers = {"Authorization": f"Bearer {token(Role.AGENCY, agency=agency)}"}
        for _ in range(100):
            seen = await intake.get(f"/v1/appeals/{appeal_id}", headers=headers)
            if seen.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert seen.status_code == 200 and seen.json()["agency"] == agency
        history = await routing.get(f"/v1/appeals/{appeal_id}/routing", headers=headers)
        assert history.json()["hops"][0]["assignment"]["explanation"]["method"] == "rule"
