"""The one event writer: `outbox.event` writes the CloudEvent every consumer parses, from a
contract model, a dict or JSON already written, with the same times pydantic would write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson

from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import AnswerGiven
from appeals_platform import outbox

ALMATY = timezone(timedelta(hours=5))


def answer() -> AnswerGiven:
    return AnswerGiven.model_validate(
        {
            "appeal_id": "a1",
            "registration_number": "KRG-2026-00000001",
            "agency": "KRG-POLICE",
            "outcome": "explained",
            "text": "Разъяснено.",
            "signed_at": "2026-05-26T17:17:00+05:00",
            "answered_at": "2026-05-26T17:18:00.250000+05:00",
        }
    )


def test_an_event_from_a_model_is_the_cloudevent_its_consumers_parse() -> None:
    data = answer()
    at = datetime(2026, 5, 26, 12, 18, tzinfo=UTC)
    written = outbox.event(
        "intake.answer-given",
        "a1",
        type="kz.appeals.answer.given.v1",
        source="/appeals/intake",
        subject="a1",
        data=data,
        id="e1",
        time=at,
    )
    assert (written.id, written.topic, written.key, written.type) == (
        "e1",
        "intake.answer-given",
        "a1",
        "kz.appeals.answer.given.v1",
    )
    parsed = CloudEvent[AnswerGiven].model_validate_json(written.payload)
    assert parsed.data == data and parsed.time == at and parsed.subject == "a1"
    assert parsed.specversion == "1.0" and parsed.datacontenttype == "application/json"
    # Times are written as pydantic writes them: UTC as Z, offsets kept, microseconds kept.
    raw = orjson.loads(written.payload)
    assert raw["time"] == "2026-05-26T12:18:00Z"
    assert raw["data"] == data.model_dump(mode="json")


def test_json_written_once_is_spliced_in_unchanged_and_ids_are_random_only_when_not_given() -> None:
    appeal = orjson.dumps({"submission": {"text": "Пример"}})
    first = outbox.event(
        "t",
        "k",
        type="x.v1",
        source="/s",
        subject="k",
        data={"appeal": orjson.Fragment(appeal), "at": datetime(2026, 1, 2, 3, 4, tzinfo=ALMATY)},
    )
    second = outbox.event("t", "k", type="x.v1", source="/s", subject="k", data={})
    body = orjson.loads(first.payload)
    assert body["data"] == {
        "appeal": {"submission": {"text": "Пример"}},
        "at": "2026-01-02T03:04:00+05:00",
    }
    assert first.id != second.id and body["id"] == first.id
