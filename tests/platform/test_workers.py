"""Several workers on one port: a socket each, so the kernel spreads connections over them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answering_worker(port: int) -> int | None:
    try:  # a new connection per request: each may land on another worker
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return int(json.loads(response.read())["worker"])
    except OSError:
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_each_worker_takes_connections_and_all_stop_with_the_parent() -> None:
    port = free_port()
    app = "tests.platform.tiny_app:create_app"
    code = (
        f"from appeals_platform import workers; exit(workers.run({app!r}, '127.0.0.1', {port}, 2))"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        while len(seen) < 2 and time.monotonic() < deadline:
            pid = answering_worker(port)
            if pid is not None:
                seen.add(pid)
            else:
                time.sleep(0.1)
        assert len(seen) == 2, f"connections reached only {len(seen)} of 2 workers"
        assert parent.pid not in seen
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in seen), "a worker outlived the parent"
    finally:
        if parent.poll() is None:
            parent.kill()
