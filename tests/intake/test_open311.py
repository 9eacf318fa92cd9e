"""Open311 GeoReport v2 flows against real PostgreSQL and Kafka."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from appeals_contracts import topics
from appeals_law.calendar import WorkingCalendar
from appeals_law.due import compute_due
from appeals_law.rules import load_rules
from appeals_platform.auth import Role
from tests.intake.conftest import Intake
from tests.kafka_probe import EventProbe

pytestmark = pytest.mark.infra


def report(intake: Intake, **fields: str) -> dict[str, str]:
    form = {
        "api_key": intake.token(Role.INTEGRATION, source="city-311"),
        "service_code": "URBAN-WASTE",
        "lat": "49.8047",
        "long": "73.1094",
        "address_string": "г. Караганда, ул. Ерубаева 12",
        "description": "Мусор не вывозят вторую неделю, контейнеры переполнены.",
        "email": "citizen@example.kz",
        "first_name": "Айгерим",
    }
    form.update(fields)
    return form


async def test_services_list_categories_with_groups(intake: Intake) -> None:
    services = (await intake.client.get("/open311/v2/services.json")).json()
    codes = {s["service_code"] for s in services}
    assert len(services) == 37 and "URBAN-WASTE" in codes
    assert all(s["group"] and s["service_name"] and s["type"] == "realtime" for s in services)
    definition = await intake.client.get("/open311/v2/services/URBAN-WASTE.json")
    assert definition.json()["service_code"] == "URBAN-WASTE"
    missing = await intake.client.get("/open311/v2/services/NOPE.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404 and missing.json()[0]["description"]


async def test_posted_request_becomes_a_report_appeal_with_expected_datetime(
    intake: Intake, probe: Callable[[str], EventProbe]
) -> None:
    async with probe(topics.APPEAL_RECEIVED) as received:
        response = await intake.client.post("/open311/v2/requests.json", data=report(intake))
        assert response.status_code == 201, response.text
        request_id = response.json()[0]["service_request_id"]
        event = await received.wait_for_subject(request_id)
    submission = event["data"]["submission"]
    assert submission["type"] == "report"
    assert submission["category"] == "URBAN-WASTE"
    assert submission["location"]["lat"] == pytest.approx(49.8047)
    assert event["data"]["source"] == "city-311" and event["data"]["channel"] == "open311"

    one = (await intake.client.get(f"/open311/v2/requests/{request_id}.json")).json()[0]
    assert one["status"] == "open" and one["service_code"] == "URBAN-WASTE"
    registered = datetime.fromisoformat(one["requested_datetime"])
    due = compute_due("report", registered, load_rules(), WorkingCalendar()).due_at
    assert datetime.fromisoformat(one["expected_datetime"]) == due

    again = await intake.client.post("/open311/v2/requests.json", data=report(intake))
    assert again.json()[0]["service_request_id"] == request_id  # identical content, one appeal


async def test_requests_filter_by_service_code_status_and_ids(intake: Intake) -> None:
    waste = await intake.client.post("/open311/v2/requests.json", data=report(intake))
    roads = await intake.client.post(
        "/open311/v2/requests.json",
        data=report(intake, service_code="TRANSPORT-ROADS", description="Яма на дороге"),
    )
    waste_id = waste.json()[0]["service_request_id"]
    roads_id = roads.json()[0]["service_request_id"]
    only_roads = (
        await intake.client.get("/open311/v2/requests.json?service_code=TRANSPORT-ROADS")
    ).json()
    assert [r["service_request_id"] for r in only_roads] == [roads_id]
    by_ids = (
        await intake.client.get(
            f"/open311/v2/requests.json?service_request_id={waste_id},{roads_id}"
        )
    ).json()
    assert {r["service_request_id"] for r in by_ids} == {waste_id, roads_id}
    closed = (await intake.client.get("/open311/v2/requests.json?status=closed")).json()
    assert closed == []
    bad = await intake.client.get("/open311/v2/requests.json?status=maybe")
    assert bad.status_code == 400 and bad.json()[0]["code"] == 400


async def test_open311_errors_are_code_description_lists(intake: Intake) -> None:
    no_key = await intake.client.post(
        "/open311/v2/requests.json", data={**report(intake), "api_key": ""}
    )
    assert no_key.status_code == 401 and no_key.json()[0]["description"]
    agency = intake.token(Role.AGENCY, agency="KRG-POLICE")
    wrong_role = await intake.client.post(
        "/open311/v2/requests.json", data={**report(intake), "api_key": agency}
    )
    assert wrong_role.status_code == 403
    unknown = await intake.client.post(
        "/open311/v2/requests.json", data=report(intake, service_code="NOPE")
    )
    assert unknown.status_code == 400
    no_place = report(intake, address_string="")
    del no_place["lat"], no_place["long"]
    nowhere = await intake.client.post("/open311/v2/requests.json", data=no_place)
    assert nowhere.status_code == 400 and "location" in nowhere.json()[0]["description"]
    outside = await intake.client.post(
        "/open311/v2/requests.json", data=report(intake, lat="10.0", long="10.0")
    )
    assert outside.status_code == 400
    assert await intake.count() == 0
