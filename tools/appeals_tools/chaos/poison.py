"""Poison records on every topic a service consumes, each between good records.

On each topic the suite writes, to one partition and one after another, a good record, a bad
one, a good one, the next bad one, ... and a good one last, while the HTTP load keeps the
real traffic flowing around them. Afterwards every record is looked up in every service that
consumes the topic:

- stored: its effect is there (intake's appeal for a submission, routing's for an
  AppealReceived; the event id in the service's inbox for another event);
- dead-lettered: a dead letter (`<topic>.dlq`) or, for a submission, a rejection
  (`intake.appeal-rejections`) names its topic, partition and offset;
- skipped: neither, yet the service's consumer group committed an offset past it (the silent
  loss the issue found);
- pending: neither, and the group has not got past it (stuck, or redelivered forever).

Good records must be stored. What each kind of bad record may become is EXPECTED; skipped
and pending are losses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import envelope
from appeals_contracts.events import (
    AnswerGiven,
    AppealAssigned,
    AppealReceived,
    AppealRedirected,
    AppealTriaged,
    DeadlineAlert,
    DeadlineExtended,
)
from appeals_contracts.submission import AnswerOutcome, AppealSubmission
from appeals_tools.demo import demo_submissions

GOOD = "good"
HEADER = "header-not-utf8"
CONTENT_TYPE = "wrong-content-type"
LARGE = "two-megabytes"
NUL = "nul-in-strings"
WRONG_TYPE = "wrong-field-type"
UNKNOWN = "unknown-event-type"
KINDS = (HEADER, CONTENT_TYPE, LARGE, NUL, WRONG_TYPE, UNKNOWN)

STORED, DEAD_LETTERED, SKIPPED, PENDING = "stored", "dead-lettered", "skipped", "pending"
LOST = (SKIPPED, PENDING)

# What each record may become. A valid record with an undecodable header is a good record
# (the header is kept as bytes). A 2 MB record or NUL characters may be refused or stored
# (cleaned), never dropped; the rest cannot be stored at all.
EXPECTED: dict[str, set[str]] = {
    GOOD: {STORED},
    HEADER: {STORED},
    CONTENT_TYPE: {DEAD_LETTERED},
    LARGE: {DEAD_LETTERED, STORED},
    NUL: {DEAD_LETTERED, STORED},
    WRONG_TYPE: {DEAD_LETTERED},
    UNKNOWN: {DEAD_LETTERED},
}

LARGE_BYTES = 2 * 1024 * 1024
# Topics take records this large during the poison case (the broker's default is 1 MB).
MAX_RECORD = 4 * 1024 * 1024
# The integration whose submission topic gets the poison (intake takes the source from it).
KAFKA_SOURCE = "egov-portal"
SUBMISSIONS = topics.submission_topic(KAFKA_SOURCE)
HARNESS = "/chaos/harness"
CP1251_NAME = "Иван".encode("cp1251")
XML = b'<?xml version="1.0" encoding="utf-8"?><appeal><text>no JSON here</text></appeal>'


@dataclass(frozen=True)
class Consumed:
    topic: str
    services: tuple[str, ...]


# Every topic a service consumes, and which services consume it (intake reads each
# integration's submission topic, one stands for them all; intake's timeline reads routing's
# and deadlines' events; deadlines' clocks read assignments, redirects, answers).
CONSUMED = (
    Consumed(SUBMISSIONS, ("intake",)),
    Consumed(topics.APPEAL_RECEIVED, ("routing",)),
    Consumed(topics.APPEAL_ASSIGNED, ("intake", "deadlines")),
    Consumed(topics.APPEAL_REDIRECTED, ("intake", "deadlines")),
    Consumed(topics.APPEAL_TRIAGE, ("intake",)),
    Consumed(topics.ANSWER_GIVEN, ("deadlines",)),
    Consumed(topics.DEADLINE_EVENTS, ("intake",)),
    Consumed(topics.ALERTS, ("intake",)),
)


@dataclass(frozen=True)
class Target:
    """A registered, routed appeal that the events are about (intake skips unknown ones)."""

    appeal_id: str
    registration_number: str
    appeal_type: str
    agency: str


@dataclass
class Sent:
    topic: str
    kind: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    event_id: str | None = None
    external_id: str | None = None
    partition: int = -1
    offset: int = -1
    # service -> stored, dead-lettered, skipped or pending
    outcomes: dict[str, str] = field(default_factory=dict)

    def wrong(self) -> dict[str, str]:
        """The services whose outcome this record's kind does not allow."""
        return {s: o for s, o in self.outcomes.items() if o not in EXPECTED[self.kind]}


