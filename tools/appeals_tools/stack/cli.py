"""The local stack without Docker: real Kafka, real PostgreSQL, the three services.

`appeals-stack up|down|status|logs` is used by `make run`, `make test` and the test fixtures alike.
Everything lives under `.local/` of the checkout (or APPEALS_STATE_DIR, see layout.py): the
Kafka jars (resolved by Maven from `deploy/pom.xml`), the broker's data and log, the secrets of
the Kafka principals, the PostgreSQL data folder, pid files and logs. A second `up` finds what
is running and leaves it alone. `up --brokers 3` runs three Kafka nodes instead of one (for
fault tests); `up --replicas intake=2,routing=3,deadlines=2` runs several processes of a
service, each on its own port, sharing the service's consumer groups and schema; status, logs
and down know them.
"""

import argparse
import asyncio
import contextlib
import fcntl
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from appeals_tools.principals import PROVISIONER
from appeals_tools.stack.kafka import (
    nodes,
    provision,
    running_brokers,
    start_kafka,
    stop_kafka,
    write_compose_config,
)
from appeals_tools.stack.layout import Layout, port_open, project_root, read_pid, say, stop_process
from appeals_tools.stack.postgres import (
    ADMIN,
    DATABASE,
    SERVICE_ROLES,
    password,
    pg_data_dir,
    pg_log_file,
    pg_port,
    prepare_database,
    start_postgres,
    stop_postgres,
)
from appeals_tools.stack.services import (
    SERVICES,
    instances,
    parse_replicas,
    record_replicas,
    recorded_replicas,
    service_ready,
    start_follower,
    start_replicas,
)


@contextlib.contextmanager
def exclusive(layout: Layout) -> Iterator[None]:
    """One `up` or `down` of a checkout's stack at a time; the next waits, then finds what
    the first started. Two pytest-xdist workers starting a stopped stack together raced to
    initialise PostgreSQL's data folder and format Kafka's. (An flock ends with its process:
    a killed `up` leaves no stale lock.)"""
    layout.run.mkdir(parents=True, exist_ok=True)
    with open(layout.run / "stack.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another appeals-stack up or down of this checkout ...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(
    layout: Layout,
    with_services: bool,
    brokers: int | None = None,
    replicas: dict[str, int] | None = None,
) -> None:
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.run.mkdir(parents=True, exist_ok=True)
    start_postgres(layout)
    start_kafka(layout, brokers or running_brokers(layout))
    provision(layout)
    if with_services:
        from appeals_tools.tokens import ensure_keys

        ensure_keys(layout.local / "keys")
        # Without --replicas: as many as run (or ran last); fewer than before stops the rest.
        counts = recorded_replicas(layout) if replicas is None else replicas
        for instance in instances(layout):
            if instance.replica > counts.get(instance.service, 1):
                stop_process(instance.name, layout)
        record_replicas(layout, counts)
        start_replicas(layout, counts)
        start_follower(layout)


def down(layout: Layout) -> None:
    stop_process("demo", layout, timeout=5)
    for instance in instances(layout):
        stop_process(instance.name, layout)
    stop_process(PROVISIONER, layout, timeout=10)
    stop_kafka(layout)
    stop_postgres(layout)
    say("all stopped")


def status(layout: Layout) -> int:
    rows = [
        ("postgres", pg_port(), "up" if port_open(pg_port()) else "down", str(pg_data_dir(layout)))
    ]
    for node in nodes(running_brokers(layout)):
        state = "up" if port_open(node.port, node.host) else "down"
        pid = str(read_pid(layout.pid_file(node.name)) or "-")
        rows.append((node.name, node.port, state, f"{node.host} {pid}"))
    for _, _, name, port in instances(layout):
        state = "ready" if service_ready(port) else ("up" if port_open(port) else "down")
        rows.append((name, port, state, str(read_pid(layout.pid_file(name)) or "-")))
    for name, port, state, detail in rows:
        print(f"{name:12} 127.0.0.1:{port:<6} {state:6} {detail}")
    return 0 if all(r[2] != "down" for r in rows) else 1


def logs(layout: Layout, name: str, follow: bool) -> None:
    path = pg_log_file(layout) if name == "postgres" else layout.log_file(name)
    if name == "kafka" and not path.exists():
        path = layout.log_file("kafka-stdout")
    if not path.exists():
        raise SystemExit(f"appeals-stack: no log for {name} at {path}")
    os.execvp("tail", ["tail", "-n", "200", *(["-f"] if follow else []), str(path)])


