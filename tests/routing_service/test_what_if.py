"""Routing what-if: a proposed reference version replayed over the stored appeals, by the
operators' API and by `routing what-if`; it reports exactly the appeals a change moves, and
changes nothing (no outbox row, no event, the reference and the decisions as they were)."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appeals_contracts import topics
from appeals_platform.auth import Role
from routing.cli import what_if
from tests.kafka_probe import EventProbe
from tests.routing_service.conftest import Routing, received, submission

pytestmark = pytest.mark.infra

ABAY = "KRG-D-ABAY-AKIMAT"
BUKHAR_ZHYRAU = "KRG-D-BUKHAR-ZHYRAU-AKIMAT"
# Texts a district akimat answers for (roads, waste, housing management), each clear enough
# for the classifier to agree with the citizen's category.
LOCAL_MATTERS = [
    (
        "TRANSPORT-ROADS",
        "Яма на дороге",
        "На улице огромные ямы на дороге, асфальт разбит, нужен ремонт дороги.",
    ),
    (
        "URBAN-WASTE",
        "Не вывозят мусор",
        "Мусор не вывозят уже две недели, контейнеры переполнены, свалка во дворе.",
    ),
    (
        "TRANSPORT-ROADS",
        "Разбитая дорога",
        "Дорогу к школе не ремонтировали десять лет, ямы и лужи, асфальта нет.",
    ),
]


def topar_moved_to_bukhar_zhyrau(document: dict[str, Any]) -> dict[str, Any]:
    """The reference data with the town of Topar moved from Abay district to Bukhar-Zhyrau."""
    moved = json.loads(json.dumps(document))
    (topar,) = [x for x in moved["localities"] if x["code"] == "KRG-TOPAR"]
    topar["parent"] = "KRG-D-BUKHAR-ZHYRAU"
    return moved


async def state(routing: Routing) -> dict[str, Any]:
    """What a what-if must leave as it was: the reference versions, every decision, the outbox.

    The outbox is compared by the rows ever written to it (its sequence), not by the rows
    waiting in it: the relay runs on and publishes the routing's own rows meanwhile."""
    rows = await routing.fetch(
        """SELECT (SELECT json_agg(r ORDER BY version) FROM routing.reference_versions r) AS refs,
                  (SELECT json_agg(a ORDER BY appeal_id, hop) FROM routing.assignments a) AS hops,
                  (SELECT json_agg(t ORDER BY appeal_id, hop) FROM routing.triage t) AS triage,
                  (SELECT json_agg(a ORDER BY appeal_id) FROM routing.appeals a) AS appeals,
                  (SELECT last_value FROM routing.outbox_seq_seq) AS outbox"""
    )
    return dict(rows[0])


