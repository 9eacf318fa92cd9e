"""Apache Kafka for the local stack: jars from Maven Central, KRaft nodes, users, ACLs, topics.

One combined broker+controller node by default (`127.0.0.1:$APPEALS_KAFKA_PORT`, controller on
the next port). `appeals-stack up --brokers 3` runs three instead, on 127.0.0.1-3 with ports of
their own (`$APPEALS_KAFKA_CLUSTER_PORT`, default the single broker's port + 100: clients on
base..base+2, controllers on base+3..base+5), a static quorum of three, replication factor 3
and min.insync.replicas=2. Either way every client authenticates with SASL/SCRAM-SHA-512 (TLS
too with APPEALS_KAFKA_TLS=1) and may do only what its ACLs allow (`appeals_tools.principals`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from appeals_platform.kafka import KafkaAccess, SecurityProtocol, client_options
from appeals_tools.stack.layout import (
    Layout,
    apt_install,
    port_open,
    project_root,
    read_pid,
    say,
    wait_until,
)
from appeals_tools.stack.secrets import secret, secret_file, secrets_dir

ADMIN = "admin"
# The name of the controller listener's PLAIN password (the nodes' own; no client uses it).
CONTROLLER = "kafka-controller"
# Data folders formatted before SASL have no `admin` user, which only a format can add.
SCRAM_MARKER = ".appeals-scram"


def kafka_version(root: Path | None = None) -> str:
    """The one Kafka version of the project: `kafka.version` in deploy/pom.xml.

    docker-compose names the same (a test holds them equal); Strimzi 1.2 runs 4.2.0-4.3.1.
    """
    pom = (root or project_root()) / "deploy" / "pom.xml"
    found = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", pom.read_text())
    if found is None:
        raise SystemExit(f"appeals-stack: {pom} has no <kafka.version> property")
    return found.group(1)


def kafka_port() -> int:
    return int(os.environ.get("APPEALS_KAFKA_PORT", "9092"))


def cluster_port() -> int:
    return int(os.environ.get("APPEALS_KAFKA_CLUSTER_PORT", str(kafka_port() + 100)))


def tls_enabled() -> bool:
    return os.environ.get("APPEALS_KAFKA_TLS", "").lower() in ("1", "true", "yes")


def client_protocol() -> SecurityProtocol:
    return "SASL_SSL" if tls_enabled() else "SASL_PLAINTEXT"


@dataclass(frozen=True)
class Node:
    id: int
    host: str
    port: int
    controller_port: int
    brokers: int

    @property
    def name(self) -> str:
        """Its pid and log name: `kafka` alone, `kafka-<id>` in the three-broker mode."""
        return "kafka" if self.brokers == 1 else f"kafka-{self.id}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def home(self, layout: Layout) -> Path:
        base = layout.local / "kafka"
        return base if self.brokers == 1 else base / "cluster" / f"n{self.id}"

    def data(self, layout: Layout) -> Path:
        return layout.kafka_data if self.brokers == 1 else self.home(layout) / "data"

    def logs(self, layout: Layout) -> Path:
        return layout.logs if self.brokers == 1 else self.home(layout) / "logs"

    @property
    def heap(self) -> str:
        # Three nodes share 2 cores and the services: 384 MB each was measured to be enough.
        return "768m" if self.brokers == 1 else "384m"


def nodes(brokers: int, base_port: int | None = None) -> list[Node]:
    if brokers == 1:
        return [Node(1, "127.0.0.1", kafka_port(), kafka_port() + 1, 1)]
    if brokers != 3:
        raise SystemExit("appeals-stack: --brokers is 1 or 3")
    base = base_port or cluster_port()
    # 127.0.0.0/8 is all on `lo` in Linux: 127.0.0.2 and .3 need no set-up.
    return [Node(i, f"127.0.0.{i}", base + i - 1, base + 2 + i, 3) for i in (1, 2, 3)]


def brokers_file(layout: Layout) -> Path:
    return layout.run / "kafka-brokers"


def running_brokers(layout: Layout) -> int:
    """How many brokers the stack of this checkout was started with (1 unless --brokers 3)."""
    try:
        return int(brokers_file(layout).read_text().strip())
    except (OSError, ValueError):
        return 1


def bootstrap_servers(layout: Layout | None = None) -> str:
    layout = layout or Layout(project_root())
    return ",".join(n.address for n in nodes(running_brokers(layout)))


def tls_dir(layout: Layout) -> Path:
    return layout.local / "kafka" / "tls"


def ca_file(layout: Layout) -> Path | None:
    return tls_dir(layout) / "ca.pem" if tls_enabled() else None


def access(layout: Layout, user: str, bootstrap: str | None = None) -> KafkaAccess:
    """How `user` reaches this checkout's broker(s), its password from the secrets folder."""
    secret(secrets_dir(layout), user)
    return KafkaAccess(
        kafka_bootstrap_servers=bootstrap or bootstrap_servers(layout),
        kafka_username=user,
        kafka_password_file=secret_file(secrets_dir(layout), user),
        kafka_security_protocol=client_protocol(),
        kafka_ca_file=ca_file(layout),
    )