def replicas_argument(text: str) -> dict[str, int]:
    try:
        return parse_replicas(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appeals-stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start PostgreSQL, Kafka, topics and the services")
    up_parser.add_argument("--infra", action="store_true", help="only PostgreSQL, Kafka, topics")
    up_parser.add_argument(
        "--brokers",
        type=int,
        choices=(1, 3),
        default=None,
        help="Kafka nodes: 1 (default), or 3 on 127.0.0.1-3 (RF 3, min.insync.replicas 2); "
        "without it, what runs (or ran last)",
    )
    up_parser.add_argument(
        "--replicas",
        type=replicas_argument,
        default=None,
        metavar="SERVICE=N,...",
        help="processes per service, e.g. intake=2,routing=3,deadlines=2 (others: 1); replica n "
        "listens on the service's port + 100*(n-1); without it, what runs (or ran last)",
    )
    sub.add_parser("down", help="stop everything this checkout started")
    provision_parser = sub.add_parser(
        "provision",
        help="create the topics, SCRAM users and ACLs on a running broker (as admin); "
        "docker-compose's set-up job",
    )
    provision_parser.add_argument("--bootstrap", default=None, help="host:port (default: local)")
    provision_parser.add_argument(
        "--secrets",
        type=Path,
        default=None,
        help="the secrets folder (default: .local/kafka/secrets)",
    )
    secrets_parser = sub.add_parser(
        "secrets", help="generate the PostgreSQL passwords into a folder (compose's set-up job)"
    )
    secrets_parser.add_argument("--dir", type=Path, required=True)
    secrets_parser.add_argument(
        "--owner",
        action="append",
        default=[],
        metavar="ROLE=UID",
        help="the uid that may read ROLE's password (the only one: mode 0600)",
    )
    roles_parser = sub.add_parser(
        "roles", help="create the service roles and their schemas on a server (compose's job)"
    )
    roles_parser.add_argument("--host", default="127.0.0.1")
    roles_parser.add_argument("--port", type=int, default=5432)
    roles_parser.add_argument("--database", default=DATABASE)
    roles_parser.add_argument("--secrets", type=Path, required=True, help="the passwords' folder")
    sub.add_parser("status", help="what runs where")
    logs_parser = sub.add_parser("logs", help="show a component's log")
    logs_parser.add_argument(
        "name", help=f"kafka, postgres, {', '.join(SERVICES)}, or a replica: routing-2, ..."
    )
    logs_parser.add_argument("-f", "--follow", action="store_true")
    compose_parser = sub.add_parser(
        "compose-config",
        help="docker-compose's set-up job: the broker's configuration and every password",
    )
    compose_parser.add_argument("--secrets", type=Path, required=True)
    compose_parser.add_argument("--owner", type=int, default=None, help="chown them to this uid")
    args = parser.parse_args(argv)
    if args.command == "compose-config":
        write_compose_config(project_root(), args.secrets, args.owner)
        return 0
    if args.command == "secrets":
        # One folder per role (<dir>/<role>/pg-<role>): a container mounts only its own.
        owners = {role: int(uid) for role, _, uid in (o.partition("=") for o in args.owner)}
        for role in (ADMIN, *SERVICE_ROLES):
            password(role, args.dir / role, owner=owners.get(role))
        say(f"PostgreSQL passwords in {args.dir}: {', '.join((ADMIN, *SERVICE_ROLES))}")
        return 0
    if args.command == "roles":
        admin = f"postgresql://{ADMIN}@{args.host}:{args.port}/postgres"
        secrets = {role: password(role, args.secrets / role) for role in SERVICE_ROLES}
        asyncio.run(
            prepare_database(
                admin, args.database, secrets, admin_password=password(ADMIN, args.secrets / ADMIN)
            )
        )
        say(f"roles {', '.join(SERVICE_ROLES)} own their schemas in {args.database}")
        return 0
    layout = Layout(project_root())
    if args.command == "provision":
        provision(layout, args.bootstrap, args.secrets)
    elif args.command == "up":
        with exclusive(layout):
            up(layout, with_services=not args.infra, brokers=args.brokers, replicas=args.replicas)
    elif args.command == "down":
        with exclusive(layout):
            down(layout)
    elif args.command == "status":
        return status(layout)
    elif args.command == "logs":
        logs(layout, args.name, args.follow)
    return 0
