"""Open311 GeoReport v2 flows against real PostgreSQL and Kafka."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

import orjson
import pytest

from appeals_contracts import topics
from appeals_law.calendar import WorkingCalendar
from appeals_law.due import compute_due
from appeals_law.rules import load_rules
from appeals_platform.auth import Role
from tests.intake.conftest import Intake, dev_submissions, fresh
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

    key = {"api_key": report(intake)["api_key"]}
    one = (await intake.client.get(f"/open311/v2/requests/{request_id}.json", params=key)).json()
    one = one[0]
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
    key = {"Authorization": f"Bearer {report(intake)['api_key']}"}
    only_roads = (
        await intake.client.get(
            "/open311/v2/requests.json?service_code=TRANSPORT-ROADS", headers=key
        )
    ).json()
    assert [r["service_request_id"] for r in only_roads] == [roads_id]
    by_ids = (
        await intake.client.get(
            f"/open311/v2/requests.json?service_request_id={waste_id},{roads_id}", headers=key
        )
    ).json()
    assert {r["service_request_id"] for r in by_ids} == {waste_id, roads_id}
    closed = await intake.client.get("/open311/v2/requests.json?status=closed", headers=key)
    assert closed.json() == []
    bad = await intake.client.get("/open311/v2/requests.json?status=maybe", headers=key)
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


# ---------------------------------------------------------------- public reads and XML

IINS = ("790322499544", "850714354334", "921005383202")
PHONES = ("+7 775 405 08 66", "+77050442713", "8 (7212) 41-22-33", "87718860589", "41-22-33")
EMAILS = ("larionova.sv@mail.kz", "erlan.zh@gmail.com", "citizen@example.kz")
NAMES = ("Ларионова", "Светлана", "Викторовна", "Жумабаев", "Ерлан", "Петров", "Айгерим")
HOUSES = ("Степная 10/2", "кв. 45", "д. 7", "Ерубаева 12", "10/2", "дом 7")


def xml(document: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(document)  # noqa: S314 (our own service's document)


def revealing(dev: dict[str, Any], *, public: bool) -> dict[str, Any]:
    """A dev-set appeal whose every field carries personal data, the text included."""
    return {
        **fresh(dev),
        "public": public,
        "applicant": {
            "kind": "individual",
            "iin": IINS[0],
            "full_name": "Ларионова Светлана Викторовна",
            "phone": PHONES[0],
            "email": EMAILS[0],
            "postal_address": "г. Караганда, ул. Степная 10/2, кв. 45",
        },
        "subject": "Ларионова Светлана: холодно в квартире",
        "text": (
            f"Живу в мкр. Юго-Восток, ул. Степная 10/2, кв. 45, мой ИИН {IINS[0]}. "
            f"Сосед Жумабаев Ерлан (ИИН {IINS[1]}, тел. {PHONES[1]}, {EMAILS[1]}) "
            f"из д. 7 знает. Звоните мне: {PHONES[2]} или {PHONES[3]}, дежурный {PHONES[4]}. "
            "Мастер Петров Иван Сергеевич не пришёл. Ларионовой Светлане никто не помог."
        ),
        "location": {
            "locality": "KRG-KARAGANDA",
            "address": "г. Караганда, мкр. Юго-Восток, ул. Степная 10/2, кв. 45",
            "lat": 49.80471234,
            "lon": 73.10941234,
        },
    }


def assert_no_personal_data(body: str) -> None:
    for value in (*IINS, *PHONES, *EMAILS, *NAMES, *HOUSES, "@"):
        assert value not in body, value
    # Any phone in any spelling; registration numbers (KRG-2026-00000001) and request ids
    # (UUIDs, whose groups can be all digits) are not personal.
    numbers = re.sub(r"KRG-\d{4}-\d{8}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", "", body)
    digit_runs = [re.sub(r"\D", "", m) for m in re.findall(r"\+?\d[\d ()-]{7,}\d", numbers)]
    assert not [run for run in digit_runs if len(run) >= 10], digit_runs
    assert "49.80471234" not in body and "73.10941234" not in body


@dataclass
class Seeded:
    published: set[str] = field(default_factory=set)
    unpublished: set[str] = field(default_factory=set)
    by_source: dict[str, set[str]] = field(default_factory=dict)


async def seed_public_and_private(intake: Intake) -> Seeded:
    """Published and unpublished appeals from two integrations and Open311; their ids."""
    dev = dev_submissions()
    seeded = Seeded()
    published, unpublished = seeded.published, seeded.unpublished
    for index, (source, public) in enumerate(
        [("egov-portal", True), ("egov-portal", False), ("egov-mobile", True)]
    ):
        created = await intake.post(revealing(dev[index], public=public), source=source)
        assert created.status_code == 201, created.text
        (published if public else unpublished).add(created.json()["appeal_id"])
        seeded.by_source.setdefault(source, set()).add(created.json()["appeal_id"])
    for public in ("true", "false"):
        form = report(
            intake,
            public=public,
            last_name="Жумабаев",
            first_name="Ерлан",
            phone=PHONES[1],
            email=EMAILS[1],
            address_string="г. Караганда, ул. Ерубаева 12, кв. 3",
            description=f"Яма у дома, звоните {PHONES[3]}. ИИН {IINS[2]}. Айгерим из д. 7.",
        )
        posted = await intake.client.post("/open311/v2/requests.json", data=form)
        assert posted.status_code == 201, posted.text
        appeal_id = posted.json()[0]["service_request_id"]
        (published if public == "true" else unpublished).add(appeal_id)
        seeded.by_source.setdefault("city-311", set()).add(appeal_id)
    return seeded


async def test_an_anonymous_list_shows_only_public_appeals_and_no_personal_data(
    intake: Intake,
) -> None:
    seeded = await seed_public_and_private(intake)
    published, unpublished = seeded.published, seeded.unpublished
    listed = await intake.client.get("/open311/v2/requests.json")
    assert listed.status_code == 200
    assert {r["service_request_id"] for r in listed.json()} == published
    assert_no_personal_data(listed.text)
    as_xml = await intake.client.get("/open311/v2/requests.xml")
    assert as_xml.headers["content-type"].startswith("text/xml")
    root = xml(as_xml.content)
    ids = {r.findtext("service_request_id") for r in root.iter("request")}
    assert root.tag == "service_requests" and ids == published
    assert_no_personal_data(as_xml.text)
    shown = next(r for r in listed.json() if r["address"] and "Степная" in r["address"])
    assert shown["address"] == "г. Караганда, мкр. Юго-Восток, ул. Степная"
    assert (shown["lat"], shown["long"]) == (49.805, 73.109)
    assert "ул. Степная ***, кв. ***" in shown["description"]
    for hidden in unpublished:
        one = await intake.client.get(f"/open311/v2/requests/{hidden}.json")
        assert one.status_code == 404 and one.json()[0]["code"] == 404
        one_xml = await intake.client.get(f"/open311/v2/requests/{hidden}.xml")
        assert one_xml.status_code == 404
        assert xml(one_xml.content).findtext("error/code") == "404"
    for visible in published:
        one = await intake.client.get(f"/open311/v2/requests/{visible}.json")
        assert one.status_code == 200
        assert_no_personal_data(one.text)


async def test_a_key_shows_its_own_appeals_in_full_and_others_public_ones_redacted(
    intake: Intake,
) -> None:
    seeded = await seed_public_and_private(intake)
    published, unpublished = seeded.published, seeded.unpublished
    own = seeded.by_source["egov-portal"]
    portal = intake.token(Role.INTEGRATION, source="egov-portal")
    listed = await intake.client.get(
        "/open311/v2/requests.json", headers={"Authorization": f"Bearer {portal}"}
    )
    rows = {r["service_request_id"]: r for r in listed.json()}
    assert set(rows) == published | own  # its own unpublished appeal too, nobody else's
    for appeal_id in own:
        assert IINS[0] in rows[appeal_id]["description"]  # its own, in full
        assert rows[appeal_id]["lat"] == 49.80471234
    others = [row for appeal_id, row in rows.items() if appeal_id not in own]
    assert others
    assert_no_personal_data(orjson.dumps(others).decode())
    monitoring = await intake.client.get(
        "/open311/v2/requests.json", params={"api_key": intake.token(Role.MONITORING)}
    )
    assert {r["service_request_id"] for r in monitoring.json()} == published | unpublished
    agency = await intake.client.get(
        "/open311/v2/requests.json",
        headers={"Authorization": f"Bearer {intake.token(Role.AGENCY, agency='KRG-POLICE')}"},
    )
    assert {r["service_request_id"] for r in agency.json()} == published  # none assigned to it
    refused = await intake.client.get("/open311/v2/requests.json", params={"api_key": "x.y.z"})
    assert refused.status_code == 401 and refused.json()[0]["code"] == 401
    refused_xml = await intake.client.get(
        "/open311/v2/requests.xml", headers={"Authorization": "Bearer x.y.z"}
    )
    assert refused_xml.status_code == 401
    assert xml(refused_xml.content).findtext("error/code") == "401"


async def test_open311_answers_in_georeport_xml(intake: Intake) -> None:
    services = await intake.client.get("/open311/v2/services.xml")
    assert services.status_code == 200 and services.headers["content-type"].startswith("text/xml")
    root = xml(services.content)
    assert root.tag == "services" and len(root.findall("service")) == 37
    first = root.find("service")
    assert first is not None and first.findtext("metadata") == "false"
    assert first.findtext("type") == "realtime" and first.findtext("group")
    definition = xml((await intake.client.get("/open311/v2/services/URBAN-WASTE.xml")).content)
    assert definition.tag == "service_definition"
    assert definition.findtext("service_code") == "URBAN-WASTE"
    missing = await intake.client.get("/open311/v2/services/NOPE.xml")
    assert missing.status_code == 404
    assert xml(missing.content).findtext("error/description")
    posted = await intake.client.post("/open311/v2/requests.xml", data=report(intake))
    assert posted.status_code == 201
    created = xml(posted.content)
    assert created.tag == "service_requests"
    request_id = created.findtext("request/service_request_id")
    assert request_id and "registered as KRG-" in (created.findtext("request/service_notice") or "")
    refused = await intake.client.post(
        "/open311/v2/requests.xml", data={**report(intake), "api_key": ""}
    )
    assert refused.status_code == 401
    assert xml(refused.content).findtext("error/code") == "401"
    invalid = await intake.client.post(
        "/open311/v2/requests.xml", data=report(intake, public="maybe")
    )
    assert invalid.status_code == 400
    one = await intake.client.get(
        f"/open311/v2/requests/{request_id}.xml", params={"api_key": report(intake)["api_key"]}
    )
    request = xml(one.content).find("request")
    assert request is not None and request.findtext("service_code") == "URBAN-WASTE"
    assert request.findtext("status") == "open"
    assert request.findtext("address") == "г. Караганда, ул. Ерубаева 12"  # its own, in full
