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
        if service == "intake":
            own |= {topics.integration_updates_topic(s) for s in SOURCES}
        # Every service answers the agency commands it applies on the agency's results topic.
        own |= {topics.agency_results_topic(c) for c in CODES}
        if service == "routing":
            own |= {topics.agency_topic(c) for c in CODES}
        assert writes(user) == own | {topics.dead_letter_topic(t) for t in reads(user)}, service


def test_every_agency_and_integration_has_one_narrow_principal() -> None:
    police = EVERY["agency-krg-police"]
    assert reads(police.user) == {"agency.krg-police.appeals", "agency.krg-police.results"}
    assert writes(police.user) == {"agency.krg-police.actions"}
    groups = [g for g in police.grants if g.resource == "group"]
    assert groups == [principals.Grant("group", "agency.krg-police.", "prefixed", "read")]
    for source in SOURCES:
        user = f"integration-{source}"
        assert writes(user) == {topics.submission_topic(source)}
        assert reads(user) == {topics.integration_updates_topic(source)}
    assert len([p for p in EVERY.values() if p.kind == "agency"]) == len(CODES)


def test_every_service_reads_every_agencys_actions_and_no_agency_another_agencys() -> None:
    for service in principals.SERVICES:
        user = principals.user_name(service)
        assert {topics.agency_actions_topic(c) for c in CODES} <= reads(user), service
    for code in CODES:
        user = principals.user_name(topics.agency_principal(code))
        others = [c for c in CODES if c != code]
        assert not {topics.agency_actions_topic(c) for c in others} & writes(user)
        assert not {topics.agency_results_topic(c) for c in others} & reads(user)
