"""Who in this checkout's stack spent the machine's CPU: its services, PostgreSQL, Kafka.

Other stacks run their own PostgreSQL and brokers on the same machine (other checkouts' test
suites): a process counts as this stack's only through this checkout's pid files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from appeals_tools import procfs
from appeals_tools.stack.layout import Layout, read_pid
from appeals_tools.stack.postgres import postmaster_pid

_REPLICA = re.compile(r"-\d+$")


def brokers(layout: Layout) -> set[int]:
    return {pid for path in layout.run.glob("kafka*.pid") if (pid := read_pid(path)) is not None}


def service_pids(layout: Layout) -> dict[int, str]:
    """The stack's own Python processes by pid (`intake`, `routing`, ...; a replica counts as its
    service), from their pid files; brokers are left to `owner`."""
    named: dict[int, str] = {}
    for path in layout.run.glob("*.pid"):
        if not path.stem.startswith("kafka") and (pid := read_pid(path)) is not None:
            named[pid] = _REPLICA.sub("", path.stem)
    return named


def owner(layout: Layout, named: Mapping[int, str]) -> procfs.Owner:
    """`named` processes by their name, this stack's PostgreSQL (the postmaster and its
    backends) as "postgres", its brokers as "kafka", anything else as "other"."""
    postmaster, kafka = postmaster_pid(layout), brokers(layout)

    def owner_of(process: procfs.Stat) -> str:
        if (name := named.get(process.pid)) is not None:
            return name
        if postmaster is not None and postmaster in (process.pid, process.parent):
            return "postgres"
        return "kafka" if process.pid in kafka else "other"

    return owner_of
