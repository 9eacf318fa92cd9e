"""AppealAssigned events as routing queues them: valid events of the contract, both copies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import CloudEvent, event_id
from appeals_contracts.events import AppealAssigned
from appeals_platform import outbox
from appeals_platform.pool import connect
from appeals_reference import load_reference
from routing import db, publications
from tests.routing_service.conftest import received

pytestmark = pytest.mark.infra


def assignment(appeal_id: uuid.UUID, hop: int, confidence: float | None) -> db.Assignment:
    moment = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    return db.Assignment(
        appeal_id=appeal_id,
        hop=hop,
        agency="KRG-KARAGANDA-COMMUNAL-TRANSPORT",
        category="HOUSING-HEATING",
        locality="KRG-KARAGANDA",
        method="rule",
        confidence=confidence,
        explanation={"method": "rule", "notes": ["ё, қ: «кавычки»"], "alternatives": []},
        reference_version=load_reference().version,
        classifier_version="c-1",
        received_at=moment,
        assigned_at=moment,
    )


async def test_assignment_events_are_valid_cloudevents_of_the_appeal_assigned_contract(
    database: str,
) -> None:
    ref = load_reference()
    stored = [(received(), confidence) for confidence in (0.93, None, 1.0)]
    rows = [(appeal, assignment(uuid.UUID(appeal.appeal_id), 2, c)) for appeal, c in stored]
    conn = await connect(database, "routing")
    try:
        async with conn.transaction():
            for appeal, row in rows:
                events = publications.assignment_events(
                    row,
                    ref,
                    registration_number=appeal.registration_number,
                    appeal_type="complaint",
                    appeal=orjson.dumps(appeal.model_dump(mode="json")),
                    redirected_from="KRG-ENERGY-HOUSING",
                )
                await outbox.add(conn, events)
            queued = await conn.fetch("SELECT * FROM outbox ORDER BY seq")
    finally:
        await conn.close()

    # Two events per assignment, everyone's first, in the order the assignments came.
    assert len(queued) == 6
    for (appeal, row), general, own in zip(rows, queued[0::2], queued[1::2], strict=True):
        assert (general["aggregatetype"], own["aggregatetype"]) == (
            topics.APPEAL_ASSIGNED,
            topics.agency_topic("KRG-KARAGANDA-COMMUNAL-TRANSPORT"),
        )
        assert general["aggregateid"] == own["aggregateid"] == str(row.appeal_id)
        events = [orjson.loads(r["payload"]) for r in (general, own)]
        parsed = [CloudEvent[AppealAssigned].model_validate(e) for e in events]
        assert [str(r["id"]) for r in (general, own)] == [p.id for p in parsed]
        assert parsed[0].id == event_id(row.appeal_id, "assigned", 2)
        assert parsed[1].id == event_id(row.appeal_id, "delivered", 2)
        assert all(p.type == event_types.APPEAL_ASSIGNED for p in parsed)
        assert all(
            p.source == publications.SOURCE and p.subject == str(row.appeal_id) for p in parsed
        )
        assert events[0]["time"] == "2026-03-02T05:00:00Z"
        assert parsed[0].data.appeal is None
        assert parsed[1].data.appeal is not None
        assert parsed[1].data.appeal.submission == appeal.submission
        assert events[1]["data"]["appeal"] == appeal.model_dump(mode="json")
        data = parsed[1].data
        assert (data.agency_level, data.agency_parent) == (
            "city_department",
            "KRG-KARAGANDA-AKIMAT",
        )
        assert data.redirected_from == "KRG-ENERGY-HOUSING" and data.hop == 2
        assert data.appeal_type == "complaint"
        assert data.confidence == row.confidence
        assert events[0]["data"]["explanation"] == row.explanation
        assert data.registration_number == appeal.registration_number
        # Every field of the contract is written, none more.
        assert set(events[0]["data"]) == set(AppealAssigned.model_fields)