# ------------------------------------------------------------------ good events


def _now() -> datetime:
    return datetime.now(UTC)


def _event_data(topic: str, target: Target, n: int) -> tuple[str, dict[str, Any]]:
    """(event type, data) of a valid event of `topic` about `target`, valid by construction."""
    now, hop = _now(), 100 + n  # hops far above the target's own
    if topic == topics.APPEAL_RECEIVED:
        submission = next(iter(demo_submissions(1, seed=900_000 + n)))
        appeal = AppealReceived(
            appeal_id=str(uuid.uuid4()),  # a new appeal: routing decides it like any other
            registration_number=f"KRG-CHAOS-{n:08d}",
            registered_at=now,
            source=KAFKA_SOURCE,
            channel="kafka",
            submission=submission,
        )
        return event_types.APPEAL_RECEIVED, appeal.model_dump(mode="json")
    if topic == topics.APPEAL_ASSIGNED:
        assigned = AppealAssigned(
            appeal_id=target.appeal_id,
            registration_number=target.registration_number,
            hop=hop,
            agency=target.agency,
            method="manual",
            assigned_at=now,
            received_at=now - timedelta(seconds=1),
            appeal_type=target.appeal_type,
        )
        return event_types.APPEAL_ASSIGNED, assigned.model_dump(mode="json")
    if topic == topics.APPEAL_REDIRECTED:
        redirected = AppealRedirected(
            appeal_id=target.appeal_id,
            registration_number=target.registration_number,
            hop=hop,
            from_agency=target.agency,
            reason="not_competent",
            redirected_at=now,
        )
        return event_types.APPEAL_REDIRECTED, redirected.model_dump(mode="json")
    if topic == topics.APPEAL_TRIAGE:
        triaged = AppealTriaged(
            appeal_id=target.appeal_id,
            registration_number=target.registration_number,
            hop=hop,
            reason="low_confidence",
            triaged_at=now,
        )
        return event_types.APPEAL_TRIAGED, triaged.model_dump(mode="json")
    if topic == topics.ANSWER_GIVEN:
        answer = AnswerGiven(
            appeal_id=target.appeal_id,
            registration_number=target.registration_number,
            agency=target.agency,
            outcome=AnswerOutcome.EXPLAINED,
            text="Разъяснено.",
            signed_at=now,
            answered_at=now,
        )
        return event_types.ANSWER_GIVEN, answer.model_dump(mode="json")
    if topic == topics.DEADLINE_EVENTS:
        extended = DeadlineExtended(
            appeal_id=target.appeal_id,
            hop=hop,
            agency=target.agency,
            previous_due_at=now + timedelta(days=10),
            new_due_at=now + timedelta(days=40),
            reason="inspection",
            extended_at=now,
        )
        return event_types.DEADLINE_EXTENDED, extended.model_dump(mode="json")
    if topic == topics.ALERTS:
        alert = DeadlineAlert(
            appeal_id=target.appeal_id,
            registration_number=target.registration_number,
            hop=hop,
            kind="warning",
            severity="info",
            agency=target.agency,
            appeal_type=target.appeal_type,
            due_at=now + timedelta(days=3),
            raised_at=now,
            working_days_left=3,
        )
        return event_types.DEADLINE_WARNING, alert.model_dump(mode="json")
    raise ValueError(f"no event of {topic}")


# A string field of each event that the consuming services store (a text column or a jsonb
# document): NUL there reaches PostgreSQL, which refuses it in both.
_NUL_FIELD = {
    topics.APPEAL_ASSIGNED: "registration_number",
    topics.APPEAL_REDIRECTED: "reason",
    topics.APPEAL_TRIAGE: "reason",
    topics.ANSWER_GIVEN: "agency",
    topics.DEADLINE_EVENTS: "reason",
    topics.ALERTS: "registration_number",
}


def _envelope(
    event_type: str, subject: str, data: Any
) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    event = envelope(event_type=event_type, source=HARNESS, subject=subject, data=data)
    headers = [
        ("ce_id", event.id.encode()),
        ("ce_type", event_type.encode()),
        ("content-type", b"application/cloudevents+json"),
    ]
    return event.id, orjson.dumps(event.model_dump(mode="json")), headers


