"""The local stack without Docker: real Kafka, real PostgreSQL, the three services.

`appeals-stack up|down|status|logs` is used by `make run`, `make test` and the test fixtures alike.
Everything lives under `.local/` of the checkout: the Kafka jars (resolved by Maven from
`deploy/pom.xml`), the broker's data and log, the PostgreSQL data folder, pid files and logs.
A second `up` finds what is running and leaves it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import NewTopic

from appeals_contracts.topics import Topic

KAFKA_VERSION = "4.4.0"
SERVICES = {"intake": 8000, "routing": 8001, "deadlines": 8002}


def project_root() -> Path:
    """The checkout: APPEALS_HOME, or the nearest folder above here with deploy/pom.xml."""
    if home := os.environ.get("APPEALS_HOME"):
        return Path(home).resolve()
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            if (folder / "deploy" / "pom.xml").is_file():
                return folder
    raise SystemExit("appeals-stack: cannot find the checkout (no deploy/pom.xml above here)")


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def local(self) -> Path:
        return self.root / ".local"

    @property
    def logs(self) -> Path:
        return self.local / "logs"

    @property
    def run(self) -> Path:
        return self.local / "run"

    @property
    def kafka_libs(self) -> Path:
        return self.local / "kafka" / "libs"

    @property
    def kafka_data(self) -> Path:
        return self.local / "kafka" / "data"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def kafka_port() -> int:
    return int(os.environ.get("APPEALS_KAFKA_PORT", "9092"))


def pg_port() -> int:
    return int(os.environ.get("APPEALS_PG_PORT", "5432"))


def bootstrap_servers() -> str:
    return f"127.0.0.1:{kafka_port()}"


def database_url(database: str = "appeals") -> str:
    return f"postgresql://appeals@127.0.0.1:{pg_port()}/{database}"


def say(message: str) -> None:
    print(f"[stack {time.strftime('%H:%M:%S')}] {message}", flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def wait_until(what: str, check: object, timeout: float) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    dots = 0.0
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
        dots += 0.25
        if dots >= 5:
            say(f"still waiting for {what} ...")
            dots = 0
    raise SystemExit(f"appeals-stack: {what} not ready after {timeout:.0f}s")


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise SystemExit(f"appeals-stack: please install {' '.join(packages)} (apt-get install)")
    say(f"installing {' '.join(packages)} with apt-get (once per machine) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", *packages], check=True, env=env)


# ---------------------------------------------------------------- Kafka


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


def stop_process(name: str, layout: Layout, timeout: float = 30) -> None:
    pid = read_pid(layout.pid_file(name))
    if pid is None:
        layout.pid_file(name).unlink(missing_ok=True)
        return
    say(f"stopping {name} (pid {pid}) ...")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_pid(layout.pid_file(name)):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    if read_pid(layout.pid_file(name)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    layout.pid_file(name).unlink(missing_ok=True)


# ---------------------------------------------------------------- PostgreSQL


def pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not candidates:
        apt_install("postgresql")
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return candidates[0].parent


def pg_data_dir(layout: Layout) -> Path:
    """The project's data folder, unless the `postgres` user cannot reach it (e.g. under /root)."""
    preferred = layout.local / "pg" / "data"
    if os.geteuid() != 0:
        return preferred
    reachable = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(layout.local)],
        check=False,
        capture_output=True,
    )
    if reachable.returncode == 0:
        return preferred
    folder = f"appeals-pg-{uuid.uuid5(uuid.NAMESPACE_URL, str(layout.root)).hex[:8]}"
    return Path("/var/tmp") / folder / "data"


def pg_log_file(layout: Layout) -> Path:
    # Beside the data folder: the server's user must be able to write it.
    return pg_data_dir(layout).parent / "postgres.log"