def admin_access(layout: Layout, bootstrap: str | None = None) -> KafkaAccess:
    return access(layout, ADMIN, bootstrap)


def admin_options() -> dict[str, Any]:
    """aiokafka keyword arguments for `admin` on this checkout's stack (benches, tools)."""
    return client_options(admin_access(Layout(project_root())))


def settings_of(mine: KafkaAccess) -> dict[str, Any]:
    """The `kafka_*` fields of a service's settings that make it connect as `mine` does."""
    return {
        "kafka_bootstrap_servers": mine.kafka_bootstrap_servers,
        "kafka_security_protocol": mine.kafka_security_protocol,
        "kafka_username": mine.kafka_username,
        "kafka_password_file": mine.kafka_password_file,
        "kafka_ca_file": mine.kafka_ca_file,
    }


def environment_of(prefix: str, mine: KafkaAccess) -> dict[str, str]:
    """The same as a service's environment variables (`INTAKE_KAFKA_USERNAME`, ...)."""
    return {
        f"{prefix}{name.upper()}": str(value)
        for name, value in settings_of(mine).items()
        if value is not None
    }


def ensure_kafka_jars(layout: Layout) -> None:
    version = kafka_version(layout.root)
    marker = layout.kafka_libs / f".kafka-{version}"
    if marker.exists():
        return
    if shutil.which("java") is None:
        apt_install("default-jre-headless")
    if shutil.which("mvn") is None:
        apt_install("maven")
    say(f"resolving Apache Kafka {version} from Maven Central (once, ~55 MB) ...")
    if layout.kafka_libs.exists():
        shutil.rmtree(layout.kafka_libs)
    layout.kafka_libs.mkdir(parents=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(layout.root / "deploy" / "pom.xml"),
            "dependency:copy-dependencies",
            f"-Dkafka.libs={layout.kafka_libs}",
        ],
        check=True,
    )
    marker.touch()