def event_record(topic: str, kind: str, target: Target, n: int) -> Sent:
    event_type, data = _event_data(topic, target, n)
    subject = str(data["appeal_id"])
    key = subject.encode()
    if kind == CONTENT_TYPE:
        return Sent(topic, kind, key, XML, [("content-type", b"application/xml")])
    if kind == LARGE:
        data = {"appeal_id": subject, "padding": "x" * LARGE_BYTES}
    elif kind == NUL:
        if topic == topics.APPEAL_RECEIVED:
            data["submission"]["text"] += " \u0000"
        else:
            data[_NUL_FIELD[topic]] += "\u0000"
    elif kind == WRONG_TYPE:
        data["appeal_id"] = 12345
        if "hop" in data:
            data["hop"] = "first"
    elif kind == UNKNOWN:
        event_type = "kz.appeals.chaos.unknown.v1"
    event_id, value, headers = _envelope(event_type, subject, data)
    if kind == HEADER:
        headers.append(("x-applicant-name", CP1251_NAME))
    return Sent(topic, kind, key, value, headers, event_id=event_id)


def submission_record(kind: str, n: int, seed: int) -> Sent:
    """A submission to intake.appeal-submissions, keyed and identified by its external id."""
    submission: AppealSubmission = next(iter(demo_submissions(1, seed=seed + n)))
    external_id = f"chaos-kafka-{seed}-{n:05d}"
    body: dict[str, Any] = {**submission.model_dump(mode="json"), "external_id": external_id}
    headers = [("source", KAFKA_SOURCE.encode()), ("content-type", b"application/json")]
    value: bytes
    if kind == CONTENT_TYPE:
        value, headers = (
            XML,
            [("source", KAFKA_SOURCE.encode()), ("content-type", b"application/xml")],
        )
    elif kind == UNKNOWN:
        # A CloudEvent of a type intake does not know, where a contract v1 submission belongs.
        _, value, _ = _envelope("kz.appeals.chaos.unknown.v1", external_id, body)
    else:
        if kind == LARGE:
            body["text"] = "Ж" * (LARGE_BYTES // 2)
        elif kind == NUL:
            body["text"] += " \u0000"
        elif kind == WRONG_TYPE:
            body["type"] = 42
        value = orjson.dumps(body)
    if kind == HEADER:
        headers.append(("x-applicant-name", CP1251_NAME))
    return Sent(
        SUBMISSIONS,
        kind,
        external_id.encode(),
        value,
        headers,
        external_id=external_id,
    )


def planned(target: Target, seed: int) -> list[Sent]:
    """Every consumed topic: good, bad, good, ... good, one of each bad kind."""
    sent: list[Sent] = []
    n = 0
    for consumed in CONSUMED:
        for kind in [k for bad in KINDS for k in (GOOD, bad)] + [GOOD]:
            n += 1
            if consumed.topic == SUBMISSIONS:
                sent.append(submission_record(kind, n, seed))
            else:
                sent.append(event_record(consumed.topic, kind, target, n))
    return sent


async def produce(options: dict[str, Any], records: list[Sent], partition: int = 0) -> None:
    """One topic at a time, one record after another, to one partition: neighbours in the log."""
    producer = AIOKafkaProducer(
        **options,
        acks="all",
        enable_idempotence=True,
        max_request_size=MAX_RECORD,
        request_timeout_ms=30000,
    )
    await producer.start()
    try:
        for record in records:
            meta = await producer.send_and_wait(
                record.topic,
                record.value,
                key=record.key,
                partition=partition,
                headers=record.headers,
            )
            record.partition, record.offset = meta.partition, meta.offset
    finally:
        await producer.stop()


# ------------------------------------------------------------------ outcomes


def _service_of(source: str) -> str:
    """`/appeals/deadlines` -> deadlines: who wrote a dead letter or rejection."""
    return source.rstrip("/").rsplit("/", 1)[-1]


def refusals(records: list[ConsumerRecord[bytes, bytes]]) -> set[tuple[str, str, int, int]]:
    """(service, topic, partition, offset) of every dead letter and rejection read."""
    found = set()
    for record in records:
        try:
            event = orjson.loads(record.value or b"")
            data = event["data"]
            found.add(
                (
                    _service_of(str(event.get("source", ""))),
                    str(data["topic"]),
                    int(data["partition"]),
                    int(data["offset"]),
                )
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return found


# Each service's inbox: the ids of the events it has handled.
INBOX_SQL = {
    "intake": "SELECT event_id FROM intake.inbox WHERE event_id = ANY($1::text[])",
    "routing": "SELECT event_id FROM routing.inbox WHERE event_id = ANY($1::text[])",
    "deadlines": "SELECT event_id FROM deadlines.inbox WHERE event_id = ANY($1::text[])",
}


ROUTED_SQL = (
    "SELECT appeal_id::text AS appeal_id FROM routing.appeals WHERE appeal_id = ANY($1::uuid[])"
)


async def stored(conn: asyncpg.Connection, sent: list[Sent]) -> set[tuple[str, int, int, str]]:
    """(topic, partition, offset, service) of every record whose effect is in the database."""
    found = set()
    external = [s.external_id for s in sent if s.external_id]
    if external:
        rows = await conn.fetch(
            "SELECT external_id FROM intake.appeals WHERE source = $1 AND external_id = ANY($2)",
            KAFKA_SOURCE,
            external,
        )
        held = {r["external_id"] for r in rows}
        found |= {(s.topic, s.partition, s.offset, "intake") for s in sent if s.external_id in held}
    # Routing keeps no inbox rows for AppealReceived (the appeal's key dedupes): its effect
    # is the appeal's row, and each of these records brings an appeal of its own (its key).
    received = {s.key.decode(): s for s in sent if s.topic == topics.APPEAL_RECEIVED}
    rows = await conn.fetch(ROUTED_SQL, list(received))
    found |= {
        (s.topic, s.partition, s.offset, "routing")
        for s in (received[r["appeal_id"]] for r in rows)
    }
    ids = [s.event_id for s in sent if s.event_id]
    for service, sql in INBOX_SQL.items():
        rows = await conn.fetch(sql, ids)
        held = {r["event_id"] for r in rows}
        found |= {(s.topic, s.partition, s.offset, service) for s in sent if s.event_id in held}
    return found


def judge(
    sent: list[Sent],
    refused: set[tuple[str, str, int, int]],
    kept: set[tuple[str, int, int, str]],
    committed: dict[str, dict[TopicPartition, int]],
) -> None:
    """Set each record's outcome in each service that consumes its topic."""
    services = {c.topic: c.services for c in CONSUMED}
    for record in sent:
        tp = TopicPartition(record.topic, record.partition)
        for service in services[record.topic]:
            if (service, record.topic, record.partition, record.offset) in refused:
                outcome = DEAD_LETTERED
            elif (record.topic, record.partition, record.offset, service) in kept:
                outcome = STORED
            elif any(
                group.split("-")[0] == service and offsets.get(tp, -1) > record.offset
                for group, offsets in committed.items()
            ):
                outcome = SKIPPED
            else:
                outcome = PENDING
            record.outcomes[service] = outcome


def settled(sent: list[Sent]) -> bool:
    """Every record has an outcome its kind allows (skipped may still become a dead letter
    whose outbox row has not been published yet, so it is not final either)."""
    return all(not r.wrong() for r in sent)


COLUMNS = {
    GOOD: "good",
    HEADER: "header",
    CONTENT_TYPE: "content-type",
    LARGE: "2 MB",
    NUL: "NUL",
    WRONG_TYPE: "field type",
    UNKNOWN: "event type",
}
SHORT = {STORED: "stored", DEAD_LETTERED: "dlq", SKIPPED: "SKIP", PENDING: "STUCK"}


def matrix(sent: list[Sent]) -> str:
    """Per topic and consuming service, what became of each kind of record (stored, dlq,
    SKIP: consumed without a trace, STUCK: not got past); ! marks what the kind must not be."""
    width = max(len(c.topic) for c in CONSUMED)
    header = f"{'topic':{width}} {'service':9}" + "".join(f" {c:>16}" for c in COLUMNS.values())
    lines = [header]
    for consumed in CONSUMED:
        for service in consumed.services:
            cells = []
            for kind in COLUMNS:
                outcomes = [
                    r.outcomes.get(service, PENDING)
                    for r in sent
                    if r.topic == consumed.topic and r.kind == kind
                ]
                tally = {o: outcomes.count(o) for o in dict.fromkeys(outcomes)}
                cell = " ".join(
                    SHORT[o] if len(tally) == 1 else f"{n} {SHORT[o]}" for o, n in tally.items()
                )
                wrong = any(o not in EXPECTED[kind] for o in tally)
                cells.append(cell + ("!" if wrong else ""))
            row = f"{consumed.topic:{width}} {service:9}"
            lines.append(row + "".join(f" {c:>16}" for c in cells))
    return "\n".join(lines)


def counts(sent: list[Sent]) -> dict[str, int]:
    """Per-outcome counts over every (record, service), and how many were of a wrong kind."""
    every = [(r, o) for r in sent for o in r.outcomes.values()]
    return {
        "good": sum(1 for r in sent if r.kind == GOOD),
        "bad": sum(1 for r in sent if r.kind != GOOD),
        "stored": sum(1 for _, o in every if o == STORED),
        "dead_lettered": sum(1 for _, o in every if o == DEAD_LETTERED),
        "lost": sum(1 for _, o in every if o in LOST),
        "misfiled": sum(1 for r, o in every if o not in LOST and o not in EXPECTED[r.kind]),
    }
