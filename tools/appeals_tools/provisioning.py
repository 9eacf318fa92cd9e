"""Kafka users, ACLs and topics made from the reference data: at `appeals-stack up`, and for an
agency added at run time.

`appeals-stack up` provisions everything as `admin` (SCRAM users from this checkout's secrets,
the ACLs of `appeals_tools.principals`, the topics of `appeals_contracts.topics`). After that,
routing's `PUT /v1/reference` announces a new version on `routing.reference-changed`, and
`python -m appeals_tools.provisioning follow` (started by the stack beside the services) gives
every agency of it that has no user yet its topic, user and ACLs, as the `provisioner` principal.
Why a process of its own: creating users and ACLs needs ALTER on the cluster, which lets the
holder grant itself anything, so it stays out of routing; following the event (not a call from
routing) keeps routing's request path free of Kafka administration, and a restarted follower
catches up from its committed offset.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from appeals_contracts import event_types, topics
from appeals_contracts.topics import Topic
from appeals_platform.kafka import KafkaAccess, KafkaSettings, librdkafka_config
from appeals_platform.logs import configure_logging
from appeals_tools import principals
from appeals_tools.principals import Grant, Principal
from appeals_tools.stack.secrets import secret, secret_file

log = logging.getLogger("appeals.provisioning")

TIMEOUT = 30.0
SCRAM_ITERATIONS = 8192
_RESOURCES = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "cluster": ResourceType.BROKER,
}
_PATTERNS = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}
_OPERATIONS = {
    "read": AclOperation.READ,
    "write": AclOperation.WRITE,
    "create": AclOperation.CREATE,
    "alter": AclOperation.ALTER,
    "describe": AclOperation.DESCRIBE,
}


class CredentialsRefused(RuntimeError):
    """The broker refused this client's SASL credentials (librdkafka would retry forever)."""


def librdkafka(settings: KafkaSettings, **extra: Any) -> dict[str, Any]:
    """A librdkafka configuration that fails on refused credentials instead of retrying."""

    def on_error(error: KafkaError) -> None:
        if error.code() == KafkaError._AUTHENTICATION:
            raise CredentialsRefused(error.str())

    return {**librdkafka_config(settings), "log_level": 0, "error_cb": on_error, **extra}


def admin_client(settings: KafkaSettings) -> AdminClient:
    return AdminClient(librdkafka(settings))


def acl_binding(user: str, grant: Grant) -> AclBinding:
    return AclBinding(
        _RESOURCES[grant.resource],
        grant.name,
        _PATTERNS[grant.pattern],
        f"User:{user}",
        "*",
        _OPERATIONS[grant.operation],
        AclPermissionType.ALLOW,
    )


def _wait(futures: Iterable[Any]) -> None:
    for future in futures:
        future.result(timeout=TIMEOUT)


def upsert_users(admin: AdminClient, passwords: dict[str, str]) -> None:
    """Create or reset SCRAM-SHA-512 users (the broker keeps salted keys, never the password)."""
    if not passwords:
        return
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(u, info, p.encode()) for u, p in passwords.items()
    ]
    _wait(admin.alter_user_scram_credentials(upserts, request_timeout=TIMEOUT).values())


def wait_for_users(admin: AdminClient, users: Iterable[str]) -> None:
    """Until the broker lists every user: an upsert is acknowledged when the controller has it,
    and a client that logs in a moment later was refused on a fresh broker (seen with TLS)."""
    wanted = set(users)
    # A fresh broker applies the users after the topics created just before them (three per
    # agency): on a loaded machine that took longer than 30 s.
    deadline = time.monotonic() + TIMEOUT * 4
    while not wanted <= existing_users(admin):
        if time.monotonic() > deadline:
            missing = ", ".join(sorted(wanted - existing_users(admin)))
            raise RuntimeError(f"users not visible after {TIMEOUT * 4:.0f}s: {missing}")
        time.sleep(0.2)


def existing_users(admin: AdminClient) -> set[str]:
    described = admin.describe_user_scram_credentials(request_timeout=TIMEOUT)
    assert not isinstance(described, dict)  # asked for all users: one future
    return set(described.result(timeout=TIMEOUT))


