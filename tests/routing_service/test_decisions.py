"""AppealReceived in, a decision with its explanation out: stored, and published via the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import event_id
from appeals_platform.pool import connect
from appeals_reference import load_reference
from routing import handlers
from routing.decision import Decision
from routing.handlers import CONSUMER
from tests.kafka_probe import EventProbe
from tests.routing_decision.fake_classifier import FakeClassifier
from tests.routing_service.conftest import Routing, received, received_event_bytes, submission
from tests.routing_service.test_logic import Record

pytestmark = pytest.mark.infra


async def test_appeal_is_assigned_to_the_city_department_on_its_topic_with_the_appeal(
    routing: Routing, probe: Callable[[str], EventProbe]
) -> None:
    appeal = received()
    agency_topic = topics.agency_topic("KRG-KARAGANDA-COMMUNAL-TRANSPORT")
    async with probe(agency_topic) as own, probe(topics.APPEAL_ASSIGNED) as everyone:
        await routing.send(appeal)
        mine = await own.wait_for_subject(appeal.appeal_id)
        general = await everyone.wait_for_subject(appeal.appeal_id)
    assert general["id"] == event_id(appeal.appeal_id, "assigned", 1)
    assert mine["id"] == event_id(appeal.appeal_id, "delivered", 1)
    assert mine["type"] == event_types.APPEAL_ASSIGNED and mine["_key"] == appeal.appeal_id
    data = mine["data"]
    assert data["agency"] == "KRG-KARAGANDA-COMMUNAL-TRANSPORT" and data["hop"] == 1
    assert data["agency_level"] == "city_department"
    assert data["agency_parent"] == "KRG-KARAGANDA-AKIMAT"
    assert data["agency_name"] == load_reference().agency(data["agency"]).name_ru
    assert data["method"] == "rule" and data["category"] == "HOUSING-HEATING"
    assert data["appeal_type"] == "complaint"
    assert data["received_at"].startswith("2026-03-02T05:00:00")
    assert data["appeal"]["registration_number"] == appeal.registration_number
    assert data["appeal"]["submission"]["text"] == appeal.submission.text
    assert data["explanation"]["reference_version"] == load_reference().version
    assert data["explanation"]["classifier_version"]
    # The general topic carries the assignment without the applicant's appeal.
    assert general["data"]["appeal"] is None
    assert general["data"]["explanation"] == data["explanation"]


async def test_every_decision_is_stored_with_its_explanation_and_reference_version(
    routing: Routing,
) -> None:
    appeal = received()
    history = await routing.route(appeal)
    [hop] = history["hops"]
    assignment = hop["assignment"]
    assert history["status"] == "assigned"
    assert history["agencies"] == ["KRG-KARAGANDA-COMMUNAL-TRANSPORT"]
    assert assignment["reference_version"] == load_reference().version
    assert assignment["explanation"]["method"] == "rule"
    assert assignment["explanation"]["locality"] == "KRG-KARAGANDA"
    assert hop["redirect"] is None and hop["triage"] is None


async def test_appeal_about_ulytau_goes_to_the_ulytau_akimat_as_an_out_of_region_redirect(
    routing: Routing, probe: Callable[[str], EventProbe]
) -> None:
    appeal = received(
        submission(
            subject="Нет воды",
            text="Третий день нет холодной воды в доме.",
            category="HOUSING-WATER",
            location={"locality": "ULY-ZHEZKAZGAN"},
        )
    )
    async with probe(topics.agency_topic("ULY-AKIMAT")) as uly:
        await routing.send(appeal)
        event = await uly.wait_for_subject(appeal.appeal_id)
    assert event["data"]["agency"] == "ULY-AKIMAT"
    assert event["data"]["agency_level"] == "out_of_region"
    assert any("АППК art. 65" in note for note in event["data"]["explanation"]["notes"])


async def test_report_of_a_crime_filed_as_housing_goes_to_the_police_by_the_safety_rule(
    routing: Routing, probe: Callable[[str], EventProbe]
) -> None:
    appeal = received(
        submission(
            subject="Угрозы",
            text="Сосед угрожает убийством и избил меня вчера вечером.",
            category="HOUSING-MANAGEMENT",
            location={"locality": "KRG-SARAN"},
        )
    )
    async with probe(topics.agency_topic("KRG-POLICE")) as police:
        await routing.send(appeal)
        event = await police.wait_for_subject(appeal.appeal_id)
    assert event["data"]["method"] == "safety"
    assert event["data"]["category"] == "SAFETY-POLICE"


async def test_citizens_addressee_hint_is_honoured_when_the_rule_agrees(routing: Routing) -> None:
    appeal = received(
        submission(
            subject="Ямы на дороге",
            text="На улице огромные ямы на дороге, нужен ремонт дороги.",
            category="TRANSPORT-ROADS",
            addressee="KRG-KARAGANDA-COMMUNAL-TRANSPORT",
        )
    )
    assignment = (await routing.route(appeal))["hops"][0]["assignment"]
    assert assignment["method"] == "hint"
    assert assignment["agency"] == "KRG-KARAGANDA-COMMUNAL-TRANSPORT"
    assert assignment["explanation"]["hint"]["honoured"] is True


async def test_karaganda_body_named_for_an_ulytau_place_is_not_honoured(routing: Routing) -> None:
    appeal = received(
        submission(
            subject="Нет воды",
            text="Третий день нет холодной воды в доме.",
            category="HOUSING-WATER",
            location={"locality": "ULY-SATPAYEV"},
            addressee="KRG-ENERGY-HOUSING",
        )
    )
    assignment = (await routing.route(appeal))["hops"][0]["assignment"]
    assert assignment["agency"] == "ULY-AKIMAT"
    assert assignment["explanation"]["hint"]["honoured"] is False


async def test_a_redelivered_event_is_decided_once(routing: Routing) -> None:
    appeal = received()
    await routing.send(appeal)
    await routing.send(appeal)
    marker = received()
    await routing.route(marker)  # the same partition order is not guaranteed; wait for both
    await routing.history(appeal.appeal_id)
    rows = await routing.fetch(
        "SELECT count(*) AS n FROM routing.assignments WHERE appeal_id = $1::uuid",
        appeal.appeal_id,
    )
    assert rows[0]["n"] == 1


async def test_an_event_delivered_again_after_its_appeal_was_recorded_changes_nothing(
    routing: Routing,
) -> None:
    """The decisions consumer keeps no inbox rows: the appeal's key is what dedupes. A
    redelivery after the commit (a crash before the offset commit, a replay) neither records
    nor publishes anything again."""

    async def written() -> int:
        """Events ever written to the outbox (its sequence; the relay deletes the rows)."""
        return int((await routing.fetch("SELECT last_value FROM routing.outbox_seq_seq"))[0][0])

    appeal = received()
    await routing.route(appeal)
    before = await written()
    await routing.send(appeal)  # the same event again, after its appeal was committed
    marker = received()
    # Under the appeal's key: on the same partition, so decided after the repeat.
    await routing.send_raw(appeal.appeal_id, received_event_bytes(marker))
    await routing.history(marker.appeal_id)
    assert await written() - before == 2  # the marker's two AppealAssigned events, no more
    rows = await routing.fetch(
        "SELECT count(*) AS n FROM routing.assignments WHERE appeal_id = $1::uuid",
        appeal.appeal_id,
    )
    assert rows[0]["n"] == 1
    assert not await routing.fetch("SELECT 1 FROM routing.inbox WHERE consumer = $1", CONSUMER)


async def test_unparseable_event_goes_to_the_dead_letter_topic_and_the_consumer_moves_on(
    routing: Routing, probe: Callable[[str], EventProbe]
) -> None:
    # The topic fixture made the dead-letter twin and let svc-routing write it.
    async with probe(topics.dead_letter_topic(routing.topic)) as dead:
        await routing.send_raw("garbage", b'{"not": "an event"}')
        good = received()
        await routing.send(good)
        letter = await dead.wait_for(lambda e: e["_key"] == "garbage")
        await routing.history(good.appeal_id)
    assert letter["data"]["topic"] == routing.topic


# The base submission's text is about radiators ("батареи"): heating, surely.
CONFIDENT = FakeClassifier({"батаре": {"HOUSING-HEATING": 0.95}})


async def test_a_chunk_of_decisions_is_recorded_by_one_statement(routing: Routing) -> None:
    """Hop 1 of every appeal of a chunk, assigned or in triage, and its events: one statement,
    atomic without a transaction (the consumer opens none). Recorded again, nothing is
    written a second time."""
    appeals = [received(), received(), received(), received()]
    incoming = [handlers.parse(Record(n, received_event_bytes(a))) for n, a in enumerate(appeals)]
    items = [i for i in incoming if i is not None]
    decisions: list[Decision | Exception] = list(
        handlers.decide_all(items, load_reference(), CONFIDENT, 0.5)
    )
    decisions[3] = RuntimeError("the model broke")  # the fourth goes to triage
    warm_up, chunk = (items[:1], decisions[:1]), items[1:]
    decisions = decisions[1:]
    ids = [a.appeal_id for a in appeals[1:]]
    conn = await connect(routing.dsn, "routing")
    statements: list[str] = []

    def logged(record: Any) -> None:
        statements.append(record.query)

    try:
        # asyncpg learns the statement's types on its first use (its own queries): not counted.
        await handlers.record_decisions(conn, *warm_up, load_reference(), datetime.now(UTC))
        async with conn.transaction():  # the test's: the relay cannot take the rows first
            conn.add_query_logger(logged)
            first = await handlers.record_decisions(
                conn, chunk, decisions, load_reference(), datetime.now(UTC)
            )
            conn.remove_query_logger(logged)
            events = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE aggregateid = ANY($1::text[])", ids
            )
        again = await handlers.record_decisions(
            conn, chunk, decisions, load_reference(), datetime.now(UTC)
        )
        stored = await conn.fetchval(
            "SELECT count(*) FROM assignments WHERE appeal_id = ANY($1::uuid[])", ids
        )
        waiting = await conn.fetchval(
            "SELECT count(*) FROM triage WHERE appeal_id = ANY($1::uuid[])", ids
        )
    finally:
        await conn.close()
    assert len(statements) == 1, statements
    assert (first.assigned, first.triaged) == (2, 1)
    assert (again.assigned, again.triaged) == (0, 0)
    assert (stored, waiting) == (2, 1)
    assert events == 2 * 2 + 1  # two AppealAssigned per assignment (routing's, the agency's)
