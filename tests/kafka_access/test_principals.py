"""The ACL model as data: derived from the topic contracts, least privilege by construction."""

from __future__ import annotations

from appeals_contracts import topics
from appeals_reference import load_integrations, load_reference
from appeals_tools import principals
from deadlines.config import Settings as DeadlinesSettings
from intake.config import Settings as IntakeSettings
from routing.config import Settings as RoutingSettings

CODES = [a.code for a in load_reference().agencies]
SOURCES = [i.source for i in load_integrations()]
EVERY = {p.user: p for p in principals.principals(CODES, SOURCES)}


def writes(user: str) -> set[str]:
    return {g.name for g in EVERY[user].grants if g.resource == "topic" and g.operation == "write"}


def reads(user: str) -> set[str]:
    return {g.name for g in EVERY[user].grants if g.resource == "topic" and g.operation == "read"}


def test_each_service_runs_as_the_principal_whose_group_prefix_matches_its_settings() -> None:
    for settings in (IntakeSettings, RoutingSettings, DeadlinesSettings):
        user = settings.model_fields["kafka_username"].default
        group = settings.model_fields["consumer_group"].default
        grants = EVERY[user].grants
        assert principals.Grant("group", group, "prefixed", "read") in grants


def test_only_the_provisioner_may_create_topics_or_change_users_and_acls() -> None:
    powerful = {
        p.user
        for p in EVERY.values()
        if any(g.resource == "cluster" or g.operation == "create" for g in p.grants)
    }
    assert powerful == {principals.PROVISIONER}


def test_a_service_writes_only_its_own_topics_and_the_dead_letters_of_what_it_reads() -> None:
    for service in principals.SERVICES:
        user = principals.user_name(service)
        own = {t.name for t in topics.TOPICS if t.owner == service}
        if service == "routing":
            own |= {topics.agency_topic(c) for c in CODES}
        assert writes(user) == own | {topics.dead_letter_topic(t) for t in reads(user)}, service


def test_every_agency_and_integration_has_one_narrow_principal() -> None:
    police = EVERY["agency-krg-police"]
    assert reads("agency-krg-police") == {"agency.krg-police.appeals"} and not writes(police.user)
    groups = [g for g in police.grants if g.resource == "group"]
    assert groups == [principals.Grant("group", "agency.krg-police.", "prefixed", "read")]
    for source in SOURCES:
        user = f"integration-{source}"
        assert writes(user) == {topics.submission_topic(source)} and not reads(user)
    assert len([p for p in EVERY.values() if p.kind == "agency"]) == len(CODES)