def grant(admin: AdminClient, bindings: Sequence[AclBinding]) -> None:
    """Add ACLs; adding one that exists is a no-op, so this is safe to repeat."""
    if bindings:
        _wait(admin.create_acls(list(dict.fromkeys(bindings)), request_timeout=TIMEOUT).values())


def wait_for_acls(admin: AdminClient, bindings: Sequence[AclBinding]) -> None:
    """Until the broker lists every one of `bindings`: create_acls is acknowledged when the
    controller has them, but a broker applies them in metadata-log order, after the topics
    created just before (seen: 10 s behind after creating the ~220 topics of a test run), and
    a client that is refused meanwhile fails instead of waiting."""
    wanted = {
        (b.restype, b.name, b.resource_pattern_type, b.principal, b.operation) for b in bindings
    }
    if not wanted:
        return
    # None matches any name, principal and host (librdkafka); the stubs know only str.
    every = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]
        AclOperation.ANY, AclPermissionType.ANY,
    )  # fmt: skip
    deadline = time.monotonic() + TIMEOUT * 4
    while True:
        listed = admin.describe_acls(every, request_timeout=TIMEOUT).result(timeout=TIMEOUT)
        seen = {
            (b.restype, b.name, b.resource_pattern_type, b.principal, b.operation) for b in listed
        }
        if wanted <= seen:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(wanted - seen)} ACLs not visible after {TIMEOUT * 4:.0f}s")
        time.sleep(0.5)


def revoke(admin: AdminClient, bindings: Sequence[AclBinding]) -> None:
    """Remove exactly these ACLs (tests take back what they granted for their own topics)."""
    if not bindings:
        return
    filters = [
        AclBindingFilter(
            b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation,
            b.permission_type,
        )
        for b in dict.fromkeys(bindings)
    ]  # fmt: skip
    _wait(admin.delete_acls(filters, request_timeout=TIMEOUT).values())


def create_topics(admin: AdminClient, specs: Sequence[Topic]) -> list[str]:
    """Create the missing topics; the replication factor and min.insync.replicas are the
    broker's defaults (1 for one broker; 3 and 2 in the three-broker mode)."""
    existing = set(admin.list_topics(timeout=TIMEOUT).topics)
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=-1,
                config={"retention.ms": str(s.retention_ms)} if s.retention_ms is not None else {},
            )
            for s in missing
        ],
        request_timeout=TIMEOUT,
    )
    for name, future in futures.items():
        try:
            future.result(timeout=TIMEOUT)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"topic {name}: {exc.args[0].str()}") from exc
    return [s.name for s in missing]


def delete_topics(admin: AdminClient, names: Sequence[str]) -> None:
    """Delete topics (a test run's own copies); one that is already gone is no error."""
    if not names:
        return
    for name, future in admin.delete_topics(list(names), request_timeout=TIMEOUT).items():
        try:
            future.result(timeout=TIMEOUT)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise RuntimeError(f"topic {name}: {exc.args[0].str()}") from exc


def platform_specs(
    agency_codes: Sequence[str], sources: Sequence[str], prefix: str = ""
) -> list[Topic]:
    return topics.prefixed(topics.all_topic_specs(list(agency_codes), list(sources)), prefix)


def provision_all(
    admin: AdminClient, secrets: Path, agency_codes: Sequence[str], sources: Sequence[str]
) -> tuple[list[str], list[Principal]]:
    """Topics, users (passwords from `secrets`, drawn when missing) and ACLs for everyone."""
    created = create_topics(admin, platform_specs(agency_codes, sources))
    every = principals.principals(agency_codes, sources)
    upsert_users(admin, {p.user: secret(secrets, p.user) for p in every})
    bindings = [acl_binding(p.user, g) for p in every for g in p.grants]
    grant(admin, bindings)
    wait_for_users(admin, [p.user for p in every])
    return created, every


