"""Reference data as versioned data: seeded, changed by operators (API or CLI), announced."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appeals_contracts import event_types, topics
from appeals_platform.auth import Role
from appeals_reference import load_reference
from routing import cli
from tests.kafka_probe import EventProbe
from tests.routing_service.conftest import Routing, RoutingFactory, received

pytestmark = pytest.mark.infra


def renamed_document(name: str) -> dict[str, Any]:
    """The packaged data with one agency renamed: a valid change with a new version."""
    document = load_reference().to_document()
    for agency in document["agencies"]:
        if agency["code"] == "KRG-KARAGANDA-COMMUNAL-TRANSPORT":
            agency["name_ru"] = name
    return document


async def test_service_seeds_the_packaged_data_as_the_first_active_version(
    routing: Routing,
) -> None:
    [row] = await routing.fetch(
        "SELECT version, active, created_by FROM routing.reference_versions"
    )
    assert (row["version"], row["active"], row["created_by"]) == (
        load_reference().version,
        True,
        "packaged",
    )
    response = await routing.client.get("/v1/reference", headers=routing.agency("KRG-POLICE"))
    assert response.json()["version"] == load_reference().version
    assert len(response.json()["agencies"]) == len(load_reference().agencies)


async def test_operator_changes_the_data_and_the_next_decision_records_the_new_version(
    routing: Routing, probe: Callable[[str], EventProbe]
) -> None:
    document = renamed_document("Отдел ЖКХ и дорог города Караганды (тест)")
    async with probe(topics.REFERENCE_CHANGED) as changes:
        response = await routing.client.put(
            "/v1/reference", json=document, headers=routing.auth(Role.OPERATOR, subject="op-1")
        )
        assert response.status_code == 200, response.text
        new_version = response.json()["version"]
        event = await changes.wait_for_subject(f"reference/{new_version}")
    assert new_version != load_reference().version
    assert response.json()["previous_version"] == load_reference().version
    assert event["type"] == event_types.REFERENCE_CHANGED and event["_key"] == "reference"
    assert event["data"]["changed_by"] == "op-1" and event["data"]["agencies"] == 49

    history = await routing.route(received())
    assignment = history["hops"][0]["assignment"]
    assert assignment["reference_version"] == new_version
    rows = await routing.fetch(
        "SELECT version, active FROM routing.reference_versions ORDER BY activated_at"
    )
    assert [(r["version"], r["active"]) for r in rows] == [
        (load_reference().version, False),
        (new_version, True),
    ]
    # Sending the same document again is not a change.
    again = await routing.client.put(
        "/v1/reference", json=document, headers=routing.auth(Role.OPERATOR)
    )
    assert again.json()["changed"] is False


async def test_data_that_breaks_the_routing_invariants_is_refused_with_every_problem(
    routing: Routing,
) -> None:
    document = load_reference().to_document()
    for agency in document["agencies"]:
        if agency["code"] == "KRG-POLICE":
            agency["competences"] = []  # SAFETY-POLICE would have no body in the region
        if agency["code"] == "KRG-SANITARY":
            agency["jurisdiction"] = ["KRG", "KRG-KARAGANDA-KAZYBEK-BI"]  # a deeper body
    response = await routing.client.put(
        "/v1/reference", json=document, headers=routing.auth(Role.OPERATOR)
    )
    assert response.status_code == 422
    problems = " | ".join(p["message"] for p in response.json()["problems"])
    assert "SAFETY-POLICE" in problems and "KRG-SANITARY" in problems
    broken = await routing.client.put(
        "/v1/reference", json={"agencies": []}, headers=routing.auth(Role.OPERATOR)
    )
    assert broken.status_code == 422 and broken.json()["problems"]
    by_agency = await routing.client.put(
        "/v1/reference", json=document, headers=routing.agency("KRG-POLICE")
    )
    assert by_agency.status_code == 403
    [row] = await routing.fetch("SELECT version FROM routing.reference_versions WHERE active")
    assert row["version"] == load_reference().version


async def test_cli_import_changes_the_version_and_running_instances_pick_it_up(
    start_routing: RoutingFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    routing = await start_routing(refresh_interval=0.1)
    monkeypatch.setenv("ROUTING_DATABASE_URL", routing.dsn)
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(renamed_document("Через CLI"), ensure_ascii=False))

    assert await asyncio.to_thread(cli.main, ["reference", "import", str(path), "--by", "ops"]) == 0
    imported = capsys.readouterr().out
    assert await asyncio.to_thread(cli.main, ["reference", "show"]) == 0
    shown = capsys.readouterr().out
    [row] = await routing.fetch("SELECT version FROM routing.reference_versions WHERE active")
    assert row["version"] in imported and f"version      {row['version']}" in shown
    assert "by ops" in shown

    for _ in range(100):  # the instance polls the active version
        response = await routing.client.get("/v1/reference", headers=routing.auth())
        if response.json()["version"] == row["version"]:
            break
        await asyncio.sleep(0.1)
    assert response.json()["version"] == row["version"]


async def test_cli_refuses_an_invalid_file_and_lists_the_problems(
    routing: Routing,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ROUTING_DATABASE_URL", routing.dsn)
    document = load_reference().to_document()
    document["agencies"] = [a for a in document["agencies"] if a["code"] != "ULY-AKIMAT"]
    path = tmp_path / "reference.yaml"
    path.write_text(json.dumps(document, ensure_ascii=False))
    code = await asyncio.to_thread(cli.main, ["reference", "import", str(path)])
    out = capsys.readouterr().out
    assert code == 1 and "rejected" in out and "ULY" in out