def kafka_java_command(
    layout: Layout, main: str, *args: str, logs: Path | None = None, heap: str = "768m"
) -> list[str]:
    return [
        "java",
        "-Xms128m",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={layout.root / 'deploy' / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={logs or layout.logs}",
        "-cp",
        f"{layout.kafka_libs}/*",
        main,
        *args,
    ]


def ensure_tls(layout: Layout) -> None:
    """A CA and a broker key pair for 127.0.0.1-3 and localhost, made once with openssl.

    The broker reads PEM directly (`ssl.keystore.type=PEM`); its key must be unencrypted PKCS#8
    (`BEGIN PRIVATE KEY`, what `openssl req -nodes` writes): Java refuses PKCS#1 here.
    """
    folder = tls_dir(layout)
    if (folder / "broker-keystore.pem").exists():
        return
    say("making a CA and the broker's TLS key for the local stack (once) ...")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, cwd=folder, capture_output=True)

    days = ("-days", "825")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            *days, "-subj", "/CN=appeals-local-ca")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
            "-subj", "/CN=127.0.0.1")  # fmt: skip
    (folder / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,DNS:localhost,DNS:kafka\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
    )
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "broker.crt", *days, "-extfile", "san.ext")  # fmt: skip
    keystore = b"".join((folder / n).read_bytes() for n in ("broker.key", "broker.crt", "ca.pem"))
    descriptor = os.open(folder / "broker-keystore.pem", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(keystore)
    for name in ("ca.key", "broker.key"):
        (folder / name).chmod(0o600)


def broker_properties(
    template: str,
    node: Node,
    every: list[Node],
    *,
    data_dir: str,
    secrets: Path,
    bind: str | None = None,
    tls: Path | None = None,
) -> str:
    """deploy/kafka.properties filled in for `node` (its passwords from `secrets`)."""
    replication, min_isr = ("3", "2") if node.brokers == 3 else ("1", "1")
    fields = {
        "NODE_ID": str(node.id),
        "VOTERS": ",".join(f"{n.id}@{n.host}:{n.controller_port}" for n in every),
        "HOST": node.host,
        "BIND": bind or node.host,
        "PORT": str(node.port),
        "CONTROLLER_PORT": str(node.controller_port),
        "DATA_DIR": data_dir,
        "CLIENT_PROTOCOL": "SASL_SSL" if tls is not None else "SASL_PLAINTEXT",
        "ADMIN_PASSWORD": secret(secrets, ADMIN),
        "CONTROLLER_PASSWORD": secret(secrets, CONTROLLER),
        "REPLICATION": replication,
        "MIN_ISR": min_isr,
    }
    text = template
    for name, value in fields.items():
        text = text.replace(f"@{name}@", value)
    if tls is not None:
        text += (
            "\n# TLS on the client listener (APPEALS_KAFKA_TLS=1), PEM files by appeals-stack\n"
            "ssl.keystore.type=PEM\n"
            f"ssl.keystore.location={tls / 'broker-keystore.pem'}\n"
            "ssl.truststore.type=PEM\n"
            f"ssl.truststore.location={tls / 'ca.pem'}\n"
        )
    return text


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (it holds passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def write_kafka_config(layout: Layout, node: Node, every: list[Node]) -> Path:
    text = broker_properties(
        (layout.root / "deploy" / "kafka.properties").read_text(),
        node,
        every,
        data_dir=str(node.data(layout)),
        secrets=secrets_dir(layout),
        tls=tls_dir(layout) if tls_enabled() else None,
    )
    path = node.home(layout) / "server.properties"
    write_private(path, text)
    return path


def write_compose_config(root: Path, secrets: Path, owner: int | None) -> None:
    """docker-compose's broker: its server.properties and the tools' admin.properties in
    `secrets`/broker, and a password for every principal (the provision job sets them)."""
    from appeals_reference import load_integrations, load_reference
    from appeals_tools.principals import principals

    node = Node(1, "kafka", 9092, 9093, 1)
    text = broker_properties(
        (root / "deploy" / "kafka.properties").read_text(),
        node,
        [node],
        data_dir="/var/lib/kafka/data",
        secrets=secrets,
        bind="0.0.0.0",  # noqa: S104  (inside its container, reached by service name)
    )
    write_private(secrets / "broker" / "server.properties", text)
    admin = secret(secrets, ADMIN)
    write_private(
        secrets / "broker" / "admin.properties",
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN}" password="{admin}";\n',
    )
    cluster_id = secrets / "broker" / "cluster-id"
    if not cluster_id.exists():
        cluster_id.write_text(new_cluster_id() + "\n")
    every = principals(
        [a.code for a in load_reference().agencies], [i.source for i in load_integrations()]
    )
    for principal in every:
        secret(secrets, principal.user)
    if owner is not None:
        # The services run as this user and read their own password files (mode 0600).
        for path in [secrets, *secrets.rglob("*")]:
            os.chown(path, owner, owner)
    say(f"kafka configuration and {len(every)} passwords in {secrets}")


def new_cluster_id() -> str:
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not candidate.startswith("-"):  # a leading dash reads as an option
            return candidate


def format_storage(layout: Layout, node: Node, config: Path, cluster_id: str) -> None:
    data = node.data(layout)
    if (data / "meta.properties").exists():
        if (data / SCRAM_MARKER).exists():
            return
        say(f"{node.name}: its data predates SASL (no admin user): formatting it anew, empty")
        shutil.rmtree(data)
    say(f"{node.name}: formatting KRaft storage (once) ...")
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        kafka_java_command(
            layout,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(config),
            # Brokers authenticate to each other as `admin`: it must exist before they start.
            "--add-scram",
            f"SCRAM-SHA-512=[name={ADMIN},password={secret(secrets_dir(layout), ADMIN)}]",
            logs=node.logs(layout),
        ),
        check=True,
        # The format prints the bootstrap records, SCRAM keys included: never keep them.
        stdout=subprocess.DEVNULL,
    )
    (data / SCRAM_MARKER).touch()