def provision_agencies(
    admin: AdminClient, secrets: Path, codes: Sequence[str], prefix: str = ""
) -> list[str]:
    """Give each agency without a user its topics, user and ACLs, and the services theirs on
    its topics (routing WRITE on its assignments; all READ on its actions, WRITE on results).

    What `provisioner` needs for it: CREATE on `agency.` topics, ALTER on the cluster. With a
    `prefix` (a test run's), the topic and the grants are the prefixed ones.
    """
    known = existing_users(admin)
    new = [c for c in codes if principals.agency(c).user not in known]
    if not new:
        return []
    specs = topics.agency_specs(new)
    create_topics(
        admin,
        topics.prefixed(specs + [topics.dead_letter_spec(s) for s in specs if s.twin], prefix),
    )
    bindings: list[AclBinding] = []
    for code in new:
        agency = principals.agency(code, prefix)
        bindings += [acl_binding(agency.user, g) for g in agency.grants]
        for service, grants in principals.service_grants_for(code, prefix).items():
            bindings += [acl_binding(service, g) for g in grants]
    # ACLs before the user: the agency's first connection already finds its rights.
    grant(admin, bindings)
    users = {principals.agency(c).user: secret(secrets, principals.agency(c).user) for c in new}
    upsert_users(admin, users)
    wait_for_users(admin, users)
    return new


def remove_agency(admin: AdminClient, secrets: Path, code: str, prefix: str = "") -> None:
    """Undo `provision_agencies` for one agency: ACLs, user, topic and secret."""
    agency = principals.agency(code, prefix)
    revoke(
        admin,
        [acl_binding(agency.user, g) for g in agency.grants]
        + [
            acl_binding(service, g)
            for service, grants in principals.service_grants_for(code, prefix).items()
            for g in grants
        ],
    )
    deletion = UserScramCredentialDeletion(agency.user, ScramMechanism.SCRAM_SHA_512)
    _wait(admin.alter_user_scram_credentials([deletion], request_timeout=TIMEOUT).values())
    specs = topics.agency_specs([code])
    names = [s.name for s in specs] + [topics.dead_letter_topic(s.name) for s in specs if s.twin]
    delete_topics(admin, [prefix + n for n in names])
    shutil.rmtree(secret_file(secrets, agency.user).parent, ignore_errors=True)


def agency_codes_of(value: bytes | None) -> list[str] | None:
    """The agency codes of a reference.changed event (None: another kind of record)."""
    try:
        event = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or event.get("type") != event_types.REFERENCE_CHANGED:
        return None
    agencies = (event.get("data") or {}).get("document", {}).get("agencies", [])
    return [a["code"] for a in agencies if isinstance(a, dict) and isinstance(a.get("code"), str)]


def follow(
    access: KafkaSettings,
    secrets: Path,
    *,
    prefix: str = "",
    group: str = principals.PROVISIONER,
    stop: threading.Event | None = None,
) -> None:
    """Provision the agencies of every reference version announced on routing.reference-changed
    (under `prefix`: a test run's copy), as they come, until `stop` is set (a test runs it in a
    thread). Every version is handled once per group (offsets are committed after it), and
    handling one again changes nothing."""
    topic = prefix + topics.REFERENCE_CHANGED
    admin = admin_client(access)
    consumer = Consumer(
        librdkafka(
            access,
            **{
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            },
        )
    )
    consumer.subscribe([topic])
    log.info("following %s", topic)
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            message = consumer.poll(0.5)
            if message is None:
                continue
            if (error := message.error()) is not None:
                if error.fatal():
                    raise KafkaException(error)
                log.warning("consumer: %s", error.str())
                continue
            codes = agency_codes_of(message.value())
            if codes is None:
                log.warning("skipped a record that is not a reference.changed event")
            elif new := provision_agencies(admin, secrets, codes, prefix):
                log.info("provisioned %d new agencies: %s", len(new), ", ".join(new))
            consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m appeals_tools.provisioning", description=__doc__
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("follow", help="provision agencies announced on routing.reference-changed")
    args = parser.parse_args(argv)
    configure_logging("provisioner", "INFO")
    ca = os.environ.get("APPEALS_KAFKA_CA_FILE")
    secrets = Path(os.environ["APPEALS_KAFKA_SECRETS_DIR"])
    access = KafkaAccess(
        kafka_bootstrap_servers=os.environ["APPEALS_KAFKA_BOOTSTRAP_SERVERS"],
        kafka_username=principals.PROVISIONER,
        kafka_password_file=secret_file(secrets, principals.PROVISIONER),
        kafka_security_protocol="SASL_SSL" if ca else "SASL_PLAINTEXT",
        kafka_ca_file=Path(ca) if ca else None,
    )
    if args.command == "follow":
        follow(access, secrets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
