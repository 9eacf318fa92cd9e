"""The fault suite's judgement, without a stack: what counts as complete, lost, duplicated,
and what the poison records really are (so a verdict of "0 lost" means what it says)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from aiokafka import TopicPartition
from pydantic import ValidationError

from appeals_contracts import topics
from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import AppealAssigned, AppealReceived, DeadlineAlert
from appeals_contracts.submission import AppealSubmission
from appeals_tools.chaos import poison, troubles
from appeals_tools.chaos.effects import Effects
from appeals_tools.chaos.report import Row, table

TARGET = poison.Target(
    "0b7c6f1e-2f43-4c52-9a56-1d8a3c9e7f10", "KRG-2026-00000001", "statement", "KRG-ENERGY-HOUSING"
)


def test_an_assigned_appeal_is_complete_only_with_its_clock_and_its_timeline_entry() -> None:
    assert Effects(1, "KRG-1", 1, 0, 1, 1).complete
    assert Effects(1, "KRG-1", 1, 0, 1, 0).missing() == ["no clock"]
    assert Effects(1, "KRG-1", 1, 0, 0, 1).missing() == ["no decision in intake's timeline"]
    assert Effects(0, None, 0, 0, 0, 0).missing() == [
        "not registered",
        "not routed",
        "no decision in intake's timeline",
    ]


def test_a_triaged_appeal_is_complete_without_a_clock() -> None:
    assert Effects(1, "KRG-1", 0, 1, 1, 0).complete


def test_a_second_decision_or_clock_is_a_duplicate() -> None:
    assert not Effects(1, "KRG-1", 1, 0, 1, 1).duplicated
    assert Effects(1, "KRG-1", 1, 1, 1, 1).duplicated
    assert Effects(1, "KRG-1", 1, 0, 1, 2).duplicated
    assert Effects(1, "KRG-1", 1, 0, 2, 1).duplicated


def test_a_row_passes_only_with_nothing_lost_or_duplicated_and_every_check_true() -> None:
    assert Row("a", "a", accepted=10).passed
    assert not Row("a", "a", accepted=10, lost=1).passed
    assert not Row("a", "a", accepted=10, duplicated=1).passed
    assert not Row("a", "a", accepted=10, checks={"relay moved": False}).passed
    assert not Row("a", "a", reason="the load did not finish").passed
    skipped = Row("b", "leader killed", ran=False, reason="no three-broker mode")
    assert skipped.verdict == "not run"
    assert "not run" in table([skipped])


def test_every_consumed_topic_gets_each_bad_kind_between_good_records() -> None:
    sent = poison.planned(TARGET, seed=7)
    for consumed in poison.CONSUMED:
        kinds = [r.kind for r in sent if r.topic == consumed.topic]
        assert kinds[::2] == [poison.GOOD] * (len(poison.KINDS) + 1)
        assert kinds[1::2] == list(poison.KINDS)


@pytest.mark.parametrize("consumed", poison.CONSUMED[1:], ids=lambda c: c.topic)
def test_good_events_are_valid_cloudevents_of_their_topic(consumed: poison.Consumed) -> None:
    models = {
        topics.APPEAL_RECEIVED: AppealReceived,
        topics.APPEAL_ASSIGNED: AppealAssigned,
        topics.ALERTS: DeadlineAlert,
    }
    record = poison.event_record(consumed.topic, poison.GOOD, TARGET, 1)
    event = CloudEvent[dict[str, object]].model_validate_json(record.value)
    assert event.id == record.event_id
    if consumed.topic in models:
        models[consumed.topic].model_validate(event.data)


def test_bad_records_are_bad_in_the_way_their_name_says() -> None:
    topic = topics.APPEAL_ASSIGNED
    header = poison.event_record(topic, poison.HEADER, TARGET, 1)
    with pytest.raises(UnicodeDecodeError):
        dict(header.headers)["x-applicant-name"].decode()
    assert poison.event_record(topic, poison.LARGE, TARGET, 1).value.__len__() > 2_000_000
    assert b"\\u0000" in poison.event_record(topic, poison.NUL, TARGET, 1).value
    wrong = orjson.loads(poison.event_record(topic, poison.WRONG_TYPE, TARGET, 1).value)
    with pytest.raises(ValidationError):
        AppealAssigned.model_validate(wrong["data"])
    unknown = orjson.loads(poison.event_record(topic, poison.UNKNOWN, TARGET, 1).value)
    assert unknown["type"] == "kz.appeals.chaos.unknown.v1"
    assert AppealAssigned.model_validate(unknown["data"])
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(poison.event_record(topic, poison.CONTENT_TYPE, TARGET, 1).value)


def test_good_submissions_meet_the_contract_and_bad_ones_do_not() -> None:
    good = poison.submission_record(poison.GOOD, 1, seed=7)
    assert AppealSubmission.model_validate_json(good.value).external_id == good.external_id
    for kind in (poison.LARGE, poison.NUL, poison.WRONG_TYPE, poison.UNKNOWN):
        with pytest.raises(ValidationError):
            AppealSubmission.model_validate_json(poison.submission_record(kind, 1, seed=7).value)


def test_an_outcome_is_a_dead_letter_then_a_stored_effect_then_skipped_or_pending() -> None:
    def sent(offset: int) -> poison.Sent:
        return poison.Sent(
            topics.APPEAL_ASSIGNED, poison.GOOD, b"k", b"v", [], "id", None, 0, offset
        )

    records = [sent(0), sent(1), sent(2), sent(3)]
    refused = {("deadlines", topics.APPEAL_ASSIGNED, 0, 0)}
    kept = {(topics.APPEAL_ASSIGNED, 0, 1, "deadlines"), (topics.APPEAL_ASSIGNED, 0, 0, "intake")}
    committed = {
        "deadlines-clocks": {TopicPartition(topics.APPEAL_ASSIGNED, 0): 3},
        "intake-timeline": {TopicPartition(topics.APPEAL_ASSIGNED, 0): 1},
    }
    poison.judge(records, refused, kept, committed)
    assert [r.outcomes["deadlines"] for r in records] == [
        poison.DEAD_LETTERED,
        poison.STORED,
        poison.SKIPPED,
        poison.PENDING,
    ]
    assert [r.outcomes["intake"] for r in records] == [poison.STORED] + [poison.PENDING] * 3
    assert records[0].wrong() == {"deadlines": poison.DEAD_LETTERED}
    assert not poison.settled(records)
    assert poison.counts(records)["lost"] == 5


def test_a_dead_letter_is_attributed_to_the_service_that_wrote_it() -> None:
    class Record:
        value = orjson.dumps(
            {
                "source": "/appeals/deadlines",
                "data": {"topic": topics.ANSWER_GIVEN, "partition": 0, "offset": 9},
            }
        )

    assert poison.refusals([Record()]) == {("deadlines", topics.ANSWER_GIVEN, 0, 9)}


def test_a_row_that_lost_appeals_names_the_errors_each_service_logged_during_its_case(
    tmp_path: Path,
) -> None:
    def line(level: str, logger: str, message: str) -> bytes:
        entry = {"time": "t", "level": level, "service": "s", "logger": logger, "message": message}
        return orjson.dumps(entry) + b"\n"

    routing, intake = tmp_path / "routing.log", tmp_path / "intake.log"
    routing.write_bytes(line("error", "old", "before the case"))
    intake.write_bytes(line("error", "x", "y" * 50))
    logs = {"routing": routing, "intake": intake, "deadlines": tmp_path / "deadlines.log"}
    since = troubles.ends(logs)
    stall = "consumer routing-decisions: its poll loop has not come round for 61 s (committing)"
    with routing.open("ab") as log:
        log.write(line("warning", "aiokafka", "Heartbeat failed"))
        log.write(line("error", "aiokafka", "Unable connect to node with id 1") * 3)
        log.write(b"Task exception was never retrieved\n")  # printed, not logged as JSON
        log.write(line("error", "appeals_platform.consumer", stall) * 2)
        log.write(line("error", "asyncio", "Task exception was never retrieved"))
    with intake.open("ab") as log:  # a service started again appends to its log
        log.write(line("critical", "uvicorn", "z" * 300))

    assert troubles.troubles(logs, since) == [
        f"routing logged x2: appeals_platform.consumer: {stall}",
        "routing logged x3: aiokafka: Unable connect to node with id 1",
        "routing logged x1: asyncio: Task exception was never retrieved",
        "intake logged x1: uvicorn: " + "z" * 200 + "...",
    ]
    assert troubles.troubles(logs, troubles.ends(logs)) == []
