"""Every Kafka topic of the platform, in one place, with the partition count it is created with.

Keys are always the appeal id, so all events of one appeal stay ordered on one partition.
Agency topics (`agency.<code>.appeals`, `.actions`, `.results`) are derived from the agency list
of the reference data,
submission topics (`intake.appeal-submissions.<source>`) from its integration list.

Who writes (`owner`) and who reads (`readers`) each topic is data here: the Kafka ACLs of
every principal are derived from it (`appeals_tools.principals`), and the reader of a topic
also writes its dead-letter twin. Owners and readers name principals: a service ("intake"),
"provisioner", or "agency:<code>" / "integration:<source>" for one party.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

PARTITIONS = 6
# Each agency reads only its own topic: a few appeals an hour at most, one or two consumer
# instances. Six partitions each spread routing's deliveries over 6 × (number of agencies)
# partitions, so the relay and the broker handled one tiny record batch per delivered appeal;
# two keep per-key order and a standby consumer, at a fraction of that cost.
AGENCY_PARTITIONS = 2
# An agency's commands and their results: a few an hour, ordered per appeal. One partition
# each (one consumer of each service applies them): every partition of the ~50 agencies'
# topics costs the broker at start-up and a test run at set-up.
AGENCY_ACTION_PARTITIONS = 1


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
    readers: tuple[str, ...] = ()
    # Principals that write the topic besides its owner (an agency's results: each service
    # answers the commands it applies).
    writers: tuple[str, ...] = ()
    # A topic read by the platform's services has a dead-letter twin; one read only by a
    # party outside the platform (an agency, an integration) has none.
    twin: bool = True


# Each integration writes its own `intake.appeal-submissions.<source>`: Kafka never tells a
# consumer who produced a record, so the topic (writable by that integration's principal
# only) is what proves the source.
SUBMISSIONS_PREFIX = "intake.appeal-submissions."
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
        APPEAL_REJECTIONS,
        "intake",
        ("kz.appeals.submission.rejected.v1",),
        key="external id",
        retention_ms=None,
    ),
    Topic(APPEAL_RECEIVED, "intake", ("kz.appeals.appeal.received.v1",), readers=("routing",)),
    Topic(
        ANSWER_GIVEN, "intake", ("kz.appeals.answer.given.v1",), readers=("routing", "deadlines")
    ),
    Topic(
        APPEAL_ASSIGNED,
        "routing",
        ("kz.appeals.appeal.assigned.v1",),
        readers=("intake", "deadlines"),
    ),
    Topic(
        APPEAL_REDIRECTED,
        "routing",
        ("kz.appeals.appeal.redirected.v1",),
        readers=("intake", "deadlines"),
    ),
    Topic(APPEAL_TRIAGE, "routing", ("kz.appeals.appeal.triaged.v1",), readers=("intake",)),
    Topic(
        REFERENCE_CHANGED,
        "routing",
        ("kz.appeals.reference.changed.v1",),
        1,
        "reference",
        readers=("provisioner",),
    ),
    # deadlines reads its own topics back only to rebuild its projection (and the webhook).
    Topic(
        DEADLINE_EVENTS,
        "deadlines",
        ("kz.appeals.deadline.extended.v1", "kz.appeals.receipt.confirmed.v1"),
        readers=("intake", "deadlines"),
    ),
    Topic(
        ALERTS,
        "deadlines",
        (
            "kz.appeals.deadline.warning.v1",
            "kz.appeals.deadline.breached.v1",
            "kz.appeals.deadline.overdue-reminder.v1",
            "kz.appeals.deadline.escalated.v1",
            "kz.appeals.deadline.at-risk.v1",
            "kz.appeals.redirect.overdue.v1",
            "kz.appeals.alert.acknowledged.v1",
            "kz.appeals.agency.inbox-stalled.v1",
            "kz.appeals.agency.inbox-recovered.v1",
        ),
        readers=("intake", "deadlines"),
    ),
)


def agency_principal(agency_code: str) -> str:
    return f"agency:{agency_code.upper()}"


def integration_principal(source: str) -> str:
    return f"integration:{source}"


def submission_topic(source: str) -> str:
    return f"{SUBMISSIONS_PREFIX}{source}"


def source_of(topic: str) -> str | None:
    """The integration a submission topic belongs to (None: not a submission topic)."""
    if topic.startswith(SUBMISSIONS_PREFIX) and not topic.endswith(".dlq"):
        return topic.removeprefix(SUBMISSIONS_PREFIX) or None
    return None


def agency_topic(agency_code: str) -> str:
    return f"agency.{agency_code.lower()}.appeals"


def integration_updates_topic(source: str) -> str:
    return f"integration.{source}.updates"


INTEGRATION_UPDATES_CHANNEL = "integration.{source}.updates"


def agency_group_prefix(agency_code: str) -> str:
    """Every consumer group of an agency starts so: its principal may use no other."""
    return f"agency.{agency_code.lower()}."


def agency_actions_topic(agency_code: str) -> str:
    return f"agency.{agency_code.lower()}.actions"


def agency_results_topic(agency_code: str) -> str:
    return f"agency.{agency_code.lower()}.results"


# The channel of every agency's actions and results, as the AsyncAPI documents name them.
AGENCY_ACTIONS_CHANNEL = "agency.{code}.actions"
AGENCY_RESULTS_CHANNEL = "agency.{code}.results"
SERVICES = ("intake", "routing", "deadlines")


def agency_of_topic(topic: str) -> str | None:
    """The agency code of an `agency.<code>.<kind>` topic (codes are upper-case: the topic
    spells them in lower case, and Kafka's ACL on the topic is what proves the writer)."""
    parts = topic.split(".")
    if len(parts) != 3 or parts[0] != "agency" or not parts[1]:
        return None
    return parts[1].upper()


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def submission_specs(sources: list[str]) -> list[Topic]:
    return [
        Topic(
            submission_topic(source),
            integration_principal(source),
            ("AppealSubmission (contract v1)",),
            key="external id",
            retention_ms=None,
            readers=("intake",),
        )
        for source in sources
    ]


def update_specs(sources: list[str]) -> list[Topic]:
    """Per integration: the status changes of the appeals it submitted (intake writes, the
    integration alone reads; kept forever, so a portal that reconnects misses nothing)."""
    return [
        Topic(
            integration_updates_topic(source),
            "intake",
            ("kz.appeals.appeal.status-changed.v1",),
            AGENCY_PARTITIONS,
            readers=(integration_principal(source),),
            twin=False,
        )
        for source in sources
    ]


def agency_specs(agency_codes: list[str]) -> list[Topic]:
    """Per agency: its assignments (routing writes), its actions (the agency writes, every
    service reads the commands it owns) and the results of those (the services write)."""
    found: list[Topic] = []
    for code in agency_codes:
        agency = agency_principal(code)
        found += [
            Topic(
                agency_topic(code),
                "routing",
                ("kz.appeals.appeal.assigned.v1",),
                AGENCY_PARTITIONS,
                readers=(agency,),
                twin=False,
            ),
            Topic(
                agency_actions_topic(code),
                agency,
                (
                    "kz.appeals.agency.receipt-confirmed.v1",
                    "kz.appeals.agency.answer.v1",
                    "kz.appeals.agency.redirect-requested.v1",
                    "kz.appeals.agency.extension-requested.v1",
                ),
                AGENCY_ACTION_PARTITIONS,
                readers=SERVICES,
            ),
            Topic(
                agency_results_topic(code),
                "intake",
                ("kz.appeals.agency.action-result.v1",),
                AGENCY_ACTION_PARTITIONS,
                readers=(agency,),
                writers=("routing", "deadlines"),
                twin=False,
            ),
        ]
    return found


def dead_letter_spec(topic: Topic) -> Topic:
    """A topic's dead-letter twin: written by the readers of the topic (one partition)."""
    return Topic(
        dead_letter_topic(topic.name),
        topic.owner,
        ("dead letter",),
        1,
        topic.key,
        retention_ms=None,
    )


def all_topic_specs(agency_codes: list[str], sources: list[str]) -> list[Topic]:
    """The platform topics, two per integration, three per agency, and the dead-letter twins
    of those the services read (an agency's assignments and results have none: their readers
    are outside the platform)."""
    every = list(TOPICS) + submission_specs(sources) + update_specs(sources)
    every += agency_specs(agency_codes)
    return every + [dead_letter_spec(t) for t in every if t.twin]


def prefixed(specs: list[Topic], prefix: str) -> list[Topic]:
    """The same topics under a prefix: a test run's or a benchmark's own copies of them."""
    return [replace(spec, name=prefix + spec.name) for spec in specs] if prefix else specs
