"""Processes of the instance, read from /proc: children, signals, who holds a connection.

Every signal the suite sends goes to a pid it found through the instance's own pid files
(or a descendant of one), never to a process found by name. Frozen pids are remembered in a
file, so an interrupted run (or `chaos down`) resumes them before stopping anything.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from appeals_tools import procfs


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for process in procfs.processes():
        children.setdefault(process.parent, []).append(process.pid)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    return (process := procfs.stat(pid)) is not None and process.state != "Z"


def wait_gone(pids: Iterable[int], timeout: float = 10) -> bool:
    pending = set(pids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not alive(pid):
                pending.discard(pid)
        time.sleep(0.05)
    return not pending


class Freezer:
    """SIGSTOP and SIGCONT, with the frozen pids kept on disk until they are resumed."""

    def __init__(self, record: Path) -> None:
        self._record = record

    def frozen(self) -> set[int]:
        try:
            return {int(x) for x in self._record.read_text().split()}
        except (OSError, ValueError):
            return set()

    def freeze(self, pids: list[int]) -> None:
        self._record.parent.mkdir(parents=True, exist_ok=True)
        self._record.write_text(" ".join(str(p) for p in sorted(self.frozen() | set(pids))))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self, pids: list[int] | None = None) -> None:
        every = self.frozen()
        chosen = set(pids) if pids is not None else every
        for pid in sorted(chosen):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        left = every - chosen
        if left:
            self._record.write_text(" ".join(str(p) for p in sorted(left)))
        else:
            self._record.unlink(missing_ok=True)


def _socket_inodes(local_port: int, remote_port: int) -> set[str]:
    """Inodes of TCP sockets from local_port to remote_port (IPv4 and IPv6 tables)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if (
                    int(local.rsplit(":", 1)[1], 16) == local_port
                    and int(remote.rsplit(":", 1)[1], 16) == remote_port
                ):
                    found.add(inode)
    return found


def connection_owner(local_port: int, remote_port: int, candidates: Iterable[int]) -> int | None:
    """Which of `candidates` holds the TCP connection local_port -> remote_port."""
    inodes = {f"socket:[{inode}]" for inode in _socket_inodes(local_port, remote_port)}
    if not inodes:
        return None
    for pid in candidates:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return pid
    return None
