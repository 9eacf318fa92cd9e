"""The three services as local processes, each `python -m <service>` with its log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from appeals_tools.stack.kafka import access, environment_of
from appeals_tools.stack.layout import Layout, read_pid, say, wait_until
from appeals_tools.stack.postgres import database_url, password_file

# Each service's default HTTP port; APPEALS_<SERVICE>_PORT moves it (a second stack instance).
SERVICES = {"intake": 8000, "routing": 8001, "deadlines": 8002}
# `up --replicas routing=3`: replica n of a service listens this many ports above replica n-1.
REPLICA_PORT_STEP = 100


def service_port(name: str) -> int:
    return int(os.environ.get(f"APPEALS_{name.upper()}_PORT", str(SERVICES[name])))


def service_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_follower(layout: Layout) -> None:
    """The provisioner that follows routing.reference-changed (appeals_tools.provisioning)."""
    from appeals_tools.principals import PROVISIONER
    from appeals_tools.stack.secrets import secrets_dir

    if read_pid(layout.pid_file(PROVISIONER)):
        say(f"{PROVISIONER} already running")
        return
    kafka = access(layout, PROVISIONER)
    env = {
        **os.environ,
        "APPEALS_KAFKA_BOOTSTRAP_SERVERS": kafka.kafka_bootstrap_servers,
        "APPEALS_KAFKA_SECRETS_DIR": str(secrets_dir(layout)),
        **({"APPEALS_KAFKA_CA_FILE": str(kafka.kafka_ca_file)} if kafka.kafka_ca_file else {}),
    }
    say(f"starting the {PROVISIONER} (new agencies get their topic, user and ACLs) ...")
    with layout.log_file(PROVISIONER).open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "appeals_tools.provisioning", "follow"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            cwd=layout.root,
        )
    layout.pid_file(PROVISIONER).write_text(str(process.pid))


def replica_name(name: str, replica: int) -> str:
    """The first replica keeps the service's name (its pid file, its log); others get -2, -3."""
    return name if replica == 1 else f"{name}-{replica}"


def replica_port(port: int, replica: int) -> int:
    """Replica n listens REPLICA_PORT_STEP ports above replica n-1: 8001, 8101, 8201, ..."""
    return port + (replica - 1) * REPLICA_PORT_STEP


def routing_url() -> str:
    return f"http://127.0.0.1:{service_port('routing')}"


def stack_environment(layout: Layout, name: str) -> dict[str, str]:
    """What a service of this stack is told: its Kafka principal, its PostgreSQL role, the keys."""
    prefix = f"{name.upper()}_"
    return {
        **environment_of(prefix, access(layout, f"svc-{name}")),
        # Its own role; the password from its file, so it is in neither the URL nor the env.
        f"{prefix}DATABASE_URL": database_url(role=name, secret=False),
        f"{prefix}DATABASE_PASSWORD_FILE": str(password_file(name)),
        f"{prefix}JWT_JWKS_FILE": str(layout.local / "keys" / "jwks.json"),
        # The dashboard's what-if page calls this stack's routing (first replica).
        **({"DEADLINES_ROUTING_URL": routing_url()} if name == "deadlines" else {}),
    }


def start_service(
    layout: Layout,
    name: str,
    port: int,
    *,
    replica: int = 1,
    environment: Mapping[str, str] | None = None,
) -> None:
    """`python -m <name>` on `port` as its replica `replica`; `environment` replaces the
    stack's own (a test points the service at its own database and topics)."""
    process_name = replica_name(name, replica)
    pid = read_pid(layout.pid_file(process_name))
    if pid and service_ready(port):
        say(f"{process_name} already running (pid {pid}, http://127.0.0.1:{port})")
        return
    say(f"starting {process_name} on http://127.0.0.1:{port} ...")
    env = {
        **os.environ,
        **(stack_environment(layout, name) if environment is None else environment),
        f"{name.upper()}_PORT": str(port),
    }
    with layout.log_file(process_name).open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", name],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            cwd=layout.root,
        )
    layout.pid_file(process_name).write_text(str(process.pid))


# ---------------------------------------------------------------- replicas
# Replicas are separate processes, each with its own port, pool, consumers and relay candidate;
# they share the service's consumer groups (the broker spreads the partitions over them), its
# schema (one relay leads) and, for deadlines, the clocks (the ticker claims with SKIP LOCKED).


def parse_replicas(text: str) -> dict[str, int]:
    """`intake=2,routing=3` -> {"intake": 2, "routing": 3}; a service not named keeps one."""
    counts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, count = part.partition("=")
        if not sep or name not in SERVICES or not count.isdigit() or not 1 <= int(count) <= 9:
            raise ValueError(
                f"{part!r} is not <service>=<1..9>, a service being one of {', '.join(SERVICES)}"
            )
        counts[name] = int(count)
    return counts


def replicas_file(layout: Layout) -> Path:
    return layout.run / "replicas.json"


def recorded_replicas(layout: Layout) -> dict[str, int]:
    """How many replicas of each service the last `up` started (one each before any)."""
    try:
        recorded = json.loads(replicas_file(layout).read_text())
    except (OSError, ValueError):
        recorded = {}
    return {name: int(recorded.get(name, 1)) for name in SERVICES}


def record_replicas(layout: Layout, counts: Mapping[str, int]) -> None:
    replicas_file(layout).write_text(json.dumps({n: counts.get(n, 1) for n in SERVICES}))


class Instance(NamedTuple):
    """One process of the stack: replica `replica` of `service`."""

    service: str
    replica: int
    name: str  # its pid file and log: `routing`, `routing-2`, ...
    port: int


def instances(layout: Layout, counts: Mapping[str, int] | None = None) -> list[Instance]:
    """Every replica of every service, first replicas first; `counts` default to what the
    last `up` recorded."""
    counts = counts or recorded_replicas(layout)
    return [
        Instance(name, n, replica_name(name, n), replica_port(service_port(name), n))
        for n in range(1, max(counts.get(s, 1) for s in SERVICES) + 1)
        for name in SERVICES
        if n <= counts.get(name, 1)
    ]


def start_replicas(
    layout: Layout,
    counts: Mapping[str, int],
    environment: Callable[[str], Mapping[str, str]] | None = None,
) -> list[Instance]:
    """Start every replica of `counts` (a service not named: one) and wait until all are
    ready; `environment(service)` replaces the stack's own."""
    started = instances(layout, counts)
    for instance in started:
        start_service(
            layout,
            instance.service,
            instance.port,
            replica=instance.replica,
            environment=None if environment is None else environment(instance.service),
        )
    wait_for_services(layout, started)
    return started


def wait_for_services(layout: Layout, started: Sequence[Instance]) -> None:
    for _, _, process_name, port in started:
        wait_until(
            f"{process_name} /ready",
            lambda port=port, process_name=process_name: (
                service_ready(port) or read_pid(layout.pid_file(process_name)) is None
            ),
            120,
        )
        # Ready once is ready: a second probe can miss under load (a busy replica answering
        # /ready late), which is not the process having exited.
        if read_pid(layout.pid_file(process_name)) is None:
            raise SystemExit(
                f"appeals-stack: {process_name} exited; see {layout.log_file(process_name)}"
            )
        say(f"{process_name} ready: http://127.0.0.1:{port}/docs")
