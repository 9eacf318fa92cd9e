"""Every Kafka topic of the platform, in one place, with the partition count it is created with.

Keys are always the appeal id, so all events of one appeal stay ordered on one partition.
Agency topics (`agency.<code>.appeals`) are derived from the agency list of the reference data.
"""

from __future__ import annotations

from dataclasses import dataclass

PARTITIONS = 6
# Each agency reads only its own topic: a few appeals an hour at most, one or two consumer
# instances. Six partitions each spread routing's deliveries over 6 × (number of agencies)
# partitions, so the relay and the broker handled one tiny record batch per delivered appeal;
# two keep per-key order and a standby consumer, at a fraction of that cost.
AGENCY_PARTITIONS = 2


@dataclass(frozen=True)
class Topic:
    name: str
    owner: str
    event_types: tuple[str, ...]
    partitions: int = PARTITIONS
    key: str = "appeal id"
    # Event topics are the record `deadlines rebuild` replays: kept forever (-1). Raw
    # submissions, rejections and dead letters hold input, not facts: a week (None: broker's).
    retention_ms: int | None = -1


APPEAL_SUBMISSIONS = "intake.appeal-submissions"
APPEAL_REJECTIONS = "intake.appeal-rejections"
APPEAL_RECEIVED = "intake.appeal-received"
ANSWER_GIVEN = "intake.answer-given"
APPEAL_ASSIGNED = "routing.appeal-assigned"
APPEAL_REDIRECTED = "routing.appeal-redirected"
APPEAL_TRIAGE = "routing.appeal-triage"
REFERENCE_CHANGED = "routing.reference-changed"
DEADLINE_EVENTS = "deadlines.deadline-events"
ALERTS = "deadlines.alerts"

TOPICS: tuple[Topic, ...] = (
    Topic(
        APPEAL_SUBMISSIONS,
        "integrations",
        ("AppealSubmission (contract v1)",),
        key="external id",
        retention_ms=None,
    ),
    Topic(
        APPEAL_REJECTIONS,
        "intake",
        ("kz.appeals.submission.rejected.v1",),
        key="external id",
        retention_ms=None,
    ),
    Topic(APPEAL_RECEIVED, "intake", ("kz.appeals.appeal.received.v1",)),
    Topic(ANSWER_GIVEN, "intake", ("kz.appeals.answer.given.v1",)),
    Topic(APPEAL_ASSIGNED, "routing", ("kz.appeals.appeal.assigned.v1",)),
    Topic(APPEAL_REDIRECTED, "routing", ("kz.appeals.appeal.redirected.v1",)),
    Topic(APPEAL_TRIAGE, "routing", ("kz.appeals.appeal.triaged.v1",)),
    Topic(REFERENCE_CHANGED, "routing", ("kz.appeals.reference.changed.v1",), 1, "reference"),
    Topic(DEADLINE_EVENTS, "deadlines", ("kz.appeals.deadline.extended.v1",)),
    Topic(
        ALERTS,
        "deadlines",
        (
            "kz.appeals.deadline.warning.v1",
            "kz.appeals.deadline.breached.v1",
            "kz.appeals.deadline.overdue-reminder.v1",
            "kz.appeals.deadline.escalated.v1",
            "kz.appeals.redirect.overdue.v1",
            "kz.appeals.alert.acknowledged.v1",
        ),
    ),
)


def agency_topic(agency_code: str) -> str:
    return f"agency.{agency_code.lower()}.appeals"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def all_topic_specs(agency_codes: list[str]) -> list[Topic]:
    """The platform topics, their dead-letter topics and one topic per agency."""
    specs = list(TOPICS)
    specs += [
        Topic(dead_letter_topic(t.name), t.owner, ("dead letter",), 1, t.key, retention_ms=None)
        for t in TOPICS
    ]
    specs += [
        Topic(agency_topic(code), "routing", ("kz.appeals.appeal.assigned.v1",), AGENCY_PARTITIONS)
        for code in agency_codes
    ]
    return specs