def as_server_user(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; the Debian package brings the unprivileged `postgres` user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start_postgres(layout: Layout) -> None:
    data = pg_data_dir(layout)
    if port_open(pg_port()):
        owned = (data / "postmaster.pid").exists()
        say(
            f"postgres already running on 127.0.0.1:{pg_port()}"
            + (f" ({data})" if owned else " (not ours: using it)")
        )
        ensure_database()
        return
    binaries = pg_bin()
    if not (data / "PG_VERSION").exists():
        say(f"initialising a PostgreSQL cluster in {data} (once) ...")
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
            shutil.chown(data.parent, "postgres", "postgres")  # .local/pg, for socket and log
        subprocess.run(
            as_server_user(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "appeals",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    socket_dir = data.parent / "socket"
    socket_dir.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(socket_dir, "postgres", "postgres")
    log = pg_log_file(layout)
    log.touch()
    if os.geteuid() == 0:
        shutil.chown(log, "postgres", "postgres")
    options = (
        f"-p {pg_port()} -k {socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=300 "
        "-c shared_buffers=512MB -c fsync=on -c synchronous_commit=on -c max_wal_size=2GB "
        "-c checkpoint_timeout=15min "
        # Appeals and events are JSON of a few KB, over the TOAST threshold: lz4 compresses
        # them at a fraction of pglz's CPU (bench-routing, where PostgreSQL shares 2 cores).
        "-c default_toast_compression=lz4"
    )
    say(f"starting PostgreSQL on 127.0.0.1:{pg_port()} ...")
    subprocess.run(
        as_server_user(
            [
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wait_until("postgres port", lambda: port_open(pg_port()), 30)
    ensure_database()
    say("postgres ready")


def ensure_database() -> None:
    asyncio.run(_ensure_database())


async def _ensure_database() -> None:
    import asyncpg

    conn = await asyncpg.connect(database_url("postgres"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'appeals'"):
            await conn.execute("CREATE DATABASE appeals")
    finally:
        await conn.close()


def stop_postgres(layout: Layout) -> None:
    data = pg_data_dir(layout)
    if not (data / "postmaster.pid").exists():
        return
    say("stopping postgres ...")
    subprocess.run(
        as_server_user([str(pg_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )


# ---------------------------------------------------------------- services


def service_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_service(layout: Layout, name: str, port: int) -> None:
    pid = read_pid(layout.pid_file(name))
    if pid and service_ready(port):
        say(f"{name} already running (pid {pid}, http://127.0.0.1:{port})")
        return
    say(f"starting {name} on http://127.0.0.1:{port} ...")
    env = {
        **os.environ,
        f"{name.upper()}_PORT": str(port),
        f"{name.upper()}_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers(),
        f"{name.upper()}_DATABASE_URL": database_url(),
        f"{name.upper()}_JWT_PUBLIC_KEY_FILE": str(layout.local / "keys" / "jwt-public.pem"),
    }
    with layout.log_file(name).open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", name],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            cwd=layout.root,
        )
    layout.pid_file(name).write_text(str(process.pid))


def wait_for_services(layout: Layout, names: Sequence[str]) -> None:
    for name in names:
        port = SERVICES[name]
        wait_until(
            f"{name} /ready",
            lambda port=port, name=name: (
                service_ready(port) or read_pid(layout.pid_file(name)) is None
            ),
            120,
        )
        if not service_ready(port):
            raise SystemExit(f"appeals-stack: {name} exited; see {layout.log_file(name)}")
        say(f"{name} ready: http://127.0.0.1:{port}/docs")


# ---------------------------------------------------------------- commands


def up(layout: Layout, with_services: bool) -> None:
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.run.mkdir(parents=True, exist_ok=True)
    start_postgres(layout)
    start_kafka(layout)
    created = asyncio.run(ensure_topics())
    say(f"topics: {len(created)} created" if created else "topics: all present")
    if with_services:
        from appeals_platform.tokens import ensure_keys

        ensure_keys(layout.local / "keys")
        for name, port in SERVICES.items():
            start_service(layout, name, port)
        wait_for_services(layout, list(SERVICES))


def down(layout: Layout) -> None:
    stop_process("demo", layout, timeout=5)
    for name in SERVICES:
        stop_process(name, layout)
    stop_process("kafka", layout, timeout=60)
    stop_postgres(layout)
    say("all stopped")


def status(layout: Layout) -> int:
    rows = [
        ("postgres", pg_port(), "up" if port_open(pg_port()) else "down", str(pg_data_dir(layout))),
        (
            "kafka",
            kafka_port(),
            "up" if port_open(kafka_port()) else "down",
            str(read_pid(layout.pid_file("kafka")) or "-"),
        ),
    ]
    for name, port in SERVICES.items():
        state = "ready" if service_ready(port) else ("up" if port_open(port) else "down")
        rows.append((name, port, state, str(read_pid(layout.pid_file(name)) or "-")))
    for name, port, state, detail in rows:
        print(f"{name:10} 127.0.0.1:{port:<6} {state:6} {detail}")
    return 0 if all(r[2] != "down" for r in rows) else 1


def logs(layout: Layout, name: str, follow: bool) -> None:
    path = pg_log_file(layout) if name == "postgres" else layout.log_file(name)
    if name == "kafka" and not path.exists():
        path = layout.log_file("kafka-stdout")
    if not path.exists():
        raise SystemExit(f"appeals-stack: no log for {name} at {path}")
    os.execvp("tail", ["tail", "-n", "200", *(["-f"] if follow else []), str(path)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appeals-stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start PostgreSQL, Kafka, topics and the services")
    up_parser.add_argument("--infra", action="store_true", help="only PostgreSQL, Kafka, topics")
    sub.add_parser("down", help="stop everything this checkout started")
    topics_parser = sub.add_parser("topics", help="create the missing topics on a running broker")
    topics_parser.add_argument("--bootstrap", default=None, help="host:port (default: local)")
    sub.add_parser("status", help="what runs where")
    logs_parser = sub.add_parser("logs", help="show a component's log")
    logs_parser.add_argument("name", choices=["kafka", "postgres", *SERVICES])
    logs_parser.add_argument("-f", "--follow", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "topics":
        created = asyncio.run(ensure_topics(args.bootstrap))
        say(f"topics: {len(created)} created" if created else "topics: all present")
        return 0
    layout = Layout(project_root())
    if args.command == "up":
        up(layout, with_services=not args.infra)
    elif args.command == "down":
        down(layout)
    elif args.command == "status":
        return status(layout)
    elif args.command == "logs":
        logs(layout, args.name, args.follow)
    return 0


if __name__ == "__main__":
    sys.exit(main())
