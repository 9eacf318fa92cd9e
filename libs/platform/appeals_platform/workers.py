"""Several uvicorn processes on one port, each with its own SO_REUSEPORT socket.

uvicorn's own `workers=N` shares one listening socket between the processes, and whichever
wakes first accepts: with keep-alive clients (integrations hold their connections open) one
process took every connection and the others idled (seen in bench-intake: 97% vs 0% CPU).
With a socket per process the kernel spreads new connections across them by address hash.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

log = logging.getLogger(__name__)

# A worker that dies sooner than this after its start is failing to start, not crashing
# under load: restarting it would only loop, so the whole service stops instead.
STARTUP_GRACE_SECONDS = 10.0


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def worker(app_factory: str, host: str, port: int) -> None:
    """One process: its own socket, its own app (pool, consumers, relay candidate)."""
    sock = listening_socket(host, port)
    config = uvicorn.Config(app_factory, factory=True, log_config=None, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def run(app_factory: str, host: str, port: int, count: int) -> int:
    """Start `count` workers, replace one that crashes, stop them all on SIGTERM/SIGINT."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(target=worker, args=(app_factory, host, port), daemon=False)
        process.start()
        return process, time.monotonic()

    processes = [start() for _ in range(count)]
    status = 0
    while not stopping:
        time.sleep(0.2)
        for index, (process, started) in enumerate(processes):
            if process.is_alive() or stopping:
                continue
            if time.monotonic() - started < STARTUP_GRACE_SECONDS:
                log.error("worker %d exited with %s while starting", index, process.exitcode)
                status, stopping = 1, True
                break
            log.error("worker %d exited with %s; replacing it", index, process.exitcode)
            processes[index] = start()
    for process, _ in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn drains requests and runs the lifespan exit
    for process, _ in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    return status
