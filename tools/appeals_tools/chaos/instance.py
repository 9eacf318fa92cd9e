"""The fault suite's own stack instance: state under `.local/chaos/`, ports of its own.

The suite kills and freezes what it starts, so it must never reach a `make run` stack or the
test stack of the same checkout (or of another checkout on the machine): it gets a state
folder (APPEALS_STATE_DIR), a block of loopback ports below the kernel's ephemeral range
(a client retrying a dead broker's port from that range can connect to itself and hold the
port the broker needs again), and it drives the stack through the same `appeals-stack`
command `make run` uses, with those variables set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from appeals_platform.auth import Role
from appeals_tools.stack.layout import Layout, read_pid
from appeals_tools.stack.postgres import as_server_user, pg_bin, pg_data_dir
from appeals_tools.stack.services import SERVICES, start_service
from appeals_tools.tokens import issue_token, signing_key

STATE = ".local/chaos"
# Ports of an instance: Kafka (its controller on the next port), PostgreSQL, the three
# services, and six for the three-broker mode (clients, then controllers).
SPAN = 12
FIRST_PORT, SLOTS, SLOT_WIDTH = 20000, 250, 20
LOAD_SOURCE = "chaos-load"


def say(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Ports:
    kafka: int
    postgres: int
    intake: int
    routing: int
    deadlines: int
    kafka_cluster: int

    @classmethod
    def block(cls, base: int) -> Ports:
        return cls(base, base + 2, base + 3, base + 4, base + 5, base + 6)

    def every(self) -> list[tuple[str, int]]:
        """Every (host, port) the instance may bind, controllers and cluster nodes included."""
        single = [("127.0.0.1", p) for p in range(self.kafka, self.kafka_cluster)]
        cluster = [(f"127.0.0.{1 + i % 3}", self.kafka_cluster + i) for i in range(6)]
        return single + cluster


def bindable(host: str, port: int) -> bool:
    """Free to listen on, as a server sees it (connections of a stopped one in TIME_WAIT do
    not count: servers set SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_ports(root: Path) -> Ports:
    """APPEALS_CHAOS_PORT, else the first free block from a slot named after the checkout."""
    if base := os.environ.get("APPEALS_CHAOS_PORT"):
        return Ports.block(int(base))
    start = uuid.uuid5(uuid.NAMESPACE_URL, str(root)).int % SLOTS
    for step in range(SLOTS):
        ports = Ports.block(FIRST_PORT + SLOT_WIDTH * ((start + step) % SLOTS))
        if all(bindable(host, port) for host, port in ports.every()):
            return ports
    raise SystemExit("chaos: no free block of ports in 20000-24999 (set APPEALS_CHAOS_PORT)")


@dataclass
class Instance:
    root: Path
    ports: Ports
    intake_workers: int = 1
    brokers: int = 1

    @property
    def state(self) -> Path:
        return self.root / STATE

    def variables(self) -> dict[str, str]:
        """What makes `appeals-stack` (and the services it starts) this instance."""
        return {
            "APPEALS_STATE_DIR": STATE,
            "APPEALS_KAFKA_PORT": str(self.ports.kafka),
            "APPEALS_PG_PORT": str(self.ports.postgres),
            "APPEALS_INTAKE_PORT": str(self.ports.intake),
            "APPEALS_ROUTING_PORT": str(self.ports.routing),
            "APPEALS_DEADLINES_PORT": str(self.ports.deadlines),
            "APPEALS_KAFKA_CLUSTER_PORT": str(self.ports.kafka_cluster),
            "INTAKE_WORKERS": str(self.intake_workers),
        }

    def enter(self) -> None:
        """Make this process the instance's: the stack functions read these variables."""
        os.environ.update(self.variables())
        # The developer's own key folder must not leak into the instance's tokens.
        os.environ.pop("APPEALS_KEY_DIR", None)

    @property
    def layout(self) -> Layout:
        return Layout(self.root)

    def pid(self, name: str) -> int | None:
        return read_pid(self.layout.pid_file(name))

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, service)}"

    @property
    def admin_dsn(self) -> str:
        from appeals_tools.stack.postgres import database_url

        return database_url()

    def kafka_options(self) -> dict[str, Any]:
        """How the suite's own clients (poison producer, topic readers) reach the broker(s):
        as the stack's `admin`, who may write and read every topic."""
        from appeals_platform.kafka import client_options
        from appeals_tools.stack.kafka import admin_access

        return client_options(admin_access(self.layout))

    def token(self, role: Role = Role.INTEGRATION) -> str:
        """The load's integration token, or one of another role (no source, no agency)."""
        key = signing_key(self.layout.local / "keys")
        if role is Role.INTEGRATION:
            return issue_token(key, role, source=LOAD_SOURCE)
        return issue_token(key, role)

    async def stack(self, *args: str, timeout: float = 240) -> None:
        """Run `appeals-stack ARGS` for this instance; its lines are shown with a prefix."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "appeals_tools.stack",
            *args,
            cwd=self.root,
            env={**os.environ, **self.variables()},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        assert process.stdout is not None

        async def relay_lines() -> None:
            assert process.stdout is not None
            async for line in process.stdout:
                print(f"    {line.decode(errors='replace').rstrip()}", flush=True)

        try:
            await asyncio.wait_for(asyncio.gather(relay_lines(), process.wait()), timeout)
        except TimeoutError as exc:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            message = f"appeals-stack {' '.join(args)}: no answer in {timeout:.0f}s"
            raise RuntimeError(message) from exc
        if process.returncode != 0:
            raise RuntimeError(f"appeals-stack {' '.join(args)} exited with {process.returncode}")

    async def up(self) -> None:
        """Start whatever of the instance is not running (a no-op for what runs)."""
        args = ["up"] + (["--brokers", str(self.brokers)] if self.brokers > 1 else [])
        await self.stack(*args)

    async def ready(self, service: str) -> bool:
        """The service reaches PostgreSQL and Kafka: /ready says "ready" (200 "degraded"
        means Kafka is away while the HTTP API stays in service)."""
        try:
            async with httpx.AsyncClient(timeout=3) as client:
                response = await client.get(f"{self.url(service)}/ready")
            return response.status_code == 200 and response.json().get("status") == "ready"
        except (httpx.HTTPError, ValueError):
            return False

    async def healthy(self) -> bool:
        return all([self.pid(name) is not None and await self.ready(name) for name in SERVICES])

    async def restart(self, service: str, timeout: float = 180) -> None:
        """Start one service again, as a supervisor would, and wait until it is ready."""
        port = getattr(self.ports, service)
        await asyncio.to_thread(start_service, self.layout, service, port)
        deadline = time.monotonic() + timeout
        while not await self.ready(service):
            if time.monotonic() > deadline or self.pid(service) is None:
                log = self.layout.log_file(service)
                raise RuntimeError(f"{service} did not get ready again; see {log}")
            await asyncio.sleep(0.2)

    async def down(self) -> None:
        """Stop the instance. It is thrown away, so nothing is stopped gently: kill -9 of every
        process in its pid files, PostgreSQL's immediate shutdown, then `appeals-stack down`
        for anything left."""
        for pid_file in sorted(self.layout.run.glob("*.pid")):
            if (pid := read_pid(pid_file)) is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        data = pg_data_dir(self.layout)
        if (data / "postmaster.pid").exists():
            command = [str(pg_bin() / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
            await asyncio.to_thread(
                subprocess.run, as_server_user(command), check=False, capture_output=True
            )
        await self.stack("down", timeout=180)

    async def fresh(self) -> None:
        """Stop a previous run's instance and start from empty folders: clean accounting."""
        self.enter()
        # Never anything but this instance's folders (a wrong variable would name make run's).
        assert self.layout.local == self.state.resolve(), self.layout.local
        if self.state.exists():
            await self.down()
            shutil.rmtree(self.state)
        # When the server's user cannot reach the checkout, its data lives under /var/tmp,
        # in a folder named after this state folder.
        outside = pg_data_dir(self.layout).parent
        if outside.name.startswith("appeals-pg-") and outside.exists():
            shutil.rmtree(outside)
        self.state.mkdir(parents=True)
        (self.state / "instance.json").write_text(json.dumps(asdict(self.ports), indent=2))
