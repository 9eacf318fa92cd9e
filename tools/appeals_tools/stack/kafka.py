"""Apache Kafka for the local stack: jars from Maven Central, one KRaft node, the topics."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

from aiokafka.admin import NewTopic

from appeals_contracts.topics import Topic
from appeals_tools.stack.layout import (
    Layout,
    apt_install,
    port_open,
    read_pid,
    say,
    wait_until,
)

KAFKA_VERSION = "4.4.0"


def kafka_port() -> int:
    return int(os.environ.get("APPEALS_KAFKA_PORT", "9092"))


def bootstrap_servers() -> str:
    return f"127.0.0.1:{kafka_port()}"


def ensure_kafka_jars(layout: Layout) -> None:
    marker = layout.kafka_libs / f".kafka-{KAFKA_VERSION}"
    if marker.exists():
        return
    if shutil.which("java") is None:
        apt_install("default-jre-headless")
    if shutil.which("mvn") is None:
        apt_install("maven")
    say(f"resolving Apache Kafka {KAFKA_VERSION} from Maven Central (once, ~55 MB) ...")
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
            f"-Dkafka.version={KAFKA_VERSION}",
        ],
        check=True,
    )
    marker.touch()


def kafka_java_command(layout: Layout, main: str, *args: str) -> list[str]:
    return [
        "java",
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={layout.root / 'deploy' / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={layout.logs}",
        "-cp",
        f"{layout.kafka_libs}/*",
        main,
        *args,
    ]


def write_kafka_config(layout: Layout) -> Path:
    template = (layout.root / "deploy" / "kafka.properties").read_text()
    text = (
        template.replace("@PORT@", str(kafka_port()))
        .replace("@CONTROLLER_PORT@", str(kafka_port() + 1))
        .replace("@DATA_DIR@", str(layout.kafka_data))
    )
    path = layout.local / "kafka" / "server.properties"
    path.write_text(text)
    return path


def start_kafka(layout: Layout) -> None:
    pid = read_pid(layout.pid_file("kafka"))
    if pid and port_open(kafka_port()):
        say(f"kafka already running (pid {pid}, 127.0.0.1:{kafka_port()})")
        return
    if port_open(kafka_port()):
        say(f"something already answers on 127.0.0.1:{kafka_port()}: using it as the broker")
        return
    ensure_kafka_jars(layout)
    config = write_kafka_config(layout)
    if not (layout.kafka_data / "meta.properties").exists():
        say("formatting KRaft storage (once) ...")
        layout.kafka_data.mkdir(parents=True, exist_ok=True)
        cluster_id = (
            subprocess.run(
                kafka_java_command(layout, "kafka.tools.StorageTool", "random-uuid"),
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        subprocess.run(
            kafka_java_command(
                layout, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    say(f"starting Kafka {KAFKA_VERSION} (KRaft) on 127.0.0.1:{kafka_port()} ...")
    with layout.log_file("kafka-stdout").open("ab") as out:
        process = subprocess.Popen(
            kafka_java_command(layout, "kafka.Kafka", str(config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    layout.pid_file("kafka").write_text(str(process.pid))
    wait_until("kafka port", lambda: port_open(kafka_port()) or process.poll() is not None, 90)
    if process.poll() is not None:
        raise SystemExit(f"appeals-stack: kafka exited; see {layout.log_file('kafka-stdout')}")
    asyncio.run(wait_for_broker())
    say(f"kafka ready (pid {process.pid})")


async def wait_for_broker(timeout: float = 60) -> None:
    """The port opens before the broker has a controller and accepts metadata requests."""
    from aiokafka.admin import AIOKafkaAdminClient

    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(), request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


def new_topic(spec: Topic) -> NewTopic:
    configs = {"retention.ms": str(spec.retention_ms)} if spec.retention_ms is not None else {}
    return NewTopic(spec.name, spec.partitions, 1, topic_configs=configs)


async def ensure_topics(bootstrap: str | None = None) -> list[str]:
    """Create every missing topic of appeals_contracts.topics (and the agency topics)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from appeals_contracts.topics import all_topic_specs
    from appeals_reference.loader import load_reference

    specs = all_topic_specs([a.code for a in load_reference().agencies])
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap or bootstrap_servers(), request_timeout_ms=30000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics([new_topic(s) for s in missing])
        return [s.name for s in missing]
    finally:
        await admin.close()