async def test_moving_a_town_to_another_district_moves_exactly_its_district_appeals(
    routing: Routing, probe: Callable[[str], EventProbe], tmp_path: Path
) -> None:
    sent: dict[str, tuple[str, str]] = {}  # appeal id -> (locality, category)
    cases = [("KRG-TOPAR", c) for c in LOCAL_MATTERS]  # should move
    cases += [("KRG-ABAY", LOCAL_MATTERS[0]), ("KRG-KARAGANDA", LOCAL_MATTERS[1])]  # stay
    # A regional matter about Topar: the region's body stays competent wherever Topar lies.
    cases.append(("KRG-TOPAR", ("HOUSING-HEATING", "Нет отопления", "Батареи холодные.")))
    for locality, (category, subject, text) in cases:
        appeal = received(
            submission(
                category=category,
                subject=subject,
                text=text,
                location={"locality": locality},
            )
        )
        hops = (await routing.route(appeal))["hops"]
        sent[appeal.appeal_id] = (locality, hops[0]["assignment"]["agency"])
    expected = {a for a, (place, agency) in sent.items() if place == "KRG-TOPAR" and agency == ABAY}
    assert len(expected) == 3, sent  # the three district matters about Topar went to Abay's
    document = (await routing.client.get("/v1/reference", headers=routing.auth())).json()
    proposed = topar_moved_to_bukhar_zhyrau(document)
    # Routing's relay publishes the assignments above meanwhile: once its outbox is empty they
    # are on Kafka, before the probes below take their end offsets.
    for _ in range(300):
        if not (await routing.fetch("SELECT count(*) AS n FROM routing.outbox"))[0]["n"]:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("routing's outbox never drained")
    before = await state(routing)
    since = "2026-03-01"  # the fixture's appeals are registered on 2 March 2026

    async with (
        probe(topics.APPEAL_ASSIGNED) as assigned,
        probe(topics.REFERENCE_CHANGED) as changed,
        probe(topics.agency_topic(BUKHAR_ZHYRAU)) as agency_topic,
    ):
        answer = await routing.client.post(
            "/v1/what-if",
            json={"since": since, "until": "2026-03-31", "reference": proposed},
            headers=routing.auth(Role.OPERATOR),
        )
        assert answer.status_code == 200, answer.text
        report = answer.json()
        # The same through the command line, exported as CSV.
        reference_file = tmp_path / "proposed.json"
        reference_file.write_text(json.dumps(proposed, ensure_ascii=False))
        out = tmp_path / "what-if"
        printed: list[str] = []
        settings = routing.app.state.service.settings
        code = await asyncio.to_thread(
            what_if, settings, reference_file, None, since, "2026-03-31", out, 3, printed.append
        )
        assert code == 0, printed
        for seen in (assigned, changed, agency_topic):
            assert await seen.collect(1, timeout=3) == [], seen.topic

    assert {e["appeal_id"] for e in report["moved_appeals"]} == expected
    assert report["appeals"] == len(sent) and report["moved"] == 3
    (move,) = report["moves"]
    assert (move["from_agency"], move["to_agency"], move["appeals"]) == (ABAY, BUKHAR_ZHYRAU, 3)
    assert {e["appeal_id"] for e in move["examples"]} == expected
    assert {(x["agency"], x["change"]) for x in report["load"]} == {(ABAY, -3), (BUKHAR_ZHYRAU, 3)}
    assert report["reference_before"] == document["version"] != report["reference_after"]

    text = "\n".join(printed)
    assert "6 appeals replayed, 3 would move" in text
    assert f"{ABAY} -> {BUKHAR_ZHYRAU}: 3" in text
    with (out / "appeals.csv").open() as f:
        assert {r["appeal_id"] for r in csv.DictReader(f)} == expected
    with (out / "moves.csv").open() as f:
        assert [(r["from_agency"], r["to_agency"], r["appeals"]) for r in csv.DictReader(f)] == [
            (ABAY, BUKHAR_ZHYRAU, "3")
        ]
    with (out / "load.csv").open() as f:
        assert {(r["agency"], r["change"]) for r in csv.DictReader(f)} == {
            (ABAY, "-3"),
            (BUKHAR_ZHYRAU, "3"),
        }
    assert await state(routing) == before
    # The unchanged version moves nothing.
    same = await routing.client.post(
        "/v1/what-if", json={"since": since}, headers=routing.auth(Role.OPERATOR)
    )
    assert same.status_code == 200 and same.json()["moved"] == 0
    assert same.json()["appeals"] == len(sent)


async def test_a_what_if_is_for_operators_and_refuses_bad_input(routing: Routing) -> None:
    body = {"since": "2026-03-01"}
    for role, claims in ((Role.MONITORING, {}), (Role.AGENCY, {"agency": ABAY})):
        refused = await routing.client.post(
            "/v1/what-if", json=body, headers=routing.auth(role, **claims)
        )
        assert refused.status_code == 403
    assert (await routing.client.post("/v1/what-if", json=body)).status_code == 401
    broken = await routing.client.post(
        "/v1/what-if",
        json={"since": "2026-03-01", "reference": {"localities": []}},
        headers=routing.auth(),
    )
    assert broken.status_code == 422
    assert broken.headers["content-type"].startswith("application/problem+json")
    reversed_period = await routing.client.post(
        "/v1/what-if", json={"since": "2026-03-01", "until": "2026-02-01"}, headers=routing.auth()
    )
    assert reversed_period.status_code == 422
