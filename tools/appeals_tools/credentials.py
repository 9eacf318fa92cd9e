"""`appeals-kafka credentials agency KRG-POLICE`: issue a party's Kafka credentials and print a
ready client configuration (librdkafka properties, Python with confluent-kafka and aiokafka).

Issuing makes sure the principal exists on this checkout's broker with its ACLs (as `admin`);
`--rotate` draws a new password first. Passwords live in .local/kafka/secrets (mode 0600).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from appeals_contracts import topics
from appeals_platform.kafka import KafkaAccess, librdkafka_config, password
from appeals_reference import load_integrations, load_reference
from appeals_tools import principals
from appeals_tools.principals import Principal
from appeals_tools.stack.kafka import access, admin_access
from appeals_tools.stack.layout import Layout, project_root
from appeals_tools.stack.secrets import secret_file, secrets_dir

KINDS = ("agency", "integration", "service")


@dataclass(frozen=True)
class Party:
    principal: Principal
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    group: str | None


def party(kind: str, name: str) -> Party:
    """The principal of `kind` `name`, and what it is for (topics, its consumer group)."""
    if kind == "agency":
        code = name.upper()
        known = {a.code for a in load_reference().agencies}
        layout = Layout(project_root())
        user = principals.user_name(topics.agency_principal(code))
        # An agency added at run time is not packaged: the provisioner drew its secret.
        if code not in known and not secret_file(secrets_dir(layout), user).exists():
            raise SystemExit(f"appeals-kafka: no agency {code} in the reference data")
        principal = principals.agency(code)
        prefix = topics.agency_group_prefix(code)
        return Party(
            principal,
            (topics.agency_topic(code), topics.agency_results_topic(code)),
            (topics.agency_actions_topic(code),),
            f"{prefix}inbox",
        )
    if kind == "integration":
        if name not in {i.source for i in load_integrations()}:
            raise SystemExit(f"appeals-kafka: no integration {name} in integrations.yaml")
        user = principals.user_name(topics.integration_principal(name))
        principal = _find(user)
        return Party(
            principal,
            (topics.integration_updates_topic(name),),
            (topics.submission_topic(name),),
            f"{principals.integration_group_prefix(name)}updates",
        )
    if kind == "service":
        principal = _find(principals.user_name(name))
        reads = tuple(
            g.name for g in principal.grants if g.operation == "read" and g.resource == "topic"
        )
        return Party(principal, reads, (), principals.SERVICE_GROUPS.get(name))
    raise SystemExit(f"appeals-kafka: the kind is one of {', '.join(KINDS)}")


def _find(user: str) -> Principal:
    every = principals.principals(
        [a.code for a in load_reference().agencies], [i.source for i in load_integrations()]
    )
    for principal in every:
        if principal.user == user:
            return principal
    raise SystemExit(f"appeals-kafka: no principal {user}")


def issue(layout: Layout, found: Party, rotate: bool = False) -> KafkaAccess:
    """Make sure the user exists with this checkout's password and its ACLs; its access."""
    from appeals_tools import provisioning

    user = found.principal.user
    if rotate:
        shutil.rmtree(secret_file(secrets_dir(layout), user).parent, ignore_errors=True)
    mine = access(layout, user)
    admin = provisioning.admin_client(admin_access(layout))
    provisioning.grant(admin, [provisioning.acl_binding(user, g) for g in found.principal.grants])
    provisioning.upsert_users(admin, {user: password(mine)})
    return mine


def render(found: Party, mine: KafkaAccess) -> str:
    config = librdkafka_config(mine)
    user, secret = config["sasl.username"], config["sasl.password"]
    lines = [f"# Kafka client settings for User:{found.principal.user}"]
    if found.reads:
        lines.append(f"# may read: {', '.join(found.reads)}")
    if found.writes:
        lines.append(f"# may write: {', '.join(found.writes)}")
    if found.group:
        lines.append(f"# consumer groups: names starting with {found.group.rsplit('.', 1)[0]}")
    lines.append("\n# librdkafka properties (confluent-kafka, kcat -F, Java clients alike):")
    properties = dict(config)
    if found.group:
        properties |= {"group.id": found.group, "auto.offset.reset": "earliest"}
    lines += [f"{k}={v}" for k, v in properties.items()]
    lines.append(
        "# Java clients: sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule "
        f'required username="{user}" password="{secret}";'
    )
    literal = json.dumps(properties, indent=4, ensure_ascii=False)
    if found.reads:
        lines += [
            "\n# Python, confluent-kafka:",
            "from confluent_kafka import Consumer",
            f"config = {literal}",
            "consumer = Consumer(config)",
            f"consumer.subscribe({list(found.reads)!r})",
        ]
        if found.writes:
            written = (
                "key=external_id, value=submission_json"
                if found.principal.kind == "integration"
                else "key=appeal_id, value=cloud_event_json"
            )
            lines += [
                "from confluent_kafka import Producer",
                "producer = Producer({k: v for k, v in config.items() "
                'if k not in ("group.id", "auto.offset.reset")})',
                f'producer.produce("{found.writes[0]}", {written})',
            ]
    else:
        producer = {
            k: v for k, v in properties.items() if k not in ("group.id", "auto.offset.reset")
        }
        lines += [
            "\n# Python, confluent-kafka:",
            "from confluent_kafka import Producer",
            f"producer = Producer({json.dumps(producer | {'enable.idempotence': True}, indent=4)})",
            f'producer.produce("{found.writes[0]}", key=external_id, value=submission_json)',
        ]
    tls = (
        f', ssl_context=aiokafka.helpers.create_ssl_context(cafile="{mine.kafka_ca_file}")'
        if mine.kafka_ca_file
        else ""
    )
    client = "AIOKafkaConsumer" if found.reads else "AIOKafkaProducer"
    target = f"{found.reads[0]!r}, " if found.reads else ""
    group = f', group_id="{found.group}"' if found.group else ""
    lines += [
        "\n# Python, aiokafka:",
        f'{client}({target}bootstrap_servers="{mine.kafka_bootstrap_servers}", '
        f'security_protocol="{mine.kafka_security_protocol}", sasl_mechanism="SCRAM-SHA-512", '
        f'sasl_plain_username="{user}", sasl_plain_password="{secret}"{group}{tls})',
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appeals-kafka", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    issue_parser = sub.add_parser("credentials", help="issue credentials, print a client config")
    issue_parser.add_argument("kind", choices=KINDS)
    issue_parser.add_argument("name", help="agency code, integration source or service name")
    issue_parser.add_argument("--rotate", action="store_true", help="draw a new password first")
    issue_parser.add_argument(
        "--format", choices=("text", "properties"), default="text", help="properties: only those"
    )
    args = parser.parse_args(argv)
    layout = Layout(project_root())
    found = party(args.kind, args.name)
    mine = issue(layout, found, rotate=args.rotate)
    if args.format == "properties":
        properties = librdkafka_config(mine)
        if found.group:
            properties["group.id"] = found.group
        sys.stdout.write("".join(f"{k}={v}\n" for k, v in properties.items()))
    else:
        print(render(found, mine))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
