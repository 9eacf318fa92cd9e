"""Who may do what on Kafka: one principal per service, integration and agency, as data.

The ACLs follow from `appeals_contracts.topics`: a topic's owner may write it, its readers may
read it and write its dead-letter twin, and every consumer may use the consumer groups named
with its prefix. `admin` (a super user) is for the tools only; `provisioner` may create agency
topics, users and ACLs (ALTER on the cluster lets it grant anything, so no service has it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from appeals_contracts import topics
from appeals_contracts.topics import Topic

ADMIN = "admin"
PROVISIONER = "provisioner"
SERVICES = ("intake", "routing", "deadlines")
# The services' consumer groups start with their `consumer_group` setting (its default).
SERVICE_GROUPS = {"intake": "intake", "routing": "routing", "deadlines": "deadlines"}


@dataclass(frozen=True, order=True)
class Grant:
    resource: Literal["topic", "group", "cluster"]
    name: str
    pattern: Literal["literal", "prefixed"]
    operation: Literal["read", "write", "create", "alter", "describe"]


@dataclass(frozen=True)
class Principal:
    user: str  # the SCRAM user name; Kafka's principal is `User:<user>`
    kind: Literal["service", "integration", "agency", "tool"]
    grants: tuple[Grant, ...] = field(default=())


def user_name(party: str) -> str:
    """The SCRAM user of a party named in the topic contracts."""
    kind, _, name = party.partition(":")
    if kind == "agency":
        return f"agency-{name.lower()}"
    if kind == "integration":
        return f"integration-{name}"
    if party in SERVICES:
        return f"svc-{party}"
    return party


# Deadlines watches every agency's inbox (deadlines.inboxes): it may see the agencies'
# consumer groups' committed offsets and their topics' end offsets, never read a record.
# Prefixed grants, so an agency added at run time is covered without a new ACL.
INBOX_WATCH = (
    Grant("group", "agency.", "prefixed", "describe"),
    Grant("topic", "agency.", "prefixed", "describe"),
)


def watch(grants: Iterable[Grant], prefix: str) -> tuple[Grant, ...]:
    """Topic grants under a test run's prefix (groups have none)."""
    return tuple(
        Grant(g.resource, prefix + g.name, g.pattern, g.operation) if g.resource == "topic" else g
        for g in grants
    )


def integration_group_prefix(source: str) -> str:
    return f"integration.{source}."


def topic_grants(specs: Iterable[Topic]) -> dict[str, set[Grant]]:
    """Per user: WRITE for a topic's owner and other writers, READ for its readers (and WRITE
    on its dead-letter twin when it has one)."""
    found: dict[str, set[Grant]] = {}
    for spec in specs:
        for writer in (spec.owner, *spec.writers):
            found.setdefault(user_name(writer), set()).add(
                Grant("topic", spec.name, "literal", "write")
            )
        for reader in spec.readers:
            mine = found.setdefault(user_name(reader), set())
            mine.add(Grant("topic", spec.name, "literal", "read"))
            if spec.twin:
                mine.add(Grant("topic", topics.dead_letter_topic(spec.name), "literal", "write"))
    return found


def principals(
    agency_codes: Iterable[str], sources: Iterable[str], prefix: str = ""
) -> list[Principal]:
    """Every principal of the platform and its grants (admin has none: it is a super user).

    With a `prefix`, the grants are on the prefixed copies of the topics (a test run's own).
    """
    codes, names = list(agency_codes), list(sources)
    platform = topic_grants(
        topics.prefixed(
            [*topics.TOPICS, *topics.submission_specs(names), *topics.update_specs(names)], prefix
        )
    )
    agencies = topic_grants(topics.prefixed(topics.agency_specs(codes), prefix))
    every: dict[str, set[Grant]] = {}
    for part in (platform, agencies):
        for user, grants in part.items():
            every.setdefault(user, set()).update(grants)

    def granted(user: str, *extra: Grant) -> tuple[Grant, ...]:
        return tuple(sorted(every.get(user, set()) | set(extra)))

    found = [Principal(ADMIN, "tool")]
    for service in SERVICES:
        group = Grant("group", SERVICE_GROUPS[service], "prefixed", "read")
        extra = INBOX_WATCH if service == "deadlines" else ()
        user = user_name(service)
        found.append(Principal(user, "service", granted(user, group, *watch(extra, prefix))))
    found.append(
        Principal(
            PROVISIONER,
            "tool",
            granted(
                PROVISIONER,
                Grant("group", PROVISIONER, "prefixed", "read"),
                Grant("topic", prefix + "agency.", "prefixed", "create"),
                Grant("cluster", "kafka-cluster", "literal", "alter"),
            ),
        )
    )
    for source in names:
        user = user_name(topics.integration_principal(source))
        group = Grant("group", integration_group_prefix(source), "prefixed", "read")
        found.append(Principal(user, "integration", granted(user, group)))
    for code in codes:
        user = user_name(topics.agency_principal(code))
        group = Grant("group", topics.agency_group_prefix(code), "prefixed", "read")
        found.append(Principal(user, "agency", granted(user, group)))
    return found


def agency(code: str, prefix: str = "") -> Principal:
    """One agency's principal (for an agency added at run time)."""
    return next(p for p in principals([code], [], prefix) if p.kind == "agency")


def service_grants_for(code: str, prefix: str = "") -> dict[str, tuple[Grant, ...]]:
    """What each service needs for an agency added at run time: routing delivers to its
    assignments topic, every service reads its actions and writes its results."""
    found = topic_grants(topics.prefixed(topics.agency_specs([code]), prefix))
    return {
        user_name(s): tuple(sorted(found[user_name(s)])) for s in SERVICES if user_name(s) in found
    }
