"""Where the local stack lives and how its processes are started, waited for and stopped.

Everything lives under `.local/` of the checkout: the Kafka jars, the broker's data and log,
the PostgreSQL data folder, pid files and logs. A second stack instance beside it (the fault
suite's) sets APPEALS_STATE_DIR to a folder of its own, and its own ports (APPEALS_KAFKA_PORT,
APPEALS_PG_PORT, APPEALS_<SERVICE>_PORT); only the Kafka jars stay shared.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def project_root() -> Path:
    """The checkout: APPEALS_HOME, or the nearest folder above here with deploy/pom.xml."""
    if home := os.environ.get("APPEALS_HOME"):
        return Path(home).resolve()
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            if (folder / "deploy" / "pom.xml").is_file():
                return folder
    raise SystemExit("appeals-stack: cannot find the checkout (no deploy/pom.xml above here)")


def state_dir(root: Path) -> Path:
    """APPEALS_STATE_DIR (relative to the checkout), else the checkout's `.local/`."""
    if folder := os.environ.get("APPEALS_STATE_DIR"):
        return (root / folder).resolve()
    return root / ".local"


@dataclass(frozen=True)
class Layout:
    root: Path
    # Where the stack keeps its state; `root/.local` unless a test wants a stack of its own.
    home: Path | None = None

    @property
    def local(self) -> Path:
        """This stack instance's state: data, pid files, logs, keys, secrets."""
        return self.home or state_dir(self.root)

    @property
    def logs(self) -> Path:
        return self.local / "logs"

    @property
    def run(self) -> Path:
        return self.local / "run"

    @property
    def kafka_libs(self) -> Path:
        # Resolved once per checkout and shared by its stack instances (~55 MB).
        return self.root / ".local" / "kafka" / "libs"

    @property
    def kafka_data(self) -> Path:
        return self.local / "kafka" / "data"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"


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