def start_kafka(layout: Layout, brokers: int = 1) -> None:
    every = nodes(brokers)
    other = 3 if brokers == 1 else 1
    if any(read_pid(layout.pid_file(n.name)) for n in nodes(other)):
        raise SystemExit(
            f"appeals-stack: a {other}-broker Kafka of this checkout runs: "
            "`appeals-stack down` first"
        )
    running = [n for n in every if read_pid(layout.pid_file(n.name)) and port_open(n.port, n.host)]
    if len(running) == len(every):
        say(f"kafka already running ({', '.join(n.address for n in every)})")
        brokers_file(layout).write_text(str(brokers))
        asyncio.run(wait_for_brokers(admin_access(layout), brokers))
        return
    if brokers == 1 and port_open(kafka_port()) and not running:
        say(f"something already answers on 127.0.0.1:{kafka_port()}: using it as the broker")
        return
    ensure_kafka_jars(layout)
    if tls_enabled():
        ensure_tls(layout)
    cluster_id = new_cluster_id()
    configs = {n.id: write_kafka_config(layout, n, every) for n in every}
    for node in every:
        format_storage(layout, node, configs[node.id], cluster_id)
    version = kafka_version(layout.root)
    for node in every:
        if node in running:
            continue
        node.logs(layout).mkdir(parents=True, exist_ok=True)
        say(f"starting Kafka {version} (KRaft, node {node.id}) on {node.address} ...")
        with layout.log_file(f"{node.name}-stdout").open("ab") as out:
            process = subprocess.Popen(
                kafka_java_command(
                    layout,
                    "kafka.Kafka",
                    str(configs[node.id]),
                    logs=node.logs(layout),
                    heap=node.heap,
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        layout.pid_file(node.name).write_text(str(process.pid))
    brokers_file(layout).write_text(str(brokers))
    for node in every:
        wait_until(
            f"{node.name} port",
            lambda node=node: (
                port_open(node.port, node.host) or read_pid(layout.pid_file(node.name)) is None
            ),
            90,
        )
        if read_pid(layout.pid_file(node.name)) is None:
            log = layout.log_file(f"{node.name}-stdout")
            raise SystemExit(f"appeals-stack: {node.name} exited; see {log}")
    asyncio.run(wait_for_brokers(admin_access(layout), brokers))
    say(f"kafka ready: {brokers} broker{'s' if brokers > 1 else ''}, {client_protocol()}")


async def wait_for_brokers(admin: KafkaAccess, brokers: int, timeout: float = 90) -> None:
    """Until the cluster lists `brokers` brokers and each one's client port answers.

    An open port, or a metadata answer, is not enough: both come with two nodes of three (a
    node of another cluster id runs but never joins), and a listed broker's port can still
    be closed for a moment after a restart. Fenced brokers are not listed.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    addresses = [a.rsplit(":", 1) for a in admin.kafka_bootstrap_servers.split(",")]
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        client = AIOKafkaAdminClient(**client_options(admin), request_timeout_ms=5000)
        try:
            for host, port in addresses:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 2)
                writer.close()
            await client.start()
            cluster = await client.describe_cluster()
            if len(cluster["brokers"]) >= brokers:
                return
            last = f"{len(cluster['brokers'])} of {brokers} brokers registered"
        except Exception as exc:  # not up yet: retried until the deadline
            last = f"{type(exc).__name__}: {exc}"
        finally:
            await client.close()
        if time.monotonic() > deadline:
            raise SystemExit(f"appeals-stack: kafka not ready after {timeout:.0f}s ({last})")
        await asyncio.sleep(0.5)


def stop_kafka(layout: Layout, timeout: float = 30) -> None:
    """Every node of this checkout: SIGCONT (a frozen node ignores SIGTERM until resumed),
    SIGTERM, a bounded wait, then SIGKILL (a last node without a quorum can wait minutes)."""
    pids = {}
    for node in nodes(1) + nodes(3):
        if (pid := read_pid(layout.pid_file(node.name))) is not None:
            pids[node.name] = pid
        else:
            layout.pid_file(node.name).unlink(missing_ok=True)
    if pids:
        say(f"stopping {', '.join(f'{n} (pid {p})' for n, p in pids.items())} ...")
    for pid in pids.values():
        for sig in (signal.SIGCONT, signal.SIGTERM):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        for name, pid in list(pids.items()):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if read_pid(layout.pid_file(name)) is None:
                del pids[name]
        time.sleep(0.2)
    for name, pid in pids.items():
        say(f"{name} did not stop within {timeout:.0f}s: SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    for node in nodes(1) + nodes(3):
        layout.pid_file(node.name).unlink(missing_ok=True)
    brokers_file(layout).unlink(missing_ok=True)


def provision(layout: Layout, bootstrap: str | None = None, secrets: Path | None = None) -> None:
    """Topics, SCRAM users and ACLs from the packaged reference data (as `admin`)."""
    from appeals_reference import load_integrations, load_reference
    from appeals_tools import provisioning

    folder = secrets or secrets_dir(layout)
    admin = provisioning.admin_client(
        KafkaAccess(
            kafka_bootstrap_servers=bootstrap or bootstrap_servers(layout),
            kafka_username=ADMIN,
            kafka_password_file=secret_file(folder, ADMIN),
            kafka_security_protocol=client_protocol(),
            kafka_ca_file=ca_file(layout),
        )
    )
    created, every = provisioning.provision_all(
        admin,
        folder,
        [a.code for a in load_reference().agencies],
        [i.source for i in load_integrations()],
    )
    say(f"topics: {len(created)} created" if created else "topics: all present")
    grants = sum(len(p.grants) for p in every)
    say(f"kafka principals: {len(every)} users, {grants} ACLs (secrets in {folder})")


def password_of(layout: Layout, user: str) -> SecretStr:
    return SecretStr(secret(secrets_dir(layout), user))
